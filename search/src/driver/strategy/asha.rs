//! Multi-fidelity search: asynchronous successive halving (ASHA, Li et al., 2020) over proxy
//! training steps, promoting by Pareto rank.
//!
//! A new genome starts at the lowest rung: a run stopped after `rungs[0]` of the steps, its
//! learning-rate schedule that of the full run, so its loss is the full run's at that step.
//! Whenever a rung holds a candidate among the top ⌊n/η⌋ of its n feasible results by constrained
//! non-dominated sorting over (loss at that rung, latency) — infeasible and failed ones last,
//! never promoted — that was not promoted yet, it is trained again to the next rung (the top
//! rung is the full run, which alone enters the frontier). Otherwise the next genome of the
//! initial population (warm-start, seeds, then random) starts at the bottom.

use super::{
    pareto_order, violation, Ask, InitialPopulation, Objective, Proposal, Strategy, Submitted, View,
};
use crate::journal::{Origin, RecordStatus};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

fn d_rungs() -> Vec<f64> {
    vec![1.0 / 9.0, 1.0 / 3.0]
}
fn d_eta() -> usize {
    3
}

/// `[multi_fidelity]` of a campaign config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiFidelityConfig {
    /// The rungs below the full run, as fractions of the proxy's steps (increasing, in (0, 1)).
    #[serde(default = "d_rungs")]
    pub rungs: Vec<f64>,
    /// Reduction factor: the top 1/η of a rung is promoted.
    #[serde(default = "d_eta")]
    pub eta: usize,
}

impl Default for MultiFidelityConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl MultiFidelityConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.rungs.is_empty() {
            return Err("multi_fidelity.rungs: list at least one rung below the full run".into());
        }
        if self.rungs.iter().any(|r| !(*r > 0.0 && *r < 1.0))
            || self.rungs.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(
                "multi_fidelity.rungs: fractions of the steps, increasing, each in (0, 1)".into(),
            );
        }
        if self.eta < 2 {
            return Err("multi_fidelity.eta: must be at least 2".into());
        }
        Ok(())
    }

    /// The steps of each rung below the full run of `total` steps (rounded, at least 1).
    pub fn rung_steps(&self, total: usize) -> Vec<usize> {
        self.rungs
            .iter()
            .map(|r| ((r * total as f64).round() as usize).clamp(1, total))
            .collect()
    }
}

pub struct Asha {
    cfg: MultiFidelityConfig,
    init: InitialPopulation,
    /// (rung, genome key) of every candidate already promoted from that rung.
    promoted: HashSet<(usize, String)>,
    /// The promotion the last `ask` proposed, recorded once submitted.
    proposing: Option<(usize, String)>,
}

impl Asha {
    /// `init` sized to the whole evaluation budget: the source of new genomes.
    pub fn new(cfg: MultiFidelityConfig, init: InitialPopulation) -> Self {
        Self {
            cfg,
            init,
            promoted: HashSet::new(),
            proposing: None,
        }
    }

    /// Rungs: `0..rungs.len()` below the full run, `rungs.len()` the full run.
    fn rung_of(&self, r: &crate::journal::Record) -> usize {
        r.rung.unwrap_or(self.cfg.rungs.len())
    }

    /// The next promotion, highest rung first.
    fn promotion(&self, view: &View) -> Option<Proposal> {
        let top = self.cfg.rungs.len();
        for rung in (0..top).rev() {
            let members: Vec<usize> = view
                .records
                .iter()
                .filter(|r| self.rung_of(r) == rung)
                .map(|r| r.id)
                .collect();
            // The quota counts the rung's feasible results only: an over-budget answer (never
            // trained) or a failure is not a competitor, and counting it would promote
            // more than 1/η of what was really trained (η ≈ 4.6 instead of 6 on the shipped
            // table).
            let feasible = members
                .iter()
                .filter(|&&id| {
                    let r = &view.records[id];
                    r.status == RecordStatus::Ok && violation(r, view.budget_s) == 0.0
                })
                .count();
            let k = feasible / self.cfg.eta;
            for id in pareto_order(view, &members, &[Objective::Loss, Objective::Latency])
                .into_iter()
                .take(k)
            {
                let r = &view.records[id];
                let key = r.genome.key();
                if r.status != RecordStatus::Ok
                    || violation(r, view.budget_s) > 0.0
                    || self.promoted.contains(&(rung, key))
                {
                    continue;
                }
                return Some(Proposal {
                    genome: r.genome.clone(),
                    cycle: rung + 1,
                    parent: Some(id),
                    second_parent: None,
                    origin: Origin::Promotion,
                    mutation: None,
                    rung: (rung + 1 < top).then_some(rung + 1),
                    replicate: None,
                });
            }
        }
        None
    }
}

impl Strategy for Asha {
    fn ask(&mut self, view: &View, rng: &mut ChaCha8Rng) -> crate::error::Result<Ask> {
        if !view.budget_left {
            return Ok(Ask::Done(None));
        }
        if let Some(p) = self.promotion(view) {
            self.proposing = Some((p.cycle - 1, p.genome.key()));
            return Ok(Ask::Propose(p));
        }
        Ok(match self.init.ask(view, rng)? {
            Some(Ask::Propose(mut p)) => {
                p.rung = Some(0);
                Ask::Propose(p)
            }
            Some(other) => other,
            None => Ask::Done(None),
        })
    }

    fn submitted(&mut self, _view: &View, outcome: Submitted) {
        match self.proposing.take() {
            Some(promotion) => {
                self.promoted.insert(promotion);
            }
            None => self.init.submitted(outcome),
        }
    }

    fn tell(&mut self, view: &View, id: usize) {
        self.init.tell(view, id);
    }

    fn population(&self) -> Vec<usize> {
        Vec::new()
    }

    fn cycle(&self) -> usize {
        0
    }
}

impl crate::section::Sectioned for Asha {
    const SECTION: &'static str = "multi_fidelity";
    type Config = MultiFidelityConfig;
}

impl super::Registered for Asha {
    fn validate(c: &MultiFidelityConfig, _s: &super::Settings) -> Result<(), String> {
        c.validate()
    }
    /// Warm starts are drawn for a population of aging's size.
    fn population(_c: &MultiFidelityConfig, s: &super::Settings) -> usize {
        s.sections.aging.population
    }
    fn build(
        c: &MultiFidelityConfig,
        s: &super::Settings,
        init: &dyn Fn(usize) -> InitialPopulation,
    ) -> Box<dyn Strategy> {
        Box::new(Asha::new(c.clone(), init(s.evaluations)))
    }
}
