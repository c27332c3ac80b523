//! RMSNorm (§3.1): `y = x · rsqrt(mean(x²) + eps) ⊙ w` over the last axis.

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// RMS-normalizes the last axis of `x` and scales it by `w` (length = last axis).
pub fn rms_norm<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    w: Tensor<B, 1>,
    eps: f64,
) -> Tensor<B, D> {
    rms_normalize(x, eps) * w.unsqueeze::<D>()
}

/// RMS-normalizes the last axis without a weight.
pub fn rms_normalize<B: Backend, const D: usize>(x: Tensor<B, D>, eps: f64) -> Tensor<B, D> {
    let inv = x
        .clone()
        .powi_scalar(2)
        .mean_dim(D - 1)
        .add_scalar(eps)
        .sqrt()
        .recip();
    x * inv
}

/// fla's `l2norm` (§3.3): `x / sqrt(Σ x² + 1e-6)` over the last axis.
pub fn l2_normalize<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let inv = x
        .clone()
        .powi_scalar(2)
        .sum_dim(D - 1)
        .add_scalar(1e-6)
        .sqrt()
        .recip();
    x * inv
}
