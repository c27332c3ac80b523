//! Depthwise causal conv1d with SiLU (§3.2), whole-sequence and step in one function.
//!
//! The state is the K−1 most recent *raw* inputs, oldest first (zeros at sequence start), kept
//! as `[B, K−1, C]`. Prepending it to the input makes the step form (T = 1) and the
//! whole-sequence form (any T, any carried state) the same computation.

use burn::tensor::activation::silu;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// `x: [B, T, C]`, `state: [B, K−1, C]`, `w: [K, C]` (tap K−1 multiplies the current input),
/// `bias: [C]`. Returns `silu(conv(x))` and the new state.
pub fn causal_conv_silu<B: Backend>(
    x: Tensor<B, 3>,
    state: Option<Tensor<B, 3>>,
    w: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let [b, t, c] = x.dims();
    let k = w.dims()[0];
    let state = state.unwrap_or_else(|| Tensor::zeros([b, k - 1, c], &x.device()));
    let padded = Tensor::cat(vec![state, x], 1); // [B, T+K−1, C]
    let mut y = padded.clone().narrow(1, 0, t) * w.clone().narrow(0, 0, 1).unsqueeze::<3>();
    for j in 1..k {
        y = y + padded.clone().narrow(1, j, t) * w.clone().narrow(0, j, 1).unsqueeze::<3>();
    }
    if let Some(bias) = bias {
        y = y + bias.unsqueeze::<3>();
    }
    let new_state = padded.narrow(1, t, k - 1);
    (silu(y), new_state)
}
