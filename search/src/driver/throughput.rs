//! Decode throughput at large batch, the paper's second serving figure beside batch-1
//! latency: the largest batch whose weights and decode states (KV caches at the context,
//! recurrent states) fit a memory budget, and the tokens per second it generates — measured
//! on the campaign's device (`source = "measured"`: the batch decoded for a few steps at the
//! context, by the worker that times the candidate) or from the roofline model of a device
//! (`source = "roofline"`, the default: deterministic, for a device one does not have).

use flashnas_latency::DeviceModel;
use flashnas_model::accounting::{param_count, state_bytes};
use flashnas_model::ArchSpec;
use serde::{Deserialize, Serialize};

fn d_roofline() -> String {
    "cpu-2core".into()
}
fn d_max_batch() -> usize {
    1024
}
fn d_steps() -> usize {
    8
}
fn d_repeats() -> usize {
    3
}

/// Where a candidate's throughput comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThroughputSource {
    /// The roofline model of `roofline` (no device time).
    #[default]
    Roofline,
    /// Decoded on the campaign's latency device at the batch the memory holds.
    Measured,
}

fn is_roofline(s: &ThroughputSource) -> bool {
    *s == ThroughputSource::Roofline
}

/// `[throughput]`: when set, every candidate's large-batch decode throughput is computed and
/// journaled (`throughput_tokens_s`, `throughput_batch`); `objectives.extra = ["throughput"]`
/// ranks it with NSGA-II, `min_tokens_s` makes it a constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThroughputConfig {
    /// Memory for the weights and the batch's decode states, GB (10⁹ bytes).
    pub memory_gb: f64,
    /// Tokens of context each sequence holds (default: the latency protocol's prompt +
    /// generated tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<usize>,
    /// `roofline` (default) or `measured` (on `latency.device`, by the worker that times
    /// the candidate; trained candidates only).
    #[serde(default, skip_serializing_if = "is_roofline")]
    pub source: ThroughputSource,
    /// Roofline preset of the serving device (`cpu-2core`, `a100`, `h100`, `h200`).
    #[serde(default = "d_roofline")]
    pub roofline: String,
    /// `measured`: decode steps per timing (each one token for every sequence).
    #[serde(default = "d_steps")]
    pub steps: usize,
    /// `measured`: timings (after one warm-up); their median is the figure.
    #[serde(default = "d_repeats")]
    pub repeats: usize,
    /// The largest batch considered.
    #[serde(default = "d_max_batch")]
    pub max_batch: usize,
    /// A constraint: candidates generating fewer tokens/s are infeasible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_tokens_s: Option<f64>,
}

/// A candidate's serving figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Sequences decoded at once (0: not even one fits).
    pub batch: usize,
    /// Generated tokens per second over the batch.
    pub tokens_s: f64,
}

impl ThroughputConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.memory_gb.is_finite() && self.memory_gb > 0.0) {
            return Err(format!("memory_gb: {} must be > 0", self.memory_gb));
        }
        DeviceModel::preset(&self.roofline).map_err(|e| format!("roofline: {e}"))?;
        if self.max_batch == 0 || self.context == Some(0) {
            return Err("max_batch and context must be ≥ 1".into());
        }
        if self.steps == 0 || self.repeats == 0 {
            return Err("steps and repeats must be ≥ 1".into());
        }
        if let Some(m) = self.min_tokens_s {
            if !(m.is_finite() && m > 0.0) {
                return Err(format!("min_tokens_s: {m} must be > 0"));
            }
        }
        Ok(())
    }

    /// The largest batch within the memory budget at `context` tokens (0: not one fits);
    /// `context` is the config's when it sets one.
    pub fn batch(&self, spec: &ArchSpec, context: usize) -> usize {
        let context = self.context.unwrap_or(context);
        let budget = self.memory_gb * 1e9;
        let weights = 4.0 * param_count(spec) as f64;
        let per_sequence = (state_bytes(spec, context) as f64).max(1.0);
        ((budget - weights) / per_sequence)
            .floor()
            .clamp(0.0, self.max_batch as f64) as usize
    }

    /// The largest batch within the memory budget at `context` tokens and its tokens/s by
    /// the roofline model.
    pub fn of(&self, spec: &ArchSpec, context: usize) -> Throughput {
        let batch = self.batch(spec, context);
        let context = self.context.unwrap_or(context);
        if batch == 0 {
            return Throughput {
                batch: 0,
                tokens_s: 0.0,
            };
        }
        let device = DeviceModel::preset(&self.roofline).expect("validated");
        Throughput {
            batch,
            tokens_s: batch as f64 / device.step_seconds(spec, context, batch),
        }
    }

    /// The same batch decoded on the pricer's device: the median tokens/s of `repeats`
    /// timings of `steps` steps.
    pub fn measure(
        &self,
        pricer: &flashnas_latency::Pricer,
        spec: &ArchSpec,
        context: usize,
    ) -> Result<Throughput, String> {
        let batch = self.batch(spec, context);
        if batch == 0 {
            return Ok(Throughput {
                batch: 0,
                tokens_s: 0.0,
            });
        }
        let context = self.context.unwrap_or(context);
        let s = pricer.throughput(spec, batch, context, self.steps, self.repeats)?;
        Ok(Throughput {
            batch,
            tokens_s: s.median,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(layers: &str) -> ArchSpec {
        ArchSpec::from_json(&format!(
            r#"{{"vocab_size": 256, "d_model": 64, "attention": {{"n_heads": 4, "n_kv_heads": 2}},
                "mamba2": {{"d_state": 16, "head_dim": 16}}, "layers": {layers}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn the_batch_is_what_the_memory_holds_and_attention_pays_for_its_cache() {
        let cfg = ThroughputConfig {
            memory_gb: 0.05,
            context: None,
            roofline: "cpu-2core".into(),
            max_batch: 100_000,
            min_tokens_s: None,
            source: ThroughputSource::Roofline,
            steps: 8,
            repeats: 3,
        };
        let attn = spec(r#"["a", "f", "a", "f"]"#);
        let t = cfg.of(&attn, 4096);
        let free = 0.05e9 - 4.0 * param_count(&attn) as f64;
        let per = state_bytes(&attn, 4096) as f64;
        assert_eq!(t.batch, (free / per).floor() as usize);
        // One more sequence would not fit.
        assert!((t.batch + 1) as f64 * per > free);
        // A recurrent model's state does not grow with the context: at 4k it serves a larger
        // batch and more tokens/s than attention of the same width.
        let m2 = spec(r#"["m2", "f", "m2", "f"]"#);
        let r = cfg.of(&m2, 4096);
        assert!(
            r.batch > t.batch && r.tokens_s > t.tokens_s,
            "{r:?} vs {t:?}"
        );
        assert_eq!(cfg.of(&m2, 64).batch, r.batch);
        // Nothing fits: batch 0, no throughput.
        let tiny = ThroughputConfig {
            memory_gb: 1e-6,
            ..cfg
        };
        assert_eq!(tiny.of(&attn, 4096).batch, 0);
    }
}
