//! What a strategy benchmark reports per strategy at equal compute: true hypervolume with
//! intervals, regrets, answers by kind, compute to reach random search's final quality, and
//! the pairwise rank tests with their verdicts.

use super::{Counts, HypervolumeNoise, Trajectory};
use crate::config::StrategyKind;
use crate::rank::{mann_whitney, mean_ci95};
use serde::Serialize;

/// Mean ± 95 % CI of one strategy's hypervolume at a point of the budget.
#[derive(Debug, Clone, Serialize)]
pub struct AtBudget {
    pub mean: f64,
    pub ci95: f64,
}

/// How strategy `a` compares with strategy `b` at equal compute (Mann–Whitney U on the
/// hypervolume each run reached within the compute budget).
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub a: StrategyKind,
    pub b: StrategyKind,
    /// P(a run of `a` ends above a run of `b`), ties half.
    pub prob_a_better: f64,
    pub p_value: f64,
    /// Difference of the mean hypervolumes (a − b).
    pub mean_difference: f64,
    /// `better`, `worse` (p < 0.01 and the difference beyond twice the table's hypervolume
    /// noise, taken at the upper end of its bootstrap interval) or `tie`; `tie?` when the
    /// table has no replicate noise to judge by. On true hypervolumes.
    pub verdict: String,
}

/// One strategy's mean regret within a latency budget: the true loss of what its runs picked
/// there (the lowest loss they saw) minus the best true loss reachable there.
#[derive(Debug, Clone, Serialize)]
pub struct Regret {
    pub budget_s: f64,
    pub mean: f64,
    pub ci95: f64,
    /// Runs that found no feasible genome within it (left out of the mean).
    pub none_found: usize,
}

/// Summary of one strategy over its seeds, every figure at the same simulated compute.
#[derive(Debug, Clone, Serialize)]
pub struct StrategySummary {
    pub strategy: StrategyKind,
    pub seeds: usize,
    /// (simulated seconds, true hypervolume) at each reported compute, the last the budget.
    pub by_compute: Vec<(f64, AtBudget)>,
    /// The same, as the strategy saw it (on its noisy answers): the gap is luck.
    pub seen_by_compute: Vec<(f64, AtBudget)>,
    /// Mean answers of each kind within the compute budget (full-fidelity results are the
    /// "evaluations").
    pub full: f64,
    pub rung: f64,
    pub over_budget: f64,
    pub failed: f64,
    /// Fraction of seeds whose hypervolume within the budget reaches 95 % of the table's.
    pub reach_95: f64,
    /// Runs whose evaluation cap ended them before the compute budget.
    pub short_runs: usize,
    pub regrets: Vec<Regret>,
    /// (simulated seconds, the regret within the whole latency budget there) at each reported
    /// compute: how fast a strategy's pick approaches the best.
    pub regret_by_compute: Vec<(f64, Regret)>,
    /// Simulated seconds at which the mean curve reaches the target (random search's mean at
    /// the budget); `None`: not within the budget.
    pub compute_to_target: Option<f64>,
    /// 95 % bootstrap interval of `compute_to_target` over random search's own (resampling
    /// the seeds of both, 400 draws, seeded): the ratio's spread from the seeds alone. The
    /// upper end is infinite (`null` in `summary.json`) when more than 2.5 % of the draws
    /// never reach the target.
    pub compute_ratio_ci95: Option<(f64, f64)>,
}

/// The runs' mean regret within the latency budget `budget_s` (whose best true loss is `best`)
/// after `compute_s` simulated seconds.
fn regret(rs: &[&Trajectory], budget_s: f64, best: Option<f64>, compute_s: f64) -> Regret {
    let found: Vec<f64> = rs
        .iter()
        .filter_map(|t| Some(t.best_within(budget_s, compute_s)? - best?))
        .collect();
    let (mean, ci95) = mean_ci95(&found);
    Regret {
        budget_s,
        mean,
        ci95,
        none_found: rs.len() - found.len(),
    }
}

/// Per-strategy summaries at `compute_s` checkpoints (the last is the budget every figure is
/// taken at), pairwise rank tests there, and each strategy's compute to reach random search's
/// final mean, from the same curves. `hv_noise`: the table's hypervolume noise (ties within
/// twice of it); `budgets`: latency budgets for the regrets with the table's best within each.
pub fn summarize(
    runs: &[Trajectory],
    strategies: &[StrategyKind],
    compute_s: &[f64],
    table_hv: f64,
    hv_noise: Option<HypervolumeNoise>,
    budgets: &[(f64, Option<f64>)],
) -> (Vec<StrategySummary>, Vec<Comparison>) {
    let budget = *compute_s.last().expect("a compute budget");
    let of =
        |s: StrategyKind| -> Vec<&Trajectory> { runs.iter().filter(|t| t.strategy == s).collect() };
    let finals =
        |s: StrategyKind| -> Vec<f64> { of(s).iter().map(|t| t.at_compute(budget)).collect() };
    let target = strategies
        .iter()
        .find(|&&s| s == StrategyKind::Random)
        .map(|&s| mean_of(&finals(s)));
    let summaries = strategies
        .iter()
        .map(|&s| {
            let rs = of(s);
            let fin = finals(s);
            let n = rs.len().max(1) as f64;
            let count = |f: &dyn Fn(&Counts) -> usize| {
                rs.iter().map(|t| f(&t.counts(budget)) as f64).sum::<f64>() / n
            };
            StrategySummary {
                strategy: s,
                seeds: rs.len(),
                by_compute: compute_s
                    .iter()
                    .map(|&c| (c, at(&rs, |t| t.at_compute(c))))
                    .collect(),
                seen_by_compute: compute_s
                    .iter()
                    .map(|&c| (c, at(&rs, |t| t.seen_at_compute(c))))
                    .collect(),
                full: count(&|c| c.full),
                rung: count(&|c| c.rung),
                over_budget: count(&|c| c.over_budget),
                failed: count(&|c| c.failed),
                reach_95: fin.iter().filter(|&&h| h >= 0.95 * table_hv).count() as f64
                    / fin.len().max(1) as f64,
                short_runs: rs.iter().filter(|t| t.total_compute() < budget).count(),
                regrets: budgets
                    .iter()
                    .map(|&(b, best)| regret(&rs, b, best, budget))
                    .collect(),
                regret_by_compute: budgets
                    .last()
                    .map(|&(b, best)| {
                        compute_s
                            .iter()
                            .map(|&c| (c, regret(&rs, b, best, c)))
                            .collect()
                    })
                    .unwrap_or_default(),
                compute_to_target: target.and_then(|t| compute_to_reach(&rs, t, budget, 400)),
                compute_ratio_ci95: target.and(compute_ratio_interval(
                    &rs,
                    &of(StrategyKind::Random),
                    budget,
                    400,
                )),
            }
        })
        .collect();
    let mut comparisons = Vec::new();
    for (i, &a) in strategies.iter().enumerate() {
        for &b in &strategies[i + 1..] {
            let (fa, fb) = (finals(a), finals(b));
            let (prob_a_better, p_value) = mann_whitney(&fa, &fb);
            let d = mean_of(&fa) - mean_of(&fb);
            let verdict = match hv_noise {
                _ if p_value >= 0.01 => "tie",
                Some(noise) if d.abs() <= 2.0 * noise.high => "tie",
                None => "tie?",
                _ if d > 0.0 => "better",
                _ => "worse",
            };
            comparisons.push(Comparison {
                a,
                b,
                prob_a_better,
                p_value,
                mean_difference: d,
                verdict: verdict.into(),
            });
        }
    }
    (summaries, comparisons)
}

fn at(runs: &[&Trajectory], f: impl Fn(&Trajectory) -> f64) -> AtBudget {
    let v: Vec<f64> = runs.iter().map(|t| f(t)).collect();
    let (mean, ci95) = mean_ci95(&v);
    AtBudget { mean, ci95 }
}

fn mean_of(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// 95 % bootstrap interval of the ratio (compute for `runs` to reach random search's mean
/// final hypervolume) / (compute for random to reach it), resampling the seeds of both
/// with replacement, `draws` times from a fixed seed. A draw that never reaches the target
/// within `budget` counts as an infinite ratio.
pub fn compute_ratio_interval(
    runs: &[&Trajectory],
    random: &[&Trajectory],
    budget: f64,
    draws: usize,
) -> Option<(f64, f64)> {
    use rand::{Rng, SeedableRng};
    if runs.is_empty() || random.is_empty() {
        return None;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x0b00_7500);
    let pick = |v: &[&Trajectory], rng: &mut rand_chacha::ChaCha8Rng| -> Vec<usize> {
        (0..v.len()).map(|_| rng.gen_range(0..v.len())).collect()
    };
    let mut ratios: Vec<f64> = (0..draws)
        .map(|_| {
            let a: Vec<&Trajectory> = pick(runs, &mut rng).into_iter().map(|i| runs[i]).collect();
            let r: Vec<&Trajectory> = pick(random, &mut rng)
                .into_iter()
                .map(|i| random[i])
                .collect();
            let target = mean_of(&r.iter().map(|t| t.at_compute(budget)).collect::<Vec<_>>());
            match (
                compute_to_reach(&a, target, budget, 200),
                compute_to_reach(&r, target, budget, 200),
            ) {
                (Some(c), Some(u)) => c / u,
                _ => f64::INFINITY,
            }
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((q * draws as f64) as usize).min(draws - 1)];
    Some((at(0.025), at(0.975)))
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
