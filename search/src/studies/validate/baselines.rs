//! Validation stages 1–2: the baseline shapes priced, trained at proxy length, and the
//! candidates (picks and each family's best shape within a budget) selected.

use super::*;

impl Validation<'_> {
    /// Stage 1: every baseline shape priced with the campaign's latency source, in the driver
    /// (under the device lock when it measures).
    pub(super) fn price(&mut self) -> Result<Vec<PriceRow>> {
        let expected: Vec<String> = self
            .plan
            .shapes
            .iter()
            .map(|s| model_key(&s.layers, s.width))
            .collect();
        let mut rows =
            self.rows::<PriceRow>("price.jsonl", &expected, |r| model_key(&r.layers, r.width))?;
        let total = self.plan.shapes.len();
        if rows.len() < total {
            (self.on_event)(Event::Note(format!(
                "pricing {} baseline shapes with the campaign's latency source ({} from the journal)",
                total,
                rows.len()
            )));
        }
        let mut pricer = Pricer::new(
            self.cfg.latency.clone(),
            &self.campaign,
            Some(&self.campaign),
            self.reference(),
        );
        pricer.set_edge_levels(&self.cfg.decision_levels());
        for i in rows.len()..total {
            let shape = self.plan.shapes[i].clone();
            let spec = self.shape_spec(&shape);
            let latency = pricer.price(&spec);
            let row = PriceRow {
                index: i,
                family: shape.family.clone(),
                repeats: shape.repeats,
                width: shape.width,
                layers: shape.layers.clone(),
                params: accounting::param_count(&spec),
                latency,
            };
            rows.push(row)?;
            crate::lock::fault_point(&format!("validate:price-{i}"));
        }
        Ok(rows.into_rows())
    }

    /// The largest budget of the plan: shapes over it are not trained.
    pub(super) fn largest_budget(&self) -> f64 {
        self.plan
            .targets
            .iter()
            .map(|t| t.budget_s)
            .fold(0.0, f64::max)
    }

    pub(super) fn proxy_train(&self) -> TrainConfig {
        let mut t = self.cfg.train.clone();
        // The seed rule of the campaign's own candidates.
        t.seed = self.cfg.seed;
        t.stop_at = None;
        t
    }

    /// Stage 2: the shapes within the largest budget trained at proxy length through the
    /// campaign's executor.
    pub(super) fn train_baselines(&mut self, priced: &[PriceRow]) -> Result<Vec<ProxyRow>> {
        let largest = self.largest_budget();
        let within: Vec<&PriceRow> = priced
            .iter()
            .filter(|r| r.latency.seconds.is_some_and(|s| s <= largest))
            .collect();
        let expected: Vec<String> = within
            .iter()
            .map(|r| model_key(&r.layers, r.width))
            .collect();
        let mut rows =
            self.rows::<ProxyRow>("proxy.jsonl", &expected, |r| model_key(&r.layers, r.width))?;
        // The best shape of each family is chosen by proxy loss; the recall probe, when the
        // campaign ranks recall, runs beside the long runs of the models chosen.
        let mut train = self.proxy_train();
        train.recall.enabled = false;
        let tasks: Vec<Task> = within[rows.len()..]
            .iter()
            .map(|r| {
                let spec = self.shape_spec(&self.plan.shapes[r.index]);
                Task {
                    name: format!("base-{}-r{}-w{}", r.family, r.repeats, r.width),
                    proposal_key: format!("validate-proxy|{}", model_key(&r.layers, r.width)),
                    spec,
                    train: train.clone(),
                    latency: None,
                    known_latency: None,
                    base_dir: self.campaign.clone(),
                    reference: None,
                    serve: None,
                }
            })
            .collect();
        if !tasks.is_empty() {
            (self.on_event)(Event::Note(format!(
                "training {} baseline shapes within {:.6} s at proxy length ({} steps; {} from the journal)",
                within.len(),
                largest,
                train.total_steps(),
                rows.len()
            )));
        }
        let total = within.len();
        self.run_rows(
            &mut rows,
            tasks,
            &mut |_task, r, index| {
                let p = within[index];
                ProxyRow {
                    index,
                    shape: p.index,
                    family: p.family.clone(),
                    repeats: p.repeats,
                    width: p.width,
                    layers: p.layers.clone(),
                    params: p.params,
                    latency_s: p.latency.seconds.expect("within the budget"),
                    proxy: r.proxy,
                    eval_seconds: r.eval_seconds,
                    attempts: r.attempt,
                }
            },
            &mut |row| {
                format!(
                    "baseline [{}/{total}] {} r{} w{}: proxy loss {}",
                    row.index + 1,
                    row.family,
                    row.repeats,
                    row.width,
                    loss_text(row.loss(), &row.proxy)
                )
            },
        )?;
        Ok(rows.into_rows())
    }

    /// Every model that may be validated: the picks (in budget order), then every baseline shape
    /// trained at proxy length; an architecture serving several roles is one model.
    pub fn candidates(&self, trained: &[ProxyRow]) -> Vec<Model> {
        let mut models: Vec<Model> = Vec::new();
        let mut add = |m: Model| {
            if !models.iter().any(|n| n.key == m.key) {
                models.push(m);
            }
        };
        // The picks, then the candidates each is chosen from after the re-check (timed in it,
        // trained long only when chosen).
        let picks = self.plan.targets.iter().map(|t| t.pick);
        let alternates = self.plan.targets.iter().flat_map(|t| t.alternates.clone());
        for id in picks.chain(alternates) {
            let r = &self.records[id];
            add(Model {
                key: model_key(&r.layers, r.width),
                role: Role::Pick { id: r.id },
                spec: r.spec.spec(),
                layers: r.layers.clone(),
                width: r.width,
                depth: r.depth,
                params: r.params,
                latency_s: r.latency(),
                proxy_loss: Some(crate::store::mean_loss(&self.records, r.id)),
            });
        }
        for (i, row) in trained.iter().enumerate() {
            if row.loss().is_none() {
                continue;
            }
            let spec = self.shape_spec(&self.plan.shapes[row.shape]);
            add(Model {
                key: model_key(&row.layers, row.width),
                role: Role::Baseline {
                    family: row.family.clone(),
                    row: i,
                },
                depth: spec.layers.len(),
                spec,
                layers: row.layers.clone(),
                width: row.width,
                params: row.params,
                latency_s: row.latency_s,
                proxy_loss: row.loss(),
            });
        }
        models
    }

    /// After the re-check: each budget's pick is the first of its candidates (the campaign's
    /// band, widened to the candidates it timed just over the budget) that the re-check holds
    /// within it — eligibility by the one timing run, as for the baselines. Derived from the
    /// re-check's journal, so a resumed validation chooses the same.
    pub fn choose_picks_by_recheck(&mut self, candidates: &[Model], rechecks: &[RecheckRow]) {
        let latency = eligibility(candidates, rechecks);
        let seconds = |id: usize| {
            let r = &self.records[id];
            latency.get(&model_key(&r.layers, r.width)).copied()
        };
        let mut notes = Vec::new();
        for t in &mut self.plan.targets {
            if t.replaced.is_some() || t.alternates.is_empty() {
                continue;
            }
            let budget_s = t.budget_s;
            let within = |id: usize| seconds(id).is_some_and(|s| s <= budget_s * (1.0 + 1e-9));
            let Some(chosen) = chosen_after_recheck(&t.alternates, &within) else {
                continue;
            };
            if chosen != t.pick {
                let ms = |id: usize| seconds(id).map_or(f64::NAN, |s| s * 1e3);
                notes.push(format!(
                    "{}: validating #{chosen} (re-checked {:.4} ms) instead of the campaign's pick #{} (re-checked {:.4} ms; budget {:.4} ms): the pick is the first of its band the re-check holds within the budget",
                    t.label,
                    ms(chosen),
                    t.pick,
                    ms(t.pick),
                    budget_s * 1e3
                ));
                t.replaced = Some(t.pick);
                t.pick = chosen;
            }
        }
        for n in notes {
            (self.on_event)(Event::Note(n));
        }
    }

    /// The models trained long: the picks, then each family's baseline at each budget — its
    /// lowest proxy loss among the shapes whose re-measured latency is within the budget.
    pub fn select(
        &self,
        candidates: &[Model],
        rechecks: &[RecheckRow],
        trained: &[ProxyRow],
    ) -> Vec<Model> {
        let latency = eligibility(candidates, rechecks);
        let of_row = |r: &ProxyRow| {
            latency
                .get(&model_key(&r.layers, r.width))
                .copied()
                .unwrap_or(r.latency_s)
        };
        let mut keys: Vec<String> = Vec::new();
        for t in &self.plan.targets {
            let r = &self.records[t.pick];
            keys.push(model_key(&r.layers, r.width));
        }
        for t in &self.plan.targets {
            for f in &self.plan.settings.families {
                if let Some(i) = baseline_within(trained, &f.name, t.budget_s, &of_row) {
                    keys.push(model_key(&trained[i].layers, trained[i].width));
                }
            }
        }
        let mut out: Vec<Model> = Vec::new();
        for k in keys {
            if !out.iter().any(|m| m.key == k) {
                out.push(
                    candidates
                        .iter()
                        .find(|m| m.key == k)
                        .expect("a candidate")
                        .clone(),
                );
            }
        }
        out
    }
}

/// The candidate validated at a budget: the first of `order` (the pick rule's order) that the
/// re-check holds `within` it; none when no candidate is.
pub fn chosen_after_recheck(order: &[usize], within: &dyn Fn(usize) -> bool) -> Option<usize> {
    order.iter().copied().find(|&a| within(a))
}
