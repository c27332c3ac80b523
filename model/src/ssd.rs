//! The Mamba2 state-space recurrence (SSD), in its chunked form (§6.4) and its recurrent form
//! (§6.3). Both take and return the state `h: [B, H, P, N]`.
//!
//! Per head, with `a_t = dt_t·A ≤ 0` and `x̄_t = dt_t·x_t`:
//! `h_t = exp(a_t)·h_{t−1} + x̄_t B_tᵀ`, `y_t = h_t C_t` (the `D` skip is added by the layer).

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

/// Inputs of the scan. `x: [B,T,H,P]`, `dt: [B,T,H]` (after softplus), `a: [H]` (= −exp(A_log)),
/// `b`, `c: [B,T,G,N]`.
pub struct SsdInput<B: Backend> {
    pub x: Tensor<B, 4>,
    pub dt: Tensor<B, 3>,
    pub a: Tensor<B, 1>,
    pub b: Tensor<B, 4>,
    pub c: Tensor<B, 4>,
}

/// Repeats group tensors `[B,T,G,N]` to heads `[B,T,H,N]`: head h reads group ⌊h/(H/G)⌋.
fn groups_to_heads<B: Backend>(t: Tensor<B, 4>, heads: usize) -> Tensor<B, 4> {
    let [b, l, g, n] = t.dims();
    if g == heads {
        return t;
    }
    t.unsqueeze_dim::<5>(3)
        .expand([b, l, g, heads / g, n])
        .reshape([b, l, heads, n])
}

/// Additive causal mask `[Q, Q]`: 0 where `s ≤ l`, −∞ where `s > l` (row l, column s).
pub(crate) fn causal_neg_inf<B: Backend>(q: usize, device: &B::Device) -> Tensor<B, 2> {
    let mut m = vec![0.0f32; q * q];
    for l in 0..q {
        for s in l + 1..q {
            m[l * q + s] = f32::NEG_INFINITY;
        }
    }
    Tensor::from_data(TensorData::new(m, [q, q]), device)
}

/// Pads axis 1 with zeros up to `len`.
pub(crate) fn pad_time<B: Backend, const D: usize>(t: Tensor<B, D>, len: usize) -> Tensor<B, D> {
    let mut dims = t.dims();
    if dims[1] == len {
        return t;
    }
    dims[1] = len - dims[1];
    let z = Tensor::zeros(dims, &t.device());
    Tensor::cat(vec![t, z], 1)
}

/// Chunked SSD with chunk length `q`. Returns `y: [B,T,H,P]` and the final state.
pub fn ssd_chunked<B: Backend>(
    input: SsdInput<B>,
    h0: Option<Tensor<B, 4>>,
    q: usize,
) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let SsdInput { x, dt, a, b, c } = input;
    let device = x.device();
    let [bsz, t, h, p] = x.dims();
    let n = b.dims()[3];
    let q = q.min(t.max(1));
    let nc = t.div_ceil(q);
    let tp = nc * q;

    // Padding with dt = 0 gives decay 1 and input 0: the state passes through unchanged.
    let xbar = pad_time(x * dt.clone().unsqueeze_dim::<4>(3), tp); // [B,Tp,H,P]
    let adt = pad_time(dt * a.reshape([1, 1, h]), tp); // [B,Tp,H]
    let b = pad_time(groups_to_heads(b, h), tp); // [B,Tp,H,N]
    let c = pad_time(groups_to_heads(c, h), tp);

    // Head-major chunk layout [B, H, nc, Q, ·].
    let xbar = xbar.reshape([bsz, nc, q, h, p]).permute([0, 3, 1, 2, 4]);
    let b = b.reshape([bsz, nc, q, h, n]).permute([0, 3, 1, 2, 4]);
    let c = c.reshape([bsz, nc, q, h, n]).permute([0, 3, 1, 2, 4]);
    let lam = adt.reshape([bsz, nc, q, h]).permute([0, 3, 1, 2]).cumsum(3); // Λ_l, inclusive [B,H,nc,Q]

    // Intra-chunk: Y_diag[l] = Σ_{s≤l} (C_l·B_s) exp(Λ_l − Λ_s) x̄_s; mask before exp.
    let seg = lam.clone().unsqueeze_dim::<5>(4) - lam.clone().unsqueeze_dim::<5>(3);
    let decay = (seg + causal_neg_inf::<B>(q, &device).reshape([1, 1, 1, q, q])).exp();
    let cb = c.clone().matmul(b.clone().swap_dims(3, 4)); // [B,H,nc,Q,Q]
    let y_diag = (cb * decay).matmul(xbar.clone()); // [B,H,nc,Q,P]

    // Each chunk's own contribution to the state at its end.
    let lam_last = lam.clone().narrow(3, q - 1, 1); // [B,H,nc,1]
    let to_end = (lam_last.clone() - lam.clone()).exp(); // [B,H,nc,Q]
    let s_chunk = (xbar * to_end.unsqueeze_dim::<5>(4))
        .swap_dims(3, 4)
        .matmul(b); // [B,H,nc,P,N]
    let chunk_decay = lam_last.exp(); // [B,H,nc,1]

    // Sequential carry over chunks.
    let mut state = h0.unwrap_or_else(|| Tensor::zeros([bsz, h, p, n], &device));
    let mut entering = Vec::with_capacity(nc);
    for ci in 0..nc {
        entering.push(state.clone());
        let dec = chunk_decay.clone().narrow(2, ci, 1).reshape([bsz, h, 1, 1]);
        let s = s_chunk.clone().narrow(2, ci, 1).reshape([bsz, h, p, n]);
        state = state * dec + s;
    }
    let h_in: Tensor<B, 5> = Tensor::stack(entering, 2); // [B,H,nc,P,N]

    // Inter-chunk: Y_off[l] = exp(Λ_l) · h_in C_l.
    let y_off = c.matmul(h_in.swap_dims(3, 4)) * lam.exp().unsqueeze_dim::<5>(4); // [B,H,nc,Q,P]

    let y = (y_diag + y_off)
        .permute([0, 2, 3, 1, 4])
        .reshape([bsz, tp, h, p])
        .narrow(1, 0, t);
    (y, state)
}

/// Recurrent SSD, one token after another (the decode step is the T = 1 case).
pub fn ssd_recurrent<B: Backend>(
    input: SsdInput<B>,
    h0: Option<Tensor<B, 4>>,
) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let SsdInput { x, dt, a, b, c } = input;
    let [bsz, t, h, p] = x.dims();
    let n = b.dims()[3];
    let b = groups_to_heads(b, h);
    let c = groups_to_heads(c, h);
    let mut state = h0.unwrap_or_else(|| Tensor::zeros([bsz, h, p, n], &x.device()));
    let a = a.reshape([1, h]);
    let mut ys = Vec::with_capacity(t);
    for i in 0..t {
        let dt_i = dt.clone().narrow(1, i, 1).reshape([bsz, h]);
        let x_i = x.clone().narrow(1, i, 1).reshape([bsz, h, p, 1]);
        let b_i = b.clone().narrow(1, i, 1).reshape([bsz, h, 1, n]);
        let c_i = c.clone().narrow(1, i, 1).reshape([bsz, h, n, 1]);
        let da = (dt_i.clone() * a.clone()).exp().reshape([bsz, h, 1, 1]);
        state = state * da + (x_i * dt_i.reshape([bsz, h, 1, 1])).matmul(b_i);
        ys.push(state.clone().matmul(c_i).reshape([bsz, 1, h, p]));
    }
    (Tensor::cat(ys, 1), state)
}
