//! The (gated) delta rule: chunked WY/UT form (§7.3, §8.3) and recurrent form (§7.2, §8.2).
//!
//! State per head `S ∈ R^{Dk×Dv}` (fla `[K, V]` orientation), layout `[B, H, Dk, Dv]`.
//! Recurrent step: `S ← exp(g_t)·S; u_t = β_t (v_t − Sᵀk_t); S ← S + k_t u_tᵀ; o_t = Sᵀq_t`.
//! Plain DeltaNet is the `g ≡ 0` case (pass `g = None`).

use crate::ssd::{causal_neg_inf, pad_time};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

/// Inputs, all per head: `q, k: [B,T,H,Dk]` (already normalized and scaled), `v: [B,T,H,Dv]`,
/// `beta: [B,T,H]`, `g: [B,T,H]` log-decay (≤ 0) or `None` for DeltaNet.
pub struct DeltaInput<B: Backend> {
    pub q: Tensor<B, 4>,
    pub k: Tensor<B, 4>,
    pub v: Tensor<B, 4>,
    pub beta: Tensor<B, 3>,
    pub g: Option<Tensor<B, 3>>,
}

/// `[C, C]` constant with ones where `j < i` (strict) or `j ≤ i` (inclusive).
fn lower_ones<B: Backend>(c: usize, inclusive: bool, device: &B::Device) -> Tensor<B, 2> {
    let mut m = vec![0.0f32; c * c];
    for i in 0..c {
        for j in 0..c {
            if j < i || (inclusive && j == i) {
                m[i * c + j] = 1.0;
            }
        }
    }
    Tensor::from_data(TensorData::new(m, [c, c]), device)
}

/// `(I + A)⁻¹` for strictly lower-triangular `A: [.., C, C]` by forward substitution:
/// `T[i,:] = e_i − Σ_{j<i} A[i,j]·T[j,:]`. Rows are solved in blocks of [`SUB`]: inside a
/// block row by row, and each block's dependence on the earlier blocks in one matmul.
fn unit_lower_inverse<B: Backend>(a: Tensor<B, 5>) -> Tensor<B, 5> {
    let dims = a.dims();
    let c = dims[4];
    let device = a.device();
    let eye = Tensor::<B, 2>::eye(c, &device).reshape([1, 1, 1, c, c]);
    let lead = [dims[0], dims[1], dims[2]];
    let mut solved: Option<Tensor<B, 5>> = None; // rows 0..i of T
    let mut i = 0;
    while i < c {
        let bs = SUB.min(c - i);
        // Contribution of the already solved rows: rhs = E_blk − A[blk, :i] T[:i, :].
        let mut rhs = eye
            .clone()
            .narrow(3, i, bs)
            .expand([lead[0], lead[1], lead[2], bs, c]);
        if let Some(prev) = &solved {
            rhs = rhs
                - a.clone()
                    .narrow(3, i, bs)
                    .narrow(4, 0, i)
                    .matmul(prev.clone());
        }
        // Inside the block: row r also depends on rows i..i+r of T.
        let a_blk = a.clone().narrow(3, i, bs).narrow(4, i, bs); // [.., bs, bs]
        let mut rows: Vec<Tensor<B, 5>> = Vec::with_capacity(bs);
        for r in 0..bs {
            let mut row = rhs.clone().narrow(3, r, 1);
            if r > 0 {
                let done = Tensor::cat(rows.clone(), 3); // [.., r, C]
                row = row - a_blk.clone().narrow(3, r, 1).narrow(4, 0, r).matmul(done);
            }
            rows.push(row);
        }
        let blk = Tensor::cat(rows, 3);
        solved = Some(match solved {
            None => blk,
            Some(prev) => Tensor::cat(vec![prev, blk], 3),
        });
        i += bs;
    }
    solved.expect("c ≥ 1")
}

/// Block size of the forward substitution (rows solved one at a time inside a block).
const SUB: usize = 16;

/// Chunked (gated) delta rule with chunk length `chunk`. Returns `o: [B,T,H,Dv]` and the
/// final state `[B,H,Dk,Dv]`.
pub fn delta_rule_chunked<B: Backend>(
    input: DeltaInput<B>,
    s0: Option<Tensor<B, 4>>,
    chunk: usize,
) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let DeltaInput { q, k, v, beta, g } = input;
    let device = q.device();
    let [bsz, t, h, dk] = q.dims();
    let dv = v.dims()[3];
    let c = chunk.min(t.max(1));
    let nc = t.div_ceil(c);
    let tp = nc * c;

    // Pad with k = 0, β = 0, g = 0: the state passes through padded steps unchanged.
    let to_chunks4 = |x: Tensor<B, 4>, last: usize| {
        pad_time(x, tp)
            .reshape([bsz, nc, c, h, last])
            .permute([0, 3, 1, 2, 4]) // [B,H,nc,C,·]
    };
    let to_chunks3 = |x: Tensor<B, 3>| {
        pad_time(x, tp)
            .reshape([bsz, nc, c, h])
            .permute([0, 3, 1, 2]) // [B,H,nc,C]
    };
    let q = to_chunks4(q, dk);
    let k = to_chunks4(k, dk);
    let v = to_chunks4(v, dv);
    let beta = to_chunks3(beta);

    // Γ (inclusive cumsum of g) and the decay matrix Dec_ij = exp(Γ_i − Γ_j), j ≤ i.
    let gamma = g.map(|g| to_chunks3(g).cumsum(3));
    let dec = gamma.as_ref().map(|gm| {
        let seg = gm.clone().unsqueeze_dim::<5>(4) - gm.clone().unsqueeze_dim::<5>(3);
        (seg + causal_neg_inf::<B>(c, &device).reshape([1, 1, 1, c, c])).exp()
    });

    // A = strict_lower(diag(β) K Kᵀ ⊙ Dec), T = (I + A)⁻¹.
    let mut a = k.clone().matmul(k.clone().swap_dims(3, 4)) * beta.clone().unsqueeze_dim::<5>(4);
    if let Some(dec) = &dec {
        a = a * dec.clone();
    }
    let a = a * lower_ones::<B>(c, false, &device).reshape([1, 1, 1, c, c]);
    let tmat = unit_lower_inverse(a);

    // W = T diag(β ⊙ exp Γ) K,  U = T diag(β) V.
    let beta_k = match &gamma {
        Some(gm) => beta.clone() * gm.clone().exp(),
        None => beta.clone(),
    };
    let w = tmat
        .clone()
        .matmul(k.clone() * beta_k.unsqueeze_dim::<5>(4)); // [B,H,nc,C,Dk]
    let u = tmat.matmul(v * beta.unsqueeze_dim::<5>(4)); // [B,H,nc,C,Dv]

    // Query side: diag(exp Γ) Q, and lower_incl(Q Kᵀ ⊙ Dec).
    let mut qk = q.clone().matmul(k.clone().swap_dims(3, 4));
    if let Some(dec) = dec {
        qk = qk * dec;
    }
    let qk = qk * lower_ones::<B>(c, true, &device).reshape([1, 1, 1, c, c]);
    let (q_dec, k_dec, chunk_decay) = match &gamma {
        Some(gm) => {
            let last = gm.clone().narrow(3, c - 1, 1); // [B,H,nc,1]
            (
                q * gm.clone().exp().unsqueeze_dim::<5>(4),
                k * (last.clone() - gm.clone()).exp().unsqueeze_dim::<5>(4),
                Some(last.exp()),
            )
        }
        None => (q, k, None),
    };

    let mut state = s0.unwrap_or_else(|| Tensor::zeros([bsz, h, dk, dv], &device));
    let mut outs = Vec::with_capacity(nc);
    let pick = |x: &Tensor<B, 5>, ci: usize| {
        let d = x.dims();
        x.clone().narrow(2, ci, 1).reshape([bsz, h, d[3], d[4]])
    };
    for ci in 0..nc {
        let u_c = pick(&u, ci) - pick(&w, ci).matmul(state.clone()); // U' [B,H,C,Dv]
        outs.push(pick(&q_dec, ci).matmul(state.clone()) + pick(&qk, ci).matmul(u_c.clone()));
        let carried = match &chunk_decay {
            Some(cd) => state * cd.clone().narrow(2, ci, 1).reshape([bsz, h, 1, 1]),
            None => state,
        };
        state = carried + pick(&k_dec, ci).swap_dims(2, 3).matmul(u_c);
    }
    let o: Tensor<B, 5> = Tensor::stack(outs, 2); // [B,H,nc,C,Dv]
    let o = o
        .permute([0, 2, 3, 1, 4])
        .reshape([bsz, tp, h, dv])
        .narrow(1, 0, t);
    (o, state)
}

/// Recurrent (gated) delta rule, token by token (the decode step is the T = 1 case).
pub fn delta_rule_recurrent<B: Backend>(
    input: DeltaInput<B>,
    s0: Option<Tensor<B, 4>>,
) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let DeltaInput { q, k, v, beta, g } = input;
    let [bsz, t, h, dk] = q.dims();
    let dv = v.dims()[3];
    let mut state = s0.unwrap_or_else(|| Tensor::zeros([bsz, h, dk, dv], &q.device()));
    let mut outs = Vec::with_capacity(t);
    for i in 0..t {
        if let Some(g) = &g {
            let decay = g.clone().narrow(1, i, 1).exp().reshape([bsz, h, 1, 1]);
            state = state * decay;
        }
        let q_i = q.clone().narrow(1, i, 1).reshape([bsz, h, 1, dk]);
        let k_i = k.clone().narrow(1, i, 1).reshape([bsz, h, 1, dk]);
        let v_i = v.clone().narrow(1, i, 1).reshape([bsz, h, 1, dv]);
        let b_i = beta.clone().narrow(1, i, 1).reshape([bsz, h, 1, 1]);
        let u = (v_i - k_i.clone().matmul(state.clone())) * b_i; // [B,H,1,Dv]
        state = state + k_i.swap_dims(2, 3).matmul(u);
        outs.push(q_i.matmul(state.clone()).reshape([bsz, 1, h, dv]));
    }
    (Tensor::cat(outs, 1), state)
}
