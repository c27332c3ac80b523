//! `silu(a) ⊙ b`, the SwiGLU gate. `d/da = b·σ(a)·(1 + a·(1 − σ(a)))`, `d/db = a·σ(a)`.

use super::{for_each, sigmoid, ROW_BLOCK};
use rayon::prelude::*;

const BLOCK: usize = 64 * ROW_BLOCK;

pub fn forward(a: &[f32], b: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0f32; a.len()];
    for_each(
        8 * a.len(),
        y.par_chunks_mut(BLOCK)
            .zip(a.par_chunks(BLOCK).zip(b.par_chunks(BLOCK))),
        |(y, (a, b))| {
            for ((o, &x), &v) in y.iter_mut().zip(a).zip(b) {
                *o = x * sigmoid(x) * v;
            }
        },
    );
    y
}

/// Returns `(da, db)`.
pub fn backward(a: &[f32], b: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let mut da = vec![0.0f32; a.len()];
    let mut db = vec![0.0f32; a.len()];
    for_each(
        12 * a.len(),
        da.par_chunks_mut(BLOCK)
            .zip(db.par_chunks_mut(BLOCK))
            .zip(a.par_chunks(BLOCK).zip(b.par_chunks(BLOCK)))
            .zip(dy.par_chunks(BLOCK)),
        |(((da, db), (a, b)), dy)| {
            for ((((da, db), &x), &v), &g) in da.iter_mut().zip(db.iter_mut()).zip(a).zip(b).zip(dy)
            {
                let s = sigmoid(x);
                *da = g * v * s * (1.0 + x * (1.0 - s));
                *db = g * x * s;
            }
        },
    );
    (da, db)
}
