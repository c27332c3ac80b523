//! Strategy benchmarks against a table: each strategy runs as a real campaign (the same driver,
//! journal and strategies as any search) on the table executor, over many seeds; what comes
//! back is its hypervolume after every evaluation and after every unit of simulated training
//! compute, and the statistics that tell strategies apart.

use crate::config::{CampaignConfig, StrategyKind};
use crate::error::{Error, Result};
use crate::executor::ExecutorKind;
use crate::journal::RecordStatus;
use crate::pareto::hypervolume_2d;
use crate::rank::{mann_whitney, mean_ci95};
use crate::table::Table;
use crate::{Campaign, Event};
use serde::Serialize;
use std::path::Path;

/// One campaign's course: after each evaluation, the frontier's hypervolume and the simulated
/// training seconds spent so far.
#[derive(Debug, Clone, Serialize)]
pub struct Trajectory {
    pub strategy: StrategyKind,
    pub seed: u64,
    pub hypervolume: Vec<f64>,
    pub compute_s: Vec<f64>,
}

impl Trajectory {
    /// Hypervolume after `n` evaluations (the last one when the campaign stopped earlier).
    pub fn at_evaluation(&self, n: usize) -> f64 {
        match n.min(self.hypervolume.len()) {
            0 => 0.0,
            k => self.hypervolume[k - 1],
        }
    }

    /// Hypervolume once `seconds` of simulated training compute are spent (what was admitted
    /// within that compute).
    pub fn at_compute(&self, seconds: f64) -> f64 {
        let k = self.compute_s.partition_point(|&c| c <= seconds);
        self.at_evaluation(k)
    }
}

/// The campaign config a benchmark run uses: the table's own config with `strategy`, `seed`,
/// `budget` evaluations and the table executor (latency first, as in any search).
pub fn run_config(
    table_cfg: &CampaignConfig,
    table: &Path,
    strategy: StrategyKind,
    seed: u64,
    budget: usize,
) -> CampaignConfig {
    let mut cfg = table_cfg.clone();
    cfg.name = format!("bench-{strategy:?}-{seed}").to_lowercase();
    cfg.strategy = strategy;
    cfg.seed = seed;
    cfg.evaluations = budget;
    cfg.latency.train_over_budget = false;
    cfg.executor = Default::default();
    cfg.executor.kind = ExecutorKind::Table;
    cfg.executor.table = Some(table.display().to_string());
    cfg.executor.in_flight = Some(1);
    cfg.audit.enabled = false;
    cfg.warm_start = None;
    cfg
}

/// Runs one campaign against the table in `dir` (a fresh folder).
pub fn run(cfg: &CampaignConfig, dir: &Path) -> Result<Trajectory> {
    let text = toml::to_string_pretty(cfg)
        .map_err(|e| Error::Config(format!("the benchmark run's config: {e}")))?;
    let mut quiet = |_e: Event| {};
    let mut c = Campaign::create(dir, cfg.clone(), &text, &mut quiet)?;
    c.write_report = false;
    c.run()?;
    let mut spent = 0.0;
    let compute_s = c
        .records
        .iter()
        .map(|r| {
            spent += r.eval_seconds;
            spent
        })
        .collect();
    Ok(Trajectory {
        strategy: cfg.strategy,
        seed: cfg.seed,
        hypervolume: c.records.iter().map(|r| r.hypervolume).collect(),
        compute_s,
    })
}

/// The hypervolume of the table's own frontier under `cfg`'s budget and reference point: the
/// most any strategy can reach.
pub fn table_hypervolume(table: &Table, cfg: &CampaignConfig) -> f64 {
    let budget = cfg.latency.budget_seconds().unwrap_or(f64::INFINITY);
    let pts: Vec<crate::pareto::Point> = table
        .rows
        .iter()
        .map(|r| crate::pareto::Point {
            objectives: vec![
                r.val_loss
                    .filter(|_| r.status == RecordStatus::Ok)
                    .unwrap_or(f64::INFINITY),
                r.latency_s.unwrap_or(f64::INFINITY),
            ],
            violation: match r.latency_s {
                Some(l) if r.status == RecordStatus::Ok => (l - budget).max(0.0),
                _ => f64::INFINITY,
            },
        })
        .collect();
    let front: Vec<(f64, f64)> = crate::pareto::frontier(&pts)
        .into_iter()
        .map(|i| (pts[i].objectives[0], pts[i].objectives[1]))
        .collect();
    let rp = &cfg.objectives.reference_point;
    hypervolume_2d(&front, (rp.loss, rp.latency_s))
}

/// Mean ± 95 % CI of one strategy's hypervolume at a point of the budget.
#[derive(Debug, Clone, Serialize)]
pub struct AtBudget {
    pub mean: f64,
    pub ci95: f64,
}

/// How strategy `a` compares with strategy `b` at the full budget (Mann–Whitney U).
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub a: StrategyKind,
    pub b: StrategyKind,
    /// P(a run of `a` ends above a run of `b`), ties half.
    pub prob_a_better: f64,
    pub p_value: f64,
}

/// Summary of one strategy over its seeds.
#[derive(Debug, Clone, Serialize)]
pub struct StrategySummary {
    pub strategy: StrategyKind,
    pub seeds: usize,
    /// (evaluations, hypervolume) at each reported budget.
    pub by_evaluations: Vec<(usize, AtBudget)>,
    /// (simulated training seconds, hypervolume) at each reported compute.
    pub by_compute: Vec<(f64, AtBudget)>,
    /// Mean simulated training seconds of a whole run.
    pub mean_compute_s: f64,
    /// Fraction of seeds whose final hypervolume reaches 95 % of the table's.
    pub reach_95: f64,
}

fn at(runs: &[&Trajectory], f: impl Fn(&Trajectory) -> f64) -> AtBudget {
    let v: Vec<f64> = runs.iter().map(|t| f(t)).collect();
    let (mean, ci95) = mean_ci95(&v);
    AtBudget { mean, ci95 }
}

/// Per-strategy summaries at `evaluations` and `compute_s` checkpoints, and every pairwise
/// rank test at the full budget.
pub fn summarize(
    runs: &[Trajectory],
    strategies: &[StrategyKind],
    evaluations: &[usize],
    compute_s: &[f64],
    table_hv: f64,
) -> (Vec<StrategySummary>, Vec<Comparison>) {
    let of =
        |s: StrategyKind| -> Vec<&Trajectory> { runs.iter().filter(|t| t.strategy == s).collect() };
    let finals = |s: StrategyKind| -> Vec<f64> {
        of(s)
            .iter()
            .map(|t| t.hypervolume.last().copied().unwrap_or(0.0))
            .collect()
    };
    let summaries = strategies
        .iter()
        .map(|&s| {
            let rs = of(s);
            let fin = finals(s);
            StrategySummary {
                strategy: s,
                seeds: rs.len(),
                by_evaluations: evaluations
                    .iter()
                    .map(|&n| (n, at(&rs, |t| t.at_evaluation(n))))
                    .collect(),
                by_compute: compute_s
                    .iter()
                    .map(|&c| (c, at(&rs, |t| t.at_compute(c))))
                    .collect(),
                mean_compute_s: rs
                    .iter()
                    .map(|t| t.compute_s.last().copied().unwrap_or(0.0))
                    .sum::<f64>()
                    / rs.len().max(1) as f64,
                reach_95: fin.iter().filter(|&&h| h >= 0.95 * table_hv).count() as f64
                    / fin.len().max(1) as f64,
            }
        })
        .collect();
    let mut comparisons = Vec::new();
    for (i, &a) in strategies.iter().enumerate() {
        for &b in &strategies[i + 1..] {
            let (prob_a_better, p_value) = mann_whitney(&finals(a), &finals(b));
            comparisons.push(Comparison {
                a,
                b,
                prob_a_better,
                p_value,
            });
        }
    }
    (summaries, comparisons)
}

/// The simulated compute at which the mean hypervolume of `runs` first reaches `target`, on a
/// grid of `steps` points up to `max_s` (`None` if it never does).
pub fn compute_to_reach(
    runs: &[&Trajectory],
    target: f64,
    max_s: f64,
    steps: usize,
) -> Option<f64> {
    (1..=steps)
        .map(|k| max_s * k as f64 / steps as f64)
        .find(|&c| {
            let mean = runs.iter().map(|t| t.at_compute(c)).sum::<f64>() / runs.len().max(1) as f64;
            mean >= target
        })
}
