//! Bias-free (optionally biased) linear map, `y = x W (+ b)`, with `W` stored `[in, out]`.
//!
//! The §10 files hold `[out, in]` (PyTorch); the weight reader transposes once at load so the
//! hot path is one plain GEMM over all leading dimensions.

use burn::module::Param;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// Applies `x W (+ b)` to the last axis of `x`.
pub fn linear<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    w: &Param<Tensor<B, 2>>,
    b: Option<&Param<Tensor<B, 1>>>,
) -> Tensor<B, D> {
    let dims = x.dims();
    let w = w.val();
    let [n_in, n_out] = w.dims();
    let rows: usize = dims[..D - 1].iter().product();
    let mut y = x.reshape([rows, n_in]).matmul(w);
    if let Some(b) = b {
        y = y + b.val().unsqueeze::<2>();
    }
    let mut out = dims;
    out[D - 1] = n_out;
    y.reshape(out)
}
