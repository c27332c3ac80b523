//! The campaign core: a candidate's path from config to journal — genomes and their space,
//! the strategies that propose them, pricing and the task, the executors that evaluate them,
//! the journal, checkpoint and observers, the run folder and its lock, warm starts, the family
//! grid and racing — and what reads a campaign back (`store`, `status`).

pub mod campaign;
pub mod executor;
pub mod family;
pub mod genome;
pub mod journal;
pub mod lock;
pub mod observers;
pub mod racing;
pub mod record;
pub mod rows;
pub mod run_dir;
pub mod status;
pub mod store;
pub mod strategy;
pub mod task;
pub mod throughput;
pub mod warm_start;
