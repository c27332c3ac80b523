//! `y = x W (+ b)` for `x: [R, In]`, `W: [In, Out]`, split into fixed blocks run in parallel
//! (each output element is one gemm's dot product in a fixed order: deterministic).
//! Backward: `dx = dy Wᵀ`, `dW = xᵀ dy`, `db = Σ_rows dy`.

use super::{gemm, sum_in_order, Mat};
use rayon::prelude::*;

/// Rows of `x` per task.
const ROWS: usize = 256;
/// Rows of `dW` (input features) per task.
const FEATURES: usize = 32;

pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, n_in: usize, n_out: usize) -> Vec<f32> {
    let mut y = vec![0.0f32; x.len() / n_in * n_out];
    y.par_chunks_mut(ROWS * n_out)
        .zip(x.par_chunks(ROWS * n_in))
        .for_each(|(yb, xb)| {
            let m = xb.len() / n_in;
            if let Some(b) = bias {
                for row in yb.chunks_exact_mut(n_out) {
                    row.copy_from_slice(b);
                }
            }
            gemm(
                m,
                n_out,
                n_in,
                yb,
                n_out,
                Mat::rows(xb, n_in),
                Mat::rows(w, n_out),
                bias.is_some(),
                1.0,
            );
        });
    y
}

/// Returns `(dx, dW, db)`; `db` is empty without a bias.
pub fn backward(
    x: &[f32],
    w: &[f32],
    has_bias: bool,
    dy: &[f32],
    n_in: usize,
    n_out: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let r = x.len() / n_in;
    let mut dx = vec![0.0f32; x.len()];
    dx.par_chunks_mut(ROWS * n_in)
        .zip(dy.par_chunks(ROWS * n_out))
        .for_each(|(dxb, dyb)| {
            let m = dyb.len() / n_out;
            gemm(
                m,
                n_in,
                n_out,
                dxb,
                n_in,
                Mat::rows(dyb, n_out),
                Mat::t(w, n_out),
                false,
                1.0,
            );
        });
    let mut dw = vec![0.0f32; w.len()];
    dw.par_chunks_mut(FEATURES * n_out)
        .enumerate()
        .for_each(|(i, dwb)| {
            let f = dwb.len() / n_out;
            // dW[i0..i0+f, :] = x[:, i0..i0+f]ᵀ dy.
            gemm(
                f,
                n_out,
                r,
                dwb,
                n_out,
                Mat::t(&x[i * FEATURES..], n_in),
                Mat::rows(dy, n_out),
                false,
                1.0,
            );
        });
    let db = if has_bias {
        let parts: Vec<Vec<f32>> = dy
            .par_chunks(ROWS * n_out)
            .map(|dyb| {
                let mut s = vec![0.0f32; n_out];
                for row in dyb.chunks_exact(n_out) {
                    for (a, b) in s.iter_mut().zip(row) {
                        *a += b;
                    }
                }
                s
            })
            .collect();
        sum_in_order(parts, n_out)
    } else {
        Vec::new()
    };
    (dx, dw, db)
}
