//! Column blocks of row-major matrices: `narrow` along the last axis and its backward
//! (the block written into zeros), without the strided element-by-element paths.

use super::for_each;
use rayon::prelude::*;

const ROWS: usize = 256;

/// `x[:, start .. start + len]` of `x: [R, C]`, contiguous.
pub fn narrow(x: &[f32], cols: usize, start: usize, len: usize) -> Vec<f32> {
    let mut y = vec![0.0f32; x.len() / cols * len];
    for_each(
        y.len(),
        y.par_chunks_mut(ROWS * len).zip(x.par_chunks(ROWS * cols)),
        |(yb, xb)| {
            for (yr, xr) in yb.chunks_exact_mut(len).zip(xb.chunks_exact(cols)) {
                yr.copy_from_slice(&xr[start..start + len]);
            }
        },
    );
    y
}

/// `[R, C]` zeros with `g: [R, len]` in columns `start .. start + len`.
pub fn pad(g: &[f32], cols: usize, start: usize, len: usize) -> Vec<f32> {
    let mut y = vec![0.0f32; g.len() / len * cols];
    for_each(
        y.len(),
        y.par_chunks_mut(ROWS * cols).zip(g.par_chunks(ROWS * len)),
        |(yb, gb)| {
            for (yr, gr) in yb.chunks_exact_mut(cols).zip(gb.chunks_exact(len)) {
                yr[start..start + len].copy_from_slice(gr);
            }
        },
    );
    y
}
