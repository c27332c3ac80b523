//! The latency protocol and budget of a campaign (`[latency]` of its config): which source
//! prices a candidate, on which device, under which decode protocol, against which budget.

use crate::{DeviceModel, LatencySource};
use serde::{Deserialize, Serialize};

fn d_source() -> LatencySource {
    LatencySource::Measured
}
fn d_device() -> String {
    "cpu".into()
}
fn d_prompt() -> usize {
    64
}
fn d_generate() -> usize {
    128
}
fn d_repeats() -> usize {
    3
}
fn d_lut_err() -> f64 {
    10.0
}
fn d_uncertainty() -> f64 {
    10.0
}
fn d_edge_pct() -> f64 {
    3.0
}
fn d_reference() -> Vec<String> {
    ["a", "f", "a", "f"].iter().map(|s| s.to_string()).collect()
}

/// `[latency]`: how a candidate's decode latency is obtained and what budget it must meet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyConfig {
    #[serde(default = "d_source")]
    pub source: LatencySource,
    /// Device of measured latency: `cpu` or `cuda:N`.
    #[serde(default = "d_device")]
    pub device: String,
    /// Decode protocol: prompt P, then G generated tokens, batch 1.
    #[serde(default = "d_prompt")]
    pub prompt: usize,
    #[serde(default = "d_generate")]
    pub generate: usize,
    #[serde(default = "d_repeats")]
    pub repeats: usize,
    /// The budget: decode seconds (prefill of P + G steps). Candidates above it are infeasible.
    #[serde(default)]
    pub budget_s: Option<f64>,
    /// Or the budget in reference units: `1.3` = 1.3 × the reference model's latency.
    #[serde(default)]
    pub budget_ref: Option<f64>,
    /// Train candidates whose latency is already over the budget (the whole landscape).
    /// By default a candidate is priced first and, when over the budget, journaled as
    /// infeasible with its latency and not trained.
    #[serde(default)]
    pub train_over_budget: bool,
    /// Time each candidate interleaved with the reference model (A B A B … A, `repeats`
    /// rounds) and take its latency relative to the reference: robust to the whole machine
    /// slowing down or speeding up between campaigns (`source = "measured"` only).
    #[serde(default)]
    pub calibrate: bool,
    /// The reference model: NF layer types at `reference_width` (default: the smallest width).
    #[serde(default = "d_reference")]
    pub reference: Vec<String>,
    #[serde(default)]
    pub reference_width: Option<usize>,
    /// The reference's latency (seconds) under this protocol: measured when the campaign
    /// starts and pinned in `DIR/config.toml`. Calibrated latencies are `ratio × reference_s`,
    /// and `budget_ref` means `budget_ref × reference_s`.
    #[serde(default)]
    pub reference_s: Option<f64>,
    /// The predictor for `source = "predicted"` (from `flashnas latency-model build`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_file: Option<String>,
    /// `source = "predicted"`: measure a candidate whose prediction is less certain than this
    /// (half the 95 % interval, % of the prediction), or whose interval holds the budget.
    #[serde(default = "d_uncertainty")]
    pub predict_max_uncertainty_pct: f64,
    /// Roofline preset (`cpu-2core`, `a100`, `h100`, `h200`) for `source = "analytic"`.
    #[serde(default)]
    pub roofline: Option<String>,
    /// Custom roofline (overrides the preset).
    #[serde(default)]
    pub roofline_device: Option<DeviceModel>,
    /// LUT file for `source = "lut"` (built on first use and validated).
    #[serde(default)]
    pub lut_file: Option<String>,
    /// The LUT is used only while its validated error is below this (%); else measured.
    #[serde(default = "d_lut_err")]
    pub lut_max_error_pct: f64,
    /// A measured latency within this many % of the budget (or of a budget level the campaign
    /// decides at: racing, family seeds, validation targets) is timed again with 3× the
    /// repeats and decided on the median of all its timings: a verdict "over" or "within"
    /// inside the timing noise is re-checked before it costs a candidate. 0 turns it off.
    #[serde(default = "d_edge_pct")]
    pub edge_pct: f64,
}

impl LatencyConfig {
    /// The decode protocol a lookup table or a latency model is keyed by: batch-1 decoding of
    /// `prompt` + `generate` tokens, one warm-up, `repeats` timings.
    pub fn lut_protocol(&self) -> crate::lut::LutProtocol {
        crate::lut::LutProtocol {
            prompt: self.prompt,
            generate: self.generate,
            batch: 1,
            warmup: 1,
            repeats: self.repeats,
        }
    }

    /// Everything but the budget that every source shares: protocol sizes, device, edge
    /// band (`validate_protocol`, in `source/registry.rs`, adds what the source needs).
    pub(crate) fn check_protocol(&self) -> Result<(), String> {
        let l = self;
        if l.prompt == 0 || l.repeats == 0 {
            return Err("latency.prompt and latency.repeats: must be at least 1".into());
        }
        flashnas_model::backend::parse_device(&l.device)
            .map_err(|e| format!("latency.device: {e}"))?;
        if !(l.edge_pct >= 0.0 && l.edge_pct < 100.0) {
            return Err(format!(
                "latency.edge_pct: {} must be in [0, 100) (% of the budget; 0 turns the re-timing off)",
                l.edge_pct
            ));
        }
        if l.predict_max_uncertainty_pct.is_nan() || l.predict_max_uncertainty_pct <= 0.0 {
            return Err("latency.predict_max_uncertainty_pct: must be > 0".into());
        }
        if l.calibrate && l.source != LatencySource::Measured {
            return Err(
                "latency.calibrate: only measured latency is calibrated (set source = \"measured\")"
                    .into(),
            );
        }
        if let Some(r) = l.reference_s {
            if !(r > 0.0 && r.is_finite()) {
                return Err(format!("latency.reference_s: {r} must be > 0"));
            }
        }
        Ok(())
    }

    /// Whether the campaign needs the reference model (calibration, a budget in its units,
    /// or a predictor, which predicts in its units).
    pub fn uses_reference(&self) -> bool {
        self.calibrate || self.budget_ref.is_some() || self.source == LatencySource::Predicted
    }

    /// The budget in seconds (`None` while a `budget_ref` waits for `reference_s`).
    pub fn budget_seconds(&self) -> Option<f64> {
        match (self.budget_s, self.budget_ref, self.reference_s) {
            (Some(b), _, _) => Some(b),
            (None, Some(r), Some(s)) => Some(r * s),
            _ => None,
        }
    }
}

/// The roofline device of an analytic latency config.
pub fn roofline_of(l: &LatencyConfig) -> Option<DeviceModel> {
    l.roofline_device.clone().or_else(|| {
        l.roofline
            .as_deref()
            .and_then(|p| DeviceModel::preset(p).ok())
    })
}
