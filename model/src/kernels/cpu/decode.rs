//! One decode step of attention over a cache, read in place: for each (batch item, KV head)
//! the `rep` grouped queries score the first `len` cached keys and, for a swa ring, the step's
//! own key; softmax; weighted sum of the values. Each cached key and value row is loaded once
//! for all `rep` queries of its group, and nothing is copied or packed: the step streams K and
//! V once, which is what it must cost.

use super::{axpy, dot, exp, for_each};
use rayon::prelude::*;

#[derive(Debug, Clone, Copy)]
pub struct Dims {
    pub b: usize,
    pub hkv: usize,
    pub rep: usize,
    pub dh: usize,
    /// Allocated slots of the cache.
    pub slots: usize,
    /// Slots read (`0..len`).
    pub len: usize,
}

/// `q: [B, Hkv, rep, Dh]` (already scaled), caches `[B, Hkv, slots, Dh]`, optional own
/// key / value `[B, Hkv, 1, Dh]` attended besides the cache. Returns `o: [B, Hkv, rep, Dh]`.
pub fn forward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    own: Option<(&[f32], &[f32])>,
    d: Dims,
) -> Vec<f32> {
    let (dh, rep) = (d.dh, d.rep);
    let n = d.len + usize::from(own.is_some()); // keys seen
    let mut o = vec![0.0f32; d.b * d.hkv * rep * dh];
    for_each(
        2 * d.b * d.hkv * rep * n * dh,
        o.par_chunks_mut(rep * dh).enumerate(),
        |(bh, ob)| {
            let cache = bh * d.slots * dh;
            let qs = &q[bh * rep * dh..(bh + 1) * rep * dh];
            let own =
                own.map(|(k1, v1)| (&k1[bh * dh..(bh + 1) * dh], &v1[bh * dh..(bh + 1) * dh]));
            let key = |j: usize| match (j < d.len, own) {
                (true, _) => &k[cache + j * dh..cache + (j + 1) * dh],
                (false, Some((k1, _))) => k1,
                (false, None) => unreachable!("j < n"),
            };
            let value = |j: usize| match (j < d.len, own) {
                (true, _) => &v[cache + j * dh..cache + (j + 1) * dh],
                (false, Some((_, v1))) => v1,
                (false, None) => unreachable!("j < n"),
            };
            // Scores of every query of the group, key by key: s[r * n + j].
            let mut s = vec![0.0f32; rep * n];
            for j in 0..n {
                let kj = key(j);
                for (r, qr) in qs.chunks_exact(dh).enumerate() {
                    s[r * n + j] = dot(qr, kj);
                }
            }
            let mut norm = vec![0.0f32; rep];
            for (r, row) in s.chunks_exact_mut(n).enumerate() {
                let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let mut l = 0.0f32;
                for x in row.iter_mut() {
                    *x = exp(*x - m);
                    l += *x;
                }
                norm[r] = 1.0 / l;
            }
            for j in 0..n {
                let vj = value(j);
                for (r, or) in ob.chunks_exact_mut(dh).enumerate() {
                    axpy(or, s[r * n + j], vj);
                }
            }
            for (or, &z) in ob.chunks_exact_mut(dh).zip(&norm) {
                for a in or.iter_mut() {
                    *a *= z;
                }
            }
        },
    );
    o
}
