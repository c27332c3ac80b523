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
pub mod stats;

pub use analytic::DeviceModel;
pub use error::Error;
pub use lut::LatencyTable;
pub use pricing::{Latency, LatencyOrigin, Pricer};
pub use profile::{profile, Profile, ProfileConfig};
pub use stats::Stats;

use serde::{Deserialize, Serialize};

/// Where a search takes a candidate's latency from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LatencySource {
    /// Run the model on the device.
    Measured,
    /// Sum of measured sublayers from a lookup table (where its validated error is small).
    Lut,
    /// Roofline model of a configured device (deterministic).
    Analytic,
    /// A learned predictor (`flashnas latency-model build`), measuring whenever its interval
    /// straddles the budget or it is unsure.
    Predicted,
}
