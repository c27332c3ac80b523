//! One decode step of attention over a cache, read in place: for each (batch item, KV head)
//! the `rep` grouped queries score the first `len` cached keys (contiguous rows, one pass)
//! and, for a swa ring, the step's own key; softmax; weighted sum of the values. Nothing is
//! copied or packed: the step streams K and V once, which is what it must cost.

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
    let dh = d.dh;
    let mut o = vec![0.0f32; d.b * d.hkv * d.rep * dh];
    o.par_chunks_mut(d.rep * dh)
        .enumerate()
        .for_each(|(bh, ob)| {
            let cache = bh * d.slots * dh;
            let ks = &k[cache..cache + d.len * dh];
            let vs = &v[cache..cache + d.len * dh];
            let mut s = vec![0.0f32; d.len + 1];
            for r in 0..d.rep {
                let qr = &q[(bh * d.rep + r) * dh..(bh * d.rep + r + 1) * dh];
                for (j, kr) in ks.chunks_exact(dh).enumerate() {
                    s[j] = kr.iter().zip(qr).map(|(a, b)| a * b).sum();
                }
                let n = match own {
                    Some((k1, _)) => {
                        s[d.len] = k1[bh * dh..(bh + 1) * dh]
                            .iter()
                            .zip(qr)
                            .map(|(a, b)| a * b)
                            .sum();
                        d.len + 1
                    }
                    None => d.len,
                };
                let m = s[..n].iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let mut l = 0.0f32;
                for x in s[..n].iter_mut() {
                    *x = super::exp(*x - m);
                    l += *x;
                }
                let or = &mut ob[r * dh..(r + 1) * dh];
                or.fill(0.0);
                for (j, vr) in vs.chunks_exact(dh).enumerate() {
                    let p = s[j];
                    for (a, b) in or.iter_mut().zip(vr) {
                        *a += p * b;
                    }
                }
                if let Some((_, v1)) = own {
                    let p = s[d.len];
                    for (a, b) in or.iter_mut().zip(&v1[bh * dh..(bh + 1) * dh]) {
                        *a += p * b;
                    }
                }
                for a in or.iter_mut() {
                    *a /= l;
                }
            }
        });
    o
}
