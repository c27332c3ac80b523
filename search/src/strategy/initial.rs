//! The initial population every strategy starts from: warm-start designs, the config's
//! seeded designs, then random genomes, until `n` members exist (or the budget runs out);
//! then it waits for all of them, since the first cycle needs their results.

use super::{Ask, Proposal, Submitted, View};
use crate::config::{CampaignConfig, SeedDesign, SpaceConfig};
use crate::genome::{parse_layer_types, Genome};
use crate::journal::Origin;
use crate::warm_start::WarmSeed;
use flashnas_model::spec::LayerKind;
use flashnas_model::ArchSpec;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

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
    pub fn new(cfg: &CampaignConfig, dir: &Path, warm: Vec<WarmSeed>, n: usize) -> Self {
        Self {
            n,
            space: cfg.space.clone(),
            dir: dir.to_path_buf(),
            warm,
            seeds: cfg.seeds.clone(),
            next: 0,
            random_phase: false,
            dup_streak: 0,
            members: Vec::new(),
            draining: false,
        }
    }

    fn seed_genome(&self, i: usize) -> Result<Genome, String> {
        let s = &self.seeds[i];
        let (layers, width): (Vec<LayerKind>, usize) = match (&s.layer_types, &s.arch) {
            (Some(l), _) => (
                parse_layer_types(l)?,
                s.width.unwrap_or(self.space.widths[0]),
            ),
            (None, Some(a)) => {
                let spec =
                    ArchSpec::from_file(&flashnas_training::config::resolve_path(a, &self.dir))
                        .map_err(|e| format!("seeds[{i}].arch: {e}"))?;
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
        })
    }

    /// The next initial member to propose, `Wait` while results are out, or `Done` with the
    /// members once all are in.
    pub fn ask(&mut self, view: &View, rng: &mut ChaCha8Rng) -> Result<Option<Ask>, String> {
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
