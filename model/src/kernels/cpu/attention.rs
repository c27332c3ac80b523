//! Causal softmax attention from position 0 (training, evaluation, prefill from an empty
//! cache), GQA and an optional sliding window, in the layout the projections produce:
//! `q: [B, T, H, Dh]`, `k, v: [B, T, Hkv, Dh]`, `o: [B, T, H, Dh]`; query head `h` reads KV
//! head `h / (H / Hkv)`; query `i` sees keys `j` with `i − w < j ≤ i`.
//!
//! Queries are processed in blocks of [`BQ`] rows against the keys they can see, so memory
//! is `BQ × T` per thread. The forward keeps `lse = log Σ exp(s)` per query; the backward
//! recomputes `P = exp(S − lse)` and, with `D_i = dO_i · O_i`:
//! `dV += Pᵀ dO`, `dS = P ⊙ (dO Vᵀ − D)`, `dQ = scale · dS K`, `dK += scale · dSᵀ Q`.

use super::{for_each, gemm, Mat};
use rayon::prelude::*;
use std::ops::Range;

/// Query rows per block.
pub const BQ: usize = 64;

/// Sizes of one call.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    pub b: usize,
    pub t: usize,
    pub h: usize,
    pub hkv: usize,
    pub dh: usize,
    pub window: Option<usize>,
    pub scale: f32,
}

impl Dims {
    /// Keys `[lo, hi)` a block of queries `[i0, i1)` can see.
    fn keys(&self, i0: usize, i1: usize) -> (usize, usize) {
        let lo = match self.window {
            Some(w) => (i0 + 1).saturating_sub(w),
            None => 0,
        };
        (lo, i1)
    }
    /// Whether query `i` sees key `j`.
    fn visible(&self, i: usize, j: usize) -> bool {
        j <= i && self.window.is_none_or(|w| j + w > i)
    }
}

/// Scaled scores of queries `rows` of head `h` against keys `keys` into `s`
/// (row stride `keys.len()`).
fn scores(
    d: &Dims,
    (qb, kb): (&[f32], &[f32]),
    h: usize,
    rows: Range<usize>,
    keys: Range<usize>,
    s: &mut [f32],
) {
    let (i0, i1, lo, hi) = (rows.start, rows.end, keys.start, keys.end);
    let kv = h / (d.h / d.hkv);
    let (qs, ks) = (d.h * d.dh, d.hkv * d.dh);
    gemm(
        i1 - i0,
        hi - lo,
        d.dh,
        s,
        hi - lo,
        Mat::rows(&qb[i0 * qs + h * d.dh..], qs),
        Mat::t(&kb[lo * ks + kv * d.dh..], ks),
        false,
        d.scale,
    );
}

/// Returns `(o, lse)`, `lse: [B, H, T]`.
pub fn forward(q: &[f32], k: &[f32], v: &[f32], d: Dims) -> (Vec<f32>, Vec<f32>) {
    let (qs, ks) = (d.h * d.dh, d.hkv * d.dh);
    let mut o = vec![0.0f32; q.len()];
    let mut lse = vec![0.0f32; d.b * d.h * d.t];
    for_each(
        2 * d.b * d.h * d.t * d.t * d.dh,
        o.par_chunks_mut(d.t * qs)
            .zip(lse.par_chunks_mut(d.h * d.t))
            .enumerate(),
        |(b, (ob, lb))| {
            let qb = &q[b * d.t * qs..(b + 1) * d.t * qs];
            let kb = &k[b * d.t * ks..(b + 1) * d.t * ks];
            let vb = &v[b * d.t * ks..(b + 1) * d.t * ks];
            let mut s = vec![0.0f32; BQ * d.t];
            for h in 0..d.h {
                let kv = h / (d.h / d.hkv);
                for i0 in (0..d.t).step_by(BQ) {
                    let i1 = (i0 + BQ).min(d.t);
                    let (lo, hi) = d.keys(i0, i1);
                    let n = hi - lo;
                    scores(&d, (qb, kb), h, i0..i1, lo..hi, &mut s);
                    for i in i0..i1 {
                        let row = &mut s[(i - i0) * n..(i - i0 + 1) * n];
                        let mut m = f32::NEG_INFINITY;
                        for (jj, x) in row.iter().enumerate() {
                            if d.visible(i, lo + jj) {
                                m = m.max(*x);
                            }
                        }
                        let mut l = 0.0f32;
                        for (jj, x) in row.iter_mut().enumerate() {
                            *x = if d.visible(i, lo + jj) {
                                super::exp(*x - m)
                            } else {
                                0.0
                            };
                            l += *x;
                        }
                        for x in row.iter_mut() {
                            *x /= l;
                        }
                        lb[h * d.t + i] = m + l.ln();
                    }
                    gemm(
                        i1 - i0,
                        d.dh,
                        n,
                        &mut ob[i0 * qs + h * d.dh..],
                        qs,
                        Mat::rows(&s, n),
                        Mat::rows(&vb[lo * ks + kv * d.dh..], ks),
                        false,
                        1.0,
                    );
                }
            }
        },
    );
    (o, lse)
}

/// Returns `(dq, dk, dv)`.
pub fn backward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    o: &[f32],
    lse: &[f32],
    d_o: &[f32],
    d: Dims,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (qs, ks) = (d.h * d.dh, d.hkv * d.dh);
    let mut dq = vec![0.0f32; q.len()];
    let mut dk = vec![0.0f32; k.len()];
    let mut dv = vec![0.0f32; v.len()];
    for_each(
        4 * d.b * d.h * d.t * d.t * d.dh,
        dq.par_chunks_mut(d.t * qs)
            .zip(dk.par_chunks_mut(d.t * ks))
            .zip(dv.par_chunks_mut(d.t * ks))
            .enumerate(),
        |(b, ((dqb, dkb), dvb))| {
            let qb = &q[b * d.t * qs..(b + 1) * d.t * qs];
            let kb = &k[b * d.t * ks..(b + 1) * d.t * ks];
            let vb = &v[b * d.t * ks..(b + 1) * d.t * ks];
            let ob = &o[b * d.t * qs..(b + 1) * d.t * qs];
            let gb = &d_o[b * d.t * qs..(b + 1) * d.t * qs];
            let lb = &lse[b * d.h * d.t..(b + 1) * d.h * d.t];
            let mut p = vec![0.0f32; BQ * d.t];
            let mut dp = vec![0.0f32; BQ * d.t];
            // Heads in order, so every dK / dV sum has a fixed order.
            for h in 0..d.h {
                let kv = h / (d.h / d.hkv);
                for i0 in (0..d.t).step_by(BQ) {
                    let i1 = (i0 + BQ).min(d.t);
                    let (lo, hi) = d.keys(i0, i1);
                    let n = hi - lo;
                    scores(&d, (qb, kb), h, i0..i1, lo..hi, &mut p);
                    // dP = dO Vᵀ.
                    gemm(
                        i1 - i0,
                        n,
                        d.dh,
                        &mut dp,
                        n,
                        Mat::rows(&gb[i0 * qs + h * d.dh..], qs),
                        Mat::t(&vb[lo * ks + kv * d.dh..], ks),
                        false,
                        1.0,
                    );
                    for i in i0..i1 {
                        let r = (i - i0) * n;
                        let oi = &ob[i * qs + h * d.dh..i * qs + (h + 1) * d.dh];
                        let gi = &gb[i * qs + h * d.dh..i * qs + (h + 1) * d.dh];
                        let di: f32 = oi.iter().zip(gi).map(|(a, b)| a * b).sum();
                        let l = lb[h * d.t + i];
                        for jj in 0..n {
                            let pij = if d.visible(i, lo + jj) {
                                super::exp(p[r + jj] - l)
                            } else {
                                0.0
                            };
                            p[r + jj] = pij;
                            dp[r + jj] = pij * (dp[r + jj] - di);
                        }
                    }
                    // dV[lo..hi] += Pᵀ dO;  dK[lo..hi] += scale · dSᵀ Q;  dQ = scale · dS K.
                    gemm(
                        n,
                        d.dh,
                        i1 - i0,
                        &mut dvb[lo * ks + kv * d.dh..],
                        ks,
                        Mat::t(&p, n),
                        Mat::rows(&gb[i0 * qs + h * d.dh..], qs),
                        true,
                        1.0,
                    );
                    gemm(
                        n,
                        d.dh,
                        i1 - i0,
                        &mut dkb[lo * ks + kv * d.dh..],
                        ks,
                        Mat::t(&dp, n),
                        Mat::rows(&qb[i0 * qs + h * d.dh..], qs),
                        true,
                        d.scale,
                    );
                    gemm(
                        i1 - i0,
                        d.dh,
                        n,
                        &mut dqb[i0 * qs + h * d.dh..],
                        qs,
                        Mat::rows(&dp, n),
                        Mat::rows(&kb[lo * ks + kv * d.dh..], ks),
                        false,
                        d.scale,
                    );
                }
            }
        },
    );
    (dq, dk, dv)
}
