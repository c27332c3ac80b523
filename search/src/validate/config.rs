//! `[validate]` of a campaign config: which picks, which hand-designed baselines, how long.

use flashnas_model::spec::LayerKind;
use serde::{Deserialize, Serialize};

/// A hand-designed family: an NF `layer_types` pattern repeated to depth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    /// Shown in tables and plots, e.g. `transformer`.
    pub name: String,
    /// The block repeated (`["a", "f"]`; spellings of `layer_types`).
    pub pattern: Vec<String>,
}

impl Family {
    fn new(name: &str, pattern: &[&str]) -> Self {
        Self {
            name: name.into(),
            pattern: pattern.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn kinds(&self) -> Vec<LayerKind> {
        crate::genome::layer_kinds(&self.pattern).expect("validated")
    }

    /// `name=a,f` (the CLI's spelling).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (name, pattern) = s.split_once('=').ok_or_else(|| {
            format!("--family '{s}': expected NAME=KIND,KIND,… (e.g. transformer=a,f)")
        })?;
        Ok(Self {
            name: name.trim().to_string(),
            pattern: pattern
                .split([',', ' '])
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }
}

fn d_budgets() -> Vec<f64> {
    vec![1.0, 0.75, 0.5]
}
fn d_families() -> Vec<Family> {
    vec![
        Family::new("transformer", &["a", "f"]),
        Family::new("mamba2", &["m2", "f"]),
        Family::new("gated-deltanet", &["gdn", "f"]),
        // The period of the Nemotron-Flash-1B-like seed of configs/nemotron-flash-1b.toml.
        Family::new(
            "nemotron-flash",
            &["deltanet", "f", "m2", "f", "a", "f", "m2", "f"],
        ),
    ]
}
fn d_factor() -> f64 {
    10.0
}
fn d_seeds() -> usize {
    3
}
fn d_rounds() -> usize {
    5
}

/// `[validate]`: the last stage of a campaign (`flashnas validate DIR`; its flags override).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateConfig {
    /// Latency budgets as fractions of the campaign's budget; the pick at each is the frontier's
    /// best feasible candidate within it.
    #[serde(default = "d_budgets")]
    pub budgets: Vec<f64>,
    /// Explicit picks (record ids) instead of `budgets`: each is compared at its own latency.
    #[serde(default)]
    pub ids: Vec<usize>,
    /// The baseline families.
    #[serde(default = "d_families")]
    pub families: Vec<Family>,
    /// F: the long runs train F× the proxy's tokens (schedule stretched).
    #[serde(default = "d_factor")]
    pub factor: f64,
    /// S: seeds per long run (init and data order).
    #[serde(default = "d_seeds")]
    pub seeds: usize,
    /// Timing rounds of the latency re-check (each one calibrated when the campaign is).
    #[serde(default = "d_rounds")]
    pub recheck_rounds: usize,
}

impl Default for ValidateConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl ValidateConfig {
    /// The key and the reason of the first problem (keys under `validate.`).
    pub fn validate(&self) -> Result<(), String> {
        if self.ids.is_empty() {
            if self.budgets.is_empty() {
                return Err("validate.budgets: list at least one budget (or give ids)".into());
            }
            for (i, b) in self.budgets.iter().enumerate() {
                if !(*b > 0.0 && b.is_finite()) {
                    return Err(format!(
                        "validate.budgets[{i}]: {b} must be > 0 (a fraction of the campaign's budget)"
                    ));
                }
            }
        }
        if self.families.is_empty() {
            return Err("validate.families: list at least one baseline family".into());
        }
        for (i, f) in self.families.iter().enumerate() {
            if f.name.trim().is_empty() || f.name.contains(['/', ',', '|']) {
                return Err(format!(
                    "validate.families[{i}].name: '{}' must be non-empty, without '/', ',' or '|'",
                    f.name
                ));
            }
            if self.families[..i].iter().any(|g| g.name == f.name) {
                return Err(format!(
                    "validate.families[{i}].name: '{}' is listed twice",
                    f.name
                ));
            }
            let kinds = crate::genome::layer_kinds(&f.pattern).map_err(|e| {
                format!(
                    "validate.families[{i}].{}",
                    e.replace("layer_types", "pattern")
                )
            })?;
            if kinds.is_empty() {
                return Err(format!(
                    "validate.families[{i}].pattern: list at least one layer kind"
                ));
            }
            if !kinds.iter().any(|k| k.is_mixer()) {
                return Err(format!(
                    "validate.families[{i}].pattern: no token mixer (a, swa, m2, deltanet, gdn)"
                ));
            }
        }
        if !(self.factor >= 1.0 && self.factor.is_finite()) {
            return Err(format!("validate.factor: {} must be ≥ 1", self.factor));
        }
        if self.seeds == 0 {
            return Err("validate.seeds: at least 1".into());
        }
        if self.recheck_rounds == 0 {
            return Err("validate.recheck_rounds: at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones_and_bad_families_are_named() {
        let d = ValidateConfig::default();
        assert_eq!(d.budgets, vec![1.0, 0.75, 0.5]);
        assert_eq!((d.factor, d.seeds), (10.0, 3));
        assert_eq!(d.families.len(), 4);
        d.validate().unwrap();
        let mut bad = d.clone();
        bad.families[1].pattern = vec!["m2".into(), "mlp".into()];
        let e = bad.validate().unwrap_err();
        assert!(
            e.starts_with("validate.families[1].pattern[1]: unknown kind 'mlp'"),
            "{e}"
        );
        let mut bad = d.clone();
        bad.budgets = vec![1.0, -0.5];
        assert!(bad
            .validate()
            .unwrap_err()
            .starts_with("validate.budgets[1]"));
        assert_eq!(
            Family::parse("hybrid=m2, f,a").unwrap(),
            Family::new("hybrid", &["m2", "f", "a"])
        );
        assert!(Family::parse("a,f").is_err());
    }
}
