//! `[validate]` of a campaign config: which picks, which hand-designed baselines, how long.

use serde::{Deserialize, Serialize};

pub use crate::family::Family;

fn d_budgets() -> Vec<f64> {
    vec![1.0, 0.75, 0.5]
}
fn d_families() -> Vec<Family> {
    crate::family::default_families()
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
        crate::family::check_families("validate.families", &self.families)?;
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
