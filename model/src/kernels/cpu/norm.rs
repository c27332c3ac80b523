//! RMSNorm over the last axis: `y = x · rsqrt(mean(x²) + eps) ⊙ w`.
//!
//! Backward, per row with `r = rsqrt(mean(x²) + eps)`, `x̂ = x·r`, `g = dy ⊙ w`:
//! `dx = r · (g − x̂ · mean(g ⊙ x̂))`, `dw = Σ_rows dy ⊙ x̂`.

use super::{for_each, map_collect, sum_in_order, ROW_BLOCK};
use rayon::prelude::*;

fn inv_rms(row: &[f32], eps: f32) -> f32 {
    let ms = super::dot(row, row) / row.len() as f32;
    1.0 / (ms + eps).sqrt()
}

pub fn forward(x: &[f32], w: &[f32], eps: f32) -> Vec<f32> {
    let d = w.len();
    let mut y = vec![0.0f32; x.len()];
    for_each(
        3 * x.len(),
        y.par_chunks_mut(d * ROW_BLOCK)
            .zip(x.par_chunks(d * ROW_BLOCK)),
        |(yb, xb)| {
            for (yr, xr) in yb.chunks_exact_mut(d).zip(xb.chunks_exact(d)) {
                let r = inv_rms(xr, eps);
                for ((o, &v), &g) in yr.iter_mut().zip(xr).zip(w) {
                    *o = v * r * g;
                }
            }
        },
    );
    y
}

/// Returns `(dx, dw)`.
pub fn backward(x: &[f32], w: &[f32], dy: &[f32], eps: f32) -> (Vec<f32>, Vec<f32>) {
    let d = w.len();
    let mut dx = vec![0.0f32; x.len()];
    let parts: Vec<Vec<f32>> = map_collect(
        6 * x.len(),
        dx.par_chunks_mut(d * ROW_BLOCK)
            .zip(x.par_chunks(d * ROW_BLOCK))
            .zip(dy.par_chunks(d * ROW_BLOCK)),
        |((dxb, xb), dyb)| {
            let mut dw = vec![0.0f32; d];
            for ((dxr, xr), dyr) in dxb
                .chunks_exact_mut(d)
                .zip(xb.chunks_exact(d))
                .zip(dyb.chunks_exact(d))
            {
                let r = inv_rms(xr, eps);
                for ((a, &g), &x) in dw.iter_mut().zip(dyr).zip(xr) {
                    *a += g * x * r;
                }
                // mean(g ⊙ x̂) with g = dy ⊙ w.
                let mut gw = [0.0f32; 8];
                let mut rest = 0.0f32;
                let (c1, c2, c3) = (dyr.chunks_exact(8), w.chunks_exact(8), xr.chunks_exact(8));
                let tail = c1
                    .remainder()
                    .iter()
                    .zip(c2.remainder())
                    .zip(c3.remainder());
                for ((g, wv), x) in c1.zip(c2).zip(c3) {
                    for l in 0..8 {
                        gw[l] += g[l] * wv[l] * x[l];
                    }
                }
                for ((g, wv), x) in tail {
                    rest += g * wv * x;
                }
                let total = gw.iter().sum::<f32>() + rest;
                let mean = total * r / d as f32;
                for (((o, &g), &wv), &x) in dxr.iter_mut().zip(dyr).zip(w).zip(xr) {
                    *o = r * (g * wv - x * r * mean);
                }
            }
            dw
        },
    );
    (dx, sum_in_order(parts, d))
}

/// `y = scale · x / sqrt(Σx² + 1e-6)` per row (fla's `l2norm`, §3.3, with a scale).
pub fn l2_forward(x: &[f32], d: usize, scale: f32) -> Vec<f32> {
    let mut y = vec![0.0f32; x.len()];
    for_each(
        2 * x.len(),
        y.par_chunks_mut(d * ROW_BLOCK)
            .zip(x.par_chunks(d * ROW_BLOCK)),
        |(yb, xb)| {
            for (yr, xr) in yb.chunks_exact_mut(d).zip(xb.chunks_exact(d)) {
                let r = scale / (super::dot(xr, xr) + 1e-6).sqrt();
                for (o, &v) in yr.iter_mut().zip(xr) {
                    *o = v * r;
                }
            }
        },
    );
    y
}

/// With `n = sqrt(Σx² + 1e-6)`, `x̂ = x / n`: `dx = scale/n · (dy − x̂ ⟨dy, x̂⟩)`.
pub fn l2_backward(x: &[f32], dy: &[f32], d: usize, scale: f32) -> Vec<f32> {
    let mut dx = vec![0.0f32; x.len()];
    for_each(
        4 * x.len(),
        dx.par_chunks_mut(d * ROW_BLOCK)
            .zip(x.par_chunks(d * ROW_BLOCK))
            .zip(dy.par_chunks(d * ROW_BLOCK)),
        |((dxb, xb), dyb)| {
            for ((dxr, xr), dyr) in dxb
                .chunks_exact_mut(d)
                .zip(xb.chunks_exact(d))
                .zip(dyb.chunks_exact(d))
            {
                let inv = 1.0 / (super::dot(xr, xr) + 1e-6).sqrt();
                let proj = super::dot(dyr, xr) * inv * inv; // ⟨dy, x̂⟩ / n
                for ((o, &g), &v) in dxr.iter_mut().zip(dyr).zip(xr) {
                    *o = scale * inv * (g - v * proj);
                }
            }
        },
    );
    dx
}
