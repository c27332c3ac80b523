//! Validation stages 3–4: every candidate's latency re-checked in one timing run, then the
//! long training runs (F× the proxy, S seeds) through the campaign's executor.

use super::*;

impl Validation<'_> {
    /// Stage 3: every candidate (picks and trained baseline shapes) timed again in one timing
    /// run — `recheck_rounds` rounds, each going through all of them in turn, calibrated against
    /// the same reference when the campaign is — so that the figures compared with each other
    /// come from the same minutes of the machine. An analytic campaign's latency is a formula:
    /// recomputed once. The rows are journaled when the run is complete (a kill redoes it); a
    /// journal made for other models (an earlier version's) is moved aside and redone.
    pub(super) fn recheck(&mut self, models: &[Model]) -> Result<Vec<RecheckRow>> {
        let expected: Vec<String> = models.iter().map(|m| m.key.clone()).collect();
        let path = self.dir.join("recheck.jsonl");
        let journal = Journal::<RecheckRow>::at(path.clone());
        let read = journal
            .repair()
            .map_err(|e| Error::file(journal.path(), e))?;
        let keys: Vec<String> = read.records.iter().map(|r| r.model.clone()).collect();
        if keys == expected {
            return Ok(read.records);
        }
        if !keys.is_empty() {
            let aside = (0..)
                .map(|i| path.with_extension(format!("jsonl.old-{i}")))
                .find(|p| !p.exists())
                .expect("a free name");
            std::fs::rename(&path, &aside).map_err(|e| self.write_error(&path, &e))?;
            (self.on_event)(Event::Note(format!(
                "{}: timed other models (or was cut short); moved to {} and timed again",
                path.display(),
                aside.display()
            )));
        }
        let reference = self.reference();
        let mut l = self.cfg.latency.clone();
        let analytic = l.source == LatencySource::Analytic;
        if !analytic {
            l.source = LatencySource::Measured;
            l.calibrate = reference.is_some() && l.reference_s.is_some();
            l.repeats = l.repeats.max(5);
            // The re-check is itself the repeated timing of every model, in rounds.
            l.edge_pct = 0.0;
        }
        let rounds = if analytic {
            1
        } else {
            self.plan.settings.recheck_rounds
        };
        (self.on_event)(Event::Note(format!(
            "re-checking the latency of {} models in one timing run ({rounds} rounds, each through all of them)",
            models.len()
        )));
        let pricer = Pricer::new(l, &self.campaign, Some(&self.campaign), reference);
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); models.len()];
        let mut sources: Vec<String> = vec![String::new(); models.len()];
        let mut failed = vec![false; models.len()];
        for _ in 0..rounds {
            for (i, m) in models.iter().enumerate() {
                if failed[i] {
                    continue;
                }
                let out = pricer.price(&m.spec);
                sources[i] = out.source.to_string();
                match out.seconds {
                    Some(s) => samples[i].push(s),
                    None => failed[i] = true,
                }
            }
        }
        let rows: Vec<RecheckRow> = models
            .iter()
            .enumerate()
            .map(|(i, m)| RecheckRow {
                index: i,
                model: m.key.clone(),
                samples: std::mem::take(&mut samples[i]),
                source: std::mem::take(&mut sources[i]),
            })
            .collect();
        for row in &rows {
            journal
                .append(row)
                .map_err(|e| self.write_error(journal.path(), &e))?;
        }
        Ok(rows)
    }

    /// The seed of long run `s` (0-based): one stream per run, from the campaign seed.
    pub fn long_seed(&self, s: usize) -> u64 {
        self.cfg.seed.wrapping_add(1000 * (s as u64 + 1))
    }

    /// The long runs' training config at seed `seed`: F× the proxy's tokens or steps, the
    /// warm-up stretched with it (a fraction stays a fraction); the recall probe as the
    /// campaign ran it when the campaign ranks or constrains recall, else none.
    pub fn long_train(&self, seed: u64) -> TrainConfig {
        let f = self.plan.settings.factor;
        let mut t = self.proxy_train();
        t.seed = seed;
        match (t.steps, t.tokens) {
            (Some(s), _) => t.steps = Some((s as f64 * f).round() as usize),
            (None, Some(n)) => t.tokens = Some((n as f64 * f).round() as usize),
            _ => {}
        }
        if let Some(w) = t.optimizer.warmup_steps {
            t.optimizer.warmup_steps = Some((w as f64 * f).round() as usize);
        }
        t.recall.enabled = t.recall.enabled && self.cfg.objectives.uses_recall();
        t.rungs.clear();
        t.log_every = (t.log_every as f64 * f).round().max(1.0) as usize;
        t
    }

    /// Which long-run seed (0-based) a seed value is.
    pub fn seed_index(&self, seed: u64) -> Option<usize> {
        (0..self.plan.settings.max_seeds.max(self.plan.settings.seeds) + 1000)
            .find(|&s| self.long_seed(s) == seed)
    }

    /// Stage 4: every model trained long at each of `seeds` seeds; with `until_decided`, one
    /// more seed at a time (up to `max_seeds`) for the models of the budgets whose verdict is
    /// still inconclusive, decided from the complete seeds before it. The journal is keyed by
    /// (model, seed): a run already there is never trained again, whatever the order it was
    /// written in, so seeds can be added to a finished validation.
    pub(super) fn train_long(
        &mut self,
        models: &[Model],
        priced: &[PriceRow],
        trained: &[ProxyRow],
        candidates: &[Model],
        rechecks: &[RecheckRow],
    ) -> Result<Vec<LongRow>> {
        // Keyed by (model, seed), not by place: any order is accepted.
        let mut rows = Rows::<LongRow>::open(
            self.dir.join("long.jsonl"),
            self.resume_command(),
            self.on_event,
            |_, _| None,
        )?;
        let settings = self.plan.settings.clone();
        let most = match settings.until_decided {
            true => settings.max_seeds.max(settings.seeds),
            false => settings.seeds,
        };
        let f = settings.factor;
        for s in 0..most {
            let seed = self.long_seed(s);
            let wanted: Vec<usize> = if s < settings.seeds {
                (0..models.len()).collect()
            } else {
                let before: Vec<LongRow> = rows
                    .rows()
                    .iter()
                    .filter(|r| self.seed_index(r.seed).is_some_and(|i| i < s))
                    .cloned()
                    .collect();
                let report =
                    analysis::analyze(self, priced, trained, candidates, rechecks, models, &before);
                let open: Vec<String> = report
                    .targets
                    .iter()
                    .filter(|t| {
                        t.gap
                            .as_ref()
                            .is_some_and(|g| g.verdict == Verdict::Inconclusive)
                    })
                    .flat_map(|t| {
                        std::iter::once(t.pick.clone())
                            .chain(t.baselines.iter().filter_map(|(_, k)| k.clone()))
                    })
                    .collect();
                (0..models.len())
                    .filter(|&m| open.contains(&models[m].key))
                    .collect()
            };
            if wanted.is_empty() {
                break;
            }
            let runs: Vec<usize> = wanted
                .into_iter()
                .filter(|&m| {
                    !rows
                        .rows()
                        .iter()
                        .any(|r| r.model == models[m].key && r.seed == seed)
                })
                .collect();
            if runs.is_empty() {
                continue;
            }
            let tasks: Vec<Task> = runs
                .iter()
                .map(|&m| Task {
                    name: format!("long-{m}-s{seed}"),
                    proposal_key: format!("validate-long|{}|x{f}|seed {seed}", models[m].key),
                    spec: models[m].spec.clone(),
                    train: self.long_train(seed),
                    latency: None,
                    known_latency: None,
                    base_dir: self.campaign.clone(),
                    reference: None,
                    serve: None,
                })
                .collect();
            let long_steps = self.long_train(seed).total_steps();
            (self.on_event)(Event::Note(format!(
                "seed {} of {}: training {} models {f}× longer ({long_steps} steps){}",
                s + 1,
                most,
                runs.len(),
                if s < settings.seeds {
                    String::new()
                } else {
                    " — the budgets whose verdict is still inconclusive".into()
                }
            )));
            let total = runs.len();
            // Runs admitted so far in this seed (read by both closures).
            let k = std::cell::Cell::new(0);
            self.run_rows(
                &mut rows,
                tasks,
                &mut |_task, r, index| {
                    let m = runs[k.get()];
                    k.set(k.get() + 1);
                    LongRow {
                        index,
                        model: models[m].key.clone(),
                        seed,
                        proxy: r.proxy,
                        eval_seconds: r.eval_seconds,
                        attempts: r.attempt,
                    }
                },
                &mut |row| {
                    crate::lock::fault_point(&format!("validate:long-{}", row.index));
                    format!(
                        "long [{}/{total}] {} seed {seed}: loss {}",
                        k.get(),
                        row.model,
                        loss_text(row.loss(), &row.proxy)
                    )
                },
            )?;
        }
        Ok(rows.into_rows())
    }
}
