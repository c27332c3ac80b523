//! `flashnas depth-width` config: the models, the shapes they are trained at, the budget.

use super::*;
use crate::config::ConfigFile;

fn d_holdout() -> usize {
    2
}

/// Model hyperparameters shared by every shape (the `[space]` keys that shape a model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_meta: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_heads: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ffn_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ffn_multiple_of: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swa_window: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mamba_d_state: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mamba_head_dim: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<usize>,
}

/// `flashnas depth-width --config DW.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepthWidthConfig {
    pub name: String,
    #[serde(default)]
    pub seed: u64,
    /// The block repeated D times (layer kinds, NF spellings accepted: `["a", "f"]`).
    pub pattern: Vec<String>,
    /// D: repeats of the pattern.
    pub depths: Vec<usize>,
    /// W: d_model.
    pub widths: Vec<usize>,
    /// Latency budgets (decode seconds under `[latency]`'s protocol) to pick shapes for.
    pub budgets_s: Vec<f64>,
    /// The held-out check fits on all but the `holdout` largest shapes (by parameters) and
    /// predicts those.
    #[serde(default = "d_holdout")]
    pub holdout: usize,
    #[serde(default)]
    pub model: ModelConfig,
    /// The latency protocol; `budget_s` may be left out (the budgets are `budgets_s`).
    pub latency: LatencyConfig,
    pub train: TrainConfig,
    #[serde(default)]
    pub executor: ExecutorConfig,
}

impl DepthWidthConfig {
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

impl ConfigFile for DepthWidthConfig {
    fn complete(&mut self) {
        // The protocol's own budget is not used here (the budgets are `budgets_s`); one stands
        // in so that the latency section checks as a campaign's does.
        self.latency.budget_s.get_or_insert(1.0);
    }

    /// The key and the reason of the first problem.
    fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.contains('/') {
            return Err("name: must be non-empty and without '/'".into());
        }
        let kinds = crate::genome::layer_kinds(&self.pattern)
            .map_err(|e| e.replace("layer_types", "pattern"))?;
        if kinds.is_empty() {
            return Err("pattern: list at least one layer kind".into());
        }
        if self.depths.is_empty() || self.depths.contains(&0) {
            return Err("depths: list at least one depth, each ≥ 1".into());
        }
        if self.widths.is_empty() || self.widths.contains(&0) {
            return Err("widths: list at least one width, each ≥ 1".into());
        }
        if self.budgets_s.iter().any(|b| !(*b > 0.0 && b.is_finite())) {
            return Err("budgets_s: every budget must be > 0".into());
        }
        let shapes = self.depths.len() * self.widths.len();
        if shapes < 5 {
            return Err(format!(
                "depths × widths: {shapes} shapes; the law has 5 parameters, give at least 5"
            ));
        }
        if shapes.saturating_sub(self.holdout) < 5 {
            return Err(format!(
                "holdout: {} of {shapes} shapes leaves fewer than 5 to fit the check on",
                self.holdout
            ));
        }
        self.latency
            .validate_protocol()
            .map_err(|e| e.to_string())?;
        if self.latency.uses_reference() {
            return Err("latency.calibrate / latency.budget_ref: a depth–width study times every shape raw and takes its budgets from budgets_s".into());
        }
        self.train.validate().map_err(|e| format!("train.{e}"))?;
        self.executor
            .validate()
            .map_err(|e| format!("executor.{e}"))?;
        // Every shape must be a valid architecture.
        let space = self.space();
        for &w in &self.widths {
            let spec = space.arch_for(&kinds, w, 256);
            spec.validate()
                .map_err(|e| format!("model at width {w}: {e}"))?;
        }
        Ok(())
    }
}

impl DepthWidthConfig {
    fn space(&self) -> SpaceConfig {
        let mut table = toml::Value::try_from(&self.model).expect("model serializes");
        let t = table.as_table_mut().expect("table");
        t.insert(
            "widths".into(),
            toml::Value::Array(
                self.widths
                    .iter()
                    .map(|w| toml::Value::Integer(*w as i64))
                    .collect(),
            ),
        );
        table.try_into().expect("model keys are space keys")
    }

    /// The grid, depth-major: (depth, width).
    pub fn shapes(&self) -> Vec<(usize, usize)> {
        self.depths
            .iter()
            .flat_map(|&d| self.widths.iter().map(move |&w| (d, w)))
            .collect()
    }

    pub fn arch(&self, depth: usize, width: usize, vocab_size: usize) -> ArchSpec {
        let kinds: Vec<LayerKind> =
            crate::genome::parse_layer_types(&self.pattern).expect("validated");
        let layers: Vec<LayerKind> = (0..depth).flat_map(|_| kinds.clone()).collect();
        self.space().arch_for(&layers, width, vocab_size)
    }
}
