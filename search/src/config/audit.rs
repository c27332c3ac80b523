//! `[audit]` of a campaign config.

use serde::{Deserialize, Serialize};

fn d_sample() -> usize {
    8
}
fn d_factor() -> f64 {
    4.0
}
fn d_min() -> f64 {
    0.5
}

/// `[audit]` of a campaign config: an audit run at the end of `flashnas search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    #[serde(default)]
    pub enabled: bool,
    /// K: candidates retrained.
    #[serde(default = "d_sample")]
    pub sample: usize,
    /// F: multiple of the proxy's token budget for the long run.
    #[serde(default = "d_factor")]
    pub factor: f64,
    /// Warn when the lower end of Spearman's 90 % interval is below this.
    #[serde(default = "d_min")]
    pub min_spearman: f64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl AuditConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.sample < 3 {
            return Err(format!(
                "sample: {} is too few for a rank correlation (at least 3)",
                self.sample
            ));
        }
        if !(self.factor > 1.0 && self.factor.is_finite()) {
            return Err(format!("factor: {} must be > 1", self.factor));
        }
        if !(-1.0..=1.0).contains(&self.min_spearman) {
            return Err("min_spearman: must be in [-1, 1]".into());
        }
        Ok(())
    }
}
