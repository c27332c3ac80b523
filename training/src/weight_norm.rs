//! Nemotron-Flash weight normalization, applied after every optimizer step.
//!
//! Which matrices, in the `[out, in]` convention of docs/OPERATORS.md §10:
//! - **rows** normalized to unit L2 norm — matrices that *read* the residual stream:
//!   attention `q_proj`, `k_proj`, `v_proj`; FFN `gate_proj`, `up_proj`; Mamba2 `in_proj`;
//!   DeltaNet / Gated DeltaNet `q_proj`, `k_proj`, `v_proj`, `b_proj`, `a_proj`, `g_proj`;
//! - **columns** normalized — matrices whose output is *added back* to the residual stream:
//!   `o_proj`, `down_proj`, Mamba2 `out_proj`.
//!
//! Either way the normalized vectors live in the d_model space. Left alone: the embedding,
//! the LM head, meta tokens, norm weights, conv weights, biases and the SSM / gate scalars.
//! Our compute layout is `[in, out]` (transposed), so rows of `[out, in]` are columns here.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;

/// Field names of matrices that read the residual stream (rows normalized).
pub const READS_RESIDUAL: &[&str] = &[
    "q_proj",
    "k_proj",
    "v_proj",
    "gate_proj",
    "up_proj",
    "in_proj",
    "b_proj",
    "a_proj",
    "g_proj",
];
/// Field names of matrices that write into the residual stream (columns normalized).
pub const WRITES_RESIDUAL: &[&str] = &["o_proj", "down_proj", "out_proj"];

struct Normalizer {
    path: Vec<String>,
}

impl<B: AutodiffBackend> ModuleMapper<B> for Normalizer {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let Some(name) = self.path.last() else {
            return param;
        };
        // Stored [in, out]: a §10 row is a column here (axis 0), a §10 column a row (axis 1).
        let axis = if READS_RESIDUAL.contains(&name.as_str()) {
            0
        } else if WRITES_RESIDUAL.contains(&name.as_str()) {
            1
        } else {
            return param;
        };
        if D != 2 {
            return param;
        }
        let (id, tensor, mapper) = param.consume();
        let w = tensor.inner();
        let norm = w
            .clone()
            .powi_scalar(2)
            .sum_dim(axis)
            .sqrt()
            .clamp_min(1e-12);
        // A fresh leaf that keeps the parameter id, so the optimizer state follows it.
        let y = Tensor::from_inner(w / norm).require_grad();
        Param::from_mapped_value(id, y, mapper)
    }
}

/// Normalizes the affected matrices of any module built from the flashnas operators.
pub fn normalize_weights<B: AutodiffBackend, M: Module<B>>(module: M) -> M {
    module.map(&mut Normalizer { path: Vec::new() })
}
