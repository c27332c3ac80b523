//! The campaign config (TOML): search space, strategy, budget, latency target and source,
//! objectives, the proxy training config and data, seed. Validated fully before any work;
//! unknown keys are rejected and every error names the key.

use crate::genome::entries;
pub use flashnas_latency::config::{roofline_of, LatencyConfig};
use flashnas_latency::DeviceModel;
use flashnas_model::spec::LayerKind;
use flashnas_model::ArchSpec;
use flashnas_training::TrainConfig;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Aging evolution (the paper's Algorithm 1).
    Aging,
    Nsga2,
    /// Random search: the baseline at the same evaluation budget.
    Random,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WidthRule {
    /// The width is a gene, mutated like the others.
    Gene,
    /// The paper's rule: after the structure, the largest width that meets the latency budget.
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
    WidthRule::Gene
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

    /// The architecture of a layer list at a width.
    pub fn arch_for(&self, layers: &[LayerKind], width: usize, vocab_size: usize) -> ArchSpec {
        let heads = (width / self.head_dim).max(1);
        let kv = self.kv_heads.map(|k| k.min(heads)).unwrap_or(heads);
        let spec = json!({
            "vocab_size": vocab_size,
            "d_model": width,
            "n_meta": self.n_meta,
            "attention": {"n_heads": heads, "n_kv_heads": kv, "head_dim": self.head_dim},
            "mamba2": {"d_state": self.mamba_d_state, "head_dim": self.mamba_head_dim.unwrap_or(self.head_dim), "chunk_size": self.chunk_size},
            "deltanet": {"n_heads": heads, "head_k_dim": self.head_dim, "head_v_dim": self.head_dim, "chunk_size": self.chunk_size},
            "gated_deltanet": {"n_heads": heads, "head_k_dim": self.head_dim, "head_v_dim": self.head_dim, "chunk_size": self.chunk_size},
            "ffn": {"ratio": self.ffn_ratio, "multiple_of": self.ffn_multiple_of},
            "layers": entries(layers, self.swa_window),
        });
        serde_json::from_value(spec).expect("well-formed arch JSON")
    }

    fn validate(&self) -> Result<(), String> {
        if self.stages == 0 || self.stages > 3 {
            return Err(format!("space.stages: {} must be 1, 2 or 3", self.stages));
        }
        if self.mixers.is_empty() {
            return Err("space.mixers: list at least one mixer kind".into());
        }
        for m in &self.mixers {
            match LayerKind::parse(m) {
                Some(k) if k.is_mixer() => {}
                _ => return Err(format!("space.mixers: '{m}' is not a mixer kind (attention, swa, mamba2, deltanet, gated_deltanet)")),
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferencePoint {
    pub loss: f64,
    pub latency_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectivesConfig {
    /// Extra NSGA-II objectives beyond proxy loss and decode latency: `params`, `state_bytes`.
    #[serde(default)]
    pub extra: Vec<String>,
    /// Hypervolume reference point (loss, latency).
    pub reference_point: ReferencePoint,
}

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignConfig {
    pub name: String,
    #[serde(default)]
    pub seed: u64,
    pub strategy: Strategy,
    /// Evaluation budget (distinct candidates trained and timed).
    pub evaluations: usize,
    pub space: SpaceConfig,
    #[serde(default)]
    pub aging: AgingConfig,
    #[serde(default)]
    pub nsga2: Nsga2Config,
    pub latency: LatencyConfig,
    pub objectives: ObjectivesConfig,
    pub train: TrainConfig,
    #[serde(default)]
    pub seeds: Vec<SeedDesign>,
    /// Start from the best feasible genomes of earlier campaigns.
    #[serde(default)]
    pub warm_start: Option<crate::warm_start::WarmStartConfig>,
    /// Who evaluates candidates: in this process, a local worker pool, or Slurm.
    #[serde(default)]
    pub executor: crate::executor::ExecutorConfig,
    /// Proxy fidelity audit run at the end of `flashnas search` when enabled.
    #[serde(default)]
    pub audit: crate::audit::AuditConfig,
}

impl CampaignConfig {
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, String> {
        let cfg: CampaignConfig =
            toml::from_str(text).map_err(|e| format!("{origin}: {}", e.to_string().trim()))?;
        cfg.validate().map_err(|e| format!("{origin}: {e}"))?;
        Ok(cfg)
    }

    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.contains('/') {
            return Err("name: must be non-empty and without '/'".into());
        }
        if self.evaluations == 0 {
            return Err("evaluations: the budget must be at least 1".into());
        }
        self.space.validate()?;
        match self.strategy {
            Strategy::Aging => {
                let a = &self.aging;
                if a.population < 2
                    || a.sample == 0
                    || a.sample > a.population
                    || a.offspring_per_cycle == 0
                {
                    return Err(format!("aging: need population ≥ 2, 1 ≤ sample ≤ population, offspring_per_cycle ≥ 1 (got {}, {}, {})", a.population, a.sample, a.offspring_per_cycle));
                }
            }
            Strategy::Nsga2 => {
                if self.nsga2.population < 2 {
                    return Err("nsga2.population: must be at least 2".into());
                }
                if !(0.0..=1.0).contains(&self.nsga2.crossover) {
                    return Err("nsga2.crossover: must be in [0, 1]".into());
                }
            }
            Strategy::Random => {}
        }
        let l = &self.latency;
        match (l.budget_s, l.budget_ref) {
            (Some(b), None) if !(b > 0.0 && b.is_finite()) => {
                return Err(format!("latency.budget_s: {b} must be > 0"))
            }
            (None, Some(b)) if !(b > 0.0 && b.is_finite()) => {
                return Err(format!("latency.budget_ref: {b} must be > 0"))
            }
            (Some(_), None) | (None, Some(_)) => {}
            _ => {
                return Err(
                    "latency: set exactly one of budget_s (seconds) or budget_ref (× the reference model)"
                        .into(),
                )
            }
        }
        l.validate_protocol()?;
        if l.uses_reference() {
            let layers = crate::genome::parse_layer_types(&l.reference)
                .map_err(|e| format!("latency.reference: {e}"))?;
            if layers.is_empty() {
                return Err("latency.reference: list at least one layer".into());
            }
            let w = l
                .reference_width
                .unwrap_or_else(|| self.space.widths.iter().copied().min().unwrap_or(0));
            self.space
                .arch_for(&layers, w, 256)
                .validate()
                .map_err(|e| {
                    format!("latency.reference_width: width {w} gives an invalid reference: {e}")
                })?;
        }
        for e in &self.objectives.extra {
            if e != "params" && e != "state_bytes" {
                return Err(format!(
                    "objectives.extra: '{e}' is not an objective (params, state_bytes)"
                ));
            }
        }
        let r = &self.objectives.reference_point;
        if !(r.loss > 0.0 && r.latency_s > 0.0) {
            return Err("objectives.reference_point: loss and latency_s must be > 0".into());
        }
        self.train.validate().map_err(|e| format!("train.{e}"))?;
        self.executor
            .validate()
            .map_err(|e| format!("executor.{e}"))?;
        if self.audit.enabled {
            self.audit.validate().map_err(|e| format!("audit.{e}"))?;
        }
        if let Some(w) = &self.warm_start {
            w.validate().map_err(|e| format!("warm_start.{e}"))?;
        }
        for (i, s) in self.seeds.iter().enumerate() {
            match (&s.layer_types, &s.arch) {
                (Some(l), None) => {
                    crate::genome::parse_layer_types(l).map_err(|e| format!("seeds[{i}].{e}"))?;
                }
                (None, Some(_)) => {}
                _ => {
                    return Err(format!(
                        "seeds[{i}]: set exactly one of layer_types or arch"
                    ))
                }
            }
            if let Some(w) = s.width {
                if w == 0 {
                    return Err(format!("seeds[{i}].width: must be > 0"));
                }
            }
        }
        Ok(())
    }

    /// The reference model of the latency config at the campaign's vocabulary, when used.
    pub fn reference_spec(&self, vocab_size: usize) -> Option<ArchSpec> {
        let l = &self.latency;
        if !l.uses_reference() {
            return None;
        }
        let layers = crate::genome::parse_layer_types(&l.reference).ok()?;
        let width = l
            .reference_width
            .or_else(|| self.space.widths.iter().copied().min())?;
        Some(self.space.arch_for(&layers, width, vocab_size))
    }

    /// The roofline device of an analytic campaign.
    pub fn roofline(&self) -> Option<DeviceModel> {
        roofline_of(&self.latency)
    }
}
