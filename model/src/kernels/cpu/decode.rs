//! One decode step of attention over a cache, read in place: for each (batch item, KV head)
//! the `rep` grouped queries score the first `len` cached keys and, for a swa ring, the step's
//! own key; softmax; weighted sum of the values. Each cached key and value row is loaded once
//! for all `rep` queries of its group, and nothing is copied or packed: the step streams K and
//! V once, which is what it must cost.

use super::{axpy, dot, exp, for_each, map_collect};
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

/// Bytes of cache a step must stream before it is split over rayon's pool: below this the
/// hand-off (waking a worker, parking the caller on a latch) costs more than it saves, and a
/// loaded machine makes it cost milliseconds. A swa ring stays under it whatever the
/// position, so its step costs the same at every position beyond the window.
pub const PARALLEL_MIN_BYTES: usize = 1 << 20;

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
    // Parallel or in order by the bytes streamed (same chunks, same results either way).
    let read = 2 * d.b * d.hkv * n * dh * 4;
    let work = if read >= PARALLEL_MIN_BYTES {
        super::PARALLEL_MIN_WORK
    } else {
        0
    };
    for_each(work, o.par_chunks_mut(rep * dh).enumerate(), |(bh, ob)| {
        let own = own.map(|(k1, v1)| (&k1[bh * dh..(bh + 1) * dh], &v1[bh * dh..(bh + 1) * dh]));
        let cache = bh * d.slots * dh;
        let group = Group {
            q: &q[bh * rep * dh..(bh + 1) * rep * dh],
            k: &k[cache..cache + d.len * dh],
            v: &v[cache..cache + d.len * dh],
            own,
            dh,
        };
        group_dispatch(&group, ob);
    });
    o
}

/// One (batch item, KV head): its `rep` queries and the `len` cached rows it reads.
struct Group<'a> {
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
    own: Option<(&'a [f32], &'a [f32])>,
    dh: usize,
}

/// [`group`] compiled for AVX2 where the CPU has it (detected once, at run time), else for
/// the build's baseline. The release build targets baseline x86-64 (SSE2): its dot products
/// ran 4 lanes wide with shuffles and the exponentials one at a time, so the step was bound
/// by arithmetic that grows with the cache rather than by the bytes it reads. The same
/// operations in the same order either way (no fused multiply-add: Rust never contracts),
/// so the results do not depend on the CPU.
fn group_dispatch(g: &Group, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was detected on this CPU.
        return unsafe { group_avx2(g, out) };
    }
    group(g, out, dot, weighted, |_, _, _, _, _| 0)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn group_avx2(g: &Group, out: &mut [f32]) {
    // SAFETY: this function only runs where AVX2 was detected.
    group(
        g,
        out,
        |a, b| unsafe { dot_avx2(a, b) },
        |o, w, v| unsafe { weighted_avx2(o, w, v) },
        |q, k, dh, n, s| unsafe { scores8_avx2(q, k, dh, n, s) },
    )
}

/// Scores `s[r·n + j]` of every query row `r` of `q` against cached keys `j` (rows of `k`,
/// `Dh` apart), eight keys at a time: one accumulator per key, then an 8 × 8 transpose so
/// that lane `l` of every key is combined in [`dot`]'s order: each score is `dot`'s to the
/// bit, without a horizontal sum per key. Returns the keys done (a multiple of 8; none when
/// `Dh` is not a multiple of 8).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn scores8_avx2(q: &[f32], k: &[f32], dh: usize, n: usize, s: &mut [f32]) -> usize {
    use std::arch::x86_64::*;
    if !dh.is_multiple_of(8) {
        return 0;
    }
    let len = k.len() / dh;
    let blocks = len / 8 * 8;
    assert!(s.len() >= q.len() / dh * n && blocks <= n);
    for (r, qr) in q.chunks_exact(dh).enumerate() {
        for j0 in (0..blocks).step_by(8) {
            let mut acc = [_mm256_setzero_ps(); 8];
            for c in (0..dh).step_by(8) {
                // SAFETY: c + 8 ≤ dh; key rows j0 .. j0 + 8 ≤ len lie inside `k`.
                let qv = unsafe { _mm256_loadu_ps(qr.as_ptr().add(c)) };
                for (t, a) in acc.iter_mut().enumerate() {
                    let kv = unsafe { _mm256_loadu_ps(k.as_ptr().add((j0 + t) * dh + c)) };
                    *a = _mm256_add_ps(*a, _mm256_mul_ps(qv, kv));
                }
            }
            // Transpose: x[l] holds lane l of the eight keys.
            let t0 = _mm256_unpacklo_ps(acc[0], acc[1]);
            let t1 = _mm256_unpackhi_ps(acc[0], acc[1]);
            let t2 = _mm256_unpacklo_ps(acc[2], acc[3]);
            let t3 = _mm256_unpackhi_ps(acc[2], acc[3]);
            let t4 = _mm256_unpacklo_ps(acc[4], acc[5]);
            let t5 = _mm256_unpackhi_ps(acc[4], acc[5]);
            let t6 = _mm256_unpacklo_ps(acc[6], acc[7]);
            let t7 = _mm256_unpackhi_ps(acc[6], acc[7]);
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            let x0 = _mm256_permute2f128_ps::<0x20>(u0, u4);
            let x1 = _mm256_permute2f128_ps::<0x20>(u1, u5);
            let x2 = _mm256_permute2f128_ps::<0x20>(u2, u6);
            let x3 = _mm256_permute2f128_ps::<0x20>(u3, u7);
            let x4 = _mm256_permute2f128_ps::<0x31>(u0, u4);
            let x5 = _mm256_permute2f128_ps::<0x31>(u1, u5);
            let x6 = _mm256_permute2f128_ps::<0x31>(u2, u6);
            let x7 = _mm256_permute2f128_ps::<0x31>(u3, u7);
            // ((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)), as `dot` combines its lanes.
            let sum = _mm256_add_ps(
                _mm256_add_ps(_mm256_add_ps(x0, x4), _mm256_add_ps(x1, x5)),
                _mm256_add_ps(_mm256_add_ps(x2, x6), _mm256_add_ps(x3, x7)),
            );
            // SAFETY: r·n + j0 + 8 ≤ r·n + n ≤ s.len().
            unsafe { _mm256_storeu_ps(s.as_mut_ptr().add(r * n + j0), sum) };
        }
    }
    blocks
}

/// `o += Σ_j w[j] · v[j, :]` (`v`: `w.len()` rows of `o.len()`), key by key in order: what
/// [`weighted`] computes, to the bit, with the output's columns held in registers (blocks of
/// up to 64) instead of loaded and stored again for every key.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn weighted_avx2(o: &mut [f32], w: &[f32], v: &[f32]) {
    let dh = o.len();
    assert!(
        v.len() >= w.len() * dh,
        "weighted: {} rows of {dh}",
        w.len()
    );
    let mut c0 = 0;
    // SAFETY (each block): columns c0 .. c0 + 8·NV lie inside every row (checked above).
    while dh - c0 >= 64 {
        unsafe { weighted_block::<8>(o, c0, w, v) };
        c0 += 64;
    }
    for nv in [4usize, 2, 1] {
        if dh - c0 >= 8 * nv {
            match nv {
                4 => unsafe { weighted_block::<4>(o, c0, w, v) },
                2 => unsafe { weighted_block::<2>(o, c0, w, v) },
                _ => unsafe { weighted_block::<1>(o, c0, w, v) },
            }
            c0 += 8 * nv;
        }
    }
    if c0 < dh {
        for (j, &wj) in w.iter().enumerate() {
            for c in c0..dh {
                o[c] += wj * v[j * dh + c];
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn weighted_block<const NV: usize>(o: &mut [f32], c0: usize, w: &[f32], v: &[f32]) {
    use std::arch::x86_64::*;
    let dh = o.len();
    let mut acc = [_mm256_setzero_ps(); NV];
    for (i, a) in acc.iter_mut().enumerate() {
        // SAFETY: c0 + 8·NV ≤ dh = o.len().
        *a = unsafe { _mm256_loadu_ps(o.as_ptr().add(c0 + 8 * i)) };
    }
    for (j, &wj) in w.iter().enumerate() {
        let s = _mm256_set1_ps(wj);
        let row = j * dh + c0;
        for (i, a) in acc.iter_mut().enumerate() {
            // SAFETY: row + 8·NV ≤ (j + 1)·dh ≤ v.len().
            let x = unsafe { _mm256_loadu_ps(v.as_ptr().add(row + 8 * i)) };
            *a = _mm256_add_ps(*a, _mm256_mul_ps(s, x));
        }
    }
    for (i, a) in acc.iter().enumerate() {
        // SAFETY: as for the loads.
        unsafe { _mm256_storeu_ps(o.as_mut_ptr().add(c0 + 8 * i), *a) };
    }
}

/// `o += Σ_j w[j] · v[j, :]`, key by key in order.
#[inline(always)]
fn weighted(o: &mut [f32], w: &[f32], v: &[f32]) {
    let dh = o.len();
    for (j, &wj) in w.iter().enumerate() {
        axpy(o, wj, &v[j * dh..(j + 1) * dh]);
    }
}

/// [`dot`] in AVX2 registers: lane `l` sums the products of elements `8i + l`, the lanes are
/// combined in `dot`'s order, so the result is `dot`'s to the bit (LLVM's own vectorization
/// of `dot` for this target used 4-lane halves and shuffles, half the step's time at 4k).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let n8 = n / 8 * 8;
    let mut acc = _mm256_setzero_ps();
    let mut i = 0;
    while i < n8 {
        // SAFETY: i + 8 ≤ n8 ≤ the length of both slices.
        let (x, y) = unsafe {
            (
                _mm256_loadu_ps(a.as_ptr().add(i)),
                _mm256_loadu_ps(b.as_ptr().add(i)),
            )
        };
        acc = _mm256_add_ps(acc, _mm256_mul_ps(x, y));
        i += 8;
    }
    let mut l = [0.0f32; 8];
    // SAFETY: `l` holds eight floats.
    unsafe { _mm256_storeu_ps(l.as_mut_ptr(), acc) };
    let mut s = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
    for j in n8..n {
        s += a[j] * b[j];
    }
    s
}

/// Scores of every query of the group key by key (each cached row loaded once for all
/// `rep` queries), softmax, weighted sum of the values.
#[inline(always)]
fn group(
    g: &Group,
    ob: &mut [f32],
    dot: impl Fn(&[f32], &[f32]) -> f32,
    weighted: impl Fn(&mut [f32], &[f32], &[f32]),
    scores8: impl Fn(&[f32], &[f32], usize, usize, &mut [f32]) -> usize,
) {
    let (dh, len) = (g.dh, g.k.len() / g.dh);
    let rep = g.q.len() / dh;
    let n = len + usize::from(g.own.is_some());
    let key = |j: usize| match g.own {
        Some((k1, _)) if j == len => k1,
        _ => &g.k[j * dh..(j + 1) * dh],
    };
    let mut s = vec![0.0f32; rep * n];
    // Blocks of cached keys whose scores `scores8` computes at once (0 when it has none).
    let done = scores8(g.q, g.k, dh, n, &mut s);
    for j in done..n {
        let kj = key(j);
        for (r, qr) in g.q.chunks_exact(dh).enumerate() {
            s[r * n + j] = dot(qr, kj);
        }
    }
    let mut norm = vec![0.0f32; rep];
    for (r, row) in s.chunks_exact_mut(n).enumerate() {
        let m = max8(row);
        for x in row.iter_mut() {
            *x = exp(*x - m);
        }
        norm[r] = 1.0 / sum8(row);
    }
    // Cached rows, then (a swa ring) the step's own value: key order, as the scores.
    for (r, or) in ob.chunks_exact_mut(dh).enumerate() {
        weighted(or, &s[r * n..r * n + len], g.v);
        if let Some((_, v1)) = g.own {
            axpy(or, s[r * n + len], v1);
        }
    }
    for (or, &z) in ob.chunks_exact_mut(dh).zip(&norm) {
        for a in or.iter_mut() {
            *a *= z;
        }
    }
}

/// The largest of `x` (eight lanes: vectorized; a maximum is exact in any order).
#[inline(always)]
fn max8(x: &[f32]) -> f32 {
    let c = x.chunks_exact(8);
    let rest = c.remainder();
    let mut acc = [f32::NEG_INFINITY; 8];
    for v in c {
        for l in 0..8 {
            acc[l] = acc[l].max(v[l]);
        }
    }
    acc.iter()
        .chain(rest)
        .cloned()
        .fold(f32::NEG_INFINITY, f32::max)
}

/// `Σ x` with eight partial sums in a fixed order (vectorized, the same on every run).
#[inline(always)]
fn sum8(x: &[f32]) -> f32 {
    let c = x.chunks_exact(8);
    let rest = c.remainder();
    let mut acc = [0.0f32; 8];
    for v in c {
        for l in 0..8 {
            acc[l] += v[l];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for v in rest {
        s += v;
    }
    s
}

/// Keys per block of [`chunk_forward`]: with [`super::attention::BQ`] query rows, the scores
/// of one block are the whole scratch (64 × 256 floats), whatever the cache holds.
pub const BK: usize = 256;

/// Sizes of [`chunk_forward`].
#[derive(Debug, Clone, Copy)]
pub struct ChunkDims {
    pub b: usize,
    pub t: usize,
    pub h: usize,
    pub hkv: usize,
    pub dh: usize,
    /// Allocated slots of the cache.
    pub slots: usize,
    /// Absolute position of query 0: query `i` sees slots `0 ..= pos + i`.
    pub pos: usize,
    pub scale: f32,
}

/// `T` queries continuing a global cache (chunked prefill): `q: [B, T, H, Dh]` (unscaled) over
/// caches `[B, Hkv, slots, Dh]` that already hold positions `0 .. pos + T` (the chunk's own
/// keys written in place). Query `i` attends to slots `0 ..= pos + i`. Returns
/// `o: [B, T, H, Dh]`.
///
/// Online softmax over blocks of [`BK`] keys (running max and sum per query row, the
/// accumulator rescaled when the max grows): the scratch is one `BQ × BK` block of scores per
/// task, so memory beyond the cache does not grow with the prompt.
pub fn chunk_forward(q: &[f32], k: &[f32], v: &[f32], d: ChunkDims) -> Vec<f32> {
    use super::attention::BQ;
    let (t, h, dh) = (d.t, d.h, d.dh);
    let rep = h / d.hkv;
    let keys = d.pos + t;
    assert!(
        keys <= d.slots,
        "chunk_forward: {keys} positions in {} slots",
        d.slots
    );
    // One task per (batch item, head, block of BQ query rows): the blocks' rows are
    // independent (each keeps its own running max and sum), so a head count that does not
    // divide among the threads (3 heads on 2 cores) still keeps every core busy — per head
    // alone, 3 heads cost what 4 do.
    let blocks = t.div_ceil(BQ);
    let tiles: Vec<Vec<f32>> = map_collect(
        4 * d.b * h * t * keys * dh,
        (0..d.b * h * blocks).into_par_iter(),
        |task| {
            let (bh, i0) = (task / blocks, (task % blocks) * BQ);
            let (bi, hi) = (bh / h, bh % h);
            let cache = (bi * d.hkv + hi / rep) * d.slots * dh;
            let (kc, vc) = (&k[cache..cache + keys * dh], &v[cache..cache + keys * dh]);
            let qb = &q[bi * t * h * dh + hi * dh..];
            let rows = (t - i0).min(BQ);
            let mut out = vec![0.0f32; rows * dh];
            let mut s = vec![0.0f32; BQ * BK];
            let mut m = [f32::NEG_INFINITY; BQ];
            let mut l = [0.0f32; BQ];
            let seen = d.pos + i0 + rows; // keys the block's last row sees
            for j0 in (0..seen).step_by(BK) {
                let n = (seen - j0).min(BK);
                super::gemm(
                    rows,
                    n,
                    dh,
                    &mut s,
                    n,
                    super::Mat::rows(&qb[i0 * h * dh..], h * dh),
                    super::Mat::t(&kc[j0 * dh..], dh),
                    false,
                    d.scale,
                );
                for r in 0..rows {
                    let row = &mut s[r * n..(r + 1) * n];
                    // Keys j0 .. j0 + vis are at or before this query's position.
                    let vis = (d.pos + i0 + r + 1).saturating_sub(j0).min(n);
                    let bm = row[..vis].iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                    let new_m = m[r].max(bm);
                    let mut sum = 0.0f32;
                    for x in row[..vis].iter_mut() {
                        *x = exp(*x - new_m);
                        sum += *x;
                    }
                    row[vis..].fill(0.0);
                    if vis == 0 {
                        continue;
                    }
                    if m[r] != f32::NEG_INFINITY && new_m != m[r] {
                        let c = exp(m[r] - new_m);
                        l[r] *= c;
                        for a in out[r * dh..(r + 1) * dh].iter_mut() {
                            *a *= c;
                        }
                    }
                    l[r] += sum;
                    m[r] = new_m;
                }
                super::gemm(
                    rows,
                    dh,
                    n,
                    &mut out,
                    dh,
                    super::Mat::rows(&s, n),
                    super::Mat::rows(&vc[j0 * dh..], dh),
                    true,
                    1.0,
                );
            }
            for r in 0..rows {
                let z = 1.0 / l[r];
                for a in out[r * dh..(r + 1) * dh].iter_mut() {
                    *a *= z;
                }
            }
            out
        },
    );
    let mut o = vec![0.0f32; d.b * t * h * dh];
    for (task, tile) in tiles.iter().enumerate() {
        let (bh, i0) = (task / blocks, (task % blocks) * BQ);
        let (bi, hi) = (bh / h, bh % h);
        for (r, row) in tile.chunks_exact(dh).enumerate() {
            let at = ((bi * t + i0 + r) * h + hi) * dh;
            o[at..at + dh].copy_from_slice(row);
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random(n: usize, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f32> {
        (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
    }

    /// The AVX2 step (scores eight keys at a time, values in register blocks) is the
    /// portable step to the bit — the results do not depend on the CPU — for every group
    /// size, head size, cache length and with or without a ring's own key.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_step_is_the_portable_step_to_the_bit() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for rep in [1, 2, 3, 4, 5] {
            for dh in [16, 24, 64] {
                for len in [0, 1, 7, 8, 37, 130] {
                    for with_own in [false, true] {
                        if len == 0 && !with_own {
                            continue;
                        }
                        let (q, k, v) = (
                            random(rep * dh, &mut rng),
                            random(len * dh, &mut rng),
                            random(len * dh, &mut rng),
                        );
                        let (k1, v1) = (random(dh, &mut rng), random(dh, &mut rng));
                        let g = Group {
                            q: &q,
                            k: &k,
                            v: &v,
                            own: with_own.then_some((&k1[..], &v1[..])),
                            dh,
                        };
                        let mut portable = vec![0.0f32; rep * dh];
                        group(&g, &mut portable, dot, weighted, |_, _, _, _, _| 0);
                        let mut fast = vec![0.0f32; rep * dh];
                        // SAFETY: AVX2 was detected above.
                        unsafe { group_avx2(&g, &mut fast) };
                        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                        assert_eq!(
                            bits(&fast),
                            bits(&portable),
                            "rep {rep}, dh {dh}, len {len}, own {with_own}"
                        );
                    }
                }
            }
        }
    }
}
