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
    /// Evaluations spent (trained candidates; replicates and over-budget proposals aside).
    pub evaluations: usize,
    /// Where the compute went.
    pub compute: Compute,
    /// Each record's mean proxy loss over its seeds, and how many seeds.
    pub mean_loss: Vec<f64>,
    pub seeds: Vec<usize>,
    /// σ and the band of inseparable candidates at each budget level, once racing began.
    pub racing: Option<crate::racing::Standing>,
    /// The hand-designed families' grid, when the campaign seeded from it.
    pub family: Option<crate::family::FamilyGrid>,
}

/// Trainings and their seconds by purpose, and the latency pricings.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Compute {
    /// The hand-designed family shapes (`origin = "family"`).
    pub family_trained: usize,
    pub family_s: f64,
    /// Everything else the strategy proposed and had trained.
    pub search_trained: usize,
    pub search_s: f64,
    /// Racing replicates.
    pub racing_trained: usize,
    pub racing_s: f64,
    /// Proposals priced over the budget and not trained.
    pub over_budget: usize,
    /// Pricings the driver made: the family grid, and width fitting.
    pub grid_pricings: usize,
    pub fit_pricings: usize,
}

impl Compute {
    pub fn of(records: &[Record], grid: Option<&crate::family::FamilyGrid>) -> Self {
        let mut c = Compute {
            grid_pricings: grid.map_or(0, |g| g.priced.len()),
            ..Default::default()
        };
        for r in records {
            c.fit_pricings += r.pricings;
            if r.status == RecordStatus::OverBudget {
                c.over_budget += 1;
                continue;
            }
            let (n, s) = match (r.replicate, r.origin) {
                (Some(_), _) => (&mut c.racing_trained, &mut c.racing_s),
                (None, crate::journal::Origin::Family) => (&mut c.family_trained, &mut c.family_s),
                _ => (&mut c.search_trained, &mut c.search_s),
            };
            *n += 1;
            *s += r.eval_seconds;
        }
        c
    }

    /// One line: trainings and seconds per purpose, pricings.
    pub fn line(&self) -> String {
        format!(
            "{} family shapes trained ({:.0} s), {} search candidates ({:.0} s), {} racing seeds ({:.0} s); {} proposals over the budget not trained; {} pricings by the driver ({} for the family grid, {} fitting widths)",
            self.family_trained,
            self.family_s,
            self.search_trained,
            self.search_s,
            self.racing_trained,
            self.racing_s,
            self.over_budget,
            self.grid_pricings + self.fit_pricings,
            self.grid_pricings,
            self.fit_pricings
        )
    }
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
        let best = crate::store::best_of(&records);
        let family = crate::family::FamilyGrid::load(dir).ok().flatten();
        let losses = crate::racing::seed_losses(&records);
        let racing = (records.iter().any(|r| r.replicate.is_some())).then(|| {
            crate::racing::standing(
                &records,
                cfg.latency.budget_seconds().unwrap_or(f64::INFINITY),
                &cfg.racing_levels(),
                cfg.racing.z,
            )
        });
        let mut frontier: Vec<usize> = (0..records.len()).filter(|&i| flags[i]).collect();
        frontier.sort_by(|&a, &b| {
            records[a]
                .latency()
                .partial_cmp(&records[b].latency())
                .expect("finite")
        });
        Ok(Self {
            evaluations: records.iter().filter(|r| r.counts_as_evaluation()).count(),
            compute: Compute::of(&records, family.as_ref()),
            mean_loss: crate::store::mean_losses(&records),
            seeds: losses.iter().map(Vec::len).collect(),
            racing,
            family,
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
