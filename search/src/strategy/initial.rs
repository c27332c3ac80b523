//! The initial population every strategy starts from: warm-start designs, the config's
//! seeded designs, then random genomes, until `n` members exist (or the budget runs out);
//! then it waits for all of them, since the first cycle needs their results.

use super::{Ask, Proposal, Submitted, View};
use crate::genome::{parse_layer_types, Genome, SpaceConfig};
use crate::journal::{Origin, Record};
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
    /// Next warm design, then next seed (`warm.len() + i`).
    next: usize,
    /// The last proposal was a random genome (its duplicates count towards exhaustion).
    random_phase: bool,
    dup_streak: usize,
    members: Vec<usize>,
    /// All proposed: waiting for the results.
    draining: bool,
}

impl InitialPopulation {
    /// `n` members: `warm` designs, then `seeds` (arch files resolved against `dir`), then
    /// random genomes of `space`.
    pub fn new(
        space: SpaceConfig,
        seeds: Vec<SeedDesign>,
        dir: &Path,
        warm: Vec<WarmSeed>,
        n: usize,
    ) -> Self {
        Self {
            n,
            space,
            dir: dir.to_path_buf(),
            warm,
            seeds,
            next: 0,
            random_phase: false,
            dup_streak: 0,
            members: Vec::new(),
            draining: false,
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

    fn propose(genome: Genome, origin: Origin) -> Ask {
        Ask::Propose(Proposal {
            genome,
            cycle: 0,
            parent: None,
            second_parent: None,
            origin,
            mutation: None,
            rung: None,
        })
    }

    /// The next initial member to propose, `Wait` while results are out, or `Done` with the
    /// members once all are in.
    pub fn ask(&mut self, view: &View, rng: &mut ChaCha8Rng) -> crate::error::Result<Option<Ask>> {
        let full = |s: &Self| s.members.len() >= s.n || !view.budget_left;
        if !self.draining {
            let designed = self.warm.len() + self.seeds.len();
            if self.next < designed && !full(self) {
                let i = self.next;
                self.next += 1;
                self.random_phase = false;
                return Ok(Some(if i < self.warm.len() {
                    Self::propose(self.warm[i].genome.clone(), Origin::WarmStart)
                } else {
                    Self::propose(self.seed_genome(i - self.warm.len())?, Origin::Seed)
                }));
            }
            self.next = designed;
            if !full(self) && self.dup_streak <= 200 {
                self.random_phase = true;
                return Ok(Some(Self::propose(
                    Genome::random(&self.space, rng),
                    Origin::Random,
                )));
            }
            self.draining = true;
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

    pub fn members(&self) -> &[usize] {
        &self.members
    }
}
