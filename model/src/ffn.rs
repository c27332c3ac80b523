//! SwiGLU FFN (§4): `down(silu(gate(x)) ⊙ up(x))`, no biases, stateless.

use crate::kernels::{self, Kernels};
use crate::kind::{Family, KindDescriptor};
use crate::linear::linear;
use crate::spec::FfnConfig;
use crate::tensors::{Init, TensorSpec};
use crate::weights::{WeightError, WeightReader, WeightWriter};
use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// The SwiGLU FFN.
pub const FFN: KindDescriptor = KindDescriptor {
    kind: crate::spec::LayerKind::Ffn,
    name: "ffn",
    short: "f",
    section: "ffn",
    module: "ffn",
    family: Family::Ffn,
};

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
