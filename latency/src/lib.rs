//! The latency profiler.
//!
//! Nemotron-Flash measures latency on the real device (batch-1 decoding of a long generation,
//! throughput at the largest batch that fits) instead of estimating it from parameter counts.
//! This crate measures the same figures for any [`flashnas_model::HybridLm`] on the active
//! backend ([`profile`]), keeps a per-operator lookup table that predicts whole models from
//! measured sublayers ([`lut`]), and offers a roofline model for devices one does not have
//! ([`analytic`]).

pub mod analytic;
pub mod calibrate;
pub mod config;
pub mod device_lock;
pub mod error;
pub mod lut;
pub mod predictor;
pub mod pricing;
pub mod profile;
pub mod source;
pub mod stats;

pub use analytic::DeviceModel;
pub use error::Error;
pub use lut::LatencyTable;
pub use pricing::{Latency, LatencyOrigin, Pricer};
pub use profile::{profile, Profile, ProfileConfig};
pub use stats::Stats;

pub use source::LatencySource;
