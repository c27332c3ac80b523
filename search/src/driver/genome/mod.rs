//! Genomes of the Nemotron-Flash 3-stage block search space.
//!
//! A genome has up to 3 stages; each stage repeats one block type `repeats` times. A block
//! type has one or two mixer kinds, a ratio between them (`a:b` = a blocks of the first, b of
//! the second kind, in that order) and 0–2 FFNs after each mixer. The width is a gene or is
//! chosen afterwards (the paper's rule). A genome decodes deterministically to a layer list
//! and an `ArchSpec`; its canonical string identifies duplicates.

mod space;

use flashnas_model::spec::{LayerEntry, LayerKind};
use flashnas_model::ArchSpec;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
pub use space::{parse_ratio, SpaceConfig, WidthRule};

/// One block type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Block {
    /// First mixer kind, used `ratio.0` times per block.
    pub first: LayerKind,
    /// Second mixer kind, used `ratio.1` times per block.
    pub second: LayerKind,
    /// `(a, b)`: a mixers of `first`, then b of `second`. `(0, 1)` is a single-kind block.
    pub ratio: (u8, u8),
    /// FFNs after each mixer (0, 1 or 2).
    pub ffns: u8,
}

impl Block {
    /// The sublayers of one block.
    pub fn layers(&self) -> Vec<LayerKind> {
        let mut out = Vec::new();
        let mixers = std::iter::repeat_n(self.first, self.ratio.0 as usize)
            .chain(std::iter::repeat_n(self.second, self.ratio.1 as usize));
        for m in mixers {
            out.push(m);
            out.extend(std::iter::repeat_n(LayerKind::Ffn, self.ffns as usize));
        }
        out
    }

    pub fn depth(&self) -> usize {
        (self.ratio.0 as usize + self.ratio.1 as usize) * (1 + self.ffns as usize)
    }

    /// Canonical form: a ratio of 0 makes `first` irrelevant, and 1:1 of one kind is 0:2.
    fn canonical(mut self) -> Self {
        if self.ratio.0 == 0 || self.first == self.second {
            self.ratio = (0, self.ratio.0 + self.ratio.1);
            self.first = self.second;
        }
        self
    }
}

/// One stage: a block type repeated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stage {
    pub block: Block,
    pub repeats: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Genome {
    pub stages: Vec<Stage>,
    /// The width (d_model). With `width = "fit_budget"` it is set after the structure.
    pub width: usize,
}

/// Which factor a mutation changed (journaled with the child).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    Operator,
    Ratio,
    Ffns,
    BlockCounts,
    Width,
}

impl Genome {
    /// The sublayers in order.
    pub fn layers(&self) -> Vec<LayerKind> {
        self.stages
            .iter()
            .flat_map(|s| std::iter::repeat_n(s.block.layers(), s.repeats).flatten())
            .collect()
    }

    pub fn depth(&self) -> usize {
        self.stages
            .iter()
            .map(|s| s.repeats * s.block.depth())
            .sum()
    }

    /// The genome string, e.g. `m2 f a f | w64`.
    pub fn key(&self) -> String {
        let layers: Vec<&str> = self.layers().iter().map(|k| k.short()).collect();
        format!("{} | w{}", layers.join(" "), self.width)
    }

    /// The structural description, e.g. `[a:m2 1:3 f1 ×2][d f2 ×1] w64` (`[a*3 f1 ×1]`: a
    /// block of three attention mixers, each with one FFN).
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for st in &self.stages {
            let b = &st.block;
            let mix = if b.ratio.0 == 0 && b.ratio.1 == 1 {
                b.second.short().to_string()
            } else if b.ratio.0 == 0 {
                // A single-kind block of several mixers (a 1:1 of one kind, or a family shape).
                format!("{}*{}", b.second.short(), b.ratio.1)
            } else {
                format!(
                    "{}:{} {}:{}",
                    b.first.short(),
                    b.second.short(),
                    b.ratio.0,
                    b.ratio.1
                )
            };
            s.push_str(&format!("[{mix} f{} ×{}]", b.ffns, st.repeats));
        }
        format!("{s} w{}", self.width)
    }

    /// Removes blocks from the last stage (then the one before) until the depth cap holds;
    /// drops empty stages; canonicalizes block types.
    pub fn repair(&mut self, depth_cap: usize) {
        for s in &mut self.stages {
            s.block = s.block.clone().canonical();
        }
        self.stages.retain(|s| s.repeats > 0);
        while self.depth() > depth_cap {
            let last = self.stages.len() - 1;
            if self.stages[last].repeats > 1 || self.stages.len() == 1 {
                self.stages[last].repeats -= 1;
            } else {
                self.stages.pop();
            }
            if self.stages.last().is_some_and(|s| s.repeats == 0) {
                self.stages.pop();
            }
            if self.stages.is_empty() {
                break;
            }
        }
    }

    /// Whether the genome is non-empty and within the space's rules.
    pub fn is_valid(&self, space: &SpaceConfig) -> bool {
        !self.stages.is_empty()
            && self.stages.len() <= space.stages
            && self.depth() <= space.depth_cap
            && self.depth() > 0
            && self.stages.iter().all(|s| {
                s.repeats >= 1 && s.repeats <= space.max_repeats && s.block.ffns as usize <= 2
            })
    }

    /// A random valid genome.
    pub fn random(space: &SpaceConfig, rng: &mut impl Rng) -> Genome {
        loop {
            let n = rng.gen_range(1..=space.stages);
            let stages = (0..n)
                .map(|_| Stage {
                    block: random_block(space, rng),
                    repeats: rng.gen_range(1..=space.max_repeats),
                })
                .collect();
            let mut g = Genome {
                stages,
                width: *space.widths.choose(rng).expect("widths non-empty"),
            };
            g.repair(space.depth_cap);
            if g.is_valid(space) {
                return g;
            }
        }
    }

    /// Every distinct genome of the space (by key: layer list and width), in a fixed order;
    /// `None` when there are more than `max` (then sample instead).
    pub fn enumerate(space: &SpaceConfig, max: usize) -> Option<Vec<Genome>> {
        let kinds = space.mixer_kinds();
        let mut blocks: Vec<Block> = Vec::new();
        for ratio in space.ratio_pairs() {
            for &second in &kinds {
                // A two-kind block whose kinds coincide (a mutation can make one)
                // canonicalizes to a longer single-kind block.
                for &first in &kinds {
                    if ratio.0 == 0 && first != second {
                        continue;
                    }
                    for &ffns in &space.ffns {
                        let b = Block {
                            first,
                            second,
                            ratio,
                            ffns,
                        }
                        .canonical();
                        if !blocks.contains(&b) {
                            blocks.push(b);
                        }
                    }
                }
            }
        }
        let stage_choices: Vec<Stage> = blocks
            .iter()
            .flat_map(|b| {
                (1..=space.max_repeats).map(|repeats| Stage {
                    block: b.clone(),
                    repeats,
                })
            })
            .filter(|s| s.repeats * s.block.depth() <= space.depth_cap)
            .collect();
        let mut structures: Vec<Vec<Stage>> = Vec::new();
        let mut frontier: Vec<Vec<Stage>> = vec![Vec::new()];
        for _ in 0..space.stages {
            let mut next = Vec::new();
            for prefix in &frontier {
                let depth: usize = prefix.iter().map(|s| s.repeats * s.block.depth()).sum();
                for s in &stage_choices {
                    if depth + s.repeats * s.block.depth() <= space.depth_cap {
                        let mut g = prefix.clone();
                        g.push(s.clone());
                        next.push(g);
                        if structures.len() + next.len() > max {
                            return None;
                        }
                    }
                }
            }
            structures.extend(next.iter().cloned());
            frontier = next;
        }
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for stages in structures {
            for &width in &space.widths {
                let g = Genome {
                    stages: stages.clone(),
                    width,
                };
                if g.is_valid(space) && seen.insert(g.key()) {
                    out.push(g);
                    if out.len() > max {
                        return None;
                    }
                }
            }
        }
        Some(out)
    }

    /// Changes exactly one factor (retrying until the repaired genome differs).
    pub fn mutate(&self, space: &SpaceConfig, rng: &mut impl Rng) -> (Genome, Factor) {
        let mut factors = vec![
            Factor::Operator,
            Factor::Ratio,
            Factor::Ffns,
            Factor::BlockCounts,
        ];
        if space.width_is_gene() && space.widths.len() > 1 {
            factors.push(Factor::Width);
        }
        for _ in 0..1000 {
            let factor = *factors.choose(rng).expect("factors");
            let mut g = self.clone();
            let si = rng.gen_range(0..g.stages.len());
            let b = &mut g.stages[si].block;
            match factor {
                Factor::Operator => {
                    let kind = *space.mixer_kinds().choose(rng).expect("mixers");
                    if b.ratio.0 > 0 && rng.gen_bool(0.5) {
                        b.first = kind;
                    } else {
                        b.second = kind;
                    }
                }
                Factor::Ratio => {
                    let r = *space.ratio_pairs().choose(rng).expect("ratios");
                    if r.0 > 0 && b.ratio.0 == 0 {
                        // introducing a second kind: pick one different from the current
                        let others: Vec<LayerKind> = space
                            .mixer_kinds()
                            .into_iter()
                            .filter(|k| *k != b.second)
                            .collect();
                        match others.choose(rng) {
                            Some(k) => b.first = *k,
                            None => continue,
                        }
                    }
                    b.ratio = r;
                }
                Factor::Ffns => b.ffns = *space.ffns.choose(rng).expect("ffns"),
                Factor::BlockCounts => {
                    // Move a block between stages, or add / remove one, or add / drop a stage.
                    match rng.gen_range(0..3) {
                        0 if g.stages.len() > 1 => {
                            let to = rng.gen_range(0..g.stages.len());
                            if to == si || g.stages[to].repeats >= space.max_repeats {
                                continue;
                            }
                            g.stages[si].repeats -= 1;
                            g.stages[to].repeats += 1;
                        }
                        1 => {
                            let s = &mut g.stages[si];
                            if rng.gen_bool(0.5) && s.repeats < space.max_repeats {
                                s.repeats += 1;
                            } else if s.repeats > 1 {
                                s.repeats -= 1;
                            } else {
                                continue;
                            }
                        }
                        _ => {
                            if g.stages.len() < space.stages && rng.gen_bool(0.5) {
                                g.stages.push(Stage {
                                    block: random_block(space, rng),
                                    repeats: 1,
                                });
                            } else if g.stages.len() > 1 {
                                g.stages.remove(si);
                            } else {
                                continue;
                            }
                        }
                    }
                }
                Factor::Width => {
                    let w = *space.widths.choose(rng).expect("widths");
                    g.width = w;
                }
            }
            g.repair(space.depth_cap);
            if g != *self && g.is_valid(space) {
                return (g, factor);
            }
        }
        // A space with a single point cannot change; return the parent (a duplicate).
        (self.clone(), Factor::Operator)
    }

    /// Stage-level crossover (NSGA-II): each stage position from either parent.
    pub fn crossover(&self, other: &Genome, space: &SpaceConfig, rng: &mut impl Rng) -> Genome {
        let n = if rng.gen_bool(0.5) {
            self.stages.len()
        } else {
            other.stages.len()
        };
        let stages = (0..n)
            .filter_map(|i| {
                let pick = if rng.gen_bool(0.5) {
                    self.stages.get(i).or(other.stages.get(i))
                } else {
                    other.stages.get(i).or(self.stages.get(i))
                };
                pick.cloned()
            })
            .collect();
        let width = if rng.gen_bool(0.5) {
            self.width
        } else {
            other.width
        };
        let mut g = Genome { stages, width };
        g.repair(space.depth_cap);
        g
    }

    /// The `ArchSpec` of this genome at its width, for a vocabulary.
    pub fn to_spec(&self, space: &SpaceConfig, vocab_size: usize) -> ArchSpec {
        space.arch_for(&self.layers(), self.width, vocab_size)
    }

    /// The genome whose layers are exactly `layers`, within the space's grammar (at most
    /// `stages` stages, each a block of the space's ratios repeated at most `max_repeats`
    /// times), with the fewest stages; `None` when the grammar cannot spell it. Mixer kinds
    /// outside `space.mixers` are kept as given.
    pub fn exact(layers: &[LayerKind], width: usize, space: &SpaceConfig) -> Option<Genome> {
        let mut units: Vec<(LayerKind, u8)> = Vec::new();
        for &k in layers {
            if k == LayerKind::Ffn {
                let u = units.last_mut()?;
                u.1 += 1;
                if u.1 > 2 {
                    return None;
                }
            } else {
                units.push((k, 0));
            }
        }
        if units.is_empty() {
            return None;
        }
        let ratios = space.ratio_pairs();
        // Single-kind blocks of m mixers: 0:b ratios, and a:b ratios of one kind (canonical).
        let mut singles: Vec<u8> = ratios.iter().map(|r| r.0 + r.1).collect();
        singles.push(1);
        singles.sort_unstable();
        singles.dedup();
        let n = units.len();
        // best[i]: the fewest stages spelling units[i..], with the first stage and where it ends.
        let mut best: Vec<Option<(usize, usize, Stage)>> = vec![None; n + 1];
        let mut done = vec![false; n + 1];
        done[n] = true;
        for i in (0..n).rev() {
            let (k1, f) = units[i];
            let mut blocks: Vec<Block> = singles
                .iter()
                .map(|&m| Block {
                    first: k1,
                    second: k1,
                    ratio: (0, m),
                    ffns: f,
                })
                .collect();
            for &(a, b) in ratios.iter().filter(|r| r.0 > 0) {
                if let Some(&(k2, _)) = units.get(i + a as usize) {
                    if k2 != k1 {
                        blocks.push(Block {
                            first: k1,
                            second: k2,
                            ratio: (a, b),
                            ffns: f,
                        });
                    }
                }
            }
            for block in blocks {
                let unit_list: Vec<(LayerKind, u8)> = std::iter::repeat_n(
                    (block.first, block.ffns),
                    if block.ratio.0 == 0 {
                        0
                    } else {
                        block.ratio.0 as usize
                    },
                )
                .chain(std::iter::repeat_n(
                    (block.second, block.ffns),
                    block.ratio.1 as usize,
                ))
                .collect();
                let len = unit_list.len();
                for r in (1..=space.max_repeats).rev() {
                    let end = i + r * len;
                    if end > n
                        || !done[end]
                        || !(0..r).all(|k| units[i + k * len..i + (k + 1) * len] == unit_list[..])
                    {
                        continue;
                    }
                    let count = best[end].as_ref().map_or(0, |b| b.0) + 1;
                    if best[i].as_ref().is_none_or(|b| count < b.0) {
                        best[i] = Some((
                            count,
                            end,
                            Stage {
                                block: block.clone().canonical(),
                                repeats: r,
                            },
                        ));
                        done[i] = true;
                    }
                }
            }
        }
        let (count, _, _) = best[0].as_ref()?;
        if *count > space.stages {
            return None;
        }
        let mut stages = Vec::new();
        let mut i = 0;
        while i < n {
            let (_, end, stage) = best[i].clone().expect("a spelling");
            stages.push(stage);
            i = end;
        }
        let g = Genome { stages, width };
        (g.layers() == layers).then_some(g)
    }

    /// The nearest genome of a layer list (seeded designs outside the space's grammar are
    /// approximated: consecutive mixer units with the same FFN count form a stage).
    pub fn from_layers(layers: &[LayerKind], width: usize, space: &SpaceConfig) -> Genome {
        // Units: a mixer and the FFNs after it.
        let mut units: Vec<(LayerKind, u8)> = Vec::new();
        for k in layers {
            match (k, units.last_mut()) {
                (LayerKind::Ffn, Some(u)) => u.1 = (u.1 + 1).min(2),
                (LayerKind::Ffn, None) => {}
                (m, _) => units.push((*m, 0)),
            }
        }
        let mut groups: Vec<Vec<(LayerKind, u8)>> = Vec::new();
        for u in units {
            match groups.last_mut() {
                Some(g) if g[0].1 == u.1 => g.push(u),
                _ => groups.push(vec![u]),
            }
        }
        while groups.len() > space.stages {
            let last = groups.pop().expect("non-empty");
            groups.last_mut().expect("non-empty").extend(last);
        }
        let stages = groups
            .into_iter()
            .map(|g| {
                let mut kinds: Vec<LayerKind> = Vec::new();
                for (k, _) in &g {
                    if !kinds.contains(k) {
                        kinds.push(*k);
                    }
                }
                let ffns = g[0].1;
                if kinds.len() == 1 {
                    return Stage {
                        block: Block {
                            first: kinds[0],
                            second: kinds[0],
                            ratio: (0, 1),
                            ffns,
                        },
                        repeats: g.len().min(space.max_repeats),
                    };
                }
                let (a, b) = (kinds[0], kinds[1]);
                let na = g.iter().filter(|u| u.0 == a).count().max(1);
                let nb = g.iter().filter(|u| u.0 == b).count().max(1);
                let ratio = space
                    .ratio_pairs()
                    .into_iter()
                    .filter(|r| r.0 > 0)
                    .min_by(|x, y| {
                        let dx = (x.1 as f64 / x.0 as f64 - nb as f64 / na as f64).abs();
                        let dy = (y.1 as f64 / y.0 as f64 - nb as f64 / na as f64).abs();
                        dx.partial_cmp(&dy).expect("finite")
                    })
                    .unwrap_or((1, 1));
                let per_block = ratio.0 as usize + ratio.1 as usize;
                Stage {
                    block: Block {
                        first: a,
                        second: b,
                        ratio,
                        ffns,
                    },
                    repeats: (g.len() / per_block).clamp(1, space.max_repeats),
                }
            })
            .collect();
        let mut g = Genome { stages, width };
        g.repair(space.depth_cap);
        g
    }
}

fn random_block(space: &SpaceConfig, rng: &mut impl Rng) -> Block {
    let kinds = space.mixer_kinds();
    let ratio = *space.ratio_pairs().choose(rng).expect("ratios");
    let second = *kinds.choose(rng).expect("mixers");
    let first = if ratio.0 > 0 {
        *kinds
            .iter()
            .filter(|k| **k != second)
            .collect::<Vec<_>>()
            .choose(rng)
            .copied()
            .unwrap_or(&second)
    } else {
        second
    };
    Block {
        first,
        second,
        ratio,
        ffns: *space.ffns.choose(rng).expect("ffns"),
    }
    .canonical()
}

/// Layers of an explicit list (for seeded designs): NF spellings.
pub fn parse_layer_types(list: &[String]) -> crate::error::Result<Vec<LayerKind>> {
    layer_kinds(list).map_err(crate::error::Error::Config)
}

/// [`parse_layer_types`], its error a `layer_types[i]: …` fragment for a caller to place.
pub(crate) fn layer_kinds(list: &[String]) -> Result<Vec<LayerKind>, String> {
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            LayerKind::parse(s).ok_or_else(|| format!("layer_types[{i}]: unknown kind '{s}'"))
        })
        .collect()
}

/// Entries for a layer list (swa gets the space's window).
pub fn entries(layers: &[LayerKind], swa_window: usize) -> Vec<LayerEntry> {
    layers
        .iter()
        .map(|k| match k {
            LayerKind::Swa => LayerEntry::new(*k).with("window", swa_window as u64),
            _ => LayerEntry::new(*k),
        })
        .collect()
}
