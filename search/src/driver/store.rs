//! A campaign folder as stored: its config copy and its journal, read for export, plots,
//! status, the audit and warm starts (never written here).

use crate::config::CampaignConfig;
use crate::error::{Error, Result};
use crate::journal::{Journal, Objective, Record, RecordStatus};
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
    frontier_over(records, budget_s, &[Objective::Loss, Objective::Latency])
}

/// Indices of the frontier over `objectives` (the loss a candidate's mean over its seeds)
/// of the feasible candidates.
pub fn frontier_over(records: &[Record], budget_s: f64, objectives: &[Objective]) -> Vec<usize> {
    let means = mean_losses(records);
    let mut f = Frontier::new(objectives);
    for r in records
        .iter()
        .filter(|r| r.is_candidate() && violation(r, budget_s) == 0.0)
    {
        f.insert(r, means[r.id]);
    }
    f.ids()
}

/// Whether each record is on the final frontier (over the campaign's frontier objectives).
pub fn pareto_flags(cfg: &CampaignConfig, records: &[Record]) -> Vec<bool> {
    let f = frontier_over(
        records,
        cfg.latency.budget_seconds().unwrap_or(f64::INFINITY),
        &cfg.objectives.frontier(),
    );
    (0..records.len()).map(|i| f.contains(&i)).collect()
}

/// A campaign's frontier kept up to date record by record: the O(log n) staircase over
/// (loss, latency), or the general front when recall is ranked too.
#[derive(Debug, Clone, PartialEq)]
pub enum Frontier {
    LossLatency(crate::pareto::Staircase),
    Objectives(Vec<Objective>, crate::pareto::Front),
}

impl Default for Frontier {
    fn default() -> Self {
        Frontier::LossLatency(Default::default())
    }
}

impl Frontier {
    pub fn new(objectives: &[Objective]) -> Self {
        match objectives {
            [Objective::Loss, Objective::Latency] => Self::default(),
            o => Frontier::Objectives(o.to_vec(), Default::default()),
        }
    }

    /// An empty frontier over the same objectives.
    pub fn cleared(&self) -> Self {
        match self {
            Frontier::LossLatency(_) => Self::default(),
            Frontier::Objectives(o, _) => Self::new(o),
        }
    }

    /// Adds a feasible candidate whose loss (its mean over seeds) is `loss`.
    pub fn insert(&mut self, r: &Record, loss: f64) {
        match self {
            Frontier::LossLatency(s) => s.insert(r.id, loss, r.latency()),
            Frontier::Objectives(o, f) => {
                let values = o
                    .iter()
                    .map(|&o| match o {
                        Objective::Loss => loss,
                        o => r.objective(o),
                    })
                    .collect();
                f.insert(r.id, values)
            }
        }
    }

    pub fn ids(&self) -> Vec<usize> {
        match self {
            Frontier::LossLatency(s) => s.ids(),
            Frontier::Objectives(_, f) => f.ids(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Frontier::LossLatency(s) => s.len(),
            Frontier::Objectives(_, f) => f.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hypervolume inside `reference` (the frontier objectives' reference, in their order).
    pub fn hypervolume(&self, reference: &[f64]) -> f64 {
        match self {
            Frontier::LossLatency(s) => s.hypervolume((reference[0], reference[1])),
            Frontier::Objectives(_, f) => f.hypervolume(reference),
        }
    }
}
