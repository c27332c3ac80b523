//! A campaign folder as stored: its config copy and its journal, read for export, plots,
//! status, the audit and warm starts (never written here).

use crate::config::CampaignConfig;
use crate::error::{Error, Result};
use crate::journal::{Journal, Record, RecordStatus};
use crate::pareto::{frontier, Point};
use crate::strategy::violation;
use std::path::Path;

/// How many records ended with `status` (status and the plots count over-budget and failed).
pub fn count_status(records: &[Record], status: RecordStatus) -> usize {
    records.iter().filter(|r| r.status == status).count()
}

/// Reads a finished or running campaign's records (for export, plot, status).
pub fn load_records(dir: &Path) -> Result<(CampaignConfig, Vec<Record>, Vec<String>)> {
    let config = dir.join("config.toml");
    if !config.exists() {
        return Err(Error::NotFound {
            dir: dir.to_path_buf(),
            what: "campaign",
        });
    }
    let cfg = CampaignConfig::from_file(&config)?;
    let read = Journal::new(dir).read().map_err(|e| Error::file(dir, e))?;
    Ok((cfg, read.records, read.problems))
}

/// Indices of the frontier over (loss, latency) of the feasible full-fidelity records
/// (multi-fidelity rungs below the full run rank candidates, they are not results).
pub fn frontier_of(records: &[Record], budget_s: f64) -> Vec<usize> {
    let pts: Vec<Point> = records
        .iter()
        .map(|r| Point {
            objectives: vec![r.loss(), r.latency()],
            violation: if r.rung.is_some() {
                f64::INFINITY
            } else {
                violation(r, budget_s)
            },
        })
        .collect();
    frontier(&pts)
}

/// Whether each record is on the final frontier.
pub fn pareto_flags(cfg: &CampaignConfig, records: &[Record]) -> Vec<bool> {
    let f = frontier_of(
        records,
        cfg.latency.budget_seconds().unwrap_or(f64::INFINITY),
    );
    (0..records.len()).map(|i| f.contains(&i)).collect()
}
