//! Depthwise causal conv1d + SiLU from a zero state (§3.2), `x: [B, T, C]`, taps `w: [K, C]`
//! (tap `K−1` multiplies the current input), optional `bias: [C]`:
//! `z[t,c] = Σ_j w[j,c] · x[t+j−(K−1), c] + bias[c]`, `y = silu(z)`.
//!
//! Backward with `dz = dy · silu'(z)`: `dx[t+j−(K−1)] += w[j] ⊙ dz[t]`,
//! `dw[j] += Σ_t x[t+j−(K−1)] ⊙ dz[t]`, `dbias = Σ_t dz[t]`.

use super::{for_each, map_collect, sigmoid};
use rayon::prelude::*;

/// Pre-activations of row `t` of one batch item `xb: [T, C]`.
fn preact(xb: &[f32], t: usize, w: &[f32], bias: Option<&[f32]>, z: &mut [f32]) {
    let c = z.len();
    let k = w.len() / c;
    match bias {
        Some(b) => z.copy_from_slice(b),
        None => z.fill(0.0),
    }
    for j in 0..k {
        if t + j >= k - 1 {
            let row = t + j - (k - 1);
            let (xr, wr) = (&xb[row * c..(row + 1) * c], &w[j * c..(j + 1) * c]);
            for ((o, &xv), &wv) in z.iter_mut().zip(xr).zip(wr) {
                *o += wv * xv;
            }
        }
    }
}

pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, shape: [usize; 3]) -> Vec<f32> {
    let [_, t, c] = shape;
    let mut y = vec![0.0f32; x.len()];
    for_each(
        x.len() * (w.len() / c),
        y.par_chunks_mut(t * c).zip(x.par_chunks(t * c)),
        |(yb, xb)| {
            for (tt, yr) in yb.chunks_exact_mut(c).enumerate() {
                preact(xb, tt, w, bias, yr);
                for v in yr.iter_mut() {
                    *v *= sigmoid(*v);
                }
            }
        },
    );
    y
}

/// Returns `(dx, dw, dbias)`; `dbias` is empty without a bias.
pub fn backward(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    dy: &[f32],
    shape: [usize; 3],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let [_, t, c] = shape;
    let k = w.len() / c;
    let mut dx = vec![0.0f32; x.len()];
    // Per batch item: its dx rows, and partial dw / dbias summed in order below.
    let parts: Vec<(Vec<f32>, Vec<f32>)> = map_collect(
        2 * x.len() * k,
        dx.par_chunks_mut(t * c)
            .zip(x.par_chunks(t * c))
            .zip(dy.par_chunks(t * c)),
        |((dxb, xb), dyb)| {
            let mut dw = vec![0.0f32; k * c];
            let mut db = vec![0.0f32; c];
            let mut dz = vec![0.0f32; c];
            for tt in 0..t {
                preact(xb, tt, w, bias, &mut dz);
                for (d, &g) in dz.iter_mut().zip(&dyb[tt * c..(tt + 1) * c]) {
                    let s = sigmoid(*d);
                    *d = g * s * (1.0 + *d * (1.0 - s));
                }
                for (a, &d) in db.iter_mut().zip(&dz) {
                    *a += d;
                }
                for j in 0..k {
                    if tt + j >= k - 1 {
                        let row = tt + j - (k - 1);
                        let xr = &xb[row * c..(row + 1) * c];
                        let wr = &w[j * c..(j + 1) * c];
                        let dwr = &mut dw[j * c..(j + 1) * c];
                        for i in 0..c {
                            dwr[i] += dz[i] * xr[i];
                        }
                        let dxr = &mut dxb[row * c..(row + 1) * c];
                        for i in 0..c {
                            dxr[i] += dz[i] * wr[i];
                        }
                    }
                }
            }
            (dw, db)
        },
    );
    let (dws, dbs): (Vec<_>, Vec<_>) = parts.into_iter().unzip();
    let dw = super::sum_in_order(dws, k * c);
    let db = match bias {
        Some(_) => super::sum_in_order(dbs, c),
        None => Vec::new(),
    };
    (dx, dw, db)
}
