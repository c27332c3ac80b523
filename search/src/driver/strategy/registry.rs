//! What each strategy name builds: the one place a strategy is registered (beside its
//! variant of [`StrategyKind`] and its module). The campaign and the config reach every
//! strategy through these three functions.

use super::{
    AgingConfig, AgingEvolution, AllConfig, Asha, Exhaustive, InitialPopulation,
    MultiFidelityConfig, Nsga2, Nsga2Config, RandomSearch, Strategy, StrategyKind,
};
use crate::genome::SpaceConfig;
use crate::journal::Objective;

/// The parts of a campaign config a strategy reads.
pub struct Settings<'a> {
    pub space: &'a SpaceConfig,
    /// The evaluation budget.
    pub evaluations: usize,
    /// The objectives it ranks by (NSGA-II).
    pub objectives: Vec<Objective>,
    pub aging: &'a AgingConfig,
    pub nsga2: &'a Nsga2Config,
    pub multi_fidelity: &'a MultiFidelityConfig,
    pub all: &'a AllConfig,
}

impl StrategyKind {
    /// Checks its own config section (the key and the reason of the first problem).
    pub fn validate(self, s: &Settings) -> Result<(), String> {
        match self {
            StrategyKind::Aging => s.aging.validate(),
            StrategyKind::Nsga2 => s.nsga2.validate(),
            StrategyKind::Asha => s.multi_fidelity.validate(),
            StrategyKind::All => s.all.validate(),
            StrategyKind::Random => Ok(()),
        }
    }

    /// How many designs its population holds (what warm starts are drawn for).
    pub fn population(self, s: &Settings) -> usize {
        match self {
            StrategyKind::Nsga2 => s.nsga2.population,
            _ => s.aging.population,
        }
    }

    /// The strategy, its initial population from `init(n)` (warm designs, the config's seeds,
    /// the family shapes, then random genomes).
    pub fn build(
        self,
        s: &Settings,
        init: &dyn Fn(usize) -> InitialPopulation,
    ) -> Box<dyn Strategy> {
        let space = s.space.clone();
        match self {
            StrategyKind::Aging => Box::new(AgingEvolution::new(
                s.aging.clone(),
                space,
                init(s.aging.population),
            )),
            StrategyKind::Nsga2 => Box::new(Nsga2::new(
                s.nsga2.clone(),
                space,
                s.objectives.clone(),
                init(s.nsga2.population),
            )),
            StrategyKind::Random => Box::new(RandomSearch::new(init(s.evaluations))),
            StrategyKind::Asha => {
                Box::new(Asha::new(s.multi_fidelity.clone(), init(s.evaluations)))
            }
            StrategyKind::All => Box::new(Exhaustive::new(
                space,
                s.all.proposals.unwrap_or(s.evaluations),
            )),
        }
    }
}
