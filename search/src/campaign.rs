//! A campaign: strategy + evaluation + journal + checkpoint + resume.
//!
//! Every random choice comes from one ChaCha8 RNG seeded by the campaign seed, and the
//! strategies are deterministic given the evaluation results. Resume therefore replays the
//! strategy from the start, reading completed evaluations back from the journal instead of
//! running them (never re-trained, never re-measured); the RNG stream continues exactly where
//! the interrupted run was. With a deterministic latency source, an interrupted-and-resumed
//! campaign writes the same journal as an uninterrupted one, wall-clock fields aside.

use crate::config::{CampaignConfig, Strategy, WidthRule};
use crate::executor::Executor;
use crate::genome::{parse_layer_types, Factor, Genome};
use crate::journal::{Checkpoint, Journal, Record};
use crate::lock::FolderLock;
use crate::pareto::{crowding, frontier, hypervolume_2d, non_dominated_sort, Point};
use crate::task::{write_task, DeviceLock, Latency, Task, TaskResult};
use crate::warm_start::WarmSeed;
use flashnas_latency::LatencySource;
use flashnas_model::spec::LayerKind;
use flashnas_model::{accounting, ArchSpec};
use flashnas_training::{Dataset, Status};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

/// Events for progress display.
pub enum Event<'a> {
    /// A candidate starts training (not emitted for results read back from the journal).
    Start { id: usize, describe: &'a str },
    /// Training progress of the current candidate.
    Step(flashnas_training::Progress),
    /// A candidate finished (or was read back from the journal when `replayed`).
    Done {
        record: &'a Record,
        replayed: bool,
        evaluations: usize,
        budget: usize,
        best_loss: Option<f64>,
    },
    /// A warning worth showing (corrupt journal lines, LUT fallbacks, …).
    Note(String),
}

/// A proposal from a strategy.
#[derive(Clone)]
struct Proposal {
    genome: Genome,
    cycle: usize,
    parent: Option<usize>,
    second_parent: Option<usize>,
    origin: &'static str,
    mutation: Option<Factor>,
}

/// A proposed candidate not yet admitted to the journal.
struct Pending {
    id: usize,
    proposal: Proposal,
    /// The genome as evaluated (width fitted when the rule says so).
    genome: Genome,
    key: String,
    spec: ArchSpec,
    /// What the executor is evaluating (`None` when read back from the journal).
    task: Option<Task>,
    replay: Option<Record>,
    /// An earlier campaign's evaluation of the same candidate under the same settings.
    reused: Option<TaskResult>,
}

pub struct Campaign<'a> {
    pub dir: PathBuf,
    pub cfg: CampaignConfig,
    data: Dataset,
    rng: ChaCha8Rng,
    journal: Journal,
    /// Records read back from the journal, replayed in order.
    replay: VecDeque<Record>,
    pub records: Vec<Record>,
    by_key: HashMap<String, usize>,
    on_event: &'a mut dyn FnMut(Event),
    /// Latency of (layers|width) measured while fitting widths, reused within this run.
    latency_cache: HashMap<String, Latency>,
    executor: Box<dyn Executor>,
    /// Proposed, not yet admitted, oldest first; admitted strictly in this order.
    pending: VecDeque<Pending>,
    cycle: usize,
    population: Vec<usize>,
    /// The reference model latencies are calibrated against or budgeted in, if any.
    reference: Option<ArchSpec>,
    /// Designs taken from earlier campaigns (`[warm_start]`), first in the population.
    warm: Vec<WarmSeed>,
    /// This driver's hold on the folder (one driver per campaign).
    _lock: FolderLock,
}

/// The result of a campaign.
pub struct Outcome {
    pub best: Option<usize>,
    pub frontier: Vec<usize>,
    pub hypervolume: f64,
}

impl<'a> Campaign<'a> {
    /// Creates a new campaign directory (must not hold a journal yet) and copies the config.
    pub fn create(
        dir: &Path,
        cfg: CampaignConfig,
        config_text: &str,
        on_event: &'a mut dyn FnMut(Event),
    ) -> Result<Self, String> {
        let lock = new_run_dir(
            dir,
            config_text,
            &format!(
                "a campaign already exists here; use `flashnas resume {}`",
                dir.display()
            ),
        )?;
        Self::open(dir, cfg, lock, on_event)
    }

    /// Opens an existing campaign directory for resume: everything comes from `DIR/config.toml`.
    /// Refused while another driver runs on the folder.
    pub fn resume(dir: &Path, on_event: &'a mut dyn FnMut(Event)) -> Result<Self, String> {
        let config = dir.join("config.toml");
        if !config.exists() {
            return Err(format!(
                "{}: no campaign here (no config.toml)",
                dir.display()
            ));
        }
        let lock = FolderLock::acquire(dir, DRIVER_LOCK, "campaign driver")?;
        let cfg = CampaignConfig::from_file(&config)?;
        Self::open(dir, cfg, lock, on_event)
    }

    fn open(
        dir: &Path,
        cfg: CampaignConfig,
        lock: FolderLock,
        on_event: &'a mut dyn FnMut(Event),
    ) -> Result<Self, String> {
        let base = dir.to_path_buf();
        let data = Dataset::load(&cfg.train.data, cfg.train.seq_len, &base)
            .map_err(|e| format!("train.data: {e}"))?;
        let journal = Journal::new(dir);
        let read = journal
            .repair()
            .map_err(|e| format!("{}: {e}", journal.path().display()))?;
        for p in read.problems {
            on_event(Event::Note(p));
        }
        if let Err(e) = Checkpoint::load(dir) {
            on_event(Event::Note(format!(
                "{e}; continuing from the journal, which holds every completed evaluation"
            )));
        }
        let executor = cfg.executor.build()?;
        let mut cfg = cfg;
        let reference = cfg.reference_spec(data.vocab_size);
        if let (Some(r), None) = (&reference, cfg.latency.reference_s) {
            // The unit of calibrated latencies and of budget_ref: measured once, before any
            // evaluation, and pinned in the campaign's config copy so a resume keeps it.
            let lock = match cfg.latency.source {
                LatencySource::Analytic => None,
                _ => DeviceLock::open(dir, &cfg.latency.device).ok(),
            };
            let seconds = {
                let _exclusive = lock.as_ref().map(|k| k.exclusive());
                crate::task::reference_seconds(r, &cfg.latency, dir)?
            };
            pin_config_value(dir, "latency", "reference_s", toml::Value::Float(seconds))?;
            cfg.latency.reference_s = Some(seconds);
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
        let population = match cfg.strategy {
            Strategy::Nsga2 => cfg.nsga2.population,
            _ => cfg.aging.population,
        };
        let warm =
            crate::warm_start::designs(dir, &cfg, population, &mut |n| on_event(Event::Note(n)))?;
        if !warm.is_empty() {
            let reused = warm.iter().filter(|w| w.reusable.is_some()).count();
            on_event(Event::Note(format!(
                "warm start: {} designs from earlier campaigns, {reused} with results to reuse",
                warm.len()
            )));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            data,
            journal,
            replay: read.records.into(),
            records: Vec::new(),
            by_key: HashMap::new(),
            on_event,
            executor,
            pending: VecDeque::new(),
            latency_cache: HashMap::new(),
            cfg,
            cycle: 0,
            population: Vec::new(),
            reference,
            warm,
            _lock: lock,
        })
    }

    /// The latency budget in seconds (`budget_ref × reference_s` for a relative budget; the
    /// reference is measured and pinned before any evaluation).
    fn budget_s(&self) -> f64 {
        self.cfg.latency.budget_seconds().unwrap_or(f64::INFINITY)
    }

    fn violation(&self, r: &Record) -> f64 {
        violation(r, self.budget_s())
    }

    fn point(&self, r: &Record) -> Point {
        let violation = self.violation(r);
        let mut objectives = vec![r.loss(), r.latency()];
        for e in &self.cfg.objectives.extra {
            objectives.push(match e.as_str() {
                "params" => r.params as f64,
                _ => r.state_bytes as f64,
            });
        }
        if violation > 0.0 {
            // Infeasible points rank by violation alone; blanking their objectives keeps
            // crowding among equally infeasible ones from depending on whether they were
            // trained (see `train_over_budget`).
            objectives.fill(f64::INFINITY);
        }
        Point {
            objectives,
            violation,
        }
    }

    /// Frontier over (loss, latency) of feasible candidates, and its hypervolume.
    pub fn frontier(&self) -> (Vec<usize>, f64) {
        let pts: Vec<Point> = self
            .records
            .iter()
            .map(|r| Point {
                objectives: vec![r.loss(), r.latency()],
                violation: self.violation(r),
            })
            .collect();
        let f = frontier(&pts);
        let rp = &self.cfg.objectives.reference_point;
        let hv = hypervolume_2d(
            &f.iter()
                .map(|&i| (self.records[i].loss(), self.records[i].latency()))
                .collect::<Vec<_>>(),
            (rp.loss, rp.latency_s),
        );
        (f, hv)
    }

    /// Lowest proxy loss within the latency budget.
    pub fn best(&self) -> Option<usize> {
        self.records
            .iter()
            .filter(|r| r.feasible)
            .min_by(|a, b| {
                a.loss()
                    .partial_cmp(&b.loss())
                    .expect("finite")
                    .then(a.id.cmp(&b.id))
            })
            .map(|r| r.id)
    }

    /// Latency of `spec` in the driver (the fit-the-budget width rule), cached by shape.
    fn latency_of(&mut self, spec: &ArchSpec) -> Latency {
        let key = format!("{}|{}", spec.layer_string(), spec.d_model);
        if let Some(l) = self.latency_cache.get(&key) {
            return l.clone();
        }
        let l = &self.cfg.latency;
        let lock = match l.source {
            LatencySource::Analytic => None,
            _ => DeviceLock::open(&self.dir, &l.device).ok(),
        };
        let measured = {
            let _exclusive = lock.as_ref().map(|k| k.exclusive());
            crate::task::latency_of(spec, l, &self.dir, self.reference.as_ref())
        };
        if measured.seconds.is_some() {
            self.latency_cache.insert(key, measured.clone());
        }
        measured
    }

    /// The paper's width rule: the largest configured width whose latency meets the budget
    /// (the smallest when none does).
    fn fit_width(&mut self, g: &mut Genome) {
        let mut widths = self.cfg.space.widths.clone();
        widths.sort_unstable_by(|a, b| b.cmp(a));
        for &w in &widths {
            g.width = w;
            let spec = g.to_spec(&self.cfg.space, self.data.vocab_size);
            if let Some(l) = self.latency_of(&spec).seconds {
                if l <= self.budget_s() {
                    return;
                }
            }
        }
        g.width = *widths.last().expect("widths");
    }

    /// Runs the evaluations on another executor or with another worker count. The search
    /// trajectory does not change: it depends on `executor.in_flight`, which stays as
    /// configured.
    pub fn set_executor(
        &mut self,
        kind: Option<crate::executor::ExecutorKind>,
        workers: Option<usize>,
    ) -> Result<(), String> {
        let in_flight = self.cfg.executor.in_flight();
        if let Some(k) = kind {
            self.cfg.executor.kind = k;
        }
        if let Some(w) = workers {
            self.cfg.executor.workers = w;
        }
        self.cfg.executor.in_flight = Some(in_flight);
        self.cfg
            .executor
            .validate()
            .map_err(|e| format!("executor.{e}"))?;
        self.executor = self.cfg.executor.build()?;
        Ok(())
    }

    /// Candidates proposed and not yet admitted.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Proposals may still be made (admitted + in flight < budget).
    fn budget_left(&self) -> bool {
        self.records.len() + self.pending.len() < self.cfg.evaluations
    }

    /// Admits the oldest in-flight candidates until fewer than `in_flight` remain; returns
    /// the admitted ids in order.
    fn make_room(&mut self) -> Vec<usize> {
        let mut ids = Vec::new();
        while self.pending.len() >= self.cfg.executor.in_flight() {
            ids.push(self.admit_head());
        }
        ids
    }

    /// Admits every in-flight candidate, in order.
    fn drain(&mut self) -> Vec<usize> {
        let mut ids = Vec::new();
        while !self.pending.is_empty() {
            ids.push(self.admit_head());
        }
        ids
    }

    /// The journal stops matching what the strategy proposes (the config or seed changed):
    /// the records not replayed go to `journal.jsonl.replaced[-n]`, then the journal is
    /// replaced by the records kept so far. Both writes are atomic and in that order, so a
    /// kill at any point loses nothing: the old journal stays until the new one replaces it.
    fn discard_replay(&mut self) -> Result<(), String> {
        let rest: Vec<Record> = self.replay.drain(..).collect();
        let aside = (0..)
            .map(|i| match i {
                0 => self.dir.join("journal.jsonl.replaced"),
                n => self.dir.join(format!("journal.jsonl.replaced-{n}")),
            })
            .find(|p| !p.exists())
            .expect("a free name");
        let text: String = rest.iter().map(crate::journal::line_of).collect();
        flashnas_model::weights::write_atomic(&aside, text.as_bytes())
            .map_err(|e| format!("{}: {e}", aside.display()))?;
        crate::lock::fault_point("journal-rewrite:replaced-written");
        let kept: Vec<Record> = self
            .records
            .iter()
            .cloned()
            .chain(self.pending.iter().filter_map(|q| q.replay.clone()))
            .collect();
        self.journal
            .rewrite(&kept)
            .map_err(|e| format!("{}: {e}", self.journal.path().display()))?;
        crate::lock::fault_point("journal-rewrite:done");
        Ok(())
    }

    /// Proposes a candidate: read back from the journal, or written as a task and handed to
    /// the executor. `Ok(Err(id))`: a duplicate of candidate `id` (admitted or in flight),
    /// which is never evaluated twice. `Err`: the journal could not be rewritten.
    fn submit(&mut self, p: Proposal) -> Result<Result<usize, usize>, String> {
        let proposal_key = p.genome.key();
        if self.cfg.space.width == WidthRule::Gene {
            if let Some(&id) = self.by_key.get(&proposal_key) {
                return Ok(Err(id));
            }
        }
        let id = self.records.len() + self.pending.len();
        if let Some(r) = self.replay.front() {
            if r.proposal_key == proposal_key && r.id == id {
                let r = self.replay.pop_front().expect("front");
                self.by_key.insert(r.proposal_key.clone(), id);
                self.by_key.insert(r.key.clone(), id);
                self.pending.push_back(Pending {
                    id,
                    proposal: p,
                    genome: r.genome.clone(),
                    key: r.key.clone(),
                    spec: r.spec.clone(),
                    task: None,
                    replay: Some(r),
                    reused: None,
                });
                return Ok(Ok(id));
            }
            let msg = format!(
                "the journal in {} does not match this config: record {id} is '{}', the strategy now proposes '{}' \
                 (was the config or seed changed?); the remaining {} journal records are ignored and kept in journal.jsonl.replaced",
                self.dir.display(), r.proposal_key, proposal_key, self.replay.len()
            );
            (self.on_event)(Event::Note(msg));
            self.discard_replay()?;
        }
        let mut genome = p.genome.clone();
        if self.cfg.space.width == WidthRule::FitBudget {
            self.fit_width(&mut genome);
        }
        let key = genome.key();
        if let Some(&dup) = self.by_key.get(&key) {
            return Ok(Err(dup));
        }
        let spec = genome.to_spec(&self.cfg.space, self.data.vocab_size);
        if p.origin == "warm_start" {
            let earlier = self.warm.iter().find_map(|w| {
                w.reusable
                    .as_ref()
                    .filter(|r| r.key == key && r.spec == spec)
                    .map(|r| (w.source.clone(), r.clone()))
            });
            if let Some((source, r)) = earlier {
                self.by_key.insert(proposal_key, id);
                self.by_key.insert(key.clone(), id);
                self.pending.push_back(Pending {
                    id,
                    proposal: p,
                    genome,
                    key,
                    spec,
                    task: None,
                    replay: None,
                    reused: Some(TaskResult {
                        name: id.to_string(),
                        proposal_key: r.proposal_key.clone(),
                        latency: Latency {
                            seconds: r.latency_s,
                            cv: r.latency_cv,
                            source: r.latency_source.clone(),
                            raw_s: r.latency_raw_s,
                            ratio: r.latency_ref,
                        },
                        proxy: r.proxy,
                        eval_seconds: 0.0,
                        worker: format!("reused from {source} #{}", r.id),
                        attempt: r.attempts,
                    }),
                });
                return Ok(Ok(id));
            }
        }
        let mut train = self.cfg.train.clone();
        train.seed = self.cfg.seed;
        let known_latency = if self.cfg.space.width == WidthRule::FitBudget {
            self.latency_cache
                .get(&format!("{}|{}", spec.layer_string(), spec.d_model))
                .cloned()
        } else {
            None
        };
        let task = Task {
            name: id.to_string(),
            proposal_key: proposal_key.clone(),
            spec: spec.clone(),
            train,
            latency: Some(self.cfg.latency.clone()),
            known_latency,
            base_dir: self.dir.clone(),
            reference: self.reference.clone(),
        };
        let started = write_task(&self.dir, &task).and_then(|_| {
            let ev = &mut self.on_event;
            self.executor.start(&self.dir, &task, &mut |e| ev(e))
        });
        if let Err(e) = started {
            (self.on_event)(Event::Note(format!("candidate {id}: {e}")));
        }
        self.by_key.insert(proposal_key, id);
        self.by_key.insert(key.clone(), id);
        self.pending.push_back(Pending {
            id,
            proposal: p,
            genome,
            key,
            spec,
            task: Some(task),
            replay: None,
            reused: None,
        });
        let mut ck = self.checkpoint(false);
        ck.in_flight = self.pending.front().map(|q| q.proposal.genome.key());
        ck.in_flight_ids = self.pending.iter().map(|q| q.id).collect();
        let _ = ck.save(&self.dir);
        Ok(Ok(id))
    }

    /// Waits for the oldest in-flight candidate and admits it.
    fn admit_head(&mut self) -> usize {
        let q = self.pending.pop_front().expect("a candidate in flight");
        if let Some(r) = q.replay {
            return self.admit(r, true);
        }
        let result = match q.reused {
            Some(earlier) => earlier,
            None => {
                let task = q.task.expect("a task");
                let ev = &mut self.on_event;
                self.executor.wait(&self.dir, &task, &mut |e| ev(e))
            }
        };
        let proxy = result.proxy;
        let latency_s = result.latency.seconds;
        let failure = match (&proxy.status, latency_s) {
            (Status::Ok, Some(_)) => None,
            (Status::Ok, None) => Some(format!("latency {}", result.latency.source)),
            (s, _) => Some(s.describe()),
        };
        let status = match (&failure, &proxy.status) {
            (None, _) => "ok",
            (Some(_), Status::NotTrained { .. }) => OVER_BUDGET,
            (Some(_), _) => "failed",
        }
        .to_string();
        let feasible = failure.is_none() && latency_s.is_some_and(|l| l <= self.budget_s());
        let context = self.cfg.latency.prompt + self.cfg.latency.generate;
        let p = q.proposal;
        let record = Record {
            id: q.id,
            cycle: p.cycle,
            parent: p.parent,
            second_parent: p.second_parent,
            origin: p.origin.into(),
            mutation: p.mutation,
            proposal_key: p.genome.key(),
            key: q.key,
            layers: q.spec.layer_string(),
            width: q.genome.width,
            depth: q.genome.depth(),
            params: accounting::param_count(&q.spec),
            state_bytes: accounting::state_bytes(&q.spec, context),
            genome: q.genome,
            spec: q.spec,
            proxy,
            latency_s,
            latency_raw_s: result.latency.raw_s,
            latency_ref: result.latency.ratio,
            latency_cv: result.latency.cv,
            latency_source: result.latency.source,
            feasible,
            status,
            failure,
            frontier_size: 0,
            hypervolume: 0.0,
            seed: self.cfg.seed,
            eval_seconds: result.eval_seconds,
            attempts: result.attempt,
        };
        self.admit(record, false)
    }

    /// Adds a record: frontier update, journal append (new ones), checkpoint, event.
    fn admit(&mut self, mut r: Record, replayed: bool) -> usize {
        let id = r.id;
        self.by_key.insert(r.proposal_key.clone(), id);
        self.by_key.insert(r.key.clone(), id);
        self.records.push(r.clone());
        let (f, hv) = self.frontier();
        r.frontier_size = f.len();
        r.hypervolume = hv;
        *self.records.last_mut().expect("pushed") = r.clone();
        if !replayed {
            if let Err(e) = self.journal.append(&r) {
                (self.on_event)(Event::Note(format!(
                    "{}: cannot append: {e}",
                    self.journal.path().display()
                )));
            }
        }
        let _ = self.checkpoint(false).save(&self.dir);
        let best = self.best().map(|b| self.records[b].loss());
        let n = self.records.len();
        (self.on_event)(Event::Done {
            record: &r,
            replayed,
            evaluations: n,
            budget: self.cfg.evaluations,
            best_loss: best,
        });
        id
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

    /// Seeded designs first, then random genomes, until `n` members (or the budget) exist.
    fn initial_population(&mut self, n: usize) -> Result<Vec<usize>, String> {
        let mut members = Vec::new();
        for w in self.warm.clone() {
            if members.len() >= n || !self.budget_left() {
                break;
            }
            self.make_room();
            if let Ok(id) = self.submit(Proposal {
                genome: w.genome,
                cycle: 0,
                parent: None,
                second_parent: None,
                origin: "warm_start",
                mutation: None,
            })? {
                members.push(id);
            }
        }
        let seeds = self.cfg.seeds.clone();
        for (i, s) in seeds.iter().enumerate() {
            if members.len() >= n || !self.budget_left() {
                break;
            }
            let (layers, width): (Vec<LayerKind>, usize) = match (&s.layer_types, &s.arch) {
                (Some(l), _) => (
                    parse_layer_types(l)?,
                    s.width.unwrap_or(self.cfg.space.widths[0]),
                ),
                (None, Some(a)) => {
                    let spec =
                        ArchSpec::from_file(&flashnas_training::config::resolve_path(a, &self.dir))
                            .map_err(|e| format!("seeds[{i}].arch: {e}"))?;
                    (
                        spec.layers.iter().map(|e| e.kind).collect(),
                        s.width.unwrap_or(spec.d_model),
                    )
                }
                _ => unreachable!("validated"),
            };
            let genome = Genome::from_layers(&layers, width, &self.cfg.space);
            self.make_room();
            if let Ok(id) = self.submit(Proposal {
                genome,
                cycle: 0,
                parent: None,
                second_parent: None,
                origin: "seed",
                mutation: None,
            })? {
                members.push(id);
            }
        }
        let mut dup_streak = 0;
        while members.len() < n && self.budget_left() {
            let genome = Genome::random(&self.cfg.space, &mut self.rng);
            self.make_room();
            match self.submit(Proposal {
                genome,
                cycle: 0,
                parent: None,
                second_parent: None,
                origin: "random",
                mutation: None,
            })? {
                Ok(id) => {
                    members.push(id);
                    dup_streak = 0;
                }
                Err(_) => {
                    dup_streak += 1;
                    if dup_streak > 200 {
                        break;
                    }
                }
            }
        }
        // The first cycle needs the whole initial population's results.
        self.drain();
        Ok(members)
    }

    /// Runs (or resumes) the campaign to its budget.
    /// Raises the evaluation budget of a (finished or interrupted) campaign to `evaluations`
    /// and pins it in `DIR/config.toml`. The strategies stop only on the budget, so the replay
    /// proposes the same first evaluations and the campaign then goes on from there.
    pub fn extend_budget(&mut self, evaluations: usize) -> Result<(), String> {
        let done = self.replay.len() + self.records.len();
        if evaluations < done.max(self.cfg.evaluations) {
            return Err(format!(
                "--budget {evaluations}: the campaign in {} already has a budget of {} and {done} evaluations; a budget can only grow",
                self.dir.display(),
                self.cfg.evaluations
            ));
        }
        if evaluations > self.cfg.evaluations {
            pin_config_value(
                &self.dir,
                "",
                "evaluations",
                toml::Value::Integer(evaluations as i64),
            )?;
            (self.on_event)(Event::Note(format!(
                "budget raised from {} to {evaluations} evaluations (pinned in config.toml)",
                self.cfg.evaluations
            )));
            self.cfg.evaluations = evaluations;
        }
        Ok(())
    }

    pub fn run(&mut self) -> Result<Outcome, String> {
        match self.cfg.strategy {
            Strategy::Aging => self.aging()?,
            Strategy::Nsga2 => self.nsga2()?,
            Strategy::Random => self.random()?,
        }
        self.drain();
        let _ = self.checkpoint(true).save(&self.dir);
        let (frontier, hypervolume) = self.frontier();
        Ok(Outcome {
            best: self.best(),
            frontier,
            hypervolume,
        })
    }

    /// The parent of a tournament: the lowest proxy loss among feasible members, else the
    /// member closest to the latency budget.
    fn tournament_parent(&self, sample: &[usize]) -> usize {
        let feasible: Vec<usize> = sample
            .iter()
            .copied()
            .filter(|&i| self.records[i].feasible)
            .collect();
        if !feasible.is_empty() {
            return *feasible
                .iter()
                .min_by(|&&a, &&b| {
                    self.records[a]
                        .loss()
                        .partial_cmp(&self.records[b].loss())
                        .expect("finite")
                        .then(a.cmp(&b))
                })
                .expect("non-empty");
        }
        *sample
            .iter()
            .min_by(|&&a, &&b| {
                self.violation(&self.records[a])
                    .partial_cmp(&self.violation(&self.records[b]))
                    .expect("not NaN")
                    .then(a.cmp(&b))
            })
            .expect("non-empty")
    }

    /// Aging evolution (Nemotron-Flash Algorithm 1), steady state: up to `in_flight`
    /// children are evaluated at once; each result joins the population (and the oldest
    /// member leaves) in proposal order, and each new child is drawn from the population as
    /// it stands then. With `in_flight = 1` this is the sequential algorithm.
    fn aging(&mut self) -> Result<(), String> {
        let a = self.cfg.aging.clone();
        let mut population: VecDeque<usize> = self.initial_population(a.population)?.into();
        self.population = population.iter().copied().collect();
        let mut dup_streak = 0;
        let mut children: VecDeque<Proposal> = VecDeque::new();
        let join = |population: &mut VecDeque<usize>, id: usize| {
            population.push_back(id);
            population.pop_front();
        };
        while self.budget_left() && !population.is_empty() {
            for id in self.make_room() {
                join(&mut population, id);
            }
            if children.is_empty() {
                self.cycle += 1;
                for _ in 0..a.offspring_per_cycle {
                    let members: Vec<usize> = population.iter().copied().collect();
                    let sample: Vec<usize> = members
                        .choose_multiple(&mut self.rng, a.sample.min(members.len()))
                        .copied()
                        .collect();
                    let parent = self.tournament_parent(&sample);
                    let (child, factor) = self.records[parent]
                        .genome
                        .mutate(&self.cfg.space, &mut self.rng);
                    children.push_back(Proposal {
                        genome: child,
                        cycle: self.cycle,
                        parent: Some(parent),
                        second_parent: None,
                        origin: "mutation",
                        mutation: Some(factor),
                    });
                }
            }
            let child = children.pop_front().expect("a child");
            match self.submit(child)? {
                Ok(_) => dup_streak = 0,
                Err(id) => {
                    // A duplicate joins the population with its recorded result (no new
                    // evaluation); one still in flight joins when admitted.
                    dup_streak += 1;
                    if id < self.records.len() {
                        join(&mut population, id);
                    }
                }
            }
            self.population = population.iter().copied().collect();
            if dup_streak > 200 {
                (self.on_event)(Event::Note(
                    "200 duplicates in a row: the search space looks exhausted; stopping early"
                        .into(),
                ));
                break;
            }
        }
        for id in self.drain() {
            join(&mut population, id);
        }
        self.population = population.iter().copied().collect();
        Ok(())
    }

    /// Random search at the same evaluation budget (the baseline).
    fn random(&mut self) -> Result<(), String> {
        let n = self.cfg.evaluations;
        self.initial_population(n)?;
        Ok(())
    }

    fn nsga2_rank(&self, members: &[usize]) -> Vec<usize> {
        let pts: Vec<Point> = members
            .iter()
            .map(|&i| self.point(&self.records[i]))
            .collect();
        let fronts = non_dominated_sort(&pts);
        let mut order = Vec::new();
        for f in fronts {
            let c = crowding(&pts, &f);
            let mut idx: Vec<usize> = (0..f.len()).collect();
            idx.sort_by(|&a, &b| {
                c[b].partial_cmp(&c[a])
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(members[f[a]].cmp(&members[f[b]]))
            });
            order.extend(idx.into_iter().map(|k| members[f[k]]));
        }
        order
    }

    /// NSGA-II over proxy loss, decode latency and the configured extra objectives.
    fn nsga2(&mut self) -> Result<(), String> {
        let n = self.cfg.nsga2.population;
        let mut population = self.initial_population(n)?;
        self.population = population.clone();
        let mut dup_streak = 0;
        while self.budget_left() && !population.is_empty() {
            self.cycle += 1;
            // Rank positions serve binary tournaments (lower position = better).
            let ranked = self.nsga2_rank(&population);
            let pos: HashMap<usize, usize> =
                ranked.iter().enumerate().map(|(p, &id)| (id, p)).collect();
            let mut offspring = Vec::new();
            let mut attempts = 0;
            while offspring.len() < n && self.budget_left() && attempts < 50 * n {
                attempts += 1;
                let pick = |rng: &mut ChaCha8Rng| {
                    let a = population[rng.gen_range(0..population.len())];
                    let b = population[rng.gen_range(0..population.len())];
                    if pos[&a] <= pos[&b] {
                        a
                    } else {
                        b
                    }
                };
                let p1 = pick(&mut self.rng);
                let (proposal, p2) = if self.rng.gen_bool(self.cfg.nsga2.crossover) {
                    let p2 = pick(&mut self.rng);
                    let mixed = self.records[p1].genome.crossover(
                        &self.records[p2].genome,
                        &self.cfg.space,
                        &mut self.rng,
                    );
                    let (child, f) = mixed.mutate(&self.cfg.space, &mut self.rng);
                    ((child, Some(f), "crossover"), Some(p2))
                } else {
                    let (child, f) = self.records[p1]
                        .genome
                        .mutate(&self.cfg.space, &mut self.rng);
                    ((child, Some(f), "mutation"), None)
                };
                let (genome, mutation, origin) = proposal;
                self.make_room();
                match self.submit(Proposal {
                    genome,
                    cycle: self.cycle,
                    parent: Some(p1),
                    second_parent: p2,
                    origin,
                    mutation,
                })? {
                    Ok(id) => {
                        offspring.push(id);
                        dup_streak = 0;
                    }
                    Err(_) => dup_streak += 1,
                }
            }
            self.drain();
            let mut pool = population.clone();
            pool.extend(offspring);
            pool.sort_unstable();
            pool.dedup();
            population = self.nsga2_rank(&pool).into_iter().take(n).collect();
            self.population = population.clone();
            if dup_streak > 200 || attempts >= 50 * n {
                (self.on_event)(Event::Note(
                    "the search space looks exhausted (duplicates only); stopping early".into(),
                ));
                break;
            }
        }
        Ok(())
    }
}

/// Sets `[table] key = value` (a top-level key when `table` is empty) in `DIR/config.toml`
/// (the campaign's own copy), atomically.
pub fn pin_config_value(
    dir: &Path,
    table: &str,
    key: &str,
    value: toml::Value,
) -> Result<(), String> {
    let path = dir.join("config.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut doc: toml::Value =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let root = doc
        .as_table_mut()
        .ok_or_else(|| format!("{}: not a table", path.display()))?;
    let t = if table.is_empty() {
        root
    } else {
        root.entry(table)
            .or_insert_with(|| toml::Value::Table(Default::default()))
            .as_table_mut()
            .ok_or_else(|| format!("{}: [{table}] is not a table", path.display()))?
    };
    t.insert(key.into(), value);
    let comments: String = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let out = format!(
        "{comments}{}",
        toml::to_string_pretty(&doc).map_err(|e| format!("{}: {e}", path.display()))?
    );
    flashnas_model::weights::write_atomic(&path, out.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Name of the lock a campaign (or study) driver holds on its folder.
pub const DRIVER_LOCK: &str = "driver";

/// Creates a run folder for a new driver: takes the folder's driver lock, refuses a folder
/// that already holds a journal (`exists` says what to do instead), writes the config copy.
pub fn new_run_dir(dir: &Path, config_text: &str, exists: &str) -> Result<FolderLock, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    let lock = FolderLock::acquire(dir, DRIVER_LOCK, "driver")?;
    if dir.join("journal.jsonl").exists() {
        return Err(format!("{}: {exists}", dir.display()));
    }
    flashnas_model::weights::write_atomic(&dir.join("config.toml"), config_text.as_bytes())
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(lock)
}

/// `results/<name>-<UTC timestamp>`.
pub fn default_dir(cfg: &CampaignConfig) -> PathBuf {
    results_dir(&cfg.name)
}

/// `results/<name>-<UTC timestamp>`.
pub fn results_dir(name: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (d, s) = (secs / 86400, secs % 86400);
    // civil date from days since 1970-01-01 (Howard Hinnant's algorithm)
    let z = d as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    PathBuf::from("results").join(format!(
        "{}-{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        name,
        s / 3600,
        (s % 3600) / 60,
        s % 60
    ))
}

/// Reads a finished or running campaign's records (for export, plot, status).
pub fn load_records(dir: &Path) -> Result<(CampaignConfig, Vec<Record>, Vec<String>), String> {
    let cfg = CampaignConfig::from_file(&dir.join("config.toml"))?;
    let read = Journal::new(dir)
        .read()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok((cfg, read.records, read.problems))
}

/// `Record::status` of a candidate priced over the budget and therefore not trained.
pub const OVER_BUDGET: &str = "over_budget";

/// How far a record is over the budget: its latency's excess (0 = feasible), infinite for a
/// failed evaluation. A candidate left untrained because it was over the budget has the
/// same violation as it would have had trained, so strategies treat it alike.
fn violation(r: &Record, budget_s: f64) -> f64 {
    if r.status != "ok" && r.status != OVER_BUDGET {
        return f64::INFINITY;
    }
    (r.latency() - budget_s).max(0.0)
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
