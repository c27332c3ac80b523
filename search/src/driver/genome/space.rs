//! The search space (`[space]` of a campaign config): which genomes exist and the
//! architecture each becomes.

use super::entries;
use flashnas_model::kind::Sizing;
use flashnas_model::spec::LayerKind;
use flashnas_model::ArchSpec;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WidthRule {
    /// The width is a gene, mutated like the others.
    Gene,
    /// The paper's rule (the default): after the structure, the largest width that meets the
    /// latency budget.
    FitBudget,
}

fn d_stages() -> usize {
    3
}
fn d_mixers() -> Vec<String> {
    vec!["attention".into(), "mamba2".into(), "deltanet".into()]
}
fn d_ratios() -> Vec<String> {
    vec!["0:1".into(), "1:1".into(), "1:2".into(), "1:3".into()]
}
fn d_ffns() -> Vec<u8> {
    vec![0, 1, 2]
}
fn d_max_repeats() -> usize {
    3
}
fn d_depth_cap() -> usize {
    30
}
fn d_width_rule() -> WidthRule {
    WidthRule::FitBudget
}
fn d_head_dim() -> usize {
    64
}
fn d_ffn_ratio() -> f64 {
    3.0
}
fn d_multiple_of() -> usize {
    8
}
fn d_swa() -> usize {
    512
}
fn d_d_state() -> usize {
    16
}
fn d_chunk() -> usize {
    64
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceConfig {
    /// Up to this many stages (paper: 3).
    #[serde(default = "d_stages")]
    pub stages: usize,
    /// Allowed mixer kinds.
    #[serde(default = "d_mixers")]
    pub mixers: Vec<String>,
    /// Allowed ratios `a:b` between a block's two mixer kinds (`0:1` = one kind).
    #[serde(default = "d_ratios")]
    pub ratios: Vec<String>,
    /// Allowed FFN counts after each mixer.
    #[serde(default = "d_ffns")]
    pub ffns: Vec<u8>,
    /// Most repeats of a stage's block.
    #[serde(default = "d_max_repeats")]
    pub max_repeats: usize,
    /// Most sublayers (mixers + FFNs) in a model (paper: 30).
    #[serde(default = "d_depth_cap")]
    pub depth_cap: usize,
    /// Candidate widths (d_model).
    pub widths: Vec<usize>,
    #[serde(default = "d_width_rule")]
    pub width: WidthRule,
    #[serde(default)]
    pub n_meta: usize,
    /// Head size of attention / DeltaNet / Gated DeltaNet (heads = width / head_dim).
    #[serde(default = "d_head_dim")]
    pub head_dim: usize,
    /// KV heads per attention layer (GQA); absent means as many as query heads.
    #[serde(default)]
    pub kv_heads: Option<usize>,
    #[serde(default = "d_ffn_ratio")]
    pub ffn_ratio: f64,
    #[serde(default = "d_multiple_of")]
    pub ffn_multiple_of: usize,
    #[serde(default = "d_swa")]
    pub swa_window: usize,
    #[serde(default = "d_d_state")]
    pub mamba_d_state: usize,
    /// Mamba2 head size (defaults to head_dim).
    #[serde(default)]
    pub mamba_head_dim: Option<usize>,
    /// Chunk length of the chunked mixers during training.
    #[serde(default = "d_chunk")]
    pub chunk_size: usize,
}

impl SpaceConfig {
    pub fn mixer_kinds(&self) -> Vec<LayerKind> {
        self.mixers
            .iter()
            .filter_map(|m| LayerKind::parse(m))
            .collect()
    }

    pub fn ratio_pairs(&self) -> Vec<(u8, u8)> {
        self.ratios.iter().filter_map(|r| parse_ratio(r)).collect()
    }

    pub fn width_is_gene(&self) -> bool {
        self.width == WidthRule::Gene
    }

    /// The sizes every kind gets at `width` (heads of `head_dim`, …).
    pub fn sizing(&self, width: usize) -> Sizing {
        Sizing {
            d_model: width,
            head_dim: self.head_dim,
            kv_heads: self.kv_heads,
            ssm_state: self.mamba_d_state,
            ssm_head_dim: self.mamba_head_dim.unwrap_or(self.head_dim),
            chunk_size: self.chunk_size,
            ffn_ratio: self.ffn_ratio,
            ffn_multiple_of: self.ffn_multiple_of,
        }
    }

    /// The architecture of a layer list at a width.
    pub fn arch_for(&self, layers: &[LayerKind], width: usize, vocab_size: usize) -> ArchSpec {
        let mut spec = ArchSpec::sized(
            vocab_size,
            &self.sizing(width),
            entries(layers, self.swa_window),
        );
        spec.n_meta = self.n_meta;
        spec
    }

    /// Checks every field (errors name the key).
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.stages == 0 || self.stages > 3 {
            return Err(format!("space.stages: {} must be 1, 2 or 3", self.stages));
        }
        if self.mixers.is_empty() {
            return Err("space.mixers: list at least one mixer kind".into());
        }
        for m in &self.mixers {
            match LayerKind::parse(m) {
                Some(k) if k.is_mixer() => {}
                _ => {
                    let kinds: Vec<&str> = LayerKind::MIXERS.iter().map(|k| k.name()).collect();
                    return Err(format!(
                        "space.mixers: '{m}' is not a mixer kind ({})",
                        kinds.join(", ")
                    ));
                }
            }
        }
        if self.ratios.is_empty() {
            return Err("space.ratios: list at least one ratio".into());
        }
        for r in &self.ratios {
            if parse_ratio(r).is_none() {
                return Err(format!(
                    "space.ratios: '{r}' must be 'a:b' with small non-negative integers and b ≥ 1"
                ));
            }
        }
        if self
            .ratios
            .iter()
            .any(|r| parse_ratio(r).is_some_and(|p| p.0 > 0))
            && self.mixer_kinds().len() < 2
        {
            return Err(
                "space.ratios: ratios mixing two kinds need at least two space.mixers".into(),
            );
        }
        if self.ffns.is_empty() || self.ffns.iter().any(|f| *f > 2) {
            return Err("space.ffns: values must be 0, 1 or 2, at least one".into());
        }
        if self.max_repeats == 0 {
            return Err("space.max_repeats: must be at least 1".into());
        }
        if self.widths.is_empty() {
            return Err("space.widths: list at least one width".into());
        }
        if self.head_dim == 0 || !self.head_dim.is_multiple_of(2) {
            return Err(format!(
                "space.head_dim: {} must be even and > 0",
                self.head_dim
            ));
        }
        let smallest_block = self
            .ratio_pairs()
            .iter()
            .map(|r| r.0 as usize + r.1 as usize)
            .min()
            .unwrap_or(1)
            * (1 + *self.ffns.iter().min().unwrap_or(&0) as usize);
        if self.depth_cap < smallest_block {
            return Err(format!("space.depth_cap: {} is smaller than the smallest block ({smallest_block} sublayers)", self.depth_cap));
        }
        // Every width must give a valid architecture for every allowed kind.
        for &w in &self.widths {
            let mut layers = self.mixer_kinds();
            layers.push(LayerKind::Ffn);
            let spec = self.arch_for(&layers, w, 256);
            spec.validate().map_err(|e| {
                format!("space.widths: width {w} gives an invalid architecture: {e}")
            })?;
        }
        Ok(())
    }
}

pub fn parse_ratio(s: &str) -> Option<(u8, u8)> {
    let (a, b) = s.split_once(':')?;
    let (a, b): (u8, u8) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (b >= 1 && a <= 8 && b <= 8).then_some((a, b))
}
