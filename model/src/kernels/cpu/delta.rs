//! The (gated) delta rule from a zero state as the recurrence (§7.2, §8.2), one (batch
//! item, head) at a time; `S: [Dk, Dv]`:
//! `S̃ = e^{g_t} S; w = v_t − S̃ᵀk_t; u = β_t w; S = S̃ + k_t uᵀ; o_t = Sᵀq_t` (`g ≡ 0`:
//! DeltaNet). Backward (reverse scan, `dS` carried): `dS += q doᵀ`, `dq = S do`,
//! `du = dSᵀk`, `dk = dS u − S̃ dw`, `dβ = ⟨du, w⟩`, `dw = β du`, `dv = dw`,
//! `dS̃ = dS − k dwᵀ`, `dg = ⟨dS̃, S̃⟩`, `dS ← e^{g} dS̃`. The forward keeps the state at every
//! [`CHUNK`]-th step; the backward recomputes the states inside a chunk from there.

use super::{axpy, dot, for_each};
use rayon::prelude::*;

pub const CHUNK: usize = 64;

#[derive(Debug, Clone, Copy)]
pub struct Dims {
    pub b: usize,
    pub t: usize,
    pub h: usize,
    pub dk: usize,
    pub dv: usize,
}

/// Inputs of one call: `q, k: [B,T,H,Dk]`, `v: [B,T,H,Dv]`, `beta: [B,T,H]`, `g: [B,T,H]`.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub q: &'a [f32],
    pub k: &'a [f32],
    pub v: &'a [f32],
    pub beta: &'a [f32],
    pub g: Option<&'a [f32]>,
}

/// One step on `s` (decay, delta update); writes `w = v − S̃ᵀk` (before the update).
#[inline]
fn step(s: &mut [f32], decay: f32, k: &[f32], v: &[f32], beta: f32, w: &mut [f32]) {
    let dv = v.len();
    if decay != 1.0 {
        for x in s.iter_mut() {
            *x *= decay;
        }
    }
    w.copy_from_slice(v);
    for (row, &ki) in s.chunks_exact(dv).zip(k) {
        axpy(w, -ki, row);
    }
    for (row, &ki) in s.chunks_exact_mut(dv).zip(k) {
        axpy(row, ki * beta, w);
    }
}

/// `o = Sᵀ q`.
#[inline]
fn read(s: &[f32], q: &[f32], o: &mut [f32]) {
    let dv = o.len();
    o.fill(0.0);
    for (row, &qi) in s.chunks_exact(dv).zip(q) {
        axpy(o, qi, row);
    }
}

/// Returns `(o, checkpoints)`; checkpoints `[B, H, chunks, Dk, Dv]` are the backward's input.
pub fn forward(x: Inputs, d: Dims) -> (Vec<f32>, Vec<f32>) {
    let (dk, dv) = (d.dk, d.dv);
    let nc = d.t.div_ceil(CHUNK);
    let mut o = vec![0.0f32; d.b * d.t * d.h * dv];
    let mut ck = vec![0.0f32; d.b * d.h * nc * dk * dv];
    for_each(
        4 * d.b * d.t * d.h * dk * dv,
        o.par_chunks_mut(d.t * d.h * dv)
            .zip(ck.par_chunks_mut(d.h * nc * dk * dv))
            .enumerate(),
        |(b, (ob, ckb))| {
            let mut s = vec![0.0f32; dk * dv];
            let mut w = vec![0.0f32; dv];
            for h in 0..d.h {
                s.fill(0.0);
                for t in 0..d.t {
                    if t % CHUNK == 0 {
                        let c = t / CHUNK;
                        ckb[(h * nc + c) * dk * dv..(h * nc + c + 1) * dk * dv].copy_from_slice(&s);
                    }
                    let row = (b * d.t + t) * d.h + h;
                    let decay = x.g.map_or(1.0, |g| g[row].exp());
                    step(
                        &mut s,
                        decay,
                        &x.k[row * dk..(row + 1) * dk],
                        &x.v[row * dv..(row + 1) * dv],
                        x.beta[row],
                        &mut w,
                    );
                    let oo = (t * d.h + h) * dv;
                    read(&s, &x.q[row * dk..(row + 1) * dk], &mut ob[oo..oo + dv]);
                }
            }
        },
    );
    (o, ck)
}

/// Gradients: `(dq, dk, dv, dbeta, dg)`; `dg` is empty without `g`.
pub type Grads = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

pub fn backward(x: Inputs, ck: &[f32], d_o: &[f32], d: Dims) -> Grads {
    let (dk, dv) = (d.dk, d.dv);
    let nc = d.t.div_ceil(CHUNK);
    let rows = d.b * d.t * d.h;
    let mut dq = vec![0.0f32; rows * dk];
    let mut dkk = vec![0.0f32; rows * dk];
    let mut dvv = vec![0.0f32; rows * dv];
    let mut dbeta = vec![0.0f32; rows];
    let mut dg = vec![0.0f32; if x.g.is_some() { rows } else { 0 }];
    let per = d.t * d.h;
    let dg_chunks: Vec<&mut [f32]> = if x.g.is_some() {
        dg.chunks_mut(per).collect()
    } else {
        (0..d.b).map(|_| Default::default()).collect()
    };
    for_each(
        12 * d.b * d.t * d.h * dk * dv,
        dq.par_chunks_mut(per * dk)
            .zip(dkk.par_chunks_mut(per * dk))
            .zip(dvv.par_chunks_mut(per * dv))
            .zip(dbeta.par_chunks_mut(per))
            .zip(dg_chunks.into_par_iter())
            .enumerate(),
        |(b, ((((dqb, dkb), dvb), dbb), dgb))| {
            let mut ds = vec![0.0f32; dk * dv];
            let mut states = vec![0.0f32; CHUNK * dk * dv]; // S after each step of a chunk
            let mut w = vec![0.0f32; dv];
            let mut du = vec![0.0f32; dv];
            for h in 0..d.h {
                ds.fill(0.0);
                for c in (0..nc).rev() {
                    let (t0, t1) = (c * CHUNK, ((c + 1) * CHUNK).min(d.t));
                    let base = ((b * d.h + h) * nc + c) * dk * dv;
                    let start = &ck[base..base + dk * dv];
                    let mut s = start.to_vec();
                    for t in t0..t1 {
                        let row = (b * d.t + t) * d.h + h;
                        let decay = x.g.map_or(1.0, |g| g[row].exp());
                        step(
                            &mut s,
                            decay,
                            &x.k[row * dk..(row + 1) * dk],
                            &x.v[row * dv..(row + 1) * dv],
                            x.beta[row],
                            &mut w,
                        );
                        states[(t - t0) * dk * dv..(t - t0 + 1) * dk * dv].copy_from_slice(&s);
                    }
                    for t in (t0..t1).rev() {
                        let row = (b * d.t + t) * d.h + h;
                        let lr = t * d.h + h; // this item's row
                        let decay = x.g.map_or(1.0, |g| g[row].exp());
                        let (q, k, v) = (
                            &x.q[row * dk..(row + 1) * dk],
                            &x.k[row * dk..(row + 1) * dk],
                            &x.v[row * dv..(row + 1) * dv],
                        );
                        let beta = x.beta[row];
                        let st = &states[(t - t0) * dk * dv..(t - t0 + 1) * dk * dv];
                        let prev = if t == t0 {
                            start
                        } else {
                            &states[(t - t0 - 1) * dk * dv..(t - t0) * dk * dv]
                        };
                        // S̃ = e^g S_{t−1} (used through `prev` and `decay`).
                        // w = v − S̃ᵀk.
                        w.copy_from_slice(v);
                        for (r, &ki) in prev.chunks_exact(dv).zip(k) {
                            axpy(&mut w, -decay * ki, r);
                        }
                        let gout = &d_o[row * dv..(row + 1) * dv];
                        // dS += q doᵀ; dq = S do.
                        let dqr = &mut dqb[lr * dk..(lr + 1) * dk];
                        for (((dsr, sr), &qi), dqi) in ds
                            .chunks_exact_mut(dv)
                            .zip(st.chunks_exact(dv))
                            .zip(q)
                            .zip(dqr.iter_mut())
                        {
                            axpy(dsr, qi, gout);
                            *dqi = dot(sr, gout);
                        }
                        // du = dSᵀk; dk = β dS w.
                        du.fill(0.0);
                        let dkr = &mut dkb[lr * dk..(lr + 1) * dk];
                        for ((dsr, &ki), dki) in ds.chunks_exact(dv).zip(k).zip(dkr.iter_mut()) {
                            axpy(&mut du, ki, dsr);
                            *dki = beta * dot(dsr, &w);
                        }
                        // dβ = ⟨du, w⟩; dw = β du = dv.
                        dbb[lr] = dot(&du, &w);
                        let dvr = &mut dvb[lr * dv..(lr + 1) * dv];
                        for (o, &u) in dvr.iter_mut().zip(&du) {
                            *o = beta * u;
                        }
                        // dS̃ = dS − k dwᵀ; dk −= S̃ dw; dg = ⟨dS̃, S̃⟩; dS ← e^g dS̃.
                        let mut dgv = 0.0f32;
                        for (((dsr, pr), &ki), dki) in ds
                            .chunks_exact_mut(dv)
                            .zip(prev.chunks_exact(dv))
                            .zip(k)
                            .zip(dkr.iter_mut())
                        {
                            axpy(dsr, -ki, dvr);
                            *dki -= decay * dot(pr, dvr);
                            dgv += decay * dot(dsr, pr);
                            if decay != 1.0 {
                                for v in dsr.iter_mut() {
                                    *v *= decay;
                                }
                            }
                        }
                        if !dgb.is_empty() {
                            dgb[lr] = dgv;
                        }
                    }
                }
            }
        },
    );
    (dq, dkk, dvv, dbeta, dg)
}
