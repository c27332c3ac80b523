//! The initial population every strategy starts from: warm-start designs, the config's
//! seeded designs, the hand-designed family shapes, then random genomes, until `n` members
//! exist (or the budget runs out); then it waits for all of them, since the first cycle needs
//! their results. A member priced over the latency budget is not trained and leaves; a random
//! genome takes its place.

use super::{Ask, Proposal, Submitted, View};
use crate::genome::{parse_layer_types, Genome, SpaceConfig};
use crate::journal::{Origin, Record, RecordStatus};
use flashnas_model::spec::LayerKind;
use flashnas_model::ArchSpec;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A known architecture put into the initial population.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDesign {
    /// Nemotron-Flash `layer_types` (e.g. `["m2", "f", "a", "f"]`).
    #[serde(default)]
    pub layer_types: Option<Vec<String>>,
    /// Or an Arch JSON file (its layer list is used, at `width` or its d_model).
    #[serde(default)]
    pub arch: Option<String>,
    #[serde(default)]
    pub width: Option<usize>,
}

/// `[warm_start]` of a campaign config: the initial population begins with the best feasible
/// genomes of earlier campaigns (chosen by the warm-start module when the campaign opens).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmStartConfig {
    /// Earlier campaign directories.
    pub from: Vec<String>,
    /// How many genomes to take (default: the strategy's population size).
    #[serde(default)]
    pub count: Option<usize>,
}

impl WarmStartConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.from.is_empty() {
            return Err("from: name at least one earlier campaign directory".into());
        }
        if self.count == Some(0) {
            return Err("count: must be at least 1".into());
        }
        Ok(())
    }
}

/// One chosen design: its genome, where it came from and, when the settings match, the
/// earlier evaluation to reuse.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WarmSeed {
    pub source: String,
    pub id: usize,
    pub genome: Genome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reusable: Option<Record>,
}

pub struct InitialPopulation {
    n: usize,
    space: SpaceConfig,
    dir: PathBuf,
    warm: Vec<WarmSeed>,
    seeds: Vec<SeedDesign>,
    /// Hand-designed family shapes (`[family_seeds]`), each proposed whatever `n`.
    family: Vec<Genome>,
    /// Next design: warm starts, then seeds, then family shapes (`warm.len() + i`, …).
    next: usize,
    /// The last proposal was a random genome (its duplicates count towards exhaustion).
    random_phase: bool,
    dup_streak: usize,
    /// Proposed designs that will be trained (a proposal priced over the budget leaves).
    members: Vec<usize>,
}

impl InitialPopulation {
    /// `n` members: `warm` designs, then `seeds` (arch files resolved against `dir`), then
    /// every `family` shape, then random genomes of `space`.
    pub fn new(
        space: SpaceConfig,
        seeds: Vec<SeedDesign>,
        dir: &Path,
        warm: Vec<WarmSeed>,
        family: Vec<Genome>,
        n: usize,
    ) -> Self {
        Self {
            n,
            space,
            dir: dir.to_path_buf(),
            warm,
            seeds,
            family,
            next: 0,
            random_phase: false,
            dup_streak: 0,
            members: Vec::new(),
        }
    }

    fn seed_genome(&self, i: usize) -> crate::error::Result<Genome> {
        use crate::error::Error;
        let s = &self.seeds[i];
        let (layers, width): (Vec<LayerKind>, usize) = match (&s.layer_types, &s.arch) {
            (Some(l), _) => (
                parse_layer_types(l).map_err(|e| Error::Config(format!("seeds[{i}].{e}")))?,
                s.width.unwrap_or(self.space.widths[0]),
            ),
            (None, Some(a)) => {
                let spec =
                    ArchSpec::from_file(&flashnas_training::config::resolve_path(a, &self.dir))
                        .map_err(|e| Error::Config(format!("seeds[{i}].arch: {e}")))?;
                (
                    spec.layers.iter().map(|e| e.kind).collect(),
                    s.width.unwrap_or(spec.d_model),
                )
            }
            _ => unreachable!("validated"),
        };
        Ok(Genome::from_layers(&layers, width, &self.space))
    }

    /// The next initial member to propose, `Wait` while results are out, or `None` once all
    /// are in. A member priced over the budget is replaced (by a random genome) until `n`
    /// members will be trained or the budget is spent.
    pub fn ask(&mut self, view: &View, rng: &mut ChaCha8Rng) -> crate::error::Result<Option<Ask>> {
        let full = self.members.len() >= self.n || !view.budget_left;
        let (warm, seeds) = (self.warm.len(), self.seeds.len());
        let designed = warm + seeds + self.family.len();
        // Warm starts and seeds fill the population; family shapes are all proposed (they
        // are the grid the search must beat), while the budget lasts.
        while self.next < designed {
            let i = self.next;
            let is_family = i >= warm + seeds;
            if (is_family && !view.budget_left) || (!is_family && full) {
                self.next += 1;
                continue;
            }
            self.next += 1;
            self.random_phase = false;
            let (genome, origin) = if i < warm {
                (self.warm[i].genome.clone(), Origin::WarmStart)
            } else if i < warm + seeds {
                (self.seed_genome(i - warm)?, Origin::Seed)
            } else {
                (self.family[i - warm - seeds].clone(), Origin::Family)
            };
            return Ok(Some(Ask::Propose(Proposal::initial(genome, origin))));
        }
        if !full && self.dup_streak <= 200 {
            self.random_phase = true;
            return Ok(Some(Ask::Propose(Proposal::initial(
                Genome::random(&self.space, rng),
                Origin::Random,
            ))));
        }
        Ok(if view.in_flight > 0 {
            Some(Ask::Wait)
        } else {
            None
        })
    }

    pub fn submitted(&mut self, outcome: Submitted) {
        match outcome {
            Submitted::New(id) => {
                self.members.push(id);
                if self.random_phase {
                    self.dup_streak = 0;
                }
            }
            Submitted::Duplicate(_) if self.random_phase => self.dup_streak += 1,
            Submitted::Duplicate(_) => {}
        }
    }

    /// A result came in: a member priced over the budget (untrained) leaves, so that the
    /// population is made of candidates that were trained.
    pub fn tell(&mut self, view: &View, id: usize) {
        if view.records[id].status == RecordStatus::OverBudget {
            // It was proposed lately: look from the end (a campaign of random search holds
            // every candidate as a member).
            if let Some(k) = self.members.iter().rposition(|&m| m == id) {
                self.members.remove(k);
            }
        }
    }

    pub fn members(&self) -> &[usize] {
        &self.members
    }

    /// The population the evolution starts from: the members, or when the family shapes made
    /// more than `n`, the best `n` by `rank` (best first), kept in id order (oldest first).
    pub fn population(
        &self,
        view: &View,
        rank: impl Fn(&View, &[usize]) -> Vec<usize>,
    ) -> Vec<usize> {
        if self.members.len() <= self.n {
            return self.members.clone();
        }
        let mut best: Vec<usize> = rank(view, &self.members).into_iter().take(self.n).collect();
        best.sort_unstable();
        best
    }
}

/// `members` best first by proxy loss among the feasible, then the least over the budget
/// (ties to the lower id): aging evolution's order of merit.
pub fn by_loss(view: &View, members: &[usize]) -> Vec<usize> {
    let r = view.records;
    let mut order = members.to_vec();
    order.sort_by(|&a, &b| {
        let key = |i: usize| {
            let v = super::violation(&r[i], view.budget_s);
            (v > 0.0, v, r[i].loss())
        };
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0)
            .then(ka.1.total_cmp(&kb.1))
            .then(ka.2.total_cmp(&kb.2))
            .then(a.cmp(&b))
    });
    order
}
