//! The Mamba2 SSD scan from a zero state, as the recurrence it is (§6.3), one (batch item,
//! head) at a time, with the D skip: on a CPU the P×N state stays in L1 and the scan does only
//! the work the math asks for, where the chunked form (§6.4, for GPUs) adds Q×Q blocks and
//! layout copies.
//!
//! Per head, `α_t = exp(dt_t·A)`, `ū_t = dt_t·x_t`: `h_t = α_t h_{t−1} + ū_t b_tᵀ`,
//! `y_t = h_t c_t + D x_t` (so `dx_t` gains `D dy_t` and `dD = Σ_t ⟨dy_t, x_t⟩`).
//! Backward (reverse scan, `dh` carried): `dh += dy_t c_tᵀ`, `dc_t = h_tᵀ dy_t`,
//! `dū = dh b_t`, `db_t = dhᵀ ū_t`, `dα = ⟨dh, h_{t−1}⟩`, `dh ← α_t dh`; then
//! `dx_t = dt_t dū`, `d(dt_t) = ⟨dū, x_t⟩ + dα α_t A`, `dA = Σ dα α_t dt_t`.
//! The forward keeps the state at every [`CHUNK`]-th step; the backward recomputes the states
//! inside a chunk from there.

use super::{axpy, dot, for_each, map_collect};
use rayon::prelude::*;

pub const CHUNK: usize = 64;

#[derive(Debug, Clone, Copy)]
pub struct Dims {
    pub b: usize,
    pub t: usize,
    pub h: usize,
    pub p: usize,
    pub g: usize,
    pub n: usize,
}

impl Dims {
    fn chunks(&self) -> usize {
        self.t.div_ceil(CHUNK)
    }
    fn group(&self, h: usize) -> usize {
        h / (self.h / self.g)
    }
}

/// One step of the recurrence on `s: [P, N]`; writes `y` (`[P]`).
#[inline]
fn step(s: &mut [f32], alpha: f32, u: &[f32], bt: &[f32], ct: &[f32], y: &mut [f32]) {
    let n = bt.len();
    for ((row, &up), yp) in s.chunks_exact_mut(n).zip(u).zip(y.iter_mut()) {
        for (r, &b) in row.iter_mut().zip(bt) {
            *r = alpha * *r + up * b;
        }
        *yp = dot(row, ct);
    }
}

/// Returns `(y, checkpoints)`; checkpoints `[B, H, chunks, P, N]` are the backward's input.
pub fn forward(
    x: &[f32],
    dt: &[f32],
    a: &[f32],
    bm: &[f32],
    cm: &[f32],
    dskip: &[f32],
    d: Dims,
) -> (Vec<f32>, Vec<f32>) {
    let (p, n) = (d.p, d.n);
    let nc = d.chunks();
    let mut y = vec![0.0f32; x.len()];
    let mut ck = vec![0.0f32; d.b * d.h * nc * p * n];
    for_each(
        3 * d.b * d.t * d.h * p * n,
        y.par_chunks_mut(d.t * d.h * p)
            .zip(ck.par_chunks_mut(d.h * nc * p * n))
            .enumerate(),
        |(b, (yb, ckb))| {
            let mut s = vec![0.0f32; p * n];
            let mut u = vec![0.0f32; p];
            for h in 0..d.h {
                let g = d.group(h);
                s.fill(0.0);
                for t in 0..d.t {
                    if t % CHUNK == 0 {
                        let c = t / CHUNK;
                        ckb[(h * nc + c) * p * n..(h * nc + c + 1) * p * n].copy_from_slice(&s);
                    }
                    let row = (b * d.t + t) * d.h + h;
                    let dtv = dt[row];
                    let xr = &x[row * p..(row + 1) * p];
                    for (ui, xi) in u.iter_mut().zip(xr) {
                        *ui = dtv * xi;
                    }
                    let gr = ((b * d.t + t) * d.g + g) * n;
                    let yr = &mut yb[(t * d.h + h) * p..(t * d.h + h + 1) * p];
                    step(
                        &mut s,
                        (dtv * a[h]).exp(),
                        &u,
                        &bm[gr..gr + n],
                        &cm[gr..gr + n],
                        yr,
                    );
                    axpy(yr, dskip[h], xr);
                }
            }
        },
    );
    (y, ck)
}

/// Gradients of one call: `[dx, ddt, da, db, dc, dD]`.
pub type Grads = [Vec<f32>; 6];

#[allow(clippy::too_many_arguments)]
pub fn backward(
    x: &[f32],
    dt: &[f32],
    a: &[f32],
    bm: &[f32],
    cm: &[f32],
    dskip: &[f32],
    ck: &[f32],
    dy: &[f32],
    d: Dims,
) -> Grads {
    let (p, n) = (d.p, d.n);
    let nc = d.chunks();
    let mut dx = vec![0.0f32; x.len()];
    let mut ddt = vec![0.0f32; dt.len()];
    let mut db = vec![0.0f32; bm.len()];
    let mut dc = vec![0.0f32; cm.len()];
    let parts: Vec<(Vec<f32>, Vec<f32>)> = map_collect(
        9 * d.b * d.t * d.h * p * n,
        dx.par_chunks_mut(d.t * d.h * p)
            .zip(ddt.par_chunks_mut(d.t * d.h))
            .zip(db.par_chunks_mut(d.t * d.g * n))
            .zip(dc.par_chunks_mut(d.t * d.g * n))
            .enumerate(),
        |(b, (((dxb, ddtb), dbb), dcb))| {
            let mut da = vec![0.0f32; d.h];
            let mut dd = vec![0.0f32; d.h];
            let mut ds = vec![0.0f32; p * n];
            let mut hs = vec![0.0f32; CHUNK * p * n]; // states after each step of a chunk
            let mut u = vec![0.0f32; p];
            let mut du = vec![0.0f32; p];
            let mut scratch = vec![0.0f32; p];
            for h in 0..d.h {
                let g = d.group(h);
                ds.fill(0.0);
                for c in (0..nc).rev() {
                    let (t0, t1) = (c * CHUNK, ((c + 1) * CHUNK).min(d.t));
                    let start =
                        &ck[((b * d.h + h) * nc + c) * p * n..((b * d.h + h) * nc + c + 1) * p * n];
                    // Recompute the chunk's states.
                    let mut s = start.to_vec();
                    for t in t0..t1 {
                        let row = (b * d.t + t) * d.h + h;
                        let dtv = dt[row];
                        for (ui, xi) in u.iter_mut().zip(&x[row * p..(row + 1) * p]) {
                            *ui = dtv * xi;
                        }
                        let gr = ((b * d.t + t) * d.g + g) * n;
                        step(
                            &mut s,
                            (dtv * a[h]).exp(),
                            &u,
                            &bm[gr..gr + n],
                            &cm[gr..gr + n],
                            &mut scratch,
                        );
                        hs[(t - t0) * p * n..(t - t0 + 1) * p * n].copy_from_slice(&s);
                    }
                    for t in (t0..t1).rev() {
                        let row = (b * d.t + t) * d.h + h;
                        let dtv = dt[row];
                        let alpha = (dtv * a[h]).exp();
                        let xr = &x[row * p..(row + 1) * p];
                        let gr = ((b * d.t + t) * d.g + g) * n;
                        let (bt, ct) = (&bm[gr..gr + n], &cm[gr..gr + n]);
                        let lg = (t * d.g + g) * n; // this item's row in db / dc
                        let dyr = &dy[row * p..(row + 1) * p];
                        let ht = &hs[(t - t0) * p * n..(t - t0 + 1) * p * n];
                        let hprev = if t == t0 {
                            start
                        } else {
                            &hs[(t - t0 - 1) * p * n..(t - t0) * p * n]
                        };
                        let mut dalpha = 0.0f32;
                        for pi in 0..p {
                            let (dsr, htr, hpr) = (
                                &mut ds[pi * n..(pi + 1) * n],
                                &ht[pi * n..(pi + 1) * n],
                                &hprev[pi * n..(pi + 1) * n],
                            );
                            let (gy, up) = (dyr[pi], dtv * xr[pi]);
                            axpy(dsr, gy, ct);
                            axpy(&mut dcb[lg..lg + n], gy, htr);
                            axpy(&mut dbb[lg..lg + n], up, dsr);
                            du[pi] = dot(dsr, bt);
                            dalpha += dot(dsr, hpr);
                            for v in dsr.iter_mut() {
                                *v *= alpha;
                            }
                        }
                        let mut ddt_v = dalpha * alpha * a[h];
                        for pi in 0..p {
                            dxb[(t * d.h + h) * p + pi] = dtv * du[pi] + dskip[h] * dyr[pi];
                            ddt_v += du[pi] * xr[pi];
                        }
                        dd[h] += dot(dyr, xr);
                        ddtb[t * d.h + h] = ddt_v;
                        da[h] += dalpha * alpha * dtv;
                    }
                }
            }
            (da, dd)
        },
    );
    let (das, dds): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
    let da = super::sum_in_order(das, d.h);
    let dd = super::sum_in_order(dds, d.h);
    [dx, ddt, da, db, dc, dd]
}
