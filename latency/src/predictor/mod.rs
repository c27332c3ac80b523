//! A learned latency predictor: decode latency in reference units (candidate ÷ reference model,
//! both timed interleaved: robust to a loaded machine) as a sum of per-operator costs plus
//! the measured interactions between neighbouring operators, each with an interval.
//!
//! Each sublayer kind costs `c₀ + c₁·d + c₂·params + c₃·FLOPs` (`d` the width: the
//! activation-sized elementwise work, which dominates small layers; FLOPs per token at
//! mid-generation, so attention's growing cache is in it), the model shell
//! `s₀ + s₁·d + s₂·params outside layers + s₃·max(0, W − C)`, where `W` is the bytes a decode
//! step reads (weights, caches, states) and `C` the working set the memory hierarchy holds:
//! beyond it every byte comes from further out (measured here: an FFN stack at d = 288 costs
//! 0.72 reference units a layer up to 8 MB of weights, 1.29 at 32 MB). `C` is fitted: the
//! one of a geometric grid whose fit leaves the smallest residual;
//! an adjacency term `n(x→y)` enters for each pair whose measured `[x, y]` differs from `x + y`
//! (what the runtime overlaps or fuses), with a second term `n(x→y)·64/d` where the difference
//! changes with the width (attention → FFN at 4k prompts: 16 % of the pair at the narrowest
//! width, none at the widest). Coefficients are fitted by non-negative least squares
//! on relative error (`nalgebra`, already a dependency: the basis is physical and small, and a
//! linear model in it extrapolates to widths outside the grid, where tree ensembles such as
//! `gbdt` or `smartcore`'s forests flatten out). The interval combines the fit's parameter
//! covariance with the residual spread.

pub mod build;
mod nnls;

use crate::lut::{LutProtocol, BURN_VERSION};
use flashnas_model::accounting::accounting;
use flashnas_model::spec::LayerKind;
use flashnas_model::ArchSpec;
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Features of the shell, then of each kind.
pub const SHELL_FEATURES: usize = 4;
pub const KIND_FEATURES: usize = 4;

/// The working-set sizes (bytes) the build tries as the cache knee `C`: 32 KiB to 256 MiB in
/// steps of √2.
pub fn cache_candidates() -> Vec<f64> {
    (0..=26)
        .map(|i| 32768.0 * 2f64.powf(i as f64 / 2.0))
        .collect()
}

/// The base features of `spec` under the protocol, with `cache_bytes` the knee `C`: the
/// shell's, then each kind's.
pub fn base_features(spec: &ArchSpec, protocol: &LutProtocol, cache_bytes: f64) -> Vec<f64> {
    let mid = protocol.prompt + protocol.generate / 2;
    let acc = accounting(spec, mid);
    let d = spec.d_model as f64;
    let beyond = (acc.bytes_per_token - cache_bytes).max(0.0);
    let mut x = vec![1.0, d, acc.params_outside_layers as f64, beyond];
    for kind in LayerKind::ALL {
        let (mut n, mut p, mut f) = (0.0, 0.0, 0.0);
        for (i, l) in acc.layers.iter().enumerate() {
            if spec.layers[i].kind == kind {
                n += 1.0;
                p += l.params as f64;
                f += l.flops_per_token;
            }
        }
        x.extend([n, n * d, p, f]);
    }
    x
}

pub fn base_feature_names() -> Vec<String> {
    let mut names = vec![
        "shell".to_string(),
        "shell_width".to_string(),
        "shell_params".to_string(),
        "bytes_beyond_cache".to_string(),
    ];
    for k in LayerKind::ALL {
        names.extend([
            k.name().to_string(),
            format!("{}_width", k.name()),
            format!("{}_params", k.name()),
            format!("{}_flops", k.name()),
        ]);
    }
    names
}

/// The width an interaction's width term is counted against: `n(x→y)·WIDTH_TERM_AT/d` equals
/// `n(x→y)` at this width.
pub const WIDTH_TERM_AT: f64 = 64.0;

/// The names of [`features`].
pub fn feature_names(interactions: &[(LayerKind, LayerKind)], by_width: bool) -> Vec<String> {
    let mut names = base_feature_names();
    let pair = |(a, b): &(LayerKind, LayerKind)| format!("{}→{}", a.name(), b.name());
    names.extend(interactions.iter().map(pair));
    if by_width {
        names.extend(
            interactions
                .iter()
                .map(|p| format!("{}×{WIDTH_TERM_AT}/d", pair(p))),
        );
    }
    names
}

/// The base features, then one adjacency count per interaction pair, then (`by_width`) each
/// count scaled by `WIDTH_TERM_AT / d`: an interaction that fades as the layers it joins grow.
pub fn features(
    spec: &ArchSpec,
    protocol: &LutProtocol,
    interactions: &[(LayerKind, LayerKind)],
    by_width: bool,
    cache_bytes: f64,
) -> Vec<f64> {
    let mut x = base_features(spec, protocol, cache_bytes);
    let counts: Vec<f64> = interactions
        .iter()
        .map(|&(a, b)| adjacency(spec, a, b))
        .collect();
    x.extend(&counts);
    if by_width {
        let fade = WIDTH_TERM_AT / spec.d_model as f64;
        x.extend(counts.iter().map(|n| n * fade));
    }
    x
}

/// How often `x` is directly followed by `y` in the layer list.
pub fn adjacency(spec: &ArchSpec, x: LayerKind, y: LayerKind) -> f64 {
    spec.layers
        .windows(2)
        .filter(|w| w[0].kind == x && w[1].kind == y)
        .count() as f64
}

/// A prediction: the ratio to the reference and its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub ratio: f64,
    pub lower: f64,
    pub upper: f64,
}

impl Prediction {
    /// Half the interval's width relative to the prediction (%).
    pub fn uncertainty_pct(&self) -> f64 {
        100.0 * (self.upper - self.lower) / (2.0 * self.ratio)
    }
}

/// A fitted predictor for one device model, backend, burn version, protocol and reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyModel {
    pub device: String,
    pub backend: String,
    pub burn_version: String,
    pub protocol: LutProtocol,
    /// The reference model (layer string and width) the ratios are taken against.
    pub reference: String,
    /// The reference's decode seconds when the model was built (for seconds without a
    /// campaign reference).
    pub reference_s: f64,
    /// Adjacent pairs with their own term (`(x, y)` = x directly followed by y).
    pub interactions: Vec<(LayerKind, LayerKind)>,
    /// Each interaction also has a term that fades with the width (models built before it
    /// have none).
    #[serde(default)]
    pub interactions_by_width: bool,
    pub names: Vec<String>,
    pub coef: Vec<f64>,
    /// Covariance of the coefficients (row-major, names × names).
    pub cov: Vec<f64>,
    /// Standard deviation of the relative residuals of the fit.
    pub sigma_rel: f64,
    /// Measured architectures the fit used.
    pub samples: usize,
    /// The widths the design measured every kind at: predictions beyond them extrapolate.
    pub widths: Vec<usize>,
    /// The fitted cache knee `C` (bytes read per step beyond which each byte costs more).
    pub cache_bytes: f64,
}

impl LatencyModel {
    /// The identity a campaign must match to use this model.
    pub fn key(&self) -> String {
        format!(
            "{} | {} | burn {} | prompt {} + generate {}, batch {} | reference {}",
            self.device,
            self.backend,
            self.burn_version,
            self.protocol.prompt,
            self.protocol.generate,
            self.protocol.batch,
            self.reference
        )
    }

    pub fn features(&self, spec: &ArchSpec) -> Vec<f64> {
        features(
            spec,
            &self.protocol,
            &self.interactions,
            self.interactions_by_width,
            self.cache_bytes,
        )
    }

    pub fn predict(&self, spec: &ArchSpec) -> Prediction {
        let x = self.features(spec);
        let ratio: f64 = x.iter().zip(&self.coef).map(|(a, b)| a * b).sum();
        let p = self.coef.len();
        // Parameter uncertainty, relative to the prediction, plus the residual spread.
        let mut var = 0.0;
        for i in 0..p {
            for j in 0..p {
                var += x[i] * self.cov[i * p + j] * x[j];
            }
        }
        let rel = (var.max(0.0) / (ratio * ratio).max(1e-30) + self.sigma_rel.powi(2)).sqrt();
        Prediction {
            ratio,
            lower: ratio * (1.0 - 1.96 * rel),
            upper: ratio * (1.0 + 1.96 * rel),
        }
    }

    pub fn load(path: &Path) -> Result<Self, crate::Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| crate::Error::Table(format!("{}: cannot read: {e}", path.display())))?;
        let model: Self = serde_json::from_str(&text).map_err(|e| {
            crate::Error::Table(format!(
                "{}: not a flashnas latency model: {e}",
                path.display()
            ))
        })?;
        // A model built by another version of the feature set would predict nonsense.
        let names = feature_names(&model.interactions, model.interactions_by_width);
        if model.names != names || model.coef.len() != names.len() {
            return Err(crate::Error::Table(format!(
                "{}: its features ({}) are not this flashnas's ({}); rebuild it with \
                 `flashnas latency-model build`",
                path.display(),
                model.names.join(", "),
                names.join(", ")
            )));
        }
        Ok(model)
    }

    pub fn save(&self, path: &Path) -> Result<(), crate::Error> {
        let text = serde_json::to_string_pretty(self).expect("serializable");
        flashnas_model::fsio::write_atomic(path, text.as_bytes())
            .map_err(|e| crate::Error::Table(format!("{}: cannot write: {e}", path.display())))
    }
}

/// One measured architecture: its features and its ratio to the reference.
#[derive(Debug, Clone)]
pub struct Sample {
    pub layers: String,
    pub features: Vec<f64>,
    pub ratio: f64,
}

/// Fits the coefficients on relative error: every sample weighs by 1/ratio, so a 10 % miss
/// on a small model counts as much as on a large one. Shell and per-kind costs are
/// non-negative; interaction terms may be either sign.
pub fn fit(samples: &[Sample], n_base: usize) -> (Vec<f64>, Vec<f64>, f64) {
    let n = samples.len();
    let p = samples[0].features.len();
    // Columns scaled to a comparable size; the coefficients are scaled back.
    let scale: Vec<f64> = (0..p)
        .map(|j| {
            samples
                .iter()
                .map(|s| s.features[j].abs())
                .fold(0.0, f64::max)
                .max(1e-30)
        })
        .collect();
    let a = DMatrix::from_fn(n, p, |r, c| {
        samples[r].features[c] / scale[c] / samples[r].ratio
    });
    let b = DVector::from_element(n, 1.0);
    let nonneg: Vec<bool> = (0..p).map(|j| j < n_base).collect();
    let z = nnls::nnls(&a, &b, &nonneg);
    let resid = &b - &a * &z;
    let active: Vec<usize> = (0..p).filter(|&j| z[j] != 0.0 || !nonneg[j]).collect();
    let dof = n.saturating_sub(active.len()).max(1);
    let sigma2 = resid.norm_squared() / dof as f64;
    // Covariance on the active columns: σ² (AᵀA)⁻¹, in unscaled units.
    let mut cov = vec![0.0; p * p];
    let sub = DMatrix::from_fn(n, active.len(), |r, c| a[(r, active[c])]);
    if let Some(inv) = (sub.transpose() * &sub).try_inverse() {
        for (ii, &i) in active.iter().enumerate() {
            for (jj, &j) in active.iter().enumerate() {
                cov[i * p + j] = sigma2 * inv[(ii, jj)] / (scale[i] * scale[j]);
            }
        }
    }
    let coef = (0..p).map(|j| z[j] / scale[j]).collect();
    (coef, cov, sigma2.sqrt())
}

/// A new model's metadata.
pub struct ModelIdentity {
    pub device: String,
    pub protocol: LutProtocol,
    pub reference: String,
    pub reference_s: f64,
}

impl ModelIdentity {
    pub fn model(
        &self,
        interactions: Vec<(LayerKind, LayerKind)>,
        samples: &[Sample],
        widths: &[usize],
        cache_bytes: f64,
    ) -> LatencyModel {
        let n_base = base_feature_names().len();
        let (coef, cov, sigma_rel) = fit(samples, n_base);
        let names = feature_names(&interactions, true);
        LatencyModel {
            device: self.device.clone(),
            backend: flashnas_model::backend::backend_name().into(),
            burn_version: BURN_VERSION.into(),
            protocol: self.protocol.clone(),
            reference: self.reference.clone(),
            reference_s: self.reference_s,
            interactions,
            interactions_by_width: true,
            names,
            coef,
            cov,
            sigma_rel,
            samples: samples.len(),
            widths: widths.to_vec(),
            cache_bytes,
        }
    }
}
