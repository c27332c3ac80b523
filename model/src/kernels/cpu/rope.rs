//! Rotary embedding (§3.4, rotate-half layout) of `x: [B, T, H, D]` with tables
//! `cos, sin: [T, D]`: `y = x ⊙ cos + rot(x) ⊙ sin`, `rot(x) = [−x₂, x₁]`.
//! It is a rotation of each (i, i + D/2) pair, so the backward is the inverse rotation:
//! `dx = dy ⊙ cos + rotᵀ(dy ⊙ sin)`, `rotᵀ(g) = [g₂, −g₁]`.

use super::for_each;
use rayon::prelude::*;

/// `sign = 1`: forward; `sign = −1`: backward (rotation by −θ).
pub fn apply(x: &[f32], cos: &[f32], sin: &[f32], shape: [usize; 4], sign: f32) -> Vec<f32> {
    let [_, t, h, d] = shape;
    let half = d / 2;
    let mut y = vec![0.0f32; x.len()];
    for_each(
        3 * x.len(),
        y.par_chunks_mut(t * h * d).zip(x.par_chunks(t * h * d)),
        |(yb, xb)| {
            for ti in 0..t {
                let (c, s) = (&cos[ti * d..(ti + 1) * d], &sin[ti * d..(ti + 1) * d]);
                for hi in 0..h {
                    let o = (ti * h + hi) * d;
                    let (xr, yr) = (&xb[o..o + d], &mut yb[o..o + d]);
                    for i in 0..half {
                        let (a, b) = (xr[i], xr[i + half]);
                        // cos/sin repeat over the two halves (HF tables).
                        yr[i] = a * c[i] - sign * b * s[i];
                        yr[i + half] = b * c[i + half] + sign * a * s[i + half];
                    }
                }
            }
        },
    );
    y
}
