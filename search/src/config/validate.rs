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
fn d_window() -> f64 {
    5.0
}

/// `[validate]`: the last stage of a campaign (`flashnas validate DIR`; its flags override).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateConfig {
    /// Latency budgets as fractions of the campaign's budget; the pick at each is the frontier's
    /// best feasible candidate within it. Unset: 1, 0.75 and 0.5, and a level without a
    /// feasible candidate is skipped with a note (a level that is set must have one).
    #[serde(default)]
    pub budgets: Option<Vec<f64>>,
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
    /// Candidates the campaign timed up to this many % over a budget are re-timed with the
    /// baselines and can be its pick when the re-check holds them within it: the picks are
    /// chosen by the re-check's timings, as the baselines are.
    #[serde(default = "d_window")]
    pub recheck_window_pct: f64,
    /// Equivalence margin in nats: a gap whose interval lies within ±margin is "equivalent".
    #[serde(default = "d_margin")]
    pub margin: f64,
    /// Add seeds in rounds until every verdict is decided (better, worse or equivalent) or a
    /// model has `max_seeds`; the error rate is kept by Bonferroni over the looks.
    #[serde(default)]
    pub until_decided: bool,
    #[serde(default = "d_max_seeds")]
    pub max_seeds: usize,
}

fn d_margin() -> f64 {
    0.02
}
fn d_max_seeds() -> usize {
    12
}

/// The test's error rate (two-sided) before any correction for repeated looks.
pub const ALPHA: f64 = 0.05;

impl Default for ValidateConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl ValidateConfig {
    /// The budget levels: as set, or the default 1, 0.75 and 0.5.
    pub fn budgets(&self) -> Vec<f64> {
        self.budgets.clone().unwrap_or_else(d_budgets)
    }

    /// How many times the verdicts are looked at: once, or once per seed count from `seeds`
    /// to `max_seeds` with `until_decided`.
    pub fn looks(&self) -> usize {
        match self.until_decided {
            true => self.max_seeds.max(self.seeds) - self.seeds + 1,
            false => 1,
        }
    }

    /// The two-sided error rate of each look: `ALPHA / looks` (Bonferroni).
    pub fn alpha(&self) -> f64 {
        ALPHA / self.looks() as f64
    }

    /// The key and the reason of the first problem (keys under `validate.`).
    pub fn validate(&self) -> Result<(), String> {
        if self.ids.is_empty() {
            let budgets = self.budgets();
            if budgets.is_empty() {
                return Err("validate.budgets: list at least one budget (or give ids)".into());
            }
            for (i, b) in budgets.iter().enumerate() {
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
        if !(self.recheck_window_pct >= 0.0 && self.recheck_window_pct < 100.0) {
            return Err(format!(
                "validate.recheck_window_pct: {} must be in [0, 100) (% over a budget)",
                self.recheck_window_pct
            ));
        }
        if self.recheck_rounds == 0 {
            return Err("validate.recheck_rounds: at least 1".into());
        }
        if !(self.margin > 0.0 && self.margin.is_finite()) {
            return Err(format!(
                "validate.margin: {} must be > 0 (nats)",
                self.margin
            ));
        }
        if self.until_decided && self.max_seeds < self.seeds.max(2) {
            return Err(format!(
                "validate.max_seeds: {} must be at least seeds ({}) and 2",
                self.max_seeds, self.seeds
            ));
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
        assert_eq!(d.budgets(), vec![1.0, 0.75, 0.5]);
        assert_eq!((d.margin, d.alpha()), (0.02, 0.05));
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
        bad.budgets = Some(vec![1.0, -0.5]);
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
