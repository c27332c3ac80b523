//! NSGA-II over proxy loss, decode latency and the configured other objectives, with
//! constrained domination (feasible beats infeasible, less violation beats more). Each
//! generation proposes `population` offspring by binary tournaments on rank and crowding
//! (crossover with probability `crossover`, then mutation), waits for all of them, and keeps
//! the best `population` of parents and offspring.

use super::{pareto_order, Ask, InitialPopulation, Proposal, Strategy, Submitted, View};
use crate::genome::SpaceConfig;
use crate::journal::{Objective, Origin, RecordStatus};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

fn d_population() -> usize {
    8
}

/// `[nsga2]` of a campaign config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nsga2Config {
    #[serde(default = "d_population")]
    pub population: usize,
    /// Probability that a child comes from crossover (then mutated) rather than mutation only.
    #[serde(default = "d_crossover")]
    pub crossover: f64,
}

fn d_crossover() -> f64 {
    0.5
}

impl Default for Nsga2Config {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl Nsga2Config {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.population < 2 {
            return Err("nsga2.population: must be at least 2".into());
        }
        if !(0.0..=1.0).contains(&self.crossover) {
            return Err("nsga2.crossover: must be in [0, 1]".into());
        }
        Ok(())
    }
}

/// Where a generation stands.
struct Generation {
    /// Rank position of each population member (lower = better), fixed for the generation.
    pos: HashMap<usize, usize>,
    /// Offspring that will be trained (one priced over the budget leaves, and another is
    /// proposed in its place).
    offspring: Vec<usize>,
    attempts: usize,
}

pub struct Nsga2 {
    cfg: Nsga2Config,
    space: SpaceConfig,
    objectives: Vec<Objective>,
    init: Option<InitialPopulation>,
    population: Vec<usize>,
    generation: Option<Generation>,
    cycle: usize,
    dup_streak: usize,
}

impl Nsga2 {
    /// `objectives`: what it ranks by (proxy loss, latency and any others).
    pub fn new(
        cfg: Nsga2Config,
        space: SpaceConfig,
        objectives: Vec<Objective>,
        init: InitialPopulation,
    ) -> Self {
        Self {
            cfg,
            space,
            objectives,
            init: Some(init),
            population: Vec::new(),
            generation: None,
            cycle: 0,
            dup_streak: 0,
        }
    }

    /// Binary tournament on rank position.
    fn pick(&self, pos: &HashMap<usize, usize>, rng: &mut ChaCha8Rng) -> usize {
        let a = self.population[rng.gen_range(0..self.population.len())];
        let b = self.population[rng.gen_range(0..self.population.len())];
        if pos[&a] <= pos[&b] {
            a
        } else {
            b
        }
    }
}

impl Strategy for Nsga2 {
    fn ask(&mut self, view: &View, rng: &mut ChaCha8Rng) -> crate::error::Result<Ask> {
        if let Some(init) = &mut self.init {
            if let Some(ask) = init.ask(view, rng)? {
                return Ok(ask);
            }
            let objectives = self.objectives.clone();
            self.population = init.population(view, |v, m| pareto_order(v, m, &objectives));
            self.init = None;
        }
        let n = self.cfg.population;
        loop {
            let Some(g) = &mut self.generation else {
                if !view.budget_left || self.population.is_empty() {
                    return Ok(Ask::Done(None));
                }
                self.cycle += 1;
                let ranked = pareto_order(view, &self.population, &self.objectives);
                self.generation = Some(Generation {
                    pos: ranked.iter().enumerate().map(|(p, &id)| (id, p)).collect(),
                    offspring: Vec::new(),
                    attempts: 0,
                });
                continue;
            };
            if g.offspring.len() < n && view.budget_left && g.attempts < 50 * n {
                g.attempts += 1;
                let pos = std::mem::take(&mut g.pos);
                let p1 = self.pick(&pos, rng);
                let (genome, second_parent, origin, mutation) = if rng.gen_bool(self.cfg.crossover)
                {
                    let p2 = self.pick(&pos, rng);
                    let mixed = view.records[p1].genome.crossover(
                        &view.records[p2].genome,
                        &self.space,
                        rng,
                    );
                    let (child, f) = mixed.mutate(&self.space, rng);
                    (child, Some(p2), Origin::Crossover, f)
                } else {
                    let (child, f) = view.records[p1].genome.mutate(&self.space, rng);
                    (child, None, Origin::Mutation, f)
                };
                self.generation.as_mut().expect("generation").pos = pos;
                return Ok(Ask::Propose(Proposal {
                    genome,
                    cycle: self.cycle,
                    parent: Some(p1),
                    second_parent,
                    origin,
                    mutation: Some(mutation),
                    rung: None,
                    replicate: None,
                }));
            }
            if view.in_flight > 0 {
                return Ok(Ask::Wait);
            }
            // The generation is in: keep the best n of parents and offspring.
            let g = self.generation.take().expect("generation");
            let mut pool = self.population.clone();
            pool.extend(&g.offspring);
            pool.sort_unstable();
            pool.dedup();
            self.population = pareto_order(view, &pool, &self.objectives)
                .into_iter()
                .take(n)
                .collect();
            if self.dup_streak > 200 || g.attempts >= 50 * n {
                return Ok(Ask::Done(Some(
                    "the search space looks exhausted (duplicates only); stopping early".into(),
                )));
            }
        }
    }

    fn submitted(&mut self, _view: &View, outcome: Submitted) {
        if let Some(init) = &mut self.init {
            return init.submitted(outcome);
        }
        let g = self.generation.as_mut().expect("a generation proposes");
        match outcome {
            Submitted::New(id) => {
                g.offspring.push(id);
                self.dup_streak = 0;
            }
            Submitted::Duplicate(_) => self.dup_streak += 1,
        }
    }

    fn tell(&mut self, view: &View, id: usize) {
        match (&mut self.init, &mut self.generation) {
            (Some(init), _) => init.tell(view, id),
            // An offspring priced over the budget was not trained: not one of the generation.
            (None, Some(g)) if view.records[id].status == RecordStatus::OverBudget => {
                g.offspring.retain(|&o| o != id)
            }
            _ => {}
        }
    }

    fn population(&self) -> Vec<usize> {
        match &self.init {
            Some(init) => init.members().to_vec(),
            None => self.population.clone(),
        }
    }

    fn cycle(&self) -> usize {
        self.cycle
    }
}

impl crate::section::Sectioned for Nsga2 {
    const SECTION: &'static str = "nsga2";
    type Config = Nsga2Config;
}

impl super::Registered for Nsga2 {
    fn validate(c: &Nsga2Config, _s: &super::Settings) -> Result<(), String> {
        c.validate()
    }
    fn population(c: &Nsga2Config, _s: &super::Settings) -> usize {
        c.population
    }
    fn build(
        c: &Nsga2Config,
        s: &super::Settings,
        init: &dyn Fn(usize) -> InitialPopulation,
    ) -> Box<dyn Strategy> {
        Box::new(Nsga2::new(
            c.clone(),
            s.space.clone(),
            s.objectives.clone(),
            init(c.population),
        ))
    }
}
