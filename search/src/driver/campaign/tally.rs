//! What the driver keeps up to date as records come in (frontier, best, evaluations, compute).

use crate::journal::{Record, RecordStatus};

/// What the driver keeps up to date as records come in, so that admitting a record costs the
/// same whatever the campaign's size (a racing replicate, which moves its candidate's mean,
/// recomputes it: racing is a handful of records at the end).
#[derive(Debug, Clone, Default)]
pub(super) struct Tally {
    /// The frontier over the campaign's frontier objectives (mean loss, latency by default)
    /// of the feasible candidates.
    pub(super) front: crate::store::Frontier,
    /// The feasible candidate with the lowest mean loss: (loss, id).
    pub(super) best: Option<(f64, usize)>,
    /// Records that count against `evaluations`.
    pub(super) evaluations: usize,
    /// Seconds of every admitted evaluation.
    pub(super) spent_s: f64,
}

impl Tally {
    pub(super) fn new(objectives: &[crate::journal::Objective]) -> Self {
        Tally {
            front: crate::store::Frontier::new(objectives),
            ..Tally::default()
        }
    }

    /// From all records at once.
    pub(super) fn of(&self, records: &[Record], budget_s: f64) -> Self {
        let means = crate::store::mean_losses(records);
        let mut t = Tally {
            front: self.front.cleared(),
            ..Tally::default()
        };
        for r in records {
            t.count(r);
            if Self::on_frontier(r, budget_s) {
                t.candidate(r, means[r.id]);
            }
        }
        t
    }

    /// `records` with `r` (their last) admitted.
    pub(super) fn with(&self, records: &[Record], r: &Record, budget_s: f64) -> Self {
        if r.replicate.is_some() {
            return self.of(records, budget_s);
        }
        let mut t = self.clone();
        t.count(r);
        if Self::on_frontier(r, budget_s) {
            t.candidate(r, r.loss());
        }
        t
    }

    pub(super) fn count(&mut self, r: &Record) {
        self.evaluations += r.counts_as_evaluation() as usize;
        self.spent_s += r.eval_seconds;
    }

    /// A trained, feasible candidate (what the frontier and the best are made of).
    pub(super) fn on_frontier(r: &Record, budget_s: f64) -> bool {
        r.is_candidate()
            && r.status == RecordStatus::Ok
            && crate::strategy::violation(r, budget_s) == 0.0
            && r.loss().is_finite()
    }

    pub(super) fn candidate(&mut self, r: &Record, loss: f64) {
        let id = r.id;
        self.front.insert(r, loss);
        if self
            .best
            .is_none_or(|(b, i)| loss < b || (loss == b && id < i))
        {
            self.best = Some((loss, id));
        }
    }
}
