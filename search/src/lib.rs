//! Search campaigns: genomes of the Nemotron-Flash 3-stage block space, aging evolution,
//! NSGA-II and random search, the Pareto frontier and its hypervolume, the journal,
//! checkpoint and resume, export and plots.
//!
//! Laid out by its parts: `driver/` (the campaign core), `studies/` (validation, audit,
//! depth–width, latency model), `benchmark/` (tables, surrogate, strategy comparison) and
//! `views/` (report, plots, export); the modules are re-exported at the root under their
//! own names (`flashnas_search::campaign`, `::validate`, `::report`, …).

pub mod benchmark;
pub mod config;
pub mod driver;
pub mod error;
pub mod event;
pub mod pareto;
pub mod rank;
pub mod section;
pub mod studies;
pub mod views;

pub use benchmark::{surrogate, table};
pub use driver::{
    campaign, executor, family, genome, journal, lock, observers, racing, record, rows, run_dir,
    status, store, strategy, task, throughput, warm_start,
};
pub use studies::{audit, depth_width, latency_model, scaling, validate};
pub use views::{export, plot, report};

pub use campaign::{Campaign, Outcome};
pub use config::CampaignConfig;
pub use error::{Error, Result};
pub use event::Event;
pub use genome::Genome;
pub use journal::{Record, SpecText};
