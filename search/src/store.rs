//! A campaign folder as stored: its config copy and its journal, read for export, plots,
//! status, the audit and warm starts (never written here).

use crate::config::CampaignConfig;
use crate::error::{Error, Result};
use crate::journal::{Journal, Record, RecordStatus};
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

/// Each record's proxy loss as the frontier and picks see it: a candidate's mean over its
/// seeds (racing replicates join their candidate), infinite for a record that is not a trained
/// candidate (failed, over the budget, a multi-fidelity rung, a replicate).
pub fn mean_losses(records: &[Record]) -> Vec<f64> {
    crate::racing::seed_losses(records)
        .iter()
        .map(|v| match v.is_empty() {
            true => f64::INFINITY,
            false => crate::racing::mean(v),
        })
        .collect()
}

/// Record `id`'s mean loss over its seeds (see [`mean_losses`]).
pub fn mean_loss(records: &[Record], id: usize) -> f64 {
    let losses = crate::racing::seed_losses(records);
    match losses[id].is_empty() {
        true => f64::INFINITY,
        false => crate::racing::mean(&losses[id]),
    }
}

/// The feasible candidate with the lowest mean loss (ties to the lower id).
pub fn best_of(records: &[Record]) -> Option<usize> {
    let means = mean_losses(records);
    records
        .iter()
        .filter(|r| r.feasible && means[r.id].is_finite())
        .min_by(|a, b| means[a.id].total_cmp(&means[b.id]).then(a.id.cmp(&b.id)))
        .map(|r| r.id)
}

/// Indices of the frontier over (mean loss, latency) of the feasible candidates
/// (multi-fidelity rungs below the full run rank candidates, they are not results; racing
/// replicates are seeds of their candidate).
pub fn frontier_of(records: &[Record], budget_s: f64) -> Vec<usize> {
    let means = mean_losses(records);
    crate::pareto::Staircase::of(
        records
            .iter()
            .filter(|r| r.is_candidate() && violation(r, budget_s) == 0.0)
            .map(|r| (r.id, means[r.id], r.latency())),
    )
    .ids()
}

/// Whether each record is on the final frontier.
pub fn pareto_flags(cfg: &CampaignConfig, records: &[Record]) -> Vec<bool> {
    let f = frontier_of(
        records,
        cfg.latency.budget_seconds().unwrap_or(f64::INFINITY),
    );
    (0..records.len()).map(|i| f.contains(&i)).collect()
}
