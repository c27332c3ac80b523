//! How the driver prices a proposal before it is trained: its latency (cached by shape), the
//! width it fits to its budget level, a latency it already knows or a result it may reuse, and
//! a proposal priced over the budget journaled untrained.

use super::*;

impl Campaign<'_> {
    /// Latency of `spec` in the driver (width fitting), cached by shape; counts pricings.
    pub(super) fn latency_of(&mut self, spec: &ArchSpec) -> Latency {
        let key = shape_key(spec);
        if let Some(l) = self.latency_cache.get(&key) {
            return l.clone();
        }
        self.pricings += 1;
        let measured = self.pricer.price(spec);
        if measured.seconds.is_some() {
            self.latency_cache.insert(key, measured.clone());
        }
        measured
    }

    /// The latency a proposal's width is fitted to: the budget level of its parent (the
    /// smallest of the racing levels that holds the parent's latency), so that children of a
    /// fast parent stay fast and the frontier below the budget is searched too; the budget for
    /// a design without a parent.
    pub(super) fn fit_target(&self, p: &Proposal) -> f64 {
        let budget = self.budget_s();
        let Some(parent) = p.parent.and_then(|i| self.records.get(i)) else {
            return budget;
        };
        let l = parent.latency();
        let mut levels = self.cfg.racing_levels();
        levels.sort_by(|a, b| a.total_cmp(b));
        levels
            .into_iter()
            .map(|f| f * budget)
            .find(|b| l <= *b)
            .unwrap_or(budget)
    }

    /// The paper's width rule: the largest configured width whose latency is within
    /// `target`, by bisection over the widths (latency grows with width); the smallest when
    /// none is.
    pub(super) fn fit_width(&mut self, g: &mut Genome, target: f64) {
        let mut widths = self.cfg.space.widths.clone();
        widths.sort_unstable();
        widths.dedup();
        let mut within = |w: usize, c: &mut Self| {
            g.width = w;
            let spec = g.to_spec(&c.cfg.space, c.vocab_size);
            c.latency_of(&spec).seconds.is_some_and(|l| l <= target)
        };
        // Invariant: widths[lo] within (or lo = 0), widths[hi] not (or hi = len).
        let (mut lo, mut hi) = (0, widths.len());
        if within(widths[0], self) {
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if within(widths[mid], self) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
        }
        g.width = widths[lo];
    }

    /// The latency the driver already knows for a proposal: its candidate's (a replicate), or
    /// a figure priced in this run (width fitting, the family grid).
    pub(super) fn known_latency(&self, p: &Proposal, spec: &ArchSpec) -> Option<Latency> {
        match (p.replicate, p.parent) {
            (Some(_), Some(c)) => Some(self.records[c].latency.clone()),
            _ => self.latency_cache.get(&shape_key(spec)).cloned(),
        }
    }

    /// A warm-start design evaluated by an earlier campaign under the same settings.
    pub(super) fn reused(
        &self,
        p: &Proposal,
        key: &str,
        spec: &ArchSpec,
        id: usize,
    ) -> Option<TaskResult> {
        if p.origin != Origin::WarmStart {
            return None;
        }
        self.warm.iter().find_map(|w| {
            let r = w.reusable.as_ref()?;
            (r.key == key && r.spec == SpecText::of(spec)).then(|| TaskResult {
                name: id.to_string(),
                proposal_key: r.proposal_key.clone(),
                latency: r.latency.clone(),
                proxy: r.proxy.clone(),
                eval_seconds: 0.0,
                worker: format!("reused from {} #{}", w.source, r.id),
                attempt: r.attempts,
                throughput: None,
            })
        })
    }

    /// The result of a proposal the driver already priced over the budget: not trained, no
    /// task, no executor (what a worker would answer, without starting one).
    pub(super) fn priced_over_budget(
        &self,
        p: &Proposal,
        known: Option<&Latency>,
        spec: &ArchSpec,
        id: usize,
    ) -> Option<TaskResult> {
        let known = known?;
        let reason = self.pricer.untrained_reason(known.seconds)?;
        Some(TaskResult {
            name: id.to_string(),
            proposal_key: self.identity(p.genome.key(), p),
            proxy: ProxyResult::failed(
                Status::NotTrained { reason },
                flashnas_model::accounting::param_count(spec),
            ),
            latency: known.clone(),
            eval_seconds: 0.0,
            worker: "driver (priced over the budget)".into(),
            attempt: 1,
            throughput: None,
        })
    }
}
