//! What `flashnas status` shows of a campaign, computed from its folder (read-only: a reader
//! never writes, whether or not a driver is running).

use crate::config::CampaignConfig;
use crate::error::Result;
use crate::journal::{Checkpoint, Record, RecordStatus};
use crate::store::{count_status, load_records, pareto_flags};
use crate::task::LatencyOrigin;
use std::path::Path;

/// A campaign's progress, best candidate and frontier.
pub struct CampaignStatus {
    pub cfg: CampaignConfig,
    /// What reading the journal noticed (a torn tail, …).
    pub notes: Vec<String>,
    pub records: Vec<Record>,
    /// The checkpoint says the driver finished.
    pub finished: bool,
    pub failed: usize,
    /// Priced over the budget and not trained.
    pub over_budget: usize,
    pub predictor: PredictorCheck,
    /// Lowest proxy loss within the budget (full fidelity), if any.
    pub best: Option<usize>,
    /// Indices of the frontier's records, by increasing latency.
    pub frontier: Vec<usize>,
    /// After the last evaluation.
    pub hypervolume: f64,
}

/// How the latency predictor did where it was checked: candidates it was unsure of were
/// measured too, beside its prediction.
#[derive(Debug, Default, PartialEq)]
pub struct PredictorCheck {
    /// Latencies taken from the predictor.
    pub predicted: usize,
    /// |predicted − measured| / measured, in %, for each candidate measured as a check.
    pub errors_pct: Vec<f64>,
}

impl PredictorCheck {
    pub fn of(records: &[Record]) -> Self {
        Self {
            predicted: records
                .iter()
                .filter(|r| r.latency.source == LatencyOrigin::Predicted)
                .count(),
            errors_pct: records
                .iter()
                .filter_map(|r| {
                    let measured = r.latency.seconds.filter(|_| {
                        r.latency.source == LatencyOrigin::MeasuredPredictionUncertain
                    })?;
                    Some(100.0 * (r.latency.predicted_s? - measured).abs() / measured)
                })
                .collect(),
        }
    }

    pub fn used(&self) -> bool {
        self.predicted + self.errors_pct.len() > 0
    }

    pub fn mean_error_pct(&self) -> Option<f64> {
        (!self.errors_pct.is_empty())
            .then(|| self.errors_pct.iter().sum::<f64>() / self.errors_pct.len() as f64)
    }

    pub fn worst_error_pct(&self) -> Option<f64> {
        (!self.errors_pct.is_empty()).then(|| self.errors_pct.iter().copied().fold(0.0, f64::max))
    }
}

impl CampaignStatus {
    pub fn load(dir: &Path) -> Result<Self> {
        let (cfg, records, notes) = load_records(dir)?;
        let finished = Checkpoint::load(dir)
            .ok()
            .flatten()
            .is_some_and(|c| c.finished);
        let flags = pareto_flags(&cfg, &records);
        let best = records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.feasible && r.rung.is_none())
            .min_by(|(_, a), (_, b)| a.loss().partial_cmp(&b.loss()).expect("finite"))
            .map(|(i, _)| i);
        let mut frontier: Vec<usize> = (0..records.len()).filter(|&i| flags[i]).collect();
        frontier.sort_by(|&a, &b| {
            records[a]
                .latency()
                .partial_cmp(&records[b].latency())
                .expect("finite")
        });
        Ok(Self {
            failed: count_status(&records, RecordStatus::Failed),
            over_budget: count_status(&records, RecordStatus::OverBudget),
            predictor: PredictorCheck::of(&records),
            hypervolume: records.last().map(|r| r.hypervolume).unwrap_or(0.0),
            best,
            frontier,
            finished,
            notes,
            records,
            cfg,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<Record> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/aging-seed3.jsonl"
        );
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .take(4)
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn the_predictor_is_judged_only_where_it_was_measured_too() {
        let mut rs = fixture();
        assert_eq!(PredictorCheck::of(&rs), PredictorCheck::default());
        assert!(!PredictorCheck::of(&rs).used());
        rs[0].latency.source = LatencyOrigin::Predicted;
        rs[0].latency.predicted_s = rs[0].latency.seconds;
        // Measured because the predictor was unsure: 10 % and 30 % off.
        for (r, off) in rs[1..3].iter_mut().zip([1.1, 0.7]) {
            r.latency.source = LatencyOrigin::MeasuredPredictionUncertain;
            r.latency.seconds = Some(0.002);
            r.latency.predicted_s = Some(0.002 * off);
        }
        let p = PredictorCheck::of(&rs);
        assert_eq!(p.predicted, 1);
        assert_eq!(p.errors_pct.len(), 2);
        assert!((p.mean_error_pct().unwrap() - 20.0).abs() < 1e-9);
        assert!((p.worst_error_pct().unwrap() - 30.0).abs() < 1e-9);
    }
}
