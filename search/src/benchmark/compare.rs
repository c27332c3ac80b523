//! The strategy benchmark as one request: load the table (and the surrogate standing in for
//! it), run every strategy over its seeds at equal simulated compute, score the runs on
//! truth and compare them. `flashnas bench strategies` prints and plots what this returns.

use super::{
    compute_of_random_evaluations, hypervolume_noise, largest_exclusive_share,
    largest_single_share, nadir_reference_loss, run, run_config, straight_front_share, summarize,
    table_hypervolume, true_front, Comparison, HypervolumeNoise, StrategySummary, Trajectory,
    Truth,
};
use crate::config::{CampaignConfig, StrategyKind};
use crate::error::{Error, Result};
use crate::surrogate::Surrogate;
use crate::table::{config_path, Table};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What to compare, as `flashnas bench strategies` takes it.
#[derive(Debug, Clone)]
pub struct Request {
    /// A table from `flashnas tabulate` (its config is read from beside it).
    pub table: PathBuf,
    /// Answers from this surrogate instead of the table (it must have been fitted on it).
    pub surrogate: Option<PathBuf>,
    pub seeds: u64,
    pub seed_offset: u64,
    /// Compute per run in full evaluations of random genomes (default: 10 % of the table).
    pub budget: Option<usize>,
    /// Records a run may admit at most (default: 20 × the budget).
    pub cap: Option<usize>,
    pub strategies: Vec<StrategyKind>,
    /// Runs in parallel.
    pub threads: usize,
    /// Overrides of the table config's `[multi_fidelity]`.
    pub rungs: Vec<f64>,
    pub eta: Option<usize>,
}

impl Request {
    /// Refuses a request that would run nothing, naming the flag.
    pub fn check(&self) -> Result<()> {
        let bad = |s: &str| Err(Error::Config(s.into()));
        if self.seeds == 0 {
            return bad("--seeds 0: give at least one seed per strategy");
        }
        if self.budget == Some(0) {
            return bad("--budget 0: give the compute of at least one evaluation");
        }
        if self.cap == Some(0) {
            return bad("--cap 0: a run must admit at least one record");
        }
        if self.threads == 0 {
            return bad("--threads 0: give at least one thread (or leave it out)");
        }
        if self.strategies.is_empty() {
            return bad("--strategies: name at least one of aging, random, nsga2, asha");
        }
        Ok(())
    }
}

/// A request with its table, config and surrogate loaded and every figure that does not need
/// a run: what is printed before the runs start.
pub struct Prepared {
    pub request: Request,
    pub table_path: PathBuf,
    pub table: Table,
    pub surrogate_path: Option<PathBuf>,
    pub surrogate: Option<Surrogate>,
    pub cfg: CampaignConfig,
    pub budget: usize,
    pub cap: usize,
    /// Simulated seconds every run gets.
    pub compute: f64,
    pub budget_s: f64,
    /// Genomes within the latency budget.
    pub feasible: usize,
    /// Of those, the trained ones that meet `objectives.recall_min` (`None` without it).
    pub recalling: Option<usize>,
    /// The table's frontier hypervolume on truth, and as tabulated.
    pub table_hv: f64,
    pub table_seen_hv: f64,
    /// Each row's true loss (see [`Truth::table_best`]).
    pub table_truth: Vec<Option<f64>>,
    /// Pooled replicate σ of the loss, and the hypervolume noise it causes.
    pub sigma: Option<f64>,
    pub hv_noise: Option<HypervolumeNoise>,
}

/// A discrimination check of the table: the figure, its threshold and whether it passes
/// (`None`: it cannot be judged).
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub what: String,
    pub value: f64,
    pub threshold: f64,
    pub pass: Option<bool>,
}

/// Everything the comparison found.
pub struct Outcome {
    pub runs: Vec<Trajectory>,
    pub elapsed_s: f64,
    /// The best reachable hypervolume: the table's on truth, or better where a run (on a
    /// surrogate, which answers genomes the table lacks) found more.
    pub best_hv: f64,
    pub fractions: Vec<f64>,
    pub compute_points: Vec<f64>,
    /// (latency budget s, best true loss reachable within it).
    pub budgets: Vec<(f64, Option<f64>)>,
    pub summaries: Vec<StrategySummary>,
    pub comparisons: Vec<Comparison>,
    /// The largest share of the hypervolume one genome holds, and which.
    pub share: Share,
    /// The same under a reference loss at the true frontier's worst loss plus a tenth of its
    /// range: whether the share is the trade-off's or the configured reference point's.
    pub share_at_nadir: Option<Share>,
    pub checks: Vec<Check>,
}

/// The largest share of the table's hypervolume one genome holds under one reference loss,
/// beside what a front with no knee would give there.
#[derive(Debug, Clone, Serialize)]
pub struct Share {
    pub reference_loss: f64,
    pub share: f64,
    pub key: String,
    /// The largest share on a dense straight-line front between the true frontier's fastest
    /// and best-loss members, under the same reference (`None`: a frontier of one point):
    /// above it, one genome holds the volume by a knee in the trade-off.
    pub straight_front: Option<f64>,
    /// The largest share only one genome holds (the volume lost without it), and which: the
    /// figure the "one answer" check reads, since a box's share has the floor above.
    pub exclusive: f64,
    pub exclusive_key: String,
}

/// The surrogate's noise-free means when it answers the runs, else the table's.
fn truth_of<'a>(surrogate: Option<&'a Surrogate>, table: &'a Table) -> Truth<'a> {
    match surrogate {
        Some(s) => Truth::Surrogate(s),
        None => Truth::Table(table),
    }
}

fn canonical(p: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(p).map_err(|e| Error::file(p, e))
}

impl Prepared {
    pub fn new(request: Request) -> Result<Self> {
        request.check()?;
        let table_path = canonical(&request.table)?;
        let table = Table::load(&table_path)?;
        let table_cfg = CampaignConfig::from_file(&config_path(&table_path))?;
        if request.surrogate.is_some() && table_cfg.objectives.recall_min.is_some() {
            return Err(Error::Config(format!(
                "--surrogate: the table's config constrains recall (objectives.recall_min) and the surrogate predicts the loss only; compare on the table itself ({})",
                table_path.display()
            )));
        }
        if table_cfg.objectives.quality != crate::config::Quality::Loss {
            // Scored on loss × latency, a run's hypervolume would silently leave out the
            // quality its strategies optimised.
            return Err(Error::Config(format!(
                "{}: objectives.quality = \"{}\": the strategy benchmark scores loss × latency only; set quality = \"loss\" and constrain recall with objectives.recall_min instead",
                config_path(&table_path).display(),
                crate::config::quality_name(table_cfg.objectives.quality)
            )));
        }
        let surrogate_path = request.surrogate.as_deref().map(canonical).transpose()?;
        let surrogate = match &surrogate_path {
            // Fail now, not in every run.
            Some(p) => {
                let s = Surrogate::load(p)?;
                s.check_fitted_on(&table)
                    .map_err(|e| Error::Config(format!("--surrogate {}: {e}", p.display())))?;
                Some(s)
            }
            None => None,
        };
        let mut cfg = table_cfg;
        if cfg.space.width == crate::genome::WidthRule::FitBudget
            && cfg.latency.source == flashnas_latency::LatencySource::Measured
        {
            return Err(Error::Config(format!(
                "{}: space.width = \"fit_budget\" with measured latency: every run would measure widths anew and propose genomes the table lacks; tabulate with a predictor, a lookup table or the roofline (latency.source)",
                config_path(&table_path).display()
            )));
        }
        if !request.rungs.is_empty() {
            cfg.strategies.multi_fidelity.rungs = request.rungs.clone();
        }
        if let Some(e) = request.eta {
            cfg.strategies.multi_fidelity.eta = e;
        }
        let mut asha = cfg.clone();
        asha.strategy = StrategyKind::Asha;
        asha.validate()?;
        let have = table.rung_steps();
        for s in cfg
            .strategies
            .multi_fidelity
            .rung_steps(cfg.train.total_steps())
        {
            if !have.contains(&s) {
                return Err(Error::Config(format!(
                    "multi_fidelity.rungs: the table has losses after {have:?} steps, not {s}"
                )));
            }
        }
        let budget = request.budget.unwrap_or((table.rows.len() / 10).max(1));
        let cap = request.cap.unwrap_or(20 * budget);
        let compute = compute_of_random_evaluations(&table, &cfg, budget);
        let (table_hv, table_truth) = truth_of(surrogate.as_ref(), &table).table_best(&table, &cfg);
        let table_seen_hv = table_hypervolume(&table, &cfg);
        let budget_s = cfg.latency.budget_seconds().unwrap_or(f64::INFINITY);
        let within: Vec<_> = table
            .rows
            .iter()
            .filter(|r| r.latency_s.is_some_and(|l| l <= budget_s))
            .collect();
        let feasible = within.len();
        let recalling = cfg.objectives.recall_min.map(|_| {
            within
                .iter()
                .filter(|r| r.status == crate::journal::RecordStatus::Ok && super::recalls(r, &cfg))
                .count()
        });
        let sigma = table.replicate_noise();
        let hv_noise = hypervolume_noise(&table, &cfg, 3000, 0x5eed);
        Ok(Self {
            request,
            table_path,
            table,
            surrogate_path,
            surrogate,
            cfg,
            budget,
            cap,
            compute,
            budget_s,
            feasible,
            recalling,
            table_hv,
            table_seen_hv,
            table_truth,
            sigma,
            hv_noise,
        })
    }

    /// Where truth comes from.
    pub fn truth(&self) -> Truth<'_> {
        truth_of(self.surrogate.as_ref(), &self.table)
    }

    /// Runs every (strategy, seed) in `work` (a scratch folder, emptied run by run) on
    /// `request.threads` threads, calling `done` after each with what finished, then scores
    /// and compares them.
    pub fn run(&self, work: &Path, done: &(dyn Fn(&str) + Sync)) -> Result<Outcome> {
        let req = &self.request;
        let jobs: Vec<(StrategyKind, u64)> = req
            .strategies
            .iter()
            .flat_map(|&s| {
                (req.seed_offset..req.seed_offset + req.seeds).map(move |seed| (s, seed))
            })
            .collect();
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Result<Trajectory>>> = Mutex::new(Vec::new());
        let started = std::time::Instant::now();
        let truth = self.truth();
        std::thread::scope(|scope| {
            for _ in 0..req.threads {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(s, seed)) = jobs.get(i) else { break };
                    let c = run_config(
                        &self.cfg,
                        &self.table_path,
                        self.surrogate_path.as_deref(),
                        s,
                        seed,
                        self.cap,
                    );
                    let dir = work.join(format!("{}-{seed}", s.name()));
                    let r = run(&c, &dir, self.compute, truth);
                    let _ = std::fs::remove_dir_all(&dir);
                    done(&format!("{} seed {seed}", s.name()));
                    results.lock().expect("lock").push(r);
                });
            }
        });
        let mut runs: Vec<Trajectory> = results
            .into_inner()
            .expect("lock")
            .into_iter()
            .collect::<Result<_>>()?;
        runs.sort_by_key(|t| (req.strategies.iter().position(|&s| s == t.strategy), t.seed));
        let elapsed_s = started.elapsed().as_secs_f64();
        Ok(self.score(runs, elapsed_s))
    }

    /// The figures of finished runs (see [`Outcome`]).
    pub fn score(&self, runs: Vec<Trajectory>, elapsed_s: f64) -> Outcome {
        let compute = self.compute;
        let best_hv = runs
            .iter()
            .map(|t| t.at_compute(compute))
            .fold(self.table_hv, f64::max);
        let fractions = vec![0.1, 0.25, 1.0 / 3.0, 0.5, 1.0];
        let compute_points: Vec<f64> = fractions.iter().map(|f| f * compute).collect();
        let budgets: Vec<(f64, Option<f64>)> = [0.5, 0.75, 1.0]
            .iter()
            .map(|f| {
                let b = f * self.budget_s;
                // The best true loss reachable within b: over the table's genomes, and (with
                // a surrogate, which answers genomes the table lacks) every genome a run found.
                let in_table = self
                    .table
                    .rows
                    .iter()
                    .zip(&self.table_truth)
                    .filter(|(r, _)| r.latency_s.is_some_and(|l| l <= b))
                    .filter_map(|(_, t)| *t);
                let found = runs.iter().flat_map(|t| {
                    t.results
                        .iter()
                        .zip(&t.truth)
                        .filter_map(move |(r, tr)| (r.as_ref()?.1 <= b).then_some((*tr)?))
                });
                (b, in_table.chain(found).min_by(f64::total_cmp))
            })
            .collect();
        let (summaries, comparisons) = summarize(
            &runs,
            &self.request.strategies,
            &compute_points,
            best_hv,
            self.hv_noise,
            &budgets,
        );
        let share_at = |cfg: &CampaignConfig| {
            let (share, key) = largest_single_share(&self.table, cfg, &self.table_truth);
            let (exclusive, exclusive_key) =
                largest_exclusive_share(&self.table, cfg, &self.table_truth);
            let rp = &cfg.objectives.reference_point;
            Share {
                reference_loss: rp.loss,
                share,
                key,
                straight_front: straight_front_share(
                    &true_front(&self.table, cfg, &self.table_truth),
                    (rp.loss, rp.latency_s),
                ),
                exclusive,
                exclusive_key,
            }
        };
        let share = share_at(&self.cfg);
        let share_at_nadir =
            nadir_reference_loss(&self.table, &self.cfg, &self.table_truth).map(|loss| {
                let mut at = self.cfg.clone();
                at.objectives.reference_point.loss = loss;
                share_at(&at)
            });
        let mut checks = Vec::new();
        if let Some(random) = summaries
            .iter()
            .find(|s| s.strategy == StrategyKind::Random)
        {
            let reach = random.by_compute.last().map_or(0.0, |v| v.1.mean) / best_hv;
            checks.push(Check {
                what: "random search's share of the best reachable hypervolume".into(),
                value: reach,
                threshold: 0.95,
                pass: Some(reach <= 0.95),
            });
            let regret = random.regrets.last().map_or(f64::NAN, |r| r.mean);
            checks.push(Check {
                what: "random search's regret within the budget, against 3 × the seed noise".into(),
                value: regret,
                threshold: self.sigma.map_or(f64::NAN, |s| 3.0 * s),
                pass: self.sigma.map(|s| regret >= 3.0 * s),
            });
        }
        checks.push(Check {
            what: format!(
                "the largest share of the hypervolume one genome holds alone ({}; lost without it)",
                share.exclusive_key
            ),
            value: share.exclusive,
            threshold: 0.5,
            pass: Some(share.exclusive <= 0.5),
        });
        Outcome {
            runs,
            elapsed_s,
            best_hv,
            fractions,
            compute_points,
            budgets,
            summaries,
            comparisons,
            share,
            share_at_nadir,
            checks,
        }
    }
}
