//! Cross-entropy of `logits: [N, V]` against class `targets: [N]`:
//! `nll_i = lse_i − logits[i, t_i]` with `lse_i = log Σ_v exp(logits[i, v])`.
//! Backward: `dlogits[i] = g_i · (softmax(logits[i]) − onehot(t_i))`.

use super::{exp, for_each};
use rayon::prelude::*;

const ROWS: usize = 64;

fn lse(row: &[f32]) -> f32 {
    let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    m + row.iter().map(|x| exp(x - m)).sum::<f32>().ln()
}

/// Returns `(nll, lse)`, both `[N]`.
pub fn forward(logits: &[f32], targets: &[usize], v: usize) -> (Vec<f32>, Vec<f32>) {
    let n = targets.len();
    let mut nll = vec![0.0f32; n];
    let mut lses = vec![0.0f32; n];
    for_each(
        3 * logits.len(),
        nll.par_chunks_mut(ROWS)
            .zip(lses.par_chunks_mut(ROWS))
            .enumerate(),
        |(blk, (nb, lb))| {
            for (j, (o, l)) in nb.iter_mut().zip(lb.iter_mut()).enumerate() {
                let i = blk * ROWS + j;
                let row = &logits[i * v..(i + 1) * v];
                *l = lse(row);
                *o = *l - row[targets[i]];
            }
        },
    );
    (nll, lses)
}

pub fn backward(logits: &[f32], targets: &[usize], lse: &[f32], g: &[f32], v: usize) -> Vec<f32> {
    let mut d = vec![0.0f32; logits.len()];
    for_each(
        2 * logits.len(),
        d.par_chunks_mut(ROWS * v).enumerate(),
        |(blk, db)| {
            for (j, dr) in db.chunks_exact_mut(v).enumerate() {
                let i = blk * ROWS + j;
                let row = &logits[i * v..(i + 1) * v];
                for (o, &x) in dr.iter_mut().zip(row) {
                    *o = g[i] * exp(x - lse[i]);
                }
                dr[targets[i]] -= g[i];
            }
        },
    );
    d
}
