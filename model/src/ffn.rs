//! SwiGLU FFN (§4): `down(silu(gate(x)) ⊙ up(x))`, no biases, stateless.

use crate::config::{FfnConfig, LayerConfig};
use crate::descriptor::KindDescriptor;
use crate::fields::{Fields, SpecError};
use crate::kernels::{self, Kernels};
use crate::kind::{section, DecodeCost, Family, LayerKind, Section, Sizing};
use crate::linear::linear;
use crate::tensors::{Init, TensorSpec};
use crate::weights::{WeightError, WeightReader, WeightWriter};
use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// The SwiGLU FFN.
pub const FFN: KindDescriptor = KindDescriptor {
    kind: LayerKind::Ffn,
    name: "ffn",
    short: "f",
    section: "ffn",
    module: "ffn",
    family: Family::Ffn,
    resolve,
    tensors: layer_tensors,
    cost: decode_cost,
    sized,
};

/// F = `hidden`, or int(ratio · d_model) // multiple_of · multiple_of (ratio 3, multiple of
/// 128 by default); F must be a positive multiple of 8.
fn resolve(f: &mut Fields) -> Result<LayerConfig, SpecError> {
    let ratio = f.f64_or("ratio", 3.0)?;
    let multiple_of = f.positive_or("multiple_of", 128)?;
    let hidden = match f.usize_opt("hidden")? {
        Some(hd) => hd,
        None => {
            if !(ratio.is_finite() && ratio > 0.0) {
                return Err(f.err("ratio", format!("{ratio} must be a finite number > 0")));
            }
            ((ratio * f.d_model as f64) as usize) / multiple_of * multiple_of
        }
    };
    if hidden == 0 || hidden % 8 != 0 {
        return Err(f.err(
            "hidden",
            format!("{hidden} must be > 0 and a multiple of 8 (F = hidden, or int(ratio·d_model) // multiple_of · multiple_of)"),
        ));
    }
    Ok(LayerConfig::Ffn(FfnConfig { hidden }))
}

fn config(c: &LayerConfig) -> &FfnConfig {
    match c {
        LayerConfig::Ffn(c) => c,
        other => unreachable!("the ffn descriptor was given {other:?}"),
    }
}

fn layer_tensors(prefix: &str, c: &LayerConfig, d: usize) -> Vec<TensorSpec> {
    tensors(prefix, config(c), d)
}

/// Three `d × F` matmuls; no state.
fn decode_cost(c: &LayerConfig, d: usize, _seen: usize) -> DecodeCost {
    DecodeCost {
        state_bytes: 0,
        flops: 3.0 * (2.0 * d as f64 * config(c).hidden as f64),
        state_traffic: 0.0,
    }
}

fn sized(s: &Sizing) -> Section {
    section([
        ("ratio", s.ffn_ratio.into()),
        ("multiple_of", s.ffn_multiple_of.into()),
    ])
}

#[derive(Module, Debug)]
pub struct Ffn<B: Backend> {
    gate_proj: Param<Tensor<B, 2>>,
    up_proj: Param<Tensor<B, 2>>,
    down_proj: Param<Tensor<B, 2>>,
}

/// The §10 tensors of an ffn sublayer under `prefix` (`model.layers.{i}.ffn`).
pub fn tensors(prefix: &str, c: &FfnConfig, d: usize) -> Vec<TensorSpec> {
    let f = c.hidden;
    vec![
        TensorSpec::new(
            format!("{prefix}.gate_proj.weight"),
            &[f, d],
            Init::Normal(0.02),
        ),
        TensorSpec::new(
            format!("{prefix}.up_proj.weight"),
            &[f, d],
            Init::Normal(0.02),
        ),
        TensorSpec::new(
            format!("{prefix}.down_proj.weight"),
            &[d, f],
            Init::Normal(0.02),
        ),
    ]
}

impl<B: Backend> Ffn<B> {
    pub fn read(
        r: &mut WeightReader<B>,
        prefix: &str,
        c: &FfnConfig,
        d: usize,
    ) -> Result<Self, WeightError> {
        Ok(Self {
            gate_proj: r.linear(&format!("{prefix}.gate_proj.weight"), c.hidden, d)?,
            up_proj: r.linear(&format!("{prefix}.up_proj.weight"), c.hidden, d)?,
            down_proj: r.linear(&format!("{prefix}.down_proj.weight"), d, c.hidden)?,
        })
    }

    pub fn write(&self, w: &mut WeightWriter, prefix: &str) {
        w.linear(&format!("{prefix}.gate_proj.weight"), &self.gate_proj);
        w.linear(&format!("{prefix}.up_proj.weight"), &self.up_proj);
        w.linear(&format!("{prefix}.down_proj.weight"), &self.down_proj);
    }
}

impl<B: Kernels> Ffn<B> {
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let gate = linear(x.clone(), &self.gate_proj, None);
        let up = linear(x, &self.up_proj, None);
        linear(kernels::silu_mul(gate, up), &self.down_proj, None)
    }
}
