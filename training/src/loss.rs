//! Masked next-token cross-entropy and accuracy.

use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Int, Tensor};
use flashnas_model::kernels::{self, Kernels};

/// Mean negative log-likelihood (nats) of `targets` under `logits: [B,T,V]` over the positions
/// where `mask` (`[B,T]`, 0/1) is 1; all positions when `mask` is `None`.
pub fn cross_entropy<B: Kernels>(
    logits: Tensor<B, 3>,
    targets: Tensor<B, 2, Int>,
    mask: Option<Tensor<B, 2>>,
) -> Tensor<B, 1> {
    let [b, t, v] = logits.dims();
    let nll = kernels::cross_entropy(logits.reshape([b * t, v]), targets.reshape([b * t]))
        .reshape([b, t]);
    match mask {
        None => nll.mean(),
        Some(m) => (nll * m.clone()).sum() / m.sum().clamp_min(1.0),
    }
}

/// Summed NLL, number of correct argmax predictions and number of counted positions.
pub fn nll_and_correct<B: Backend>(
    logits: Tensor<B, 3>,
    targets: Tensor<B, 2, Int>,
    mask: Option<Tensor<B, 2>>,
) -> (f64, usize, usize) {
    let [b, t, _] = logits.dims();
    let pred = logits.clone().argmax(2).reshape([b, t]);
    let logp = log_softmax(logits, 2);
    let nll = logp
        .gather(2, targets.clone().reshape([b, t, 1]))
        .reshape([b, t])
        .neg();
    let hit = pred.equal(targets).float();
    let (nll, hit, count) = match mask {
        None => (nll.sum(), hit.sum(), b * t),
        Some(m) => {
            let count: f32 = m.clone().sum().into_scalar().elem();
            ((nll * m.clone()).sum(), (hit * m).sum(), count as usize)
        }
    };
    let nll: f64 = nll.into_scalar().elem();
    let hit: f64 = hit.into_scalar().elem();
    (nll, hit.round() as usize, count)
}
