//! The training config (TOML). Unknown keys are rejected; every error names the key.

use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where the corpus comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A plain text file, or a directory of `.txt` files (read in sorted order).
    Text,
    /// A Parquet file, or a directory of `.parquet` files, with a text column.
    Parquet,
    /// A flat little-endian token file (nanoGPT style), u16 or u32.
    Tokens,
}

fn d_source() -> Source {
    Source::Text
}
fn d_tokenizer() -> String {
    "byte".into()
}
fn d_column() -> String {
    "text".into()
}
fn d_token_dtype() -> String {
    "u16".into()
}
fn d_val_fraction() -> f64 {
    0.1
}
fn d_val_windows() -> usize {
    32
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    #[serde(default = "d_source")]
    pub source: Source,
    /// File or directory; absent means the built-in Tiny Shakespeare (text source only).
    #[serde(default)]
    pub path: Option<String>,
    /// Parquet text column.
    #[serde(default = "d_column")]
    pub column: String,
    /// Token file element type: `u16` or `u32`.
    #[serde(default = "d_token_dtype")]
    pub token_dtype: String,
    /// `byte` or a path to a Hugging Face `tokenizer.json`.
    #[serde(default = "d_tokenizer")]
    pub tokenizer: String,
    /// Fraction of the stream (its end) held out for validation.
    #[serde(default = "d_val_fraction")]
    pub val_fraction: f64,
    /// Number of fixed validation windows (spread evenly over the validation split).
    #[serde(default = "d_val_windows")]
    pub val_windows: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

fn d_lr() -> f64 {
    3e-3
}
fn d_min_lr_ratio() -> f64 {
    0.1
}
fn d_beta1() -> f64 {
    0.9
}
fn d_beta2() -> f64 {
    0.95
}
fn d_eps() -> f64 {
    1e-8
}
fn d_wd() -> f64 {
    0.1
}
fn d_clip() -> Option<f64> {
    Some(1.0)
}
fn d_warmup() -> f64 {
    0.1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    #[serde(default = "d_lr")]
    pub lr: f64,
    #[serde(default = "d_min_lr_ratio")]
    pub min_lr_ratio: f64,
    /// Warmup length as a fraction of the steps (ignored when `warmup_steps` is set).
    #[serde(default = "d_warmup")]
    pub warmup_fraction: f64,
    #[serde(default)]
    pub warmup_steps: Option<usize>,
    #[serde(default = "d_beta1")]
    pub beta1: f64,
    #[serde(default = "d_beta2")]
    pub beta2: f64,
    #[serde(default = "d_eps")]
    pub eps: f64,
    #[serde(default = "d_wd")]
    pub weight_decay: f64,
    /// Global gradient-norm bound; absent or 0 disables clipping.
    #[serde(default = "d_clip")]
    pub grad_clip: Option<f64>,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

fn d_pairs() -> usize {
    8
}
fn d_queries() -> usize {
    8
}
fn d_recall_steps() -> usize {
    150
}
fn d_recall_batch() -> usize {
    32
}
fn d_recall_eval() -> usize {
    256
}

/// Multi-query associative recall (Zoology MQAR): a second short run on synthetic
/// key-value sequences, scored by accuracy on the queried values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecallConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "d_pairs")]
    pub pairs: usize,
    #[serde(default = "d_queries")]
    pub queries: usize,
    #[serde(default = "d_recall_steps")]
    pub steps: usize,
    #[serde(default = "d_recall_batch")]
    pub batch_size: usize,
    #[serde(default = "d_recall_eval")]
    pub eval_sequences: usize,
    /// Peak learning rate of the recall run (default: the language model's `optimizer.lr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Key vocabulary: keys are tokens `0..keys` (default: half the vocabulary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<usize>,
    /// Value vocabulary: values are tokens `keys..keys + values` (default: the rest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<usize>,
    /// Filler tokens between the pairs and the queries (from the 16 tokens after the
    /// values): the distance recall must bridge — beyond a sliding window, it separates
    /// sliding-window from global attention.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gap: usize,
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

impl RecallConfig {
    /// (key vocabulary, value vocabulary) for a model of `vocab` tokens.
    pub fn vocabularies(&self, vocab: usize) -> (usize, usize) {
        let keys = self.keys.unwrap_or(vocab / 2);
        (keys, self.values.unwrap_or(vocab.saturating_sub(keys)))
    }

    /// Tokens per recall sequence (inputs), `2·pairs + gap + 2·queries − 1`.
    pub fn seq_len(&self) -> usize {
        2 * self.pairs + self.gap + 2 * self.queries - 1
    }
}

impl Default for RecallConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

fn d_seq() -> usize {
    128
}
fn d_batch() -> usize {
    16
}
fn d_log_every() -> usize {
    10
}
fn d_max_loss() -> f64 {
    50.0
}
fn d_true() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    #[serde(default)]
    pub seed: u64,
    #[serde(default = "d_seq")]
    pub seq_len: usize,
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    /// Budget in training tokens (batch · seq_len per step); exactly one of tokens / steps.
    #[serde(default)]
    pub tokens: Option<usize>,
    #[serde(default)]
    pub steps: Option<usize>,
    /// Record the training loss every N steps.
    #[serde(default = "d_log_every")]
    pub log_every: usize,
    /// Nemotron-Flash weight normalization after every optimizer step.
    #[serde(default = "d_true")]
    pub weight_norm: bool,
    /// A training loss above this (or NaN / infinite) stops the run as diverged.
    #[serde(default = "d_max_loss")]
    pub max_loss: f64,
    #[serde(default)]
    pub data: DataConfig,
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub recall: RecallConfig,
    /// Validation checkpoints: after these fractions of the steps (each in (0, 1)), the
    /// validation loss is measured and kept in the result (a fidelity ladder from one run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rungs: Vec<f64>,
    /// Stop after this many steps, keeping the learning-rate schedule of the whole run: a
    /// low-fidelity evaluation (multi-fidelity search) whose loss is the full run's at that step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_at: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        toml::from_str("steps = 100").expect("defaults")
    }
}

pub use flashnas_model::fsio::resolve_path;

impl TrainConfig {
    /// Parses TOML text; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, Error> {
        let cfg: TrainConfig = toml::from_str(text)
            .map_err(|e| Error::Config(format!("{origin}: {}", e.to_string().trim())))?;
        cfg.check()
            .map_err(|e| Error::Config(format!("{origin}: {e}")))?;
        Ok(cfg)
    }

    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{}: cannot read: {e}", path.display())))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Checks every field's range; the error names the key.
    pub fn validate(&self) -> Result<(), Error> {
        self.check().map_err(Error::Config)
    }

    fn check(&self) -> Result<(), String> {
        let bad = |key: &str, why: String| Err(format!("{key}: {why}"));
        match (self.tokens, self.steps) {
            (Some(_), Some(_)) => {
                return bad("tokens", "set either 'tokens' or 'steps', not both".into())
            }
            (None, None) => {
                return bad(
                    "steps",
                    "set the budget: 'tokens = N' or 'steps = N'".into(),
                )
            }
            (Some(0), _) | (_, Some(0)) => {
                return bad("tokens/steps", "the budget must be > 0".into())
            }
            _ => {}
        }
        if self.seq_len < 2 {
            return bad("seq_len", format!("{} must be at least 2", self.seq_len));
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1".into());
        }
        if self.rungs.iter().any(|r| !(*r > 0.0 && *r < 1.0)) {
            return bad(
                "rungs",
                "each must be a fraction of the steps in (0, 1)".into(),
            );
        }
        if self.stop_at == Some(0) {
            return bad("stop_at", "must be at least 1".into());
        }
        if self.log_every == 0 {
            return bad("log_every", "must be at least 1".into());
        }
        if self.max_loss.is_nan() || self.max_loss <= 0.0 {
            return bad("max_loss", format!("{} must be > 0", self.max_loss));
        }
        let d = &self.data;
        if !(d.val_fraction > 0.0 && d.val_fraction < 1.0) {
            return bad(
                "data.val_fraction",
                format!("{} must be in (0, 1)", d.val_fraction),
            );
        }
        if d.val_windows == 0 {
            return bad("data.val_windows", "must be at least 1".into());
        }
        if d.token_dtype != "u16" && d.token_dtype != "u32" {
            return bad(
                "data.token_dtype",
                format!("'{}' must be 'u16' or 'u32'", d.token_dtype),
            );
        }
        if d.source != Source::Text && d.path.is_none() {
            return bad(
                "data.path",
                "is required for parquet and token sources".into(),
            );
        }
        let o = &self.optimizer;
        if !(o.lr > 0.0 && o.lr.is_finite()) {
            return bad("optimizer.lr", format!("{} must be > 0", o.lr));
        }
        if !(0.0..=1.0).contains(&o.min_lr_ratio) {
            return bad(
                "optimizer.min_lr_ratio",
                format!("{} must be in [0, 1]", o.min_lr_ratio),
            );
        }
        if !(0.0..1.0).contains(&o.warmup_fraction) {
            return bad(
                "optimizer.warmup_fraction",
                format!("{} must be in [0, 1)", o.warmup_fraction),
            );
        }
        if !(0.0..1.0).contains(&o.beta1) || !(0.0..1.0).contains(&o.beta2) {
            return bad("optimizer.beta1/beta2", "must be in [0, 1)".into());
        }
        if o.eps.is_nan() || o.eps <= 0.0 || o.weight_decay < 0.0 {
            return bad(
                "optimizer.eps/weight_decay",
                "eps must be > 0 and weight_decay ≥ 0".into(),
            );
        }
        if let Some(c) = o.grad_clip {
            if c < 0.0 {
                return bad("optimizer.grad_clip", format!("{c} must be ≥ 0"));
            }
        }
        let r = &self.recall;
        if r.enabled
            && (r.pairs == 0
                || r.queries == 0
                || r.queries > r.pairs
                || r.steps == 0
                || r.batch_size == 0
                || r.eval_sequences == 0)
        {
            return bad(
                "recall",
                "pairs, steps, batch_size, eval_sequences must be ≥ 1 and 1 ≤ queries ≤ pairs"
                    .into(),
            );
        }
        if let Some(lr) = r.lr {
            if !(lr.is_finite() && lr > 0.0) {
                return bad("recall.lr", format!("{lr} must be > 0"));
            }
        }
        if r.keys.is_some_and(|k| k < r.pairs) {
            return bad(
                "recall.keys",
                format!(
                    "{} keys cannot give {} distinct keys per sequence",
                    r.keys.unwrap_or(0),
                    r.pairs
                ),
            );
        }
        if r.values == Some(0) {
            return bad("recall.values", "must be ≥ 1".into());
        }
        Ok(())
    }

    /// Steps of the run.
    pub fn total_steps(&self) -> usize {
        match (self.steps, self.tokens) {
            (Some(s), _) => s,
            (None, Some(t)) => t.div_ceil(self.batch_size * self.seq_len).max(1),
            (None, None) => 0,
        }
    }

    /// The steps after which the validation loss is measured (`rungs` of the total), sorted,
    /// without duplicates or the last step.
    pub fn rung_steps(&self) -> Vec<usize> {
        let total = self.total_steps();
        let mut s: Vec<usize> = self
            .rungs
            .iter()
            .map(|r| ((r * total as f64).round() as usize).clamp(1, total))
            .filter(|&s| s < total)
            .collect();
        s.sort_unstable();
        s.dedup();
        s
    }

    /// Steps this run trains (`stop_at`, at most the total).
    pub fn run_steps(&self) -> usize {
        let total = self.total_steps();
        self.stop_at.map_or(total, |s| s.min(total))
    }

    pub fn warmup_steps(&self) -> usize {
        self.optimizer.warmup_steps.unwrap_or_else(|| {
            (self.optimizer.warmup_fraction * self.total_steps() as f64).round() as usize
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = TrainConfig::from_toml("steps = 10\nlearning_rate = 1.0", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.toml") && e.contains("learning_rate"), "{e}");
        let e = TrainConfig::from_toml("steps = 10\n[optimizer]\nlr = -1.0", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("optimizer.lr"), "{e}");
        let e = TrainConfig::from_toml("steps = 10\ntokens = 5", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not both"), "{e}");
        let e = TrainConfig::from_toml("steps = 10\n[data]\nsource = \"parquet\"", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("data.path"), "{e}");
        let c = TrainConfig::from_toml("tokens = 10000\nbatch_size = 4\nseq_len = 100", "t.toml")
            .unwrap();
        assert_eq!(c.total_steps(), 25);
    }
}
