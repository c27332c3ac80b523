//! A campaign: strategy + evaluation + journal + checkpoint + resume.
//!
//! Every random choice comes from one ChaCha8 RNG seeded by the campaign seed, and the
//! strategies are deterministic given the evaluation results. Resume therefore replays the
//! strategy from the start, reading completed evaluations back from the journal instead of
//! running them (never re-trained, never re-measured); the RNG stream continues exactly where
//! the interrupted run was. With a deterministic latency source, an interrupted-and-resumed
//! campaign writes the same journal as an uninterrupted one, wall-clock fields aside.

use crate::config::CampaignConfig;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::executor::{Executor, ExecutorConfig, Pipeline};
use crate::family::FamilyGrid;
use crate::genome::{Genome, WidthRule};
use crate::journal::{
    Checkpoint, Evaluated, Journal, Origin, Record, RecordStatus, Replay, SpecText,
};
use crate::lock::FolderLock;
use crate::observers::{Admitted, CheckpointWriter, Observer, ReportWriter};
use crate::run_dir::{new_run_dir, pin_config_value, resume_run_dir};
use crate::strategy::{Ask, InitialPopulation, Proposal, Strategy, Submitted, View, WarmSeed};
use crate::task::{Latency, Pricer, Task, TaskResult};
use flashnas_model::ArchSpec;
use flashnas_training::{Dataset, ProxyResult, Status};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

mod pricing;
mod race;
mod submit;
mod tally;

use tally::Tally;

/// A proposed candidate not yet admitted to the journal.
struct Pending {
    id: usize,
    proposal: Proposal,
    /// The genome as evaluated (width fitted when the rule says so).
    genome: Genome,
    key: String,
    spec: ArchSpec,
    replay: Option<Record>,
    /// A result known without an executor: an earlier campaign's evaluation of the same
    /// candidate under the same settings, or a proposal the driver priced over the budget.
    ready: Option<TaskResult>,
    /// Latency pricings the driver spent on it.
    pricings: usize,
}

impl Pending {
    /// Whether it will count against `evaluations` once admitted (trained, not a replicate).
    fn counts(&self) -> bool {
        match (&self.replay, &self.ready) {
            (Some(r), _) => r.counts_as_evaluation(),
            _ if self.proposal.replicate.is_some() => false,
            (None, Some(t)) => !matches!(t.proxy.status, Status::NotTrained { .. }),
            (None, None) => true,
        }
    }
}

pub struct Campaign<'a> {
    pub dir: PathBuf,
    pub cfg: CampaignConfig,
    /// The corpus's vocabulary (what the candidates' embeddings are sized by).
    vocab_size: usize,
    rng: ChaCha8Rng,
    journal: Journal,
    /// Records read back from the journal, replayed in order.
    replay: Replay,
    pub records: Vec<Record>,
    by_key: HashMap<String, usize>,
    on_event: &'a mut dyn FnMut(Event),
    /// Latency of (layers|width) measured while fitting widths, reused within this run.
    latency_cache: HashMap<String, Latency>,
    /// Prices candidates in the driver (width fitting) under the campaign's protocol.
    pricer: Pricer,
    executor: Box<dyn Executor>,
    /// Proposed, not yet admitted, oldest first; admitted strictly in this order.
    pipeline: Pipeline<Pending>,
    cycle: usize,
    population: Vec<usize>,
    /// The reference model latencies are calibrated against or budgeted in, if any.
    reference: Option<ArchSpec>,
    /// Designs taken from earlier campaigns (`[warm_start]`), first in the population.
    warm: Vec<WarmSeed>,
    /// This driver's hold on the folder (one driver per campaign).
    _lock: FolderLock,
    /// Writes `checkpoint.json` after each evaluation.
    checkpoint_writer: CheckpointWriter,
    /// Rewrites `report.html` after each evaluation (`report.enabled = false` for benchmark
    /// runs).
    pub report: ReportWriter,
    /// Stop proposing once the admitted evaluations cost this many seconds in all (the
    /// strategy benchmark compares strategies at equal compute; a real campaign has none).
    pub compute_budget_s: Option<f64>,
    /// The hand-designed families' shapes priced at the start and the seeds chosen.
    pub family: FamilyGrid,
    /// Latency pricings the driver made (width fitting, the family grid).
    pricings: usize,
    /// Proposals admitted over the budget (untrained) since the last trained one.
    over_budget_streak: usize,
    /// Frontier, best, evaluations and compute spent, kept up to date record by record.
    tally: Tally,
}

/// The result of a campaign.
pub struct Outcome {
    pub best: Option<usize>,
    pub frontier: Vec<usize>,
    pub hypervolume: f64,
    /// `report.html` could not be rewritten after the last evaluation (why): it shows an
    /// earlier state. The journal and checkpoint are whole (their write failures stop the run).
    pub report_stale: Option<String>,
}

impl<'a> Campaign<'a> {
    /// Creates a new campaign directory (must not hold a journal yet) and copies the config.
    pub fn create(
        dir: &Path,
        cfg: CampaignConfig,
        config_text: &str,
        on_event: &'a mut dyn FnMut(Event),
    ) -> Result<Self> {
        // What it runs with, pinned in its copy, so that a later default cannot change it.
        let width = match cfg.space.width {
            WidthRule::Gene => "gene",
            WidthRule::FitBudget => "fit_budget",
        };
        let copy = crate::run_dir::with_pinned_defaults(
            config_text,
            [
                width.into(),
                cfg.family_seeds.enabled.into(),
                cfg.racing.enabled.into(),
            ],
        )?;
        let lock = new_run_dir(
            dir,
            &copy,
            &format!(
                "a campaign already exists here; use `flashnas resume {}`",
                dir.display()
            ),
        )?;
        Self::open(dir, cfg, lock, on_event)
    }

    /// Opens an existing campaign directory for resume: everything comes from `DIR/config.toml`.
    /// Refused while another driver runs on the folder.
    pub fn resume(dir: &Path, on_event: &'a mut dyn FnMut(Event)) -> Result<Self> {
        let (lock, config) = resume_run_dir(dir, "campaign", "campaign driver")?;
        let pinned = crate::run_dir::pin_legacy_defaults(dir)?;
        if !pinned.is_empty() {
            on_event(Event::Note(format!(
                "{} was made before these defaults changed and keeps what it ran with: {} (pinned in config.toml)",
                dir.display(),
                pinned.join(", ")
            )));
        }
        let cfg = CampaignConfig::from_file(&config)?;
        Self::open(dir, cfg, lock, on_event)
    }

    fn open(
        dir: &Path,
        cfg: CampaignConfig,
        lock: FolderLock,
        on_event: &'a mut dyn FnMut(Event),
    ) -> Result<Self> {
        let base = dir.to_path_buf();
        // Probed, not loaded (workers load their own): the vocabulary, and a bad corpus found
        // before any work where file sizes show it, rather than as a failure of every candidate.
        let vocab_size = Dataset::probe(&cfg.train.data, cfg.train.seq_len, &base)
            .map_err(|e| Error::Data(e.to_string()))?
            .vocab_size;
        let journal = Journal::new(dir);
        let replayed = crate::rows::replay(&journal, on_event)?;
        if let Err(e) = Checkpoint::load(dir) {
            on_event(Event::Note(format!(
                "{e}; continuing from the journal, which holds every completed evaluation"
            )));
        }
        let executor = cfg.executor.build()?;
        let mut cfg = cfg;
        let reference = cfg.reference_spec(vocab_size);
        let mut pricer = Pricer::new(cfg.latency.clone(), dir, Some(dir), reference.clone());
        pricer.set_edge_levels(&cfg.decision_levels());
        if let (Some(r), None) = (&reference, cfg.latency.reference_s) {
            // The unit of calibrated latencies and of budget_ref: measured once, before any
            // evaluation, and pinned in the campaign's config copy so a resume keeps it.
            let seconds = pricer.reference_seconds().map_err(Error::Latency)?;
            pin_config_value(dir, "latency", "reference_s", seconds)?;
            cfg.latency.reference_s = Some(seconds);
            pricer.set_reference_s(seconds);
            on_event(Event::Note(format!(
                "reference model {} (width {}): {seconds:.6} s under the latency protocol{}",
                r.layer_string(),
                r.d_model,
                match cfg.latency.budget_ref {
                    Some(b) => format!("; budget {b} × reference = {:.6} s", b * seconds),
                    None => String::new(),
                }
            )));
        }
        let population = cfg.strategy.population(&cfg.strategy_settings());
        let warm =
            crate::warm_start::designs(dir, &cfg, population, &mut |n| on_event(Event::Note(n)))?;
        if !warm.is_empty() {
            let reused = warm.iter().filter(|w| w.reusable.is_some()).count();
            on_event(Event::Note(format!(
                "warm start: {} designs from earlier campaigns, {reused} with results to reuse",
                warm.len()
            )));
        }
        let mut latency_cache = HashMap::new();
        let mut pricings = 0;
        let families = cfg.seed_families();
        let family = match FamilyGrid::load(dir)? {
            Some(g) => g,
            None if families.is_empty() => FamilyGrid::default(),
            None => {
                let levels = cfg.seed_levels();
                let budget_s = cfg.latency.budget_seconds().unwrap_or(f64::INFINITY);
                let grid = FamilyGrid::choose(
                    &cfg.space,
                    &families,
                    &levels,
                    budget_s,
                    vocab_size,
                    &mut |spec| {
                        pricings += 1;
                        pricer.price(spec)
                    },
                )
                .map_err(|e| Error::Config(format!("family_seeds: {e}")))?;
                let path = dir.join(crate::family::FILE);
                grid.save(dir).map_err(|e| {
                    Error::write(&path, &e, &format!("flashnas resume {}", dir.display()))
                })?;
                on_event(Event::Note(grid.summary(families.len(), &levels)));
                grid
            }
        };
        // The grid's figures serve its seeds (and any candidate of the same shape).
        for p in family.priced.iter().filter(|p| p.latency.seconds.is_some()) {
            latency_cache.insert(p.key(), p.latency.clone());
        }
        let tally = Tally::new(&cfg.objectives.frontier());
        Ok(Self {
            dir: dir.to_path_buf(),
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            vocab_size,
            journal,
            replay: Replay::new(replayed),
            records: Vec::new(),
            by_key: HashMap::new(),
            on_event,
            executor,
            pipeline: Pipeline::new(cfg.executor.in_flight()),
            latency_cache,
            pricer,
            cfg,
            cycle: 0,
            population: Vec::new(),
            reference,
            warm,
            _lock: lock,
            checkpoint_writer: CheckpointWriter::default(),
            report: ReportWriter::default(),
            compute_budget_s: None,
            family,
            pricings,
            over_budget_streak: 0,
            tally,
        })
    }

    /// The latency budget in seconds (`budget_ref × reference_s` for a relative budget; the
    /// reference is measured and pinned before any evaluation).
    fn budget_s(&self) -> f64 {
        self.cfg.latency.budget_seconds().unwrap_or(f64::INFINITY)
    }

    /// Steps of each multi-fidelity rung below the full run.
    fn rung_steps(&self) -> Vec<usize> {
        self.cfg
            .strategies
            .multi_fidelity
            .rung_steps(self.cfg.train.total_steps())
    }

    /// A candidate's identity at a fidelity: a rung's evaluation of a genome is another
    /// evaluation than its full run (`m2 f a f | w32 @10` = trained 10 steps).
    fn fidelity_key(&self, key: String, rung: Option<usize>) -> String {
        match rung {
            Some(k) => format!("{key} @{}", self.rung_steps()[k]),
            None => key,
        }
    }

    /// Frontier over (mean loss over seeds, latency) of the feasible candidates, and its
    /// hypervolume.
    pub fn frontier(&self) -> (Vec<usize>, f64) {
        (
            self.tally.front.ids(),
            self.tally
                .front
                .hypervolume(&self.cfg.objectives.reference()),
        )
    }

    /// Lowest mean proxy loss within the latency budget.
    pub fn best(&self) -> Option<usize> {
        self.tally.best.map(|b| b.1)
    }

    /// Runs the evaluations on another executor or with another worker count. The search
    /// trajectory does not change: it depends on `executor.in_flight`, which stays as
    /// configured.
    pub fn set_executor(&mut self, change: &dyn Fn(&mut ExecutorConfig)) -> Result<()> {
        let in_flight = self.cfg.executor.in_flight();
        change(&mut self.cfg.executor);
        self.cfg.executor.in_flight = Some(in_flight);
        self.cfg
            .executor
            .validate()
            .map_err(|e| Error::Config(format!("executor.{e}")))?;
        self.executor = self.cfg.executor.build()?;
        Ok(())
    }

    /// Candidates proposed and not yet admitted.
    pub fn in_flight(&self) -> usize {
        self.pipeline.len()
    }

    /// Evaluations spent or on their way: trained candidates admitted or in flight (proposals
    /// priced over the budget and racing replicates do not count).
    pub fn evaluations_used(&self) -> usize {
        self.tally.evaluations + self.pipeline.items().filter(|q| q.counts()).count()
    }

    /// Proposals may still be made (evaluations used < budget, and the compute budget, if
    /// any, not spent).
    fn budget_left(&self) -> bool {
        self.evaluations_used() < self.cfg.evaluations
            && self.compute_budget_s.is_none_or(|c| self.tally.spent_s < c)
    }

    /// Admits the oldest in-flight candidates until fewer than `in_flight` remain; returns
    /// the admitted ids in order.
    fn make_room(&mut self) -> Result<Vec<usize>> {
        let mut ids = Vec::new();
        while self.pipeline.is_full() {
            ids.push(self.admit_head()?);
        }
        Ok(ids)
    }

    /// Admits every in-flight candidate, in order.
    fn drain(&mut self) -> Result<Vec<usize>> {
        let mut ids = Vec::new();
        while !self.pipeline.is_empty() {
            ids.push(self.admit_head()?);
        }
        Ok(ids)
    }

    /// A failed write of this campaign's files: the run stops; `flashnas resume` continues it.
    fn write_error(&self, path: &Path, e: &std::io::Error) -> Error {
        Error::write(path, e, &format!("flashnas resume {}", self.dir.display()))
    }

    /// Writes the checkpoint; a failure stops the run.
    fn save_checkpoint(&self, ck: &Checkpoint) -> Result<()> {
        self.checkpoint_writer.save(&self.dir, ck)
    }

    /// Waits for the oldest in-flight candidate and admits it.
    fn admit_head(&mut self) -> Result<usize> {
        let ev = &mut self.on_event;
        let (q, waited) = self
            .pipeline
            .admit_head(&self.dir, self.executor.as_mut(), &mut |e| ev(e))
            .expect("a candidate in flight");
        if let Some(r) = q.replay {
            return self.admit(r, true);
        }
        let result = match (q.ready, waited) {
            (Some(known), _) => known,
            (None, Some(r)) => r,
            (None, None) => unreachable!("a new candidate is submitted with its task"),
        };
        let candidate = Evaluated {
            id: q.id,
            proposal_key: self.identity(q.proposal.genome.key(), &q.proposal),
            proposal: q.proposal,
            key: q.key,
            genome: q.genome,
            spec: q.spec,
        };
        let context = self.cfg.latency.prompt + self.cfg.latency.generate;
        let mut record = Record::from_result(
            candidate,
            result,
            self.budget_s(),
            self.cfg.objectives.recall_min,
            self.cfg.throughput.as_ref(),
            context,
            self.cfg.seed,
        );
        record.pricings = q.pricings;
        self.admit(record, false)
    }

    /// Adds a record: frontier update, journal append (new ones), checkpoint, event. A
    /// journal or checkpoint that cannot be written stops the run at once (the record is not
    /// counted: resume evaluates it again); a report that cannot be written is noted and
    /// remembered as stale.
    fn admit(&mut self, mut r: Record, replayed: bool) -> Result<usize> {
        let id = r.id;
        self.by_key.insert(r.proposal_key.clone(), id);
        self.by_key.insert(r.key.clone(), id);
        self.records.push(r.clone());
        let tally = self.tally.with(&self.records, &r, self.budget_s());
        r.frontier_size = tally.front.len();
        r.hypervolume = tally.front.hypervolume(&self.cfg.objectives.reference());
        *self.records.last_mut().expect("pushed") = r.clone();
        if !replayed {
            if let Err(e) = self.journal.append(&r) {
                self.records.pop();
                return Err(self.write_error(self.journal.path(), &e));
            }
            crate::lock::fault_point(&format!("campaign:journaled-{id}"));
        }
        self.tally = tally;
        let ck = self.checkpoint(false);
        let admitted = Admitted {
            dir: &self.dir,
            cfg: &self.cfg,
            records: &self.records,
            checkpoint: &ck,
            replaying: replayed && !self.replay.is_empty(),
        };
        let observers: [&mut dyn Observer; 2] = [&mut self.checkpoint_writer, &mut self.report];
        for o in observers {
            o.admitted(&admitted, &mut *self.on_event)?;
        }
        if r.status == RecordStatus::OverBudget && r.replicate.is_none() {
            self.over_budget_streak += 1;
        } else if r.counts_as_evaluation() {
            self.over_budget_streak = 0;
        }
        (self.on_event)(Event::Done {
            record: &r,
            replayed,
            evaluations: self.tally.evaluations,
            budget: self.cfg.evaluations,
            best_loss: self.tally.best.map(|b| b.0),
        });
        Ok(id)
    }

    fn checkpoint(&self, finished: bool) -> Checkpoint {
        let (frontier, hv) = self.frontier();
        Checkpoint {
            evaluations: self.records.len(),
            cycle: self.cycle,
            population: self.population.clone(),
            in_flight: None,
            in_flight_ids: Vec::new(),
            rng_word_pos: self.rng.get_word_pos(),
            best: self.best(),
            frontier,
            hypervolume: hv,
            finished,
        }
    }

    /// Raises the evaluation budget of a (finished or interrupted) campaign to `evaluations`
    /// and pins it in `DIR/config.toml`. The strategies stop only on the budget, so the replay
    /// proposes the same first evaluations and the campaign then goes on from there.
    pub fn extend_budget(&mut self, evaluations: usize) -> Result<()> {
        let done = self
            .replay
            .records()
            .chain(&self.records)
            .filter(|r| r.counts_as_evaluation())
            .count();
        if evaluations < done.max(self.cfg.evaluations) {
            return Err(Error::Config(format!(
                "--budget {evaluations}: the campaign in {} already has a budget of {} and {done} evaluations; a budget can only grow",
                self.dir.display(),
                self.cfg.evaluations
            )));
        }
        if evaluations > self.cfg.evaluations {
            pin_config_value(&self.dir, "", "evaluations", evaluations as i64)?;
            (self.on_event)(Event::Note(format!(
                "budget raised from {} to {evaluations} evaluations (pinned in config.toml)",
                self.cfg.evaluations
            )));
            self.cfg.evaluations = evaluations;
        }
        Ok(())
    }

    /// Runs (or resumes) the campaign to its budget: the strategy asks, the driver submits
    /// and admits (in proposal order) and tells the strategy each result; then the close calls
    /// are raced over seeds (`[racing]`). A campaign whose proposals are all over the latency
    /// budget stops after `pricing_attempts` of them in a row: with a note when it has feasible
    /// candidates, with [`Error::NoFeasible`] when it has none.
    pub fn run(&mut self) -> Result<Outcome> {
        let mut strategy = build_strategy(
            &self.cfg,
            &self.dir,
            self.warm.clone(),
            self.family.seeds.iter().map(|s| s.genome.clone()).collect(),
        );
        loop {
            for id in self.make_room()? {
                strategy.tell(&self.view(), id);
            }
            if self.over_budget_streak >= self.cfg.pricing_attempts {
                let note = format!(
                    "stopping the search: {} proposals in a row were over the latency budget ({:.6} s) and left untrained (pricing_attempts = {}); {} of {} evaluations spent",
                    self.over_budget_streak,
                    self.budget_s(),
                    self.cfg.pricing_attempts,
                    self.evaluations_used(),
                    self.cfg.evaluations
                );
                (self.on_event)(Event::Note(note));
                break;
            }
            let (in_flight, budget_left, budget_s) =
                (self.pipeline.len(), self.budget_left(), self.budget_s());
            let view = View {
                records: &self.records,
                in_flight,
                budget_left,
                budget_s,
            };
            let ask = strategy.ask(&view, &mut self.rng)?;
            self.cycle = strategy.cycle();
            self.population = strategy.population();
            match ask {
                Ask::Propose(p) => {
                    let outcome = match self.submit(p)? {
                        Ok(id) => Submitted::New(id),
                        Err(id) => Submitted::Duplicate(id),
                    };
                    strategy.submitted(&self.view(), outcome);
                }
                Ask::Wait => {
                    let id = self.admit_head()?;
                    strategy.tell(&self.view(), id);
                }
                Ask::Done(note) => {
                    if let Some(n) = note {
                        (self.on_event)(Event::Note(n));
                    }
                    break;
                }
            }
            self.population = strategy.population();
        }
        for id in self.drain()? {
            strategy.tell(&self.view(), id);
        }
        self.population = strategy.population();
        if self.best().is_none() {
            self.save_checkpoint(&self.checkpoint(true))?;
            if let Some(e) = self.no_feasible() {
                self.flush_report();
                return Err(e);
            }
        }
        if self.cfg.racing.enabled {
            self.race()?;
        }
        self.flush_report();
        self.save_checkpoint(&self.checkpoint(true))?;
        let (frontier, hypervolume) = self.frontier();
        Ok(Outcome {
            best: self.best(),
            frontier,
            hypervolume,
            report_stale: self.report.stale.clone(),
        })
    }

    /// Writes `report.html` if records came in since it was last written.
    fn flush_report(&mut self) {
        self.report
            .flush(&self.dir, &self.cfg, &self.records, &mut *self.on_event);
    }

    fn view(&self) -> View<'_> {
        View {
            records: &self.records,
            in_flight: self.pipeline.len(),
            budget_left: self.budget_left(),
            budget_s: self.budget_s(),
        }
    }
}

/// The configured strategy, its initial population seeded with `warm` designs, then the
/// config's `[[seeds]]` (resolved against `dir`), then the `family` shapes, then random
/// genomes.
pub fn build_strategy(
    cfg: &CampaignConfig,
    dir: &Path,
    warm: Vec<WarmSeed>,
    family: Vec<Genome>,
) -> Box<dyn Strategy> {
    let init = |n: usize| {
        InitialPopulation::new(
            cfg.space.clone(),
            cfg.seeds.clone(),
            dir,
            warm.clone(),
            family.clone(),
            n,
        )
    };
    cfg.strategy.build(&cfg.strategy_settings(), &init)
}

pub use crate::lock::DRIVER_LOCK;

/// The driver's key of a priced shape: `layers|width`.
fn shape_key(spec: &ArchSpec) -> String {
    format!("{}|{}", spec.layer_string(), spec.d_model)
}

/// Marks a racing replicate's identity: `<key> seed#<r>`.
const REPLICATE_MARK: &str = " seed#";
