//! The short-training proxy: real text in, validation loss / perplexity / accuracy out.
//!
//! Nemotron-Flash ranks candidates by their perplexity after a short training run; this crate
//! trains a [`flashnas_model::HybridLm`] for real (AdamW, warmup + cosine, global-norm clipping,
//! optional weight normalization, meta tokens as ordinary parameters) on a corpus and reports a
//! [`ProxyResult`].

pub mod config;
pub mod data;
pub mod error;
pub mod loss;
pub mod recall;
pub mod result;
pub mod schedule;
pub mod tokenizer;
pub mod trainer;
pub mod weight_norm;

pub use config::TrainConfig;
pub use data::Dataset;
pub use error::Error;
pub use result::{ProxyResult, RungLoss, Status};
pub use trainer::{recall_curve, train, Progress, RecallPoint};

/// The built-in corpus (Tiny Shakespeare, public domain), so the quickstart needs no file.
pub const TINY_SHAKESPEARE: &str = include_str!("../../data/tinyshakespeare.txt");
