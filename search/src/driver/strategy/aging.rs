//! Aging evolution (Nemotron-Flash Algorithm 1), steady state: a FIFO population of size P;
//! each cycle draws `offspring_per_cycle` children, each the mutation of the winner of a
//! tournament among `sample` random members; every admitted child joins the population and
//! the oldest member leaves. Up to `in_flight` children are out at once, each drawn from the
//! population as it stands then; with `in_flight = 1` this is the sequential algorithm.

use super::{violation, Ask, InitialPopulation, Proposal, Strategy, Submitted, View};
use crate::genome::SpaceConfig;
use crate::journal::{Origin, RecordStatus};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// `[aging]` of a campaign config.
fn d_population() -> usize {
    8
}
fn d_sample() -> usize {
    3
}
fn d_one() -> usize {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgingConfig {
    #[serde(default = "d_population")]
    pub population: usize,
    #[serde(default = "d_sample")]
    pub sample: usize,
    /// Children per cycle (each from its own tournament).
    #[serde(default = "d_one")]
    pub offspring_per_cycle: usize,
}

impl Default for AgingConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl AgingConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.population < 2
            || self.sample == 0
            || self.sample > self.population
            || self.offspring_per_cycle == 0
        {
            return Err(format!(
                "aging: need population ≥ 2, 1 ≤ sample ≤ population, offspring_per_cycle ≥ 1 (got {}, {}, {})",
                self.population, self.sample, self.offspring_per_cycle
            ));
        }
        Ok(())
    }
}

pub struct AgingEvolution {
    cfg: AgingConfig,
    space: SpaceConfig,
    /// `Some` until the initial population is in.
    init: Option<InitialPopulation>,
    population: VecDeque<usize>,
    children: VecDeque<Proposal>,
    cycle: usize,
    dup_streak: usize,
}

impl AgingEvolution {
    pub fn new(cfg: AgingConfig, space: SpaceConfig, init: InitialPopulation) -> Self {
        Self {
            cfg,
            space,
            init: Some(init),
            population: VecDeque::new(),
            children: VecDeque::new(),
            cycle: 0,
            dup_streak: 0,
        }
    }

    fn join(&mut self, id: usize) {
        self.population.push_back(id);
        self.population.pop_front();
    }
}

/// The parent of a tournament: the lowest proxy loss among feasible members, else the member
/// closest to the latency budget.
pub fn tournament_parent(view: &View, sample: &[usize]) -> usize {
    let r = view.records;
    let feasible: Vec<usize> = sample.iter().copied().filter(|&i| r[i].feasible).collect();
    if !feasible.is_empty() {
        return *feasible
            .iter()
            .min_by(|&&a, &&b| {
                r[a].loss()
                    .partial_cmp(&r[b].loss())
                    .expect("finite")
                    .then(a.cmp(&b))
            })
            .expect("non-empty");
    }
    *sample
        .iter()
        .min_by(|&&a, &&b| {
            violation(&r[a], view.budget_s)
                .partial_cmp(&violation(&r[b], view.budget_s))
                .expect("not NaN")
                .then(a.cmp(&b))
        })
        .expect("non-empty")
}

impl Strategy for AgingEvolution {
    fn ask(&mut self, view: &View, rng: &mut ChaCha8Rng) -> crate::error::Result<Ask> {
        if let Some(init) = &mut self.init {
            if let Some(ask) = init.ask(view, rng)? {
                return Ok(ask);
            }
            self.population = init.population(view, super::initial::by_loss).into();
            self.init = None;
        }
        if self.dup_streak > 200 {
            return Ok(Ask::Done(Some(
                "200 duplicates in a row: the search space looks exhausted; stopping early".into(),
            )));
        }
        if !view.budget_left || self.population.is_empty() {
            return Ok(Ask::Done(None));
        }
        if self.children.is_empty() {
            self.cycle += 1;
            for _ in 0..self.cfg.offspring_per_cycle {
                let members: Vec<usize> = self.population.iter().copied().collect();
                let sample: Vec<usize> = members
                    .choose_multiple(rng, self.cfg.sample.min(members.len()))
                    .copied()
                    .collect();
                let parent = tournament_parent(view, &sample);
                let (child, factor) = view.records[parent].genome.mutate(&self.space, rng);
                self.children.push_back(Proposal {
                    genome: child,
                    cycle: self.cycle,
                    parent: Some(parent),
                    second_parent: None,
                    origin: Origin::Mutation,
                    mutation: Some(factor),
                    rung: None,
                    replicate: None,
                });
            }
        }
        Ok(Ask::Propose(self.children.pop_front().expect("a child")))
    }

    fn submitted(&mut self, view: &View, outcome: Submitted) {
        if let Some(init) = &mut self.init {
            return init.submitted(outcome);
        }
        match outcome {
            Submitted::New(_) => self.dup_streak = 0,
            Submitted::Duplicate(id) => {
                // A duplicate joins the population with its recorded result (no new
                // evaluation); one still out joins when admitted.
                self.dup_streak += 1;
                if id < view.records.len() {
                    self.join(id);
                }
            }
        }
    }

    fn tell(&mut self, view: &View, id: usize) {
        // Initial members are the population already; every later result joins it, except a
        // child priced over the budget and left untrained: it was not an evaluation, and the
        // next cycle proposes another.
        match &mut self.init {
            Some(init) => init.tell(view, id),
            None if view.records[id].status == RecordStatus::OverBudget => {}
            None => self.join(id),
        }
    }

    fn population(&self) -> Vec<usize> {
        match &self.init {
            Some(init) => init.members().to_vec(),
            None => self.population.iter().copied().collect(),
        }
    }

    fn cycle(&self) -> usize {
        self.cycle
    }
}

impl crate::section::Sectioned for AgingEvolution {
    const SECTION: &'static str = "aging";
    type Config = AgingConfig;
}

impl super::Registered for AgingEvolution {
    fn validate(c: &AgingConfig, _s: &super::Settings) -> Result<(), String> {
        c.validate()
    }
    fn population(c: &AgingConfig, _s: &super::Settings) -> usize {
        c.population
    }
    fn build(
        c: &AgingConfig,
        s: &super::Settings,
        init: &dyn Fn(usize) -> InitialPopulation,
    ) -> Box<dyn Strategy> {
        Box::new(AgingEvolution::new(
            c.clone(),
            s.space.clone(),
            init(c.population),
        ))
    }
}
