//! Search strategies in the ask/tell shape: a strategy proposes (`ask`), hears what became of
//! each proposal (`submitted`: a new candidate or a duplicate of a known one) and is told each
//! result as it is admitted, in proposal order (`tell`). It owns its state (population,
//! generation); the campaign driver owns the loop, the executor pipeline and the journal.
//!
//! The driver's loop, which the strategies rely on: admit results until fewer than
//! `in_flight` candidates are out (telling each), `ask`, then submit a proposal or admit the
//! oldest candidate on `Wait`; after `Done`, admit everything still out.

mod aging;
mod all;
mod asha;
mod initial;
mod nsga2;
mod random;
mod registry;

pub use aging::{AgingConfig, AgingEvolution};
pub use all::{AllConfig, Exhaustive};
pub use asha::{Asha, MultiFidelityConfig};
pub use initial::{InitialPopulation, SeedDesign, WarmSeed, WarmStartConfig};
pub use nsga2::{Nsga2, Nsga2Config};
pub use random::RandomSearch;
pub use registry::{Registered, Settings};

use crate::journal::{Objective, Record, RecordStatus};
use crate::pareto::{crowding, non_dominated_sort, Point};
use rand_chacha::ChaCha8Rng;

use registry::strategies;

// The registered strategies: `Variant "name" Type [its config section]`. A new strategy is
// its module (implementing `registry::Registered`) and one line here.
strategies! {
    /// Aging evolution (the paper's Algorithm 1).
    Aging "aging" AgingEvolution [aging],
    Nsga2 "nsga2" Nsga2 [nsga2],
    /// Random search: the baseline at the same evaluation budget.
    Random "random" RandomSearch,
    /// Multi-fidelity: asynchronous successive halving over the `[multi_fidelity]` rungs.
    Asha "asha" Asha [multi_fidelity],
    /// Every genome of the space (a seeded sample of `evaluations` when larger), in a seeded
    /// order: what `flashnas tabulate` runs.
    All "all" Exhaustive [all],
}

/// A candidate a strategy proposes (defined beside the records that journal it).
pub use crate::journal::Proposal;

/// A strategy's next move.
#[derive(Debug)]
pub enum Ask {
    Propose(Proposal),
    /// Nothing to propose until the oldest candidate out has been admitted.
    Wait,
    /// Finished, with a note for the user when it stopped before the budget.
    Done(Option<String>),
}

/// What became of a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// A new candidate with this id.
    New(usize),
    /// A duplicate of candidate `id` (admitted, or still out), not evaluated again.
    Duplicate(usize),
}

/// What a strategy may look at: the admitted records and the campaign's progress.
pub struct View<'v> {
    pub records: &'v [Record],
    /// Candidates proposed and not yet admitted.
    pub in_flight: usize,
    /// Whether another proposal fits in the evaluation budget.
    pub budget_left: bool,
    /// The latency budget in seconds (infinite without one).
    pub budget_s: f64,
}

pub trait Strategy {
    /// The next move; an error when a configured design cannot be read (a seed's arch file).
    fn ask(&mut self, view: &View, rng: &mut ChaCha8Rng) -> crate::error::Result<Ask>;
    fn submitted(&mut self, view: &View, outcome: Submitted);
    fn tell(&mut self, view: &View, id: usize);
    /// The current population (ids), for the checkpoint.
    fn population(&self) -> Vec<usize>;
    /// The current cycle (generation).
    fn cycle(&self) -> usize;
}

/// How far a record is over its constraints (0 = feasible), infinite for a failed
/// evaluation: its latency's excess over the budget, plus its recall accuracy's shortfall
/// below `objectives.recall_min` and its throughput's relative shortfall below
/// `throughput.min_tokens_s`, in budgets (a recall 0.1 short, or a throughput 10 % short,
/// weighs as a latency 10 % over). A candidate left untrained because it was over the
/// budget has the same violation as it would have had trained, so strategies treat it alike.
pub fn violation(r: &Record, budget_s: f64) -> f64 {
    if !matches!(r.status, RecordStatus::Ok | RecordStatus::OverBudget) {
        return f64::INFINITY;
    }
    let latency = (r.latency() - budget_s).max(0.0);
    let short = r.recall_shortfall + r.throughput_shortfall;
    if short > 0.0 {
        let unit = if budget_s.is_finite() { budget_s } else { 1.0 };
        latency + short * unit
    } else {
        latency
    }
}

/// `members` best first: by constrained non-dominated front over `objectives`,
/// then crowding (larger first), then id. Infeasible members come after every feasible one,
/// least violation first.
pub fn pareto_order(view: &View, members: &[usize], objectives: &[Objective]) -> Vec<usize> {
    let pts: Vec<Point> = members
        .iter()
        .map(|&i| point(&view.records[i], view.budget_s, objectives))
        .collect();
    let mut order = Vec::new();
    for f in non_dominated_sort(&pts) {
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

/// A record as a point for NSGA-II: its values of `objectives` (by default proxy loss and
/// latency, see `ObjectivesConfig::ranked`).
pub fn point(r: &Record, budget_s: f64, objectives: &[Objective]) -> Point {
    let violation = violation(r, budget_s);
    let mut objectives: Vec<f64> = objectives.iter().map(|&o| r.objective(o)).collect();
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

#[cfg(test)]
mod tests;
