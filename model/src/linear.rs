//! Bias-free (optionally biased) linear map, `y = x W (+ b)`, with `W` stored `[in, out]`.
//!
//! The §10 files hold `[out, in]` (PyTorch); the weight reader transposes once at load so the
//! hot path is one plain GEMM over all leading dimensions ([`crate::kernels::linear`]).

use crate::kernels::{self, Kernels};
use burn::module::Param;
use burn::tensor::Tensor;

/// Applies `x W (+ b)` to the last axis of `x`.
pub fn linear<B: Kernels, const D: usize>(
    x: Tensor<B, D>,
    w: &Param<Tensor<B, 2>>,
    b: Option<&Param<Tensor<B, 1>>>,
) -> Tensor<B, D> {
    kernels::linear(x, w.val(), b.map(|b| b.val()))
}
