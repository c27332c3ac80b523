//! A campaign folder as stored: its config copy and its journal, read for export, plots,
//! status, the audit and warm starts (never written here).

use crate::config::CampaignConfig;
use crate::error::{Error, Result};
use crate::journal::{Journal, Record};
use crate::pareto::{frontier, Point};
use crate::strategy::violation;
use std::path::Path;

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

/// Whether each record is on the final frontier.
pub fn pareto_flags(cfg: &CampaignConfig, records: &[Record]) -> Vec<bool> {
    let pts: Vec<Point> = records
        .iter()
        .map(|r| Point {
            objectives: vec![r.loss(), r.latency()],
            violation: violation(r, cfg.latency.budget_seconds().unwrap_or(f64::INFINITY)),
        })
        .collect();
    let f = frontier(&pts);
    (0..records.len()).map(|i| f.contains(&i)).collect()
}
