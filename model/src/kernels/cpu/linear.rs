//! `y = x W (+ b)` for `x: [R, In]`, `W: [In, Out]`; backward `dx = dy Wᵀ`, `dW = xᵀ dy`,
//! `db = Σ_rows dy`. Each product is one multi-threaded gemm (measured faster than splitting
//! rows ourselves: the right-hand side is packed once); each output element is still summed
//! over k in one fixed order, so results do not depend on the thread count.

use super::{axpy, gemm_new, map_collect, sum_in_order, Mat, ROW_BLOCK};
use rayon::prelude::*;

pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, n_in: usize, n_out: usize) -> Vec<f32> {
    let r = x.len() / n_in;
    let mut y = gemm_new(r, n_out, n_in, Mat::rows(x, n_in), Mat::rows(w, n_out), 1.0);
    if let Some(b) = bias {
        for row in y.chunks_exact_mut(n_out) {
            axpy(row, 1.0, b);
        }
    }
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
    let dx = gemm_new(r, n_in, n_out, Mat::rows(dy, n_out), Mat::t(w, n_out), 1.0);
    let dw = gemm_new(n_in, n_out, r, Mat::t(x, n_in), Mat::rows(dy, n_out), 1.0);
    let db = if has_bias {
        let parts: Vec<Vec<f32>> = map_collect(dy.len(), dy.par_chunks(ROW_BLOCK * n_out), |dyb| {
            let mut s = vec![0.0f32; n_out];
            for row in dyb.chunks_exact(n_out) {
                axpy(&mut s, 1.0, row);
            }
            s
        });
        sum_in_order(parts, n_out)
    } else {
        Vec::new()
    };
    (dx, dw, db)
}
