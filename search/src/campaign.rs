//! A campaign: strategy + evaluation + journal + checkpoint + resume.
//!
//! Every random choice comes from one ChaCha8 RNG seeded by the campaign seed, and the
//! strategies are deterministic given the evaluation results. Resume therefore replays the
//! strategy from the start, reading completed evaluations back from the journal instead of
//! running them (never re-trained, never re-measured); the RNG stream continues exactly where
//! the interrupted run was. With a deterministic latency source, an interrupted-and-resumed
//! campaign writes the same journal as an uninterrupted one, wall-clock fields aside.

use crate::config::{CampaignConfig, Strategy, WidthRule};
use crate::genome::{parse_layer_types, Factor, Genome};
use crate::journal::{Checkpoint, Journal, Record};
use crate::pareto::{crowding, frontier, hypervolume_2d, non_dominated_sort, Point};
use flashnas_latency::lut::{LatencyTable, LutFile, LutProtocol};
use flashnas_latency::profile::decode_seconds;
use flashnas_latency::LatencySource;
use flashnas_model::backend::{device, parse_device, sync, Compute, Train};
use flashnas_model::spec::LayerKind;
use flashnas_model::{accounting, ArchSpec};
use flashnas_training::{train, Dataset, Status};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Instant;

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
struct Proposal {
    genome: Genome,
    cycle: usize,
    parent: Option<usize>,
    second_parent: Option<usize>,
    origin: &'static str,
    mutation: Option<Factor>,
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
    lut: Option<LatencyTable>,
    on_event: &'a mut dyn FnMut(Event),
    /// Latency of (key) measured while fitting widths, reused within this run.
    latency_cache: HashMap<String, (f64, Option<f64>, String)>,
    cycle: usize,
    population: Vec<usize>,
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
        if Journal::new(dir).path().exists() {
            return Err(format!(
                "{}: a campaign already exists here; use `flashnas resume {}`",
                dir.display(),
                dir.display()
            ));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
        flashnas_model::weights::write_atomic(&dir.join("config.toml"), config_text.as_bytes())
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        Self::open(dir, cfg, on_event)
    }

    /// Opens an existing campaign directory for resume: everything comes from `DIR/config.toml`.
    pub fn resume(dir: &Path, on_event: &'a mut dyn FnMut(Event)) -> Result<Self, String> {
        let cfg = CampaignConfig::from_file(&dir.join("config.toml"))?;
        Self::open(dir, cfg, on_event)
    }

    fn open(
        dir: &Path,
        cfg: CampaignConfig,
        on_event: &'a mut dyn FnMut(Event),
    ) -> Result<Self, String> {
        let base = dir.to_path_buf();
        let data = Dataset::load(&cfg.train.data, cfg.train.seq_len, &base)
            .map_err(|e| format!("train.data: {e}"))?;
        let journal = Journal::new(dir);
        let read = journal
            .read()
            .map_err(|e| format!("{}: {e}", journal.path().display()))?;
        for p in read.problems {
            on_event(Event::Note(p));
        }
        if let Err(e) = Checkpoint::load(dir) {
            on_event(Event::Note(format!(
                "{e}; continuing from the journal, which holds every completed evaluation"
            )));
        }
        let lut = match (&cfg.latency.source, &cfg.latency.lut_file) {
            (LatencySource::Lut, Some(f)) => {
                let path = flashnas_training::config::resolve_path(f, &base);
                let file = LutFile::load(&path)?;
                let dev = flashnas_latency::profile::device_name();
                Some(
                    file.table(&dev, flashnas_model::backend::backend_name())
                        .cloned()
                        .unwrap_or_else(|| {
                            LatencyTable::new(LutProtocol {
                                prompt: cfg.latency.prompt,
                                generate: cfg.latency.generate,
                                batch: 1,
                                warmup: 1,
                                repeats: cfg.latency.repeats,
                            })
                        }),
                )
            }
            _ => None,
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            data,
            journal,
            replay: read.records.into(),
            records: Vec::new(),
            by_key: HashMap::new(),
            lut,
            on_event,
            latency_cache: HashMap::new(),
            cfg,
            cycle: 0,
            population: Vec::new(),
        })
    }

    fn budget_left(&self) -> bool {
        self.records.len() < self.cfg.evaluations
    }

    fn violation(&self, r: &Record) -> f64 {
        if r.status != "ok" {
            return f64::INFINITY;
        }
        (r.latency() - self.cfg.latency.budget_s).max(0.0)
    }

    fn point(&self, r: &Record) -> Point {
        let mut objectives = vec![r.loss(), r.latency()];
        for e in &self.cfg.objectives.extra {
            objectives.push(match e.as_str() {
                "params" => r.params as f64,
                _ => r.state_bytes as f64,
            });
        }
        Point {
            objectives,
            violation: self.violation(r),
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

    fn latency_of(&mut self, spec: &ArchSpec) -> (Option<f64>, Option<f64>, String) {
        let key = format!("{}|{}", spec.layer_string(), spec.d_model);
        if let Some((l, cv, src)) = self.latency_cache.get(&key) {
            return (Some(*l), *cv, src.clone());
        }
        let l = &self.cfg.latency;
        let measure = |spec: &ArchSpec| -> Result<(f64, f64), String> {
            let dev = parse_device(&l.device)?;
            #[allow(clippy::clone_on_copy)] // CudaDevice is not Copy
            let d2 = dev.clone();
            let s = decode_seconds::<Compute>(
                spec,
                l.prompt,
                l.generate,
                1,
                1,
                l.repeats,
                &dev,
                &move || sync(&d2),
            );
            Ok((s.median, s.cv))
        };
        let out = match l.source {
            LatencySource::Analytic => {
                let dev = self.cfg.roofline().expect("validated");
                Ok((
                    dev.decode_seconds(spec, l.prompt, l.generate, 1),
                    None,
                    "analytic".to_string(),
                ))
            }
            LatencySource::Measured => {
                measure(spec).map(|(m, cv)| (m, Some(cv), "measured".into()))
            }
            LatencySource::Lut => {
                let bound = l.lut_max_error_pct;
                let table = self.lut.as_mut().expect("lut source has a table");
                let dev = device();
                #[allow(clippy::clone_on_copy)] // CudaDevice is not Copy
                let d2 = dev.clone();
                let s = move || sync(&d2);
                table.add::<Compute>(std::slice::from_ref(spec), &dev, &s, &mut |_| {});
                if table.usable(bound) {
                    Ok((
                        table.predict(spec).expect("entries added"),
                        None,
                        "lut".into(),
                    ))
                } else {
                    // Not (yet) trusted: measure, and let the measurement validate the table.
                    let measured = measure(spec);
                    if let Ok((m, _)) = &measured {
                        let predicted = table.predict(spec).expect("entries added");
                        table.validation.push(flashnas_latency::lut::ValidationRow {
                            layers: spec.layer_string(),
                            measured_s: *m,
                            predicted_s: predicted,
                            error_pct: 100.0 * (predicted - m).abs() / m,
                        });
                    }
                    if let Some(f) = &l.lut_file {
                        let path = flashnas_training::config::resolve_path(f, &self.dir);
                        let mut file = LutFile::load(&path).unwrap_or_default();
                        file.insert(table.clone());
                        let _ = file.save(&path);
                    }
                    measured.map(|(m, cv)| (m, Some(cv), "measured (lut not yet validated)".into()))
                }
            }
        };
        match out {
            Ok((lat, cv, src)) => {
                self.latency_cache.insert(key, (lat, cv, src.clone()));
                (Some(lat), cv, src)
            }
            Err(e) => (None, None, format!("error: {e}")),
        }
    }

    /// The paper's width rule: the largest configured width whose latency meets the budget
    /// (the smallest when none does).
    fn fit_width(&mut self, g: &mut Genome) {
        let mut widths = self.cfg.space.widths.clone();
        widths.sort_unstable_by(|a, b| b.cmp(a));
        for &w in &widths {
            g.width = w;
            let spec = g.to_spec(&self.cfg.space, self.data.vocab_size);
            if let (Some(l), _, _) = self.latency_of(&spec) {
                if l <= self.cfg.latency.budget_s {
                    return;
                }
            }
        }
        g.width = *widths.last().expect("widths");
    }

    /// Evaluates a proposal (or reads it back from the journal); `None` when it was a
    /// duplicate of an earlier candidate (returned as `Err(id)` of that one).
    fn evaluate(&mut self, p: Proposal) -> Result<usize, usize> {
        let proposal_key = p.genome.key();
        if self.cfg.space.width == WidthRule::Gene {
            if let Some(&id) = self.by_key.get(&proposal_key) {
                return Err(id);
            }
        }
        let id = self.records.len();
        if let Some(r) = self.replay.front() {
            if r.proposal_key == proposal_key && r.id == id {
                let r = self.replay.pop_front().expect("front");
                return Ok(self.admit(r, true));
            }
            let msg = format!(
                "the journal in {} does not match this config: record {id} is '{}', the strategy now proposes '{}' \
                 (was the config or seed changed?); the remaining {} journal records are ignored and kept in journal.jsonl.replaced",
                self.dir.display(), r.proposal_key, proposal_key, self.replay.len()
            );
            (self.on_event)(Event::Note(msg));
            let rest: Vec<String> = self
                .replay
                .drain(..)
                .map(|r| serde_json::to_string(&r).expect("json"))
                .collect();
            let _ = std::fs::write(self.dir.join("journal.jsonl.replaced"), rest.join("\n"));
            // Rewrite the journal with the records kept so far.
            let _ = std::fs::remove_file(self.journal.path());
            for r in &self.records {
                let _ = self.journal.append(r);
            }
        }
        let mut genome = p.genome;
        let mut ck = self.checkpoint(false);
        ck.in_flight = Some(proposal_key.clone());
        let _ = ck.save(&self.dir);
        let start = Instant::now();
        if self.cfg.space.width == WidthRule::FitBudget {
            self.fit_width(&mut genome);
        }
        let key = genome.key();
        if let Some(&dup) = self.by_key.get(&key) {
            return Err(dup);
        }
        let spec = genome.to_spec(&self.cfg.space, self.data.vocab_size);
        let describe = genome.describe();
        (self.on_event)(Event::Start {
            id,
            describe: &describe,
        });
        let mut train_cfg = self.cfg.train.clone();
        train_cfg.seed = self.cfg.seed;
        let (proxy, _) = {
            let ev = &mut self.on_event;
            train::<Train>(&spec, &train_cfg, &self.data, &device(), &mut |pr| {
                ev(Event::Step(pr))
            })
        };
        let (latency_s, latency_cv, latency_source) = if proxy.status.is_ok() {
            self.latency_of(&spec)
        } else {
            (None, None, "skipped".into())
        };
        let failure = match (&proxy.status, latency_s) {
            (Status::Ok, Some(_)) => None,
            (Status::Ok, None) => Some(format!("latency {latency_source}")),
            (s, _) => Some(s.describe()),
        };
        let status = if failure.is_none() { "ok" } else { "failed" }.to_string();
        let feasible =
            failure.is_none() && latency_s.is_some_and(|l| l <= self.cfg.latency.budget_s);
        let context = self.cfg.latency.prompt + self.cfg.latency.generate;
        let record = Record {
            id,
            cycle: p.cycle,
            parent: p.parent,
            second_parent: p.second_parent,
            origin: p.origin.into(),
            mutation: p.mutation,
            proposal_key,
            key,
            layers: spec.layer_string(),
            width: genome.width,
            depth: genome.depth(),
            params: accounting::param_count(&spec),
            state_bytes: accounting::state_bytes(&spec, context),
            genome,
            spec,
            proxy,
            latency_s,
            latency_cv,
            latency_source,
            feasible,
            status,
            failure,
            frontier_size: 0,
            hypervolume: 0.0,
            seed: self.cfg.seed,
            eval_seconds: start.elapsed().as_secs_f64(),
        };
        Ok(self.admit(record, false))
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
            if let Ok(id) = self.evaluate(Proposal {
                genome,
                cycle: 0,
                parent: None,
                second_parent: None,
                origin: "seed",
                mutation: None,
            }) {
                members.push(id);
            }
        }
        let mut dup_streak = 0;
        while members.len() < n && self.budget_left() {
            let genome = Genome::random(&self.cfg.space, &mut self.rng);
            match self.evaluate(Proposal {
                genome,
                cycle: 0,
                parent: None,
                second_parent: None,
                origin: "random",
                mutation: None,
            }) {
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
        Ok(members)
    }

    /// Runs (or resumes) the campaign to its budget.
    pub fn run(&mut self) -> Result<Outcome, String> {
        match self.cfg.strategy {
            Strategy::Aging => self.aging()?,
            Strategy::Nsga2 => self.nsga2()?,
            Strategy::Random => self.random()?,
        }
        let _ = self.checkpoint(true).save(&self.dir);
        if let Some(table) = &self.lut {
            if let Some(f) = &self.cfg.latency.lut_file {
                let path = flashnas_training::config::resolve_path(f, &self.dir);
                let mut file = LutFile::load(&path).unwrap_or_default();
                file.insert(table.clone());
                file.save(&path)?;
            }
        }
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

    /// Aging evolution (Nemotron-Flash Algorithm 1).
    fn aging(&mut self) -> Result<(), String> {
        let a = self.cfg.aging.clone();
        let mut population: VecDeque<usize> = self.initial_population(a.population)?.into();
        self.population = population.iter().copied().collect();
        let mut dup_streak = 0;
        while self.budget_left() && !population.is_empty() {
            self.cycle += 1;
            let mut children = Vec::new();
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
                children.push(Proposal {
                    genome: child,
                    cycle: self.cycle,
                    parent: Some(parent),
                    second_parent: None,
                    origin: "mutation",
                    mutation: Some(factor),
                });
            }
            for child in children {
                if !self.budget_left() {
                    break;
                }
                // A duplicate joins the population with its recorded result (no new evaluation).
                let id = match self.evaluate(child) {
                    Ok(id) => {
                        dup_streak = 0;
                        id
                    }
                    Err(id) => {
                        dup_streak += 1;
                        id
                    }
                };
                population.push_back(id);
                population.pop_front();
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
                match self.evaluate(Proposal {
                    genome,
                    cycle: self.cycle,
                    parent: Some(p1),
                    second_parent: p2,
                    origin,
                    mutation,
                }) {
                    Ok(id) => {
                        offspring.push(id);
                        dup_streak = 0;
                    }
                    Err(_) => dup_streak += 1,
                }
            }
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

/// `results/<name>-<UTC timestamp>`.
pub fn default_dir(cfg: &CampaignConfig) -> PathBuf {
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
        cfg.name,
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

/// Whether each record is on the final frontier.
pub fn pareto_flags(cfg: &CampaignConfig, records: &[Record]) -> Vec<bool> {
    let pts: Vec<Point> = records
        .iter()
        .map(|r| Point {
            objectives: vec![r.loss(), r.latency()],
            violation: if r.status != "ok" {
                f64::INFINITY
            } else {
                (r.latency() - cfg.latency.budget_s).max(0.0)
            },
        })
        .collect();
    let f = frontier(&pts);
    (0..records.len()).map(|i| f.contains(&i)).collect()
}
