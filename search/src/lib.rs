//! Search campaigns: genomes of the Nemotron-Flash 3-stage block space, aging evolution,
//! NSGA-II and random search, the Pareto frontier and its hypervolume, the journal,
//! checkpoint and resume, export and plots.

pub mod audit;
pub mod benchmark;
pub mod campaign;
pub mod config;
pub mod depth_width;
pub mod error;
pub mod event;
pub mod executor;
pub mod export;
pub mod family;
pub mod genome;
pub mod journal;
pub mod latency_model;
pub mod lock;
pub mod observers;
pub mod pareto;
pub mod plot;
pub mod racing;
pub mod rank;
pub mod report;
pub mod run_dir;
pub mod scaling;
pub mod status;
pub mod store;
pub mod strategy;
pub mod surrogate;
pub mod table;
pub mod task;
pub mod throughput;
pub mod validate;
pub mod warm_start;

pub use campaign::{Campaign, Outcome};
pub use config::CampaignConfig;
pub use error::{Error, Result};
pub use event::Event;
pub use genome::Genome;
pub use journal::{Record, SpecText};
