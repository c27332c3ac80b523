//! Every genome of the space, once each, in a seeded order (a seeded sample of the budget's
//! size when the space holds more): the strategy of `flashnas tabulate`. The order is shuffled
//! so that a table cut short is still a uniform sample of the space. A sample is stratified:
//! random genomes are grouped by width, stage count and depth third, and taken from the
//! groups in turn, so that every kind of shape is represented whatever the budget (a uniform
//! draw over genome encodings over-represents deep many-stage genomes).

use super::{Ask, Proposal, Strategy, Submitted, View};
use crate::genome::{Genome, SpaceConfig};
use crate::journal::Origin;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// More genomes than this are sampled rather than enumerated.
const ENUMERATION_CAP: usize = 1_000_000;

/// `[all]`: the order `strategy = "all"` walks.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllConfig {
    /// Genomes drawn into the order (default: `evaluations`). With
    /// `latency.train_over_budget = false` a genome priced over the budget is journaled and
    /// skipped without counting, so a longer order lets `evaluations` count trained genomes
    /// within the budget: a table of the feasible region (`flashnas tabulate --within-budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposals: Option<usize>,
}

impl AllConfig {
    pub fn validate(&self) -> Result<(), String> {
        match self.proposals {
            Some(0) => Err("all.proposals: must be at least 1".into()),
            _ => Ok(()),
        }
    }
}

pub struct Exhaustive {
    space: SpaceConfig,
    budget: usize,
    /// Chosen on the first `ask` (it needs the campaign's RNG).
    order: Option<Vec<Genome>>,
    next: usize,
}

impl Exhaustive {
    /// At most `budget` genomes of `space`.
    pub fn new(space: SpaceConfig, budget: usize) -> Self {
        Self {
            space,
            budget,
            order: None,
            next: 0,
        }
    }

    fn choose(&self, rng: &mut ChaCha8Rng) -> Vec<Genome> {
        match Genome::enumerate(&self.space, ENUMERATION_CAP) {
            Some(mut all) => {
                all.shuffle(rng);
                all.truncate(self.budget);
                all
            }
            None => {
                // A pool of distinct random genomes, many per stratum.
                let mut seen = std::collections::HashSet::new();
                let mut pool = Vec::new();
                let mut misses = 0;
                while pool.len() < 30 * self.budget && misses < 100_000 {
                    let g = Genome::random(&self.space, rng);
                    if seen.insert(g.key()) {
                        pool.push(g);
                    } else {
                        misses += 1;
                    }
                }
                let cap = self.space.depth_cap.max(1);
                let stratum =
                    |g: &Genome| (g.width, g.stages.len(), (3 * g.depth() / (cap + 1)).min(2));
                let mut strata: std::collections::BTreeMap<_, Vec<Genome>> = Default::default();
                for g in pool {
                    strata.entry(stratum(&g)).or_default().push(g);
                }
                // Round robin over the strata (each already in random order), then shuffled.
                let mut groups: Vec<std::vec::IntoIter<Genome>> =
                    strata.into_values().map(|v| v.into_iter()).collect();
                let mut out = Vec::new();
                while out.len() < self.budget {
                    let before = out.len();
                    for g in groups.iter_mut() {
                        if out.len() < self.budget {
                            out.extend(g.next());
                        }
                    }
                    if out.len() == before {
                        break;
                    }
                }
                out.shuffle(rng);
                out
            }
        }
    }
}

impl Strategy for Exhaustive {
    fn ask(&mut self, view: &View, rng: &mut ChaCha8Rng) -> crate::error::Result<Ask> {
        if self.order.is_none() {
            self.order = Some(self.choose(rng));
        }
        let order = self.order.as_ref().expect("chosen");
        if !view.budget_left || self.next >= order.len() {
            let n = order.len();
            return Ok(Ask::Done((self.next >= n).then(|| {
                format!("all {n} genomes chosen from the space evaluated")
            })));
        }
        let genome = order[self.next].clone();
        self.next += 1;
        Ok(Ask::Propose(Proposal {
            genome,
            cycle: 0,
            parent: None,
            second_parent: None,
            origin: Origin::Random,
            mutation: None,
            rung: None,
            replicate: None,
        }))
    }

    fn submitted(&mut self, _view: &View, _outcome: Submitted) {}

    fn tell(&mut self, _view: &View, _id: usize) {}

    fn population(&self) -> Vec<usize> {
        Vec::new()
    }

    fn cycle(&self) -> usize {
        0
    }
}

impl crate::section::Sectioned for Exhaustive {
    const SECTION: &'static str = "all";
    type Config = AllConfig;
    /// Only `flashnas tabulate` sets it: a campaign's copy leaves it out.
    const WRITE_DEFAULT: bool = false;
}

impl super::Registered for Exhaustive {
    fn validate(c: &AllConfig, _s: &super::Settings) -> Result<(), String> {
        c.validate()
    }
    /// Warm starts are drawn for a population of aging's size.
    fn population(_c: &AllConfig, s: &super::Settings) -> usize {
        s.sections.aging.population
    }
    fn build(
        c: &AllConfig,
        s: &super::Settings,
        _init: &dyn Fn(usize) -> super::InitialPopulation,
    ) -> Box<dyn Strategy> {
        Box::new(Exhaustive::new(
            s.space.clone(),
            c.proposals.unwrap_or(s.evaluations),
        ))
    }
}
