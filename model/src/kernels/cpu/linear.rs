//! `y = x W (+ b)` for `x: [R, In]`, `W: [In, Out]`; backward `dx = dy Wᵀ`, `dW = xᵀ dy`,
//! `db = Σ_rows dy`. Each product is one multi-threaded gemm (measured faster than splitting
//! rows ourselves: the right-hand side is packed once); each output element is still summed
//! over k in one fixed order, so results do not depend on the thread count.

use super::{gemm_parallel, sum_in_order, Mat, ROW_BLOCK};
use rayon::prelude::*;

pub fn forward(x: &[f32], w: &[f32], bias: Option<&[f32]>, n_in: usize, n_out: usize) -> Vec<f32> {
    let r = x.len() / n_in;
    let mut y = vec![0.0f32; r * n_out];
    if let Some(b) = bias {
        for row in y.chunks_exact_mut(n_out) {
            row.copy_from_slice(b);
        }
    }
    gemm_parallel(
        r,
        n_out,
        n_in,
        &mut y,
        n_out,
        Mat::rows(x, n_in),
        Mat::rows(w, n_out),
        bias.is_some(),
        1.0,
    );
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
    gemm_parallel(
        r,
        n_in,
        n_out,
        &mut dx,
        n_in,
        Mat::rows(dy, n_out),
        Mat::t(w, n_out),
        false,
        1.0,
    );
    let mut dw = vec![0.0f32; w.len()];
    gemm_parallel(
        n_in,
        n_out,
        r,
        &mut dw,
        n_out,
        Mat::t(x, n_in),
        Mat::rows(dy, n_out),
        false,
        1.0,
    );
    let db = if has_bias {
        let parts: Vec<Vec<f32>> = dy
            .par_chunks(ROW_BLOCK * n_out)
            .map(|dyb| {
                let mut s = vec![0.0f32; n_out];
                for row in dyb.chunks_exact(n_out) {
                    super::axpy(&mut s, 1.0, row);
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
