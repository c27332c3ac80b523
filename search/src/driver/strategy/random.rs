//! Random search at the same evaluation budget (the baseline): warm-start and seeded designs,
//! then random genomes until the budget is spent.

use super::{Ask, InitialPopulation, Strategy, Submitted, View};
use rand_chacha::ChaCha8Rng;

pub struct RandomSearch {
    init: InitialPopulation,
}

impl RandomSearch {
    /// `init` sized to the whole evaluation budget.
    pub fn new(init: InitialPopulation) -> Self {
        Self { init }
    }
}

impl Strategy for RandomSearch {
    fn ask(&mut self, view: &View, rng: &mut ChaCha8Rng) -> crate::error::Result<Ask> {
        Ok(self.init.ask(view, rng)?.unwrap_or(Ask::Done(None)))
    }

    fn submitted(&mut self, _view: &View, outcome: Submitted) {
        self.init.submitted(outcome);
    }

    fn tell(&mut self, view: &View, id: usize) {
        self.init.tell(view, id);
    }

    /// None: random search keeps no population (its members are every candidate, which the
    /// journal holds; copying them into each checkpoint would grow with the campaign).
    fn population(&self) -> Vec<usize> {
        Vec::new()
    }

    fn cycle(&self) -> usize {
        0
    }
}

impl crate::section::Sectioned for RandomSearch {
    const SECTION: &'static str = "random";
    type Config = ();
}

impl super::Registered for RandomSearch {
    /// Warm starts are drawn for a population of aging's size.
    fn population(_c: &(), s: &super::Settings) -> usize {
        s.sections.aging.population
    }
    fn build(
        _c: &(),
        s: &super::Settings,
        init: &dyn Fn(usize) -> InitialPopulation,
    ) -> Box<dyn Strategy> {
        Box::new(RandomSearch::new(init(s.evaluations)))
    }
}
