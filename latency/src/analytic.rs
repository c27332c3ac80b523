//! Roofline latency model: per decoded token and sublayer, `max(FLOPs / peak, bytes / bandwidth)`
//! plus a fixed launch overhead, from the model crate's accounting. Deterministic, for devices
//! one does not have and for tests.

use flashnas_model::accounting::accounting;
use flashnas_model::ArchSpec;
use serde::{Deserialize, Serialize};

/// A device's roofline parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceModel {
    pub name: String,
    /// Sustained f32 FLOP/s.
    pub peak_flops: f64,
    /// Memory bandwidth, bytes/s.
    pub bandwidth: f64,
    /// Fixed cost per sublayer per step (kernel launches, framework), seconds.
    pub launch_overhead: f64,
}

impl DeviceModel {
    /// Built-in presets: `cpu-2core` (this project's CI machine, f32 GEMM ≈ 80 GFLOP/s),
    /// `a100`, `h100`, `h200` (f32 non-tensor-core peaks, HBM bandwidths, CUDA-graph launch cost).
    pub fn preset(name: &str) -> Result<Self, crate::Error> {
        let (flops, bw, launch) = match name {
            "cpu-2core" => (80e9, 12e9, 60e-6),
            "a100" => (19.5e12, 2.0e12, 4e-6),
            "h100" => (67e12, 3.35e12, 3e-6),
            "h200" => (67e12, 4.8e12, 3e-6),
            other => {
                return Err(crate::Error::Config(format!(
                    "unknown device preset '{other}' (expected cpu-2core, a100, h100, h200)"
                )))
            }
        };
        Ok(Self {
            name: name.into(),
            peak_flops: flops,
            bandwidth: bw,
            launch_overhead: launch,
        })
    }

    /// Every figure must be a positive finite number (zero bandwidth would price every model
    /// at infinity); the launch overhead may be zero.
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (field, v, zero_ok) in [
            ("peak_flops", self.peak_flops, false),
            ("bandwidth", self.bandwidth, false),
            ("launch_overhead", self.launch_overhead, true),
        ] {
            if !v.is_finite() || v < 0.0 || (v == 0.0 && !zero_ok) {
                return Err(format!(
                    "{field}: {v} must be a finite number {}",
                    if zero_ok { "≥ 0" } else { "> 0" }
                ));
            }
        }
        if self.name.trim().is_empty() {
            return Err("name: must not be empty".into());
        }
        Ok(())
    }

    /// Seconds for one decode step of `batch` sequences after `context` tokens.
    pub fn step_seconds(&self, spec: &ArchSpec, context: usize, batch: usize) -> f64 {
        let acc = accounting(spec, context);
        let b = batch as f64;
        let layer_time: f64 = acc
            .layers
            .iter()
            .map(|l| {
                let weights = 4.0 * l.params as f64;
                let state_traffic = l.bytes_per_token - weights;
                let bytes = weights + b * state_traffic;
                (b * l.flops_per_token / self.peak_flops).max(bytes / self.bandwidth)
                    + self.launch_overhead
            })
            .sum();
        let head_flops = 2.0 * (spec.d_model * spec.vocab_size) as f64 * b;
        let head_bytes = 4.0 * (spec.d_model * spec.vocab_size) as f64;
        layer_time
            + (head_flops / self.peak_flops).max(head_bytes / self.bandwidth)
            + self.launch_overhead
    }

    /// Seconds to prefill `len` tokens of `batch` sequences (compute bound, quadratic
    /// attention included through the per-position context).
    pub fn prefill_seconds(&self, spec: &ArchSpec, len: usize, batch: usize) -> f64 {
        let samples = 8.min(len.max(1));
        let mut flops = 0.0;
        for k in 0..samples {
            let ctx = (k * len) / samples;
            flops += accounting(spec, ctx).flops_per_token * (len as f64 / samples as f64);
        }
        let weights = 4.0 * accounting(spec, 0).params as f64;
        (batch as f64 * flops / self.peak_flops).max(weights / self.bandwidth)
            + self.launch_overhead * (spec.layers.len() + 1) as f64
    }

    /// Seconds of batch-`batch` decoding: prefill of `prompt`, then `generate` steps. The
    /// step cost is integrated over the growing context (trapezoid over 16 points).
    pub fn decode_seconds(
        &self,
        spec: &ArchSpec,
        prompt: usize,
        generate: usize,
        batch: usize,
    ) -> f64 {
        let prefill = self.prefill_seconds(spec, prompt, batch);
        if generate == 0 {
            return prefill;
        }
        let points = 16.min(generate);
        let at = |k: usize| prompt + k * (generate - 1) / points.max(1);
        let mut sum = 0.0;
        for k in 0..points {
            let (a, b) = (at(k), at(k + 1));
            sum += 0.5
                * (self.step_seconds(spec, a, batch) + self.step_seconds(spec, b, batch))
                * (b - a) as f64;
        }
        // the trapezoid covers positions prompt .. prompt+generate−1 as intervals; add the last step
        prefill + sum + self.step_seconds(spec, prompt + generate - 1, batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attention_decode_cost_grows_with_context_recurrent_does_not() {
        let attn = ArchSpec::from_json(r#"{"vocab_size": 256, "d_model": 256, "attention": {"n_heads": 4}, "layers": ["a", "a"]}"#).unwrap();
        let rec = ArchSpec::from_json(r#"{"vocab_size": 256, "d_model": 256, "mamba2": {"head_dim": 64}, "layers": ["m2", "m2"]}"#).unwrap();
        let dev = DeviceModel::preset("h100").unwrap();
        assert!(dev.step_seconds(&attn, 100_000, 1) > 2.0 * dev.step_seconds(&attn, 100, 1));
        assert!(
            (dev.step_seconds(&rec, 100_000, 1) - dev.step_seconds(&rec, 100, 1)).abs() < 1e-12
        );
        assert!(dev.decode_seconds(&attn, 64, 1000, 1) > dev.decode_seconds(&attn, 64, 100, 1));
        assert!(DeviceModel::preset("tpu").is_err());
    }
}
