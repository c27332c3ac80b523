//! The campaign config (TOML): search space, strategy, budget, latency target and source,
//! objectives, the proxy training config and data, seed. Validated fully before any work;
//! unknown keys are rejected and every error names the key.

//!
//! Each section's type lives beside what it configures (the space with the genome, the
//! strategies' with their strategies, the executor's, the audit's, the latency protocol in
//! `flashnas-latency`); this file assembles them and checks what spans sections.

pub mod audit;
pub mod validate;

use crate::error::{Error, Result};
pub use crate::executor::ExecutorConfig;
pub use crate::family::{Family, FamilySeedsConfig};
pub use crate::genome::{parse_ratio, SpaceConfig, WidthRule};
use crate::journal::Objective;
pub use crate::racing::RacingConfig;
pub use crate::strategy::{
    AgingConfig, MultiFidelityConfig, Nsga2Config, SeedDesign, StrategyKind, WarmStartConfig,
};
pub use audit::AuditConfig;
pub use flashnas_latency::config::{roofline_of, LatencyConfig};
use flashnas_latency::DeviceModel;
use flashnas_model::ArchSpec;
use flashnas_training::TrainConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferencePoint {
    pub loss: f64,
    pub latency_s: f64,
    /// 1 − recall accuracy, when recall is a quality objective (default 1: any recall counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall_error: Option<f64>,
}

/// What "quality" means to the search: the proxy's language-model loss, the recall probe's
/// accuracy (`[train.recall]`), or both as separate objectives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    #[default]
    Loss,
    Recall,
    Both,
}

fn is_loss(q: &Quality) -> bool {
    *q == Quality::Loss
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectivesConfig {
    /// The quality objective(s) beside latency: `loss` (default), `recall` or `both`.
    /// `recall` and `both` need `[train.recall]` and a strategy that ranks several
    /// objectives (`nsga2`, or `random`); aging evolution takes recall as `recall_min`.
    #[serde(default, skip_serializing_if = "is_loss")]
    pub quality: Quality,
    /// A constraint: a trained candidate whose recall accuracy is below this is infeasible
    /// (never raced, never on the frontier, ranked by how far short), like one over the
    /// latency budget. Needs `[train.recall]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall_min: Option<f64>,
    /// Extra NSGA-II objectives beyond quality and decode latency: `params`, `state_bytes`.
    #[serde(default)]
    pub extra: Vec<Objective>,
    /// Hypervolume reference point (loss, latency, and recall_error when recall is ranked).
    pub reference_point: ReferencePoint,
}

impl ObjectivesConfig {
    /// The campaign's frontier objectives: the quality (loss, recall error, or both) and
    /// latency, in the order `[loss,] latency[, recall_error]`.
    pub fn frontier(&self) -> Vec<Objective> {
        match self.quality {
            Quality::Loss => vec![Objective::Loss, Objective::Latency],
            Quality::Recall => vec![Objective::RecallError, Objective::Latency],
            Quality::Both => vec![Objective::Loss, Objective::Latency, Objective::RecallError],
        }
    }

    /// The frontier objectives as a user reads them: `loss × latency × recall_error`.
    pub fn frontier_names(&self) -> String {
        let names: Vec<&str> = self.frontier().iter().map(|o| o.as_str()).collect();
        names.join(" × ")
    }

    /// What NSGA-II ranks by: the frontier objectives and the extra ones.
    pub fn ranked(&self) -> Vec<Objective> {
        let mut v = self.frontier();
        v.extend(self.extra.iter().copied());
        v
    }

    /// The hypervolume reference of the frontier objectives, in their order.
    pub fn reference(&self) -> Vec<f64> {
        let r = &self.reference_point;
        self.frontier()
            .iter()
            .map(|o| match o {
                Objective::Loss => r.loss,
                Objective::Latency => r.latency_s,
                _ => r.recall_error.unwrap_or(1.0),
            })
            .collect()
    }

    /// Whether the recall probe's accuracy is ranked or constrained.
    pub fn uses_recall(&self) -> bool {
        self.quality != Quality::Loss || self.recall_min.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignConfig {
    pub name: String,
    #[serde(default)]
    pub seed: u64,
    /// A replicate of a tabulation: the same proposals (the campaign seed), trained with
    /// another seed ([`CampaignConfig::train_seed`]). 0 for every ordinary campaign.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replicate: u64,
    pub strategy: StrategyKind,
    /// Evaluation budget (distinct candidates trained and timed).
    pub evaluations: usize,
    pub space: SpaceConfig,
    /// The strategies' own sections (`[aging]`, `[nsga2]`, `[multi_fidelity]`, `[all]`):
    /// each registered strategy's, from the list in `strategy/mod.rs`.
    #[serde(flatten)]
    pub strategies: crate::strategy::StrategySections,
    pub latency: LatencyConfig,
    pub objectives: ObjectivesConfig,
    pub train: TrainConfig,
    #[serde(default)]
    pub seeds: Vec<SeedDesign>,
    /// Start from the best feasible genomes of earlier campaigns.
    #[serde(default)]
    pub warm_start: Option<WarmStartConfig>,
    /// Who evaluates candidates: in this process, a local worker pool, or Slurm.
    #[serde(default)]
    pub executor: ExecutorConfig,
    /// Proxy fidelity audit run at the end of `flashnas search` when enabled.
    #[serde(default)]
    pub audit: AuditConfig,
    /// `flashnas validate`: picks against hand-designed baselines after long training.
    #[serde(default)]
    pub validate: validate::ValidateConfig,
    /// The hand-designed families' shapes in the initial population.
    #[serde(default)]
    pub family_seeds: FamilySeedsConfig,
    /// σ measured and close calls raced over seeds after the search.
    #[serde(default)]
    pub racing: RacingConfig,
    /// Proposals priced over the latency budget in a row (never trained, not counted as
    /// evaluations) before the campaign stops: the search cannot find the budget.
    #[serde(default = "d_pricing_attempts")]
    pub pricing_attempts: usize,
    /// Large-batch decode throughput of every candidate (an objective or a constraint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<crate::throughput::ThroughputConfig>,
}

pub(crate) fn quality_name(q: Quality) -> &'static str {
    match q {
        Quality::Loss => "loss",
        Quality::Recall => "recall",
        Quality::Both => "both",
    }
}

fn d_pricing_attempts() -> usize {
    50
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A config file of a driver (a campaign, the depth–width study): read as TOML, then checked
/// whole before any work, every error naming the file and the key.
pub trait ConfigFile: serde::de::DeserializeOwned {
    /// The key and the reason of the first problem.
    fn check(&self) -> Result<(), String>;

    /// Fills in what the file leaves to other keys, once read (nothing by default).
    fn complete(&mut self) {}

    /// Parses and checks `text`; `origin` (the file) prefixes every error.
    fn parse(text: &str, origin: &str) -> Result<Self> {
        let bad = |e: String| Error::Config(format!("{origin}: {}", e.trim()));
        let mut cfg: Self = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        cfg.complete();
        cfg.check().map_err(bad)?;
        Ok(cfg)
    }

    /// Reads, parses and checks the file at `path`.
    fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
        Self::parse(&text, &path.display().to_string())
    }
}

impl CampaignConfig {
    /// The seed candidates are trained with: the campaign seed, or for replicate r > 0 of a
    /// tabulation another stream derived from it.
    pub fn train_seed(&self) -> u64 {
        self.replicate_seed(self.replicate)
    }

    /// The training seed of replicate `r` (`r = 0`: the campaign's own seed): a tabulation's
    /// replicate r, and a racing candidate's seed r, the same stream for every candidate so
    /// that differences between candidates are paired.
    pub fn replicate_seed(&self, r: u64) -> u64 {
        match r {
            0 => self.seed,
            r => self.seed ^ r.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        }
    }

    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        ConfigFile::parse(text, origin)
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        ConfigFile::read(path)
    }

    /// Checks every section (for a config built or changed in code; `from_toml` and
    /// `from_file` check what they read).
    pub fn validate(&self) -> Result<()> {
        self.check().map_err(Error::Config)
    }
}

impl ConfigFile for CampaignConfig {
    /// The key and the reason of the first problem.
    fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.contains('/') {
            return Err("name: must be non-empty and without '/'".into());
        }
        if self.evaluations == 0 {
            return Err("evaluations: the budget must be at least 1".into());
        }
        self.space.validate()?;
        self.strategy.validate(&self.strategy_settings())?;
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
        l.validate_protocol().map_err(|e| e.to_string())?;
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
            if matches!(
                e,
                Objective::Loss | Objective::Latency | Objective::RecallError
            ) {
                return Err(format!(
                    "objectives.extra: '{e}' is ranked through objectives.quality; extra ones are params, state_bytes and throughput"
                ));
            }
        }
        if let Some(t) = &self.throughput {
            t.validate().map_err(|e| format!("throughput.{e}"))?;
        }
        if self.objectives.extra.contains(&Objective::Throughput) && self.throughput.is_none() {
            return Err("objectives.extra: 'throughput' needs a [throughput] section (memory_gb, the serving device's roofline)".into());
        }
        let o = &self.objectives;
        if o.uses_recall() && !self.train.recall.enabled {
            let key = if o.quality != Quality::Loss {
                format!("objectives.quality = \"{}\"", quality_name(o.quality))
            } else {
                "objectives.recall_min".to_string()
            };
            return Err(format!(
                "{key} needs the recall probe: add [train.recall] with enabled = true (see configs/longctx-recall.toml)"
            ));
        }
        if let Some(m) = o.recall_min {
            if !(m > 0.0 && m <= 1.0) {
                return Err(format!(
                    "objectives.recall_min: {m} must be an accuracy in (0, 1]"
                ));
            }
        }
        if o.quality != Quality::Loss && self.strategy == StrategyKind::Aging {
            return Err(format!(
                "objectives.quality = \"{}\": aging evolution ranks one quality (the loss); use strategy = \"nsga2\" to rank recall beside it, or keep quality = \"loss\" and set objectives.recall_min",
                quality_name(o.quality)
            ));
        }
        if let Some(e) = o.reference_point.recall_error {
            if !(e > 0.0 && e <= 1.0) {
                return Err(format!(
                    "objectives.reference_point.recall_error: {e} must be in (0, 1]"
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
        // Checked before any work, like every section (its messages name `validate.…`).
        self.validate.validate()?;
        self.family_seeds.validate()?;
        self.racing.validate()?;
        if self.pricing_attempts == 0 {
            return Err("pricing_attempts: must be at least 1".into());
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
}

impl CampaignConfig {
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

    /// The families seeded into the initial population (none when disabled).
    pub fn seed_families(&self) -> Vec<Family> {
        match (&self.family_seeds.enabled, &self.family_seeds.families) {
            (false, _) => Vec::new(),
            (true, Some(f)) => f.clone(),
            (true, None) => self.validate.families.clone(),
        }
    }

    /// The budget levels (fractions of the latency budget) family seeds are chosen at.
    pub fn seed_levels(&self) -> Vec<f64> {
        self.family_seeds
            .budgets
            .clone()
            .unwrap_or_else(|| self.validate_levels())
    }

    /// The budget levels racing decides at (`flashnas validate` picks there).
    pub fn racing_levels(&self) -> Vec<f64> {
        self.racing
            .budgets
            .clone()
            .unwrap_or_else(|| self.validate_levels())
    }

    /// Every budget level the campaign decides at (racing, family seeds, validation), as
    /// fractions of the budget: where a measured latency is re-timed when near.
    pub fn decision_levels(&self) -> Vec<f64> {
        let mut v = self.racing_levels();
        v.extend(self.seed_levels());
        v.extend(self.validate.budgets());
        v
    }

    /// `[validate] budgets` within the campaign's budget (≤ 1), highest first.
    fn validate_levels(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.validate.budgets().iter().map(|b| b.min(1.0)).collect();
        v.sort_by(|a, b| b.total_cmp(a));
        v.dedup();
        v
    }

    /// The roofline device of an analytic campaign.
    /// What the strategy reads of this config (see [`crate::strategy::Settings`]).
    pub fn strategy_settings(&self) -> crate::strategy::Settings<'_> {
        crate::strategy::Settings {
            space: &self.space,
            evaluations: self.evaluations,
            objectives: self.objectives.ranked(),
            sections: &self.strategies,
        }
    }

    pub fn roofline(&self) -> Option<DeviceModel> {
        roofline_of(&self.latency)
    }
}
