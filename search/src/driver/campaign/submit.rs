//! A proposal becomes a candidate: its identity, a duplicate found, a width fitted, its task
//! written and handed to the executor (or its result replayed or reused).

use super::*;
use crate::throughput::ThroughputSource;

impl Campaign<'_> {
    /// Proposes a candidate: read back from the journal, or written as a task and handed to
    /// the executor. `Ok(Err(id))`: a duplicate of candidate `id` (admitted or in flight),
    /// which is never evaluated twice. `Err`: the journal could not be rewritten.
    pub(super) fn submit(&mut self, p: Proposal) -> Result<Result<usize, usize>> {
        let proposal_key = self.identity(p.genome.key(), &p);
        if self.cfg.space.width == WidthRule::Gene || p.keeps_width() {
            if let Some(&id) = self.by_key.get(&proposal_key) {
                return Ok(Err(id));
            }
        }
        let id = self.records.len() + self.pipeline.len();
        match self.replay.take(id, &proposal_key) {
            Ok(None) => {}
            Ok(Some(r)) => {
                self.by_key.insert(r.proposal_key.clone(), id);
                self.by_key.insert(r.key.clone(), id);
                let item = Pending {
                    id,
                    proposal: p,
                    genome: r.genome.clone(),
                    key: r.key.clone(),
                    spec: r.spec.spec(),
                    replay: Some(r),
                    ready: None,
                    pricings: 0,
                };
                self.submit_item(item, None)?;
                return Ok(Ok(id));
            }
            Err(recorded) => {
                let msg = if recorded.contains(REPLICATE_MARK) && p.replicate.is_none() {
                    // An extended budget: the search goes on where the earlier run raced.
                    format!(
                        "the campaign goes on past its earlier budget: the {} journal records from its racing on are redone after the new evaluations (kept in journal.jsonl.replaced)",
                        self.replay.len()
                    )
                } else {
                    format!(
                        "the journal in {} does not match this config: record {id} is '{recorded}', the strategy now proposes '{proposal_key}' \
                         (was the config or seed changed?); the remaining {} journal records are ignored and kept in journal.jsonl.replaced",
                        self.dir.display(), self.replay.len()
                    )
                };
                (self.on_event)(Event::Note(msg));
                // Kept: what was admitted, and what is replayed but still in the pipeline.
                let kept: Vec<Record> = self
                    .records
                    .iter()
                    .cloned()
                    .chain(self.pipeline.items().filter_map(|q| q.replay.clone()))
                    .collect();
                self.replay.set_aside(&self.journal, &kept)?;
            }
        }
        let mut genome = p.genome.clone();
        let before = self.pricings;
        if self.cfg.space.width == WidthRule::FitBudget && !p.keeps_width() {
            let target = self.fit_target(&p);
            self.fit_width(&mut genome, target);
        }
        let key = self.identity(genome.key(), &p);
        if let Some(&dup) = self.by_key.get(&key) {
            return Ok(Err(dup));
        }
        let spec = genome.to_spec(&self.cfg.space, self.vocab_size);
        let known = self.known_latency(&p, &spec);
        let ready = self
            .reused(&p, &key, &spec, id)
            .or_else(|| self.priced_over_budget(&p, known.as_ref(), &spec, id));
        let task = match ready {
            Some(_) => None,
            None => Some(self.task_for(id, &proposal_key, &spec, &p, known)),
        };
        let started = task.is_some();
        self.by_key.insert(proposal_key, id);
        self.by_key.insert(key.clone(), id);
        let item = Pending {
            id,
            proposal: p,
            genome,
            key,
            spec,
            replay: None,
            ready,
            pricings: self.pricings - before,
        };
        self.submit_item(item, task)?;
        if started {
            let mut ck = self.checkpoint(false);
            ck.in_flight = self
                .pipeline
                .items()
                .next()
                .map(|q| q.proposal.genome.key());
            ck.in_flight_ids = self.pipeline.items().map(|q| q.id).collect();
            self.checkpoint_writer.save_if_due(&self.dir, &ck)?;
        }
        Ok(Ok(id))
    }

    /// A proposal's identity: a rung's evaluation of a genome is another evaluation than its
    /// full run (`m2 f a f | w32 @10` = trained 10 steps), a replicate another than the
    /// candidate (`m2 f a f | w32 seed#2`).
    pub(super) fn identity(&self, key: String, p: &Proposal) -> String {
        match p.replicate {
            Some(r) => format!("{key}{REPLICATE_MARK}{r}"),
            None => self.fidelity_key(key, p.rung),
        }
    }

    /// Queues a candidate; with a task, the executor starts on it (a failure to start is
    /// noted; waiting for it then reports the failure). A task that cannot be written stops
    /// the run.
    pub(super) fn submit_item(&mut self, item: Pending, task: Option<Task>) -> Result<()> {
        let ev = &mut self.on_event;
        self.pipeline
            .submit(&self.dir, self.executor.as_mut(), item, task, &mut |e| {
                ev(e)
            })
    }

    /// Candidate `id`'s task: the campaign's training at the proposal's rung and seed.
    pub(super) fn task_for(
        &self,
        id: usize,
        proposal_key: &str,
        spec: &ArchSpec,
        p: &Proposal,
        known_latency: Option<Latency>,
    ) -> Task {
        let mut train = self.cfg.train.clone();
        train.seed = match p.replicate {
            Some(r) => self.cfg.replicate_seed(r as u64),
            None => self.cfg.train_seed(),
        };
        train.stop_at = p.rung.map(|k| self.rung_steps()[k]);
        Task {
            name: id.to_string(),
            proposal_key: proposal_key.to_string(),
            spec: spec.clone(),
            train,
            latency: Some(self.cfg.latency.clone()),
            known_latency,
            base_dir: self.dir.clone(),
            reference: self.reference.clone(),
            // A replicate trains the same model again: its serving figure is the candidate's.
            serve: self
                .cfg
                .throughput
                .clone()
                .filter(|t| t.source == ThroughputSource::Measured && p.replicate.is_none()),
        }
    }
}
