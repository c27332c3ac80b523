//! Strategy benchmarks: tables of a tabulated space (`table`), the surrogate fitted on one
//! (`surrogate`), and the protocol that compares strategies on them (`compare`).
//!
//! Strategy benchmarks against a table: each strategy runs as a real campaign (the same driver,
//! journal and strategies as any search) on the table executor, over many seeds; what comes
//! back is its hypervolume after every evaluation and after every unit of simulated training
//! compute, and the statistics that tell strategies apart.

mod compare;
mod forest;
mod summary;
pub mod surrogate;
pub mod table;

pub use compare::{Check, Outcome, Prepared, Request, Share};
pub use summary::{compute_to_reach, summarize, AtBudget, Comparison, Regret, StrategySummary};

use crate::config::{CampaignConfig, StrategyKind};
use crate::error::{Error, Result};
use crate::executor::ExecutorKind;
use crate::journal::RecordStatus;
use crate::pareto::hypervolume_2d;
use crate::table::Table;
use crate::{Campaign, Event};
use serde::Serialize;
use std::path::Path;

/// What an admitted record was, for the counts a comparison reports apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKind {
    /// Trained to the full run (what "evaluations" counts).
    Full,
    /// Trained to a multi-fidelity rung below the full run.
    Rung,
    /// Priced over the latency budget, not trained.
    OverBudget,
    /// Failed (diverged, or no latency).
    Failed,
}

/// One campaign's course: after each admitted record, the frontier's hypervolume as the
/// strategy saw it (`hypervolume`, on the answers it received) and as it is
/// (`true_hypervolume`: the members of the frontier it saw, valued at their true loss), the
/// simulated compute spent so far (training and validation; pricing is counted, not
/// charged), what the record was, and when it is a feasible full-fidelity result its (seen
/// loss, latency) and its true loss.
#[derive(Debug, Clone, Serialize)]
pub struct Trajectory {
    pub strategy: StrategyKind,
    pub seed: u64,
    pub hypervolume: Vec<f64>,
    pub true_hypervolume: Vec<f64>,
    pub compute_s: Vec<f64>,
    pub kinds: Vec<AnswerKind>,
    pub results: Vec<Option<(f64, f64)>>,
    pub truth: Vec<Option<f64>>,
}

/// What a genome's loss is, free of the seed noise of any one answer: the table's mean over
/// its replicates (a table of single runs: its one run), or the surrogate's prediction of the
/// mean (the surrogate executor draws each answer's seed noise around it).
#[derive(Clone, Copy)]
pub enum Truth<'a> {
    Table(&'a Table),
    Surrogate(&'a crate::surrogate::Surrogate),
}

impl Truth<'_> {
    /// The full run's true loss of the genome `layers | w{width}` (`params` its parameters).
    pub fn loss(&self, layers: &str, width: usize, params: usize, steps: usize) -> Option<f64> {
        match self {
            Truth::Table(t) => t.get(&crate::table::key_of(layers, width))?.val_loss,
            Truth::Surrogate(s) => s.mean_loss(layers, width, params, steps),
        }
    }

    /// The best true hypervolume within the table's genomes, and the best true loss within
    /// each of `budgets` (seconds) there: what a perfect, noise-free search of the table finds.
    pub fn table_best(&self, table: &Table, cfg: &CampaignConfig) -> (f64, Vec<Option<f64>>) {
        let steps = cfg.train.total_steps();
        let pts: Vec<(Option<f64>, Option<f64>)> = table
            .rows
            .iter()
            .map(|r| {
                let ok = r.status == RecordStatus::Ok && r.val_loss.is_some() && recalls(r, cfg);
                let loss = ok
                    .then(|| self.loss(&r.layers, r.width, r.params, steps))
                    .flatten();
                (loss, r.latency_s)
            })
            .collect();
        (
            frontier_hypervolume(&pts, cfg),
            pts.iter().map(|p| p.0).collect(),
        )
    }
}

/// Counts of a run's answers by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counts {
    pub full: usize,
    pub rung: usize,
    pub over_budget: usize,
    pub failed: usize,
}

impl Trajectory {
    /// Hypervolume after `n` records (the last one when the campaign stopped earlier).
    pub fn at_evaluation(&self, n: usize) -> f64 {
        match n.min(self.hypervolume.len()) {
            0 => 0.0,
            k => self.hypervolume[k - 1],
        }
    }

    /// Records admitted within `seconds` of simulated compute.
    pub fn within(&self, seconds: f64) -> usize {
        self.compute_s.partition_point(|&c| c <= seconds)
    }

    /// Hypervolume once `seconds` of simulated compute are spent (what was admitted within
    /// that compute), on truth: the frontier the strategy saw, valued at true losses.
    pub fn at_compute(&self, seconds: f64) -> f64 {
        match self.within(seconds) {
            0 => 0.0,
            k => self.true_hypervolume[k - 1],
        }
    }

    /// The hypervolume the strategy saw (its noisy answers) once `seconds` are spent.
    pub fn seen_at_compute(&self, seconds: f64) -> f64 {
        self.at_evaluation(self.within(seconds))
    }

    /// The answers admitted within `seconds`, by kind.
    pub fn counts(&self, seconds: f64) -> Counts {
        let mut c = Counts::default();
        for k in &self.kinds[..self.within(seconds)] {
            match k {
                AnswerKind::Full => c.full += 1,
                AnswerKind::Rung => c.rung += 1,
                AnswerKind::OverBudget => c.over_budget += 1,
                AnswerKind::Failed => c.failed += 1,
            }
        }
        c
    }

    /// What the strategy picks within `latency_s` among the results admitted within
    /// `seconds` — the lowest loss it saw — valued at that genome's true loss (`None`: none
    /// found). Luck that made a genome look better than it is does not count.
    pub fn best_within(&self, latency_s: f64, seconds: f64) -> Option<f64> {
        self.results[..self.within(seconds)]
            .iter()
            .zip(&self.truth)
            .filter_map(|(r, t)| Some((r.as_ref()?, t.as_ref()?)))
            .filter(|((_, l), _)| *l <= latency_s)
            .min_by(|a, b| a.0 .0.total_cmp(&b.0 .0))
            .map(|(_, t)| *t)
    }

    /// The lowest loss the strategy saw within `latency_s` by `seconds` (its own view).
    pub fn seen_best_within(&self, latency_s: f64, seconds: f64) -> Option<f64> {
        self.results[..self.within(seconds)]
            .iter()
            .flatten()
            .filter(|(_, l)| *l <= latency_s)
            .map(|(loss, _)| *loss)
            .min_by(f64::total_cmp)
    }

    /// The whole run's compute.
    pub fn total_compute(&self) -> f64 {
        self.compute_s.last().copied().unwrap_or(0.0)
    }
}

/// The campaign config a benchmark run uses: the table's own config with `strategy`, `seed`,
/// the table executor — or the surrogate's, when given — (latency first, as in any search) and
/// an evaluation cap that the compute budget, not the cap, ends (`cap` records).
pub fn run_config(
    table_cfg: &CampaignConfig,
    table: &Path,
    surrogate: Option<&Path>,
    strategy: StrategyKind,
    seed: u64,
    cap: usize,
) -> CampaignConfig {
    let mut cfg = table_cfg.clone();
    cfg.name = format!("bench-{strategy:?}-{seed}").to_lowercase();
    cfg.strategy = strategy;
    cfg.seed = seed;
    cfg.replicate = 0;
    cfg.evaluations = cap;
    cfg.latency.train_over_budget = false;
    cfg.executor = Default::default();
    match surrogate {
        Some(s) => {
            cfg.executor.kind = ExecutorKind::Surrogate;
            *cfg.executor.sections.surrogate = Some(s.display().to_string());
        }
        None => {
            cfg.executor.kind = ExecutorKind::Table;
            *cfg.executor.sections.table = Some(table.display().to_string());
        }
    }
    cfg.executor.in_flight = Some(1);
    cfg.audit.enabled = false;
    cfg.warm_start = None;
    // The table's genomes, as the strategies propose them: widths are genes (the table holds
    // every width) — or, in a table tabulated under `width = "fit_budget"`, fitted to the
    // whole budget as the tabulation fitted them (its pricing computes rather than measures,
    // so every run fits the same width); no family grid and no racing (both would ask for
    // shapes or seeds the table may not hold).
    if cfg.space.width == crate::genome::WidthRule::FitBudget {
        cfg.racing.budgets = Some(vec![1.0]);
    } else {
        cfg.space.width = crate::genome::WidthRule::Gene;
    }
    cfg.family_seeds.enabled = false;
    cfg.racing.enabled = false;
    cfg
}

/// Runs one campaign against the table in `dir` (a fresh folder) until it has spent
/// `compute_s` simulated seconds (or its evaluation cap); each result is valued at `truth`
/// too.
pub fn run(cfg: &CampaignConfig, dir: &Path, compute_s: f64, truth: Truth) -> Result<Trajectory> {
    let text = toml::to_string_pretty(cfg)
        .map_err(|e| Error::Config(format!("the benchmark run's config: {e}")))?;
    let mut quiet = |_e: Event| {};
    let mut c = Campaign::create(dir, cfg.clone(), &text, &mut quiet)?;
    c.report.enabled = false;
    c.compute_budget_s = Some(compute_s);
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
    let kinds = c
        .records
        .iter()
        .map(|r| match (r.status, r.rung) {
            (RecordStatus::OverBudget, _) => AnswerKind::OverBudget,
            (RecordStatus::Failed, _) => AnswerKind::Failed,
            (RecordStatus::Ok, Some(_)) => AnswerKind::Rung,
            (RecordStatus::Ok, None) => AnswerKind::Full,
        })
        .collect();
    let results: Vec<Option<(f64, f64)>> = c
        .records
        .iter()
        .map(|r| (r.feasible && r.rung.is_none()).then(|| (r.loss(), r.latency())))
        .collect();
    let steps = cfg.train.total_steps();
    let truth: Vec<Option<f64>> = c
        .records
        .iter()
        .zip(&results)
        .map(|(r, seen)| seen.and_then(|_| truth.loss(&r.layers, r.width, r.params, steps)))
        .collect();
    Ok(Trajectory {
        strategy: cfg.strategy,
        seed: cfg.seed,
        hypervolume: c.records.iter().map(|r| r.hypervolume).collect(),
        true_hypervolume: true_hypervolumes(&results, &truth, cfg),
        compute_s,
        kinds,
        results,
        truth,
    })
}

/// After each record, the hypervolume of the frontier a strategy saw (over its answers)
/// with each member valued at its true loss.
fn true_hypervolumes(
    results: &[Option<(f64, f64)>],
    truth: &[Option<f64>],
    cfg: &CampaignConfig,
) -> Vec<f64> {
    let rp = &cfg.objectives.reference_point;
    let mut seen = crate::pareto::Staircase::default();
    let mut out = Vec::with_capacity(results.len());
    let mut last = 0.0;
    for (i, r) in results.iter().enumerate() {
        if let Some((loss, latency)) = *r {
            seen.insert(i, loss, latency);
            let front: Vec<(f64, f64)> = seen
                .ids()
                .into_iter()
                .filter_map(|j| Some((truth[j]?, results[j]?.1)))
                .collect();
            last = hypervolume_2d(&front, (rp.loss, rp.latency_s));
        }
        out.push(last);
    }
    out
}

/// The simulated compute of `n` full-fidelity evaluations of random genomes: `n` × the mean
/// cost of a table answer at the full run under latency first (an over-budget genome costs its
/// timing). The unit every strategy is given, whatever it spends it on.
pub fn compute_of_random_evaluations(table: &Table, cfg: &CampaignConfig, n: usize) -> f64 {
    let budget = cfg.latency.budget_seconds().unwrap_or(f64::INFINITY);
    let steps = cfg.train.total_steps();
    let costs: Vec<f64> = table
        .rows
        .iter()
        .map(|r| match r.latency_s {
            Some(l) if l > budget => r.cost(None),
            _ => r.cost(Some(steps)),
        })
        .collect();
    n as f64 * costs.iter().sum::<f64>() / costs.len().max(1) as f64
}

/// The hypervolume of `(loss, latency)` points' frontier under `cfg`'s budget and reference
/// point (rows: loss `None` = not a result).
fn frontier_hypervolume(points: &[(Option<f64>, Option<f64>)], cfg: &CampaignConfig) -> f64 {
    let rp = &cfg.objectives.reference_point;
    hypervolume_2d(&feasible_front(points, cfg), (rp.loss, rp.latency_s))
}

/// The frontier of `(loss, latency)` points within `cfg`'s latency budget (loss `None` = not
/// a result).
fn feasible_front(points: &[(Option<f64>, Option<f64>)], cfg: &CampaignConfig) -> Vec<(f64, f64)> {
    let budget = cfg.latency.budget_seconds().unwrap_or(f64::INFINITY);
    let pts: Vec<crate::pareto::Point> = points
        .iter()
        .map(|&(loss, lat)| crate::pareto::Point {
            objectives: vec![loss.unwrap_or(f64::INFINITY), lat.unwrap_or(f64::INFINITY)],
            violation: match (loss, lat) {
                (Some(_), Some(l)) => (l - budget).max(0.0),
                _ => f64::INFINITY,
            },
        })
        .collect();
    crate::pareto::frontier(&pts)
        .into_iter()
        .map(|i| (pts[i].objectives[0], pts[i].objectives[1]))
        .collect()
}

fn table_points(table: &Table, cfg: &CampaignConfig) -> Vec<(Option<f64>, Option<f64>)> {
    table
        .rows
        .iter()
        .map(|r| {
            (
                r.val_loss
                    .filter(|_| r.status == RecordStatus::Ok && recalls(r, cfg)),
                r.latency_s,
            )
        })
        .collect()
}

/// Whether a row meets the campaign's recall constraint (`objectives.recall_min`, on the
/// table's mean accuracy over the seeds, as the table executor answers it); every row does
/// when there is none. A row below it is infeasible, as one over the latency budget is.
pub fn recalls(r: &crate::table::TableRow, cfg: &CampaignConfig) -> bool {
    cfg.objectives
        .recall_min
        .is_none_or(|m| r.recall.is_some_and(|a| a >= m))
}

/// The hypervolume of the table's own frontier under `cfg`'s budget and reference point: the
/// most any strategy can reach.
pub fn table_hypervolume(table: &Table, cfg: &CampaignConfig) -> f64 {
    frontier_hypervolume(&table_points(table, cfg), cfg)
}

/// The largest share of the table's hypervolume that one genome holds on its own (its point's
/// hypervolume alone over the frontier's), and which genome: a table where one genome holds
/// most of it cannot tell strategies apart.
///
/// On truth: `truth` holds each row's true loss (see [`Truth::table_best`]).
pub fn largest_single_share(
    table: &Table,
    cfg: &CampaignConfig,
    truth: &[Option<f64>],
) -> (f64, String) {
    let pts = true_points(table, truth);
    let total = frontier_hypervolume(&pts, cfg);
    let mut best = (0.0, String::new());
    for (i, p) in pts.iter().enumerate() {
        if p.0.is_none() {
            continue;
        }
        let share = frontier_hypervolume(&[*p], cfg) / total.max(f64::MIN_POSITIVE);
        if share > best.0 {
            best = (share, table.rows[i].key.clone());
        }
    }
    best
}

/// The largest share of the table's hypervolume that only one genome holds — the volume lost
/// if it were removed (its exclusive hypervolume contribution, the quantity SMS-EMOA ranks by)
/// over the frontier's — and which genome. Unlike [`largest_single_share`] (its whole box,
/// which overlaps its neighbours'), it has no floor: on a dense front every member's part is
/// small, and a genome holds most of the volume only when the front has one answer.
///
/// On truth: `truth` holds each row's true loss (see [`Truth::table_best`]).
pub fn largest_exclusive_share(
    table: &Table,
    cfg: &CampaignConfig,
    truth: &[Option<f64>],
) -> (f64, String) {
    let pts = true_points(table, truth);
    let total = frontier_hypervolume(&pts, cfg);
    let front = feasible_front(&pts, cfg);
    let mut best = (0.0, String::new());
    for (i, p) in pts.iter().enumerate() {
        let (Some(loss), Some(latency)) = *p else {
            continue;
        };
        if !front.contains(&(loss, latency)) {
            continue;
        }
        let without: Vec<(Option<f64>, Option<f64>)> = pts
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, q)| *q)
            .collect();
        let share = (total - frontier_hypervolume(&without, cfg)) / total.max(f64::MIN_POSITIVE);
        if share > best.0 {
            best = (share, table.rows[i].key.clone());
        }
    }
    best
}

/// The largest single share of a dense straight-line front between `front`'s fastest member
/// and its best-loss member (points `(loss, latency)`), under `reference` `(loss, latency)`:
/// what a trade-off with no knee would give, the floor [`largest_single_share`] is read
/// against. It is a half only with the reference at the ends' own worst values; a reference
/// farther out raises it (the fastest end's box grows with the reference loss's distance).
/// `None` when the front is one point or the reference does not bound it.
pub fn straight_front_share(front: &[(f64, f64)], reference: (f64, f64)) -> Option<f64> {
    let fastest = front.iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
    let best = front.iter().min_by(|a, b| a.0.total_cmp(&b.0))?;
    let (r_loss, r_latency) = reference;
    // The line from the fastest end (s = 0) to the best end (s = 1): latency t_f + b·s, loss
    // L_f − d·s; a point's box is (a − b·s)(c + d·s).
    let (a, b) = (r_latency - fastest.1, best.1 - fastest.1);
    let (c, d) = (r_loss - fastest.0, fastest.0 - best.0);
    if b <= 0.0 || d <= 0.0 || a < b || c < 0.0 {
        return None;
    }
    let s = ((d * a - b * c) / (2.0 * b * d)).clamp(0.0, 1.0);
    let largest_box = (a - b * s) * (c + d * s);
    // The dominated region: the rectangle from the fastest end's latency and the best loss to
    // the reference, less the triangle under the line.
    let volume = a * (c + d) - 0.5 * b * d;
    Some(largest_box / volume)
}

/// The true frontier of the table (`truth`: each row's true loss) within the budget, as
/// `(loss, latency)` points.
pub fn true_front(table: &Table, cfg: &CampaignConfig, truth: &[Option<f64>]) -> Vec<(f64, f64)> {
    feasible_front(&true_points(table, truth), cfg)
}

/// Each row as (its true loss, its latency): `truth` holds the true losses, row by row.
fn true_points(table: &Table, truth: &[Option<f64>]) -> Vec<(Option<f64>, Option<f64>)> {
    truth
        .iter()
        .zip(&table.rows)
        .map(|(t, r)| (*t, r.latency_s))
        .collect()
}

/// The loss of a reference point at the table's true frontier: its worst loss plus a tenth
/// of its loss range (the usual nadir-based choice), `None` for an empty frontier. The
/// largest single share under it tells whether a genome holds the volume by its trade-off or
/// by the distance of `objectives.reference_point.loss` from every loss: with a distant
/// reference the fastest frontier member holds at least (r − its loss) / (r − the best loss)
/// of the volume whatever the others do.
pub fn nadir_reference_loss(
    table: &Table,
    cfg: &CampaignConfig,
    truth: &[Option<f64>],
) -> Option<f64> {
    let losses = true_front(table, cfg, truth).into_iter().map(|p| p.0);
    let (best, worst) = losses.fold(None, |acc: Option<(f64, f64)>, l| {
        Some(acc.map_or((l, l), |(b, w)| (b.min(l), w.max(l))))
    })?;
    Some(worst + 0.1 * (worst - best))
}

/// How much the table's hypervolume moves with its seed noise, and how sure that figure is.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HypervolumeNoise {
    /// The standard deviation of the frontier's hypervolume over the draws.
    pub sd: f64,
    /// Its 95 % bootstrap interval (resampling the draws): the estimate's own spread.
    pub low: f64,
    pub high: f64,
    pub draws: usize,
}

/// How much the table's hypervolume moves with its seed noise: the standard deviation of the
/// frontier's hypervolume when every genome's loss is redrawn from N(mean, its replicate
/// standard deviation, or the pooled one) `draws` times (seeded), with a bootstrap interval
/// over the draws — the quantity is heavy-tailed (one genome's lucky draw moves the whole
/// front), so a few hundred draws misstate it. `None` for a table of single runs.
pub fn hypervolume_noise(
    table: &Table,
    cfg: &CampaignConfig,
    draws: usize,
    seed: u64,
) -> Option<HypervolumeNoise> {
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, Normal};
    let fallback = table.replicate_noise()?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let base = table_points(table, cfg);
    let hv: Vec<f64> = (0..draws.max(2))
        .map(|_| {
            let pts: Vec<(Option<f64>, Option<f64>)> = base
                .iter()
                .zip(&table.rows)
                .map(|(&(loss, lat), r)| {
                    let sd = r.val_loss_std.unwrap_or(fallback).max(1e-12);
                    let noisy = loss.map(|l| Normal::new(l, sd).expect("finite").sample(&mut rng));
                    (noisy, lat)
                })
                .collect();
            frontier_hypervolume(&pts, cfg)
        })
        .collect();
    let sd_of = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|h| (h - m).powi(2)).sum::<f64>() / (v.len() - 1).max(1) as f64).sqrt()
    };
    let mut boots: Vec<f64> = (0..400)
        .map(|_| {
            let resample: Vec<f64> = (0..hv.len())
                .map(|_| hv[rng.gen_range(0..hv.len())])
                .collect();
            sd_of(&resample)
        })
        .collect();
    boots.sort_by(f64::total_cmp);
    Some(HypervolumeNoise {
        sd: sd_of(&hv),
        low: boots[(0.025 * boots.len() as f64) as usize],
        high: boots[((0.975 * boots.len() as f64) as usize).min(boots.len() - 1)],
        draws: hv.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record: (cost, hypervolume after, kind, result).
    type Rec = (f64, f64, AnswerKind, Option<(f64, f64)>);

    /// A run of records.
    fn run(strategy: StrategyKind, seed: u64, recs: &[Rec]) -> Trajectory {
        let mut spent = 0.0;
        Trajectory {
            strategy,
            seed,
            hypervolume: recs.iter().map(|r| r.1).collect(),
            true_hypervolume: recs.iter().map(|r| r.1).collect(),
            compute_s: recs
                .iter()
                .map(|r| {
                    spent += r.0;
                    spent
                })
                .collect(),
            kinds: recs.iter().map(|r| r.2).collect(),
            results: recs.iter().map(|r| r.3).collect(),
            truth: recs.iter().map(|r| r.3.map(|x| x.0)).collect(),
        }
    }

    /// Every figure is cut at the same compute: what a run admitted after it does not count,
    /// however few records that is; rung and over-budget answers are counted apart from the
    /// full-fidelity evaluations.
    #[test]
    fn figures_are_taken_at_equal_compute_and_counts_keep_kinds_apart() {
        use AnswerKind::*;
        // A cheap strategy: many over-budget and rung answers, then a good full result late.
        let cheap = run(
            StrategyKind::Asha,
            0,
            &[
                (0.5, 0.0, OverBudget, None),
                (1.0, 0.1, Rung, None),
                (1.0, 0.1, Rung, None),
                (4.0, 0.3, Full, Some((2.0, 0.5))),
                (4.0, 0.9, Full, Some((1.0, 0.9))),
            ],
        );
        // An expensive one: two full results.
        let dear = run(
            StrategyKind::Random,
            0,
            &[
                (5.0, 0.4, Full, Some((1.5, 0.2))),
                (5.0, 0.5, Full, Some((1.4, 0.8))),
            ],
        );
        assert_eq!(cheap.at_compute(6.5), 0.3);
        assert_eq!(cheap.at_compute(6.4), 0.1);
        assert_eq!(dear.at_compute(6.5), 0.4);
        let c = cheap.counts(6.5);
        assert_eq!((c.full, c.rung, c.over_budget, c.failed), (1, 2, 1, 0));
        assert_eq!(cheap.best_within(0.6, 10.5), Some(2.0));
        assert_eq!(cheap.best_within(1.0, 10.5), Some(1.0));
        assert_eq!(cheap.best_within(0.6, 6.0), None);
        assert_eq!(dear.best_within(0.9, 10.0), Some(1.4));

        let (s, cmp) = summarize(
            &[cheap.clone(), dear.clone()],
            &[StrategyKind::Asha, StrategyKind::Random],
            &[5.0, 10.0],
            1.0,
            Some(HypervolumeNoise {
                sd: 0.01,
                low: 0.01,
                high: 0.01,
                draws: 2,
            }),
            &[(1.0, Some(1.0))],
        );
        // At the budget (10 s): ASHA has 0.3 (its 0.9 came at 10.5 s), random 0.5.
        assert_eq!(s[0].by_compute[1].1.mean, 0.3);
        assert_eq!(s[1].by_compute[1].1.mean, 0.5);
        assert_eq!((s[0].full, s[0].rung, s[0].over_budget), (1.0, 2.0, 1.0));
        // Regret at the budget: ASHA's best within 1 s latency by 10 s is 2.0.
        assert!((s[0].regrets[0].mean - 1.0).abs() < 1e-12);
        // And along the way: by 5 s ASHA has no full result, random its first (1.5 at 0.2 s).
        let r = &s[0].regret_by_compute;
        assert_eq!((r[0].0, r[0].1.none_found, r[1].1.none_found), (5.0, 1, 0));
        assert!((r[1].1.mean - 1.0).abs() < 1e-12);
        assert!((s[1].regret_by_compute[0].1.mean - 0.5).abs() < 1e-12);
        // The compute to reach random's 0.5 comes from the same curves: random itself needs
        // its 10 s, ASHA does not get there within the budget.
        assert_eq!(s[1].compute_to_target, Some(10.0));
        assert_eq!(s[0].compute_to_target, None);
        // One seed each: every bootstrap draw is the same run, so the interval is the point
        // (random against itself: 1) or never reached (ASHA: infinite).
        assert_eq!(s[1].compute_ratio_ci95, Some((1.0, 1.0)));
        assert_eq!(s[0].compute_ratio_ci95.map(|c| c.0), Some(f64::INFINITY));
        assert_eq!(cmp.len(), 1);
        assert_eq!(cmp[0].verdict, "tie", "one seed each cannot be told apart");
    }

    /// A lucky answer counts as what the strategy saw, not as what it found: on a run whose
    /// best-looking genome is truly worse than another it evaluated, the true hypervolume is
    /// that of the seen frontier's members at their true losses, and the pick within a budget
    /// is the best-looking one, valued at its truth.
    #[test]
    fn a_run_is_scored_on_truth_apart_from_its_luck() {
        let cfg = config(1.0, 3.0, 1.0);
        // (seen loss, latency); truth: #0 is truly 2.5 (seen 1.0: lucky), #1 truly 1.5.
        let results = vec![Some((1.0, 0.5)), Some((1.6, 0.5)), None];
        let truth = vec![Some(2.5), Some(1.5), None];
        let hv = true_hypervolumes(&results, &truth, &cfg);
        // Seen: #0 dominates #1, so the frontier is #0 alone, worth (3 − 2.5) × 0.5 on truth.
        assert!((hv[0] - 0.25).abs() < 1e-12, "{hv:?}");
        assert!(
            (hv[1] - 0.25).abs() < 1e-12,
            "#1 never joined the seen front: {hv:?}"
        );
        assert_eq!(hv[2], hv[1]);
        let seen_hv = hypervolume_2d(&[(1.0, 0.5)], (3.0, 1.0));
        assert!(
            seen_hv > hv[1] + 0.5,
            "luck is visible: seen {seen_hv} vs true {}",
            hv[1]
        );
        let t = Trajectory {
            strategy: StrategyKind::Random,
            seed: 0,
            hypervolume: vec![seen_hv; 3],
            true_hypervolume: hv,
            compute_s: vec![1.0, 2.0, 3.0],
            kinds: vec![AnswerKind::Full, AnswerKind::Full, AnswerKind::OverBudget],
            results,
            truth,
        };
        assert_eq!(t.seen_best_within(1.0, 3.0), Some(1.0));
        assert_eq!(
            t.best_within(1.0, 3.0),
            Some(2.5),
            "the pick is valued at its truth"
        );
        assert!((t.at_compute(3.0) - 0.25).abs() < 1e-12);
        assert_eq!(t.seen_at_compute(3.0), seen_hv);
    }

    /// The table's hypervolume noise is estimated stably: two estimates from different seeds
    /// agree (overlapping intervals, within 10 %), and each interval is narrow and holds its
    /// estimate.
    #[test]
    fn hypervolume_noise_is_stable_across_resamples() {
        use crate::table::TableRow;
        let rows: Vec<TableRow> = (0..40)
            .map(|i| {
                let lat = 0.01 + 0.001 * i as f64;
                TableRow {
                    key: format!("g{i} | w16"),
                    layers: format!("g{i}"),
                    width: 16,
                    params: 1,
                    status: RecordStatus::Ok,
                    failure: None,
                    latency_s: Some(lat),
                    latency_ref: None,
                    latency_source: crate::task::LatencyOrigin::Analytic,
                    val_loss: Some(3.0 - 10.0 * lat + 0.02 * (i % 3) as f64),
                    steps: 8,
                    train_s: 1.0,
                    rungs: vec![],
                    timing_s: 0.5,
                    val_s: 0.1,
                    replicates: 2,
                    val_loss_std: Some(0.05),
                    recall: None,
                    recall_std: None,
                    recall_s: 0.0,
                }
            })
            .collect();
        let table = Table::from_rows(Path::new("t.parquet"), rows);
        let cfg = config(0.05, 3.5, 0.06);
        let a = hypervolume_noise(&table, &cfg, 3000, 1).unwrap();
        let b = hypervolume_noise(&table, &cfg, 3000, 2).unwrap();
        for n in [a, b] {
            assert!(n.low <= n.sd && n.sd <= n.high, "{n:?}");
            assert!(n.high - n.low < 0.3 * n.sd, "a wide interval: {n:?}");
        }
        // Independent estimates: their intervals overlap and they differ by under 10 %.
        assert!(a.low <= b.high && b.low <= a.high, "{a:?} vs {b:?}");
        assert!((a.sd - b.sd).abs() < 0.1 * a.sd.min(b.sd), "{a:?} vs {b:?}");
        // Pooled σ: two-seed standard deviations of 0.05 pool to 0.05.
        assert!((table.replicate_noise().unwrap() - 0.05).abs() < 1e-12);
    }

    /// Charging: a trained answer costs its rung's training and one validation; the
    /// tabulation's timing is free, and a priced-only answer costs nothing.
    #[test]
    fn answers_are_charged_their_training_and_not_the_tabulation() {
        let row = crate::table::TableRow {
            key: "a | w16".into(),
            layers: "a".into(),
            width: 16,
            params: 1,
            status: RecordStatus::Ok,
            failure: None,
            latency_s: Some(0.01),
            latency_ref: None,
            latency_source: crate::task::LatencyOrigin::Analytic,
            val_loss: Some(2.0),
            steps: 96,
            train_s: 4.0,
            rungs: vec![(24, 2.5, 1.0)],
            timing_s: 3.0,
            val_s: 0.2,
            replicates: 1,
            val_loss_std: None,
            recall: None,
            recall_std: None,
            recall_s: 0.0,
        };
        assert_eq!(
            row.cost(Some(24)),
            1.0 + 0.2,
            "a rung costs its steps' share"
        );
        assert_eq!(row.cost(Some(96)), 4.0 + 0.2);
        assert_eq!(row.cost(None), 0.0, "pricing is counted, not charged");
        assert!(row.cost(Some(24)) / row.cost(Some(96)) < 0.3);
    }

    /// A row of a synthetic table: `layers` at width 16, its loss, latency and recall.
    fn row(layers: &str, loss: f64, latency_s: f64, recall: Option<f64>) -> crate::table::TableRow {
        crate::table::TableRow {
            key: crate::table::key_of(layers, 16),
            layers: layers.into(),
            width: 16,
            params: 1,
            status: RecordStatus::Ok,
            failure: None,
            latency_s: Some(latency_s),
            latency_ref: None,
            latency_source: crate::task::LatencyOrigin::Analytic,
            val_loss: Some(loss),
            steps: 96,
            train_s: 4.0,
            rungs: vec![(24, loss + 0.5, 1.0)],
            timing_s: 3.0,
            val_s: 0.2,
            replicates: 1,
            val_loss_std: None,
            recall,
            recall_std: None,
            recall_s: 5.0,
        }
    }

    /// A recall constraint makes a row infeasible in the table's truth the way the latency
    /// budget does: the frontier, the best reachable loss within a budget and the single-genome
    /// share all leave out the genome that recalls too little, however good its loss; without
    /// the constraint it dominates them.
    #[test]
    fn a_recall_constraint_makes_a_row_infeasible_in_the_tables_truth() {
        let rows = vec![
            row("m2", 1.0, 0.5, Some(0.1)), // best loss, fails recall
            row("d", 2.0, 0.5, Some(0.9)),  // recalls
            row("a", 1.5, 2.0, Some(0.95)), // recalls, over the budget
            row("gdn", 1.2, 0.5, None),     // no probe figure: cannot show it recalls
        ];
        let table = Table::from_rows(Path::new("t.parquet"), rows);
        let free = config(1.0, 3.0, 1.0);
        let mut constrained = free.clone();
        constrained.objectives.recall_min = Some(0.5);
        let (hv_free, truth_free) = Truth::Table(&table).table_best(&table, &free);
        let (hv, truth) = Truth::Table(&table).table_best(&table, &constrained);
        assert_eq!(truth_free, vec![Some(1.0), Some(2.0), Some(1.5), Some(1.2)]);
        assert_eq!(truth, vec![None, Some(2.0), Some(1.5), None]);
        // Free: m2 alone spans (3 − 1) × (1 − 0.5); constrained: d alone, (3 − 2) × 0.5.
        assert!((hv_free - 1.0).abs() < 1e-12, "{hv_free}");
        assert!((hv - 0.5).abs() < 1e-12, "{hv}");
        assert!((table_hypervolume(&table, &constrained) - 0.5).abs() < 1e-12);
        let (share, key) = largest_single_share(&table, &constrained, &truth);
        assert_eq!((share, key.as_str()), (1.0, "d | w16"));
        assert!(recalls(&table.rows[1], &constrained) && !recalls(&table.rows[0], &constrained));
        assert!(!recalls(&table.rows[3], &constrained) && recalls(&table.rows[3], &free));
    }

    /// A (share, genome) as computed against the share and genome expected.
    fn assert_share((share, key): (f64, String), want: f64, want_key: &str) {
        assert!(
            (share - want).abs() < 1e-12 && key == want_key,
            "{share} {key}"
        );
    }

    /// Two genomes on the front (a slow best loss, a fast worse one), one dominated and one
    /// over the budget of 1.0, under a reference (10.0, 1.0): the table, its config and truth.
    fn a_front_of_two() -> (Table, CampaignConfig, Vec<Option<f64>>) {
        let rows = vec![
            row("a", 1.0, 0.9, None),   // best loss, slow
            row("d", 2.0, 0.1, None),   // fast, worse
            row("m2", 2.5, 0.5, None),  // dominated by d
            row("gdn", 0.5, 1.5, None), // best of all, over the budget
        ];
        let table = Table::from_rows(Path::new("t.parquet"), rows);
        let cfg = config(1.0, 10.0, 1.0);
        let (_, truth) = Truth::Table(&table).table_best(&table, &cfg);
        (table, cfg, truth)
    }

    /// With a distant reference loss the fastest frontier member holds nearly all of the
    /// volume; at the frontier's nadir (worst loss + a tenth of the range) the volume is
    /// shared by the trade-off, and the genome over the budget or dominated never counts.
    #[test]
    fn a_reference_at_the_frontiers_nadir_shares_the_volume_by_the_trade_off() {
        let (table, cfg, truth) = a_front_of_two();
        // d alone (10 − 2) × (1 − 0.1) = 7.2 of 7.2 + (2 − 1) × (1 − 0.9) = 7.3.
        assert_share(
            largest_single_share(&table, &cfg, &truth),
            7.2 / 7.3,
            "d | w16",
        );
        let loss = nadir_reference_loss(&table, &cfg, &truth).unwrap();
        assert!((loss - 2.1).abs() < 1e-12, "{loss}");
        // At 2.1: a alone 1.1 × 0.1 = 0.11, d alone 0.1 × 0.9 = 0.09, together 0.19.
        let mut at = cfg.clone();
        at.objectives.reference_point.loss = loss;
        assert_share(
            largest_single_share(&table, &at, &truth),
            0.11 / 0.19,
            "a | w16",
        );
    }

    /// The volume only one genome holds: a dominated genome takes back part of what its
    /// dominator's box covered once the dominator is gone, so the fast genome's exclusive
    /// part is well under its box; on a dense straight front no member holds more than a
    /// sliver on its own, while its largest box holds at least half.
    #[test]
    fn only_a_front_with_one_answer_has_a_genome_holding_most_of_the_volume_alone() {
        let (table, cfg, truth) = a_front_of_two();
        // Total 7.3; without d: m2 0.4 × 7.5 + a 0.1 × 9 = 3.9, so d alone holds 3.4.
        assert_share(
            largest_exclusive_share(&table, &cfg, &truth),
            3.4 / 7.3,
            "d | w16",
        );
        // One answer: a genome far better than every other holds nearly all of it alone
        // (8.1, of which d would keep 1.0 × 0.5).
        let one = Table::from_rows(
            Path::new("t.parquet"),
            vec![row("a", 1.0, 0.1, None), row("d", 9.0, 0.5, None)],
        );
        let (_, truth) = Truth::Table(&one).table_best(&one, &cfg);
        let (share, key) = largest_exclusive_share(&one, &cfg, &truth);
        assert!(share > 0.9 && key == "a | w16", "{share} {key}");
        // A dense straight front: 101 genomes from (2.0, 0) to (1.0, 0.5).
        let line: Vec<_> = (0..=100)
            .map(|i| {
                let s = i as f64 / 100.0;
                row(&format!("d{i}"), 2.0 - s, 0.5 * s, None)
            })
            .collect();
        let dense = Table::from_rows(Path::new("t.parquet"), line);
        let cfg = config(1.0, 2.05, 0.55);
        let (_, truth) = Truth::Table(&dense).table_best(&dense, &cfg);
        let (alone, _) = largest_exclusive_share(&dense, &cfg, &truth);
        let (boxed, _) = largest_single_share(&dense, &cfg, &truth);
        assert!(alone < 0.01 && boxed >= 0.5, "{alone} {boxed}");
    }

    /// A straight-line front's largest single share is a half with the reference at its ends'
    /// worst values and more with the reference farther out; the closed form agrees with a
    /// dense front's hypervolumes, whatever points lie between the ends.
    #[test]
    fn a_straight_front_holds_half_its_volume_in_one_box_at_its_own_nadir() {
        let ends = [(1.0, 0.0), (0.5, 0.7), (0.0, 1.0)];
        let at_nadir = straight_front_share(&ends, (1.0, 1.0)).unwrap();
        assert!((at_nadir - 0.5).abs() < 1e-12, "{at_nadir}");
        let farther = straight_front_share(&ends, (1.1, 1.1)).unwrap();
        assert!((farther - 0.36 / 0.71).abs() < 1e-12, "{farther}");
        // A dense front on the line between (loss 2.4, 10 ms) and (2.2, 28 ms), reference
        // (3.0, 33 ms): the largest box over the whole front's volume.
        let reference = (3.0, 0.033);
        let line: Vec<(f64, f64)> = (0..=20_000)
            .map(|i| {
                let s = i as f64 / 20_000.0;
                (2.4 - 0.2 * s, 0.010 + 0.018 * s)
            })
            .collect();
        let volume = hypervolume_2d(&line, reference);
        let largest = line
            .iter()
            .map(|p| hypervolume_2d(&[*p], reference))
            .fold(0.0, f64::max);
        let formula = straight_front_share(&[line[0], line[20_000]], reference).unwrap();
        assert!(
            (formula - largest / volume).abs() < 1e-4,
            "{formula} {}",
            largest / volume
        );
        assert_eq!(straight_front_share(&[(1.0, 0.5)], reference), None);
    }

    /// The recall probe answers the full run only (a rung is screened on its loss), so the
    /// full answer is charged its seconds and a rung its training and validation; a
    /// priced-only answer still costs nothing.
    #[test]
    fn the_recall_probe_is_charged_to_the_full_run_only() {
        let r = row("d", 2.0, 0.5, Some(0.9));
        assert_eq!(r.cost(Some(24)), 1.0 + 0.2);
        assert_eq!(r.cost(Some(96)), 4.0 + 0.2 + 5.0);
        assert_eq!(r.cost(None), 0.0);
    }

    /// A campaign config with a latency budget and a reference point (loss, latency).
    fn config(budget_s: f64, loss: f64, latency_s: f64) -> CampaignConfig {
        CampaignConfig::from_toml(
            &format!(
                "name = 't'\nstrategy = 'random'\nevaluations = 4\n[space]\nmixers = ['attention', 'mamba2']\nwidths = [16]\nhead_dim = 8\n[latency]\nsource = 'analytic'\nroofline = 'cpu-2core'\nbudget_s = {budget_s}\n[objectives]\nreference_point = {{ loss = {loss}, latency_s = {latency_s} }}\n[train]\nsteps = 2\n"
            ),
            "test",
        )
        .unwrap()
    }
}
