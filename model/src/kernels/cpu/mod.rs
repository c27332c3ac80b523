//! Hand-written CPU kernels over plain `f32` slices (row-major, contiguous), each with its
//! forward and backward. They back burn-flex's implementation of [`super::Kernels`].
//!
//! Determinism: work is split over independent outputs (rows, heads, batch items) and every
//! reduction runs in a fixed order that does not depend on the number of threads, so results
//! are bit-identical from run to run and with any `RAYON_NUM_THREADS`.

pub mod attention;
pub mod conv;
pub mod decode;
pub mod delta;
pub mod layout;
pub mod linear;
pub mod norm;
pub mod rope;
pub mod ssd;
pub mod swiglu;
pub mod xent;

use rayon::iter::plumbing::{Producer, ProducerCallback};
use rayon::prelude::*;

/// Work (element operations, roughly) below which a kernel call runs on the calling thread.
/// Handing a job to rayon's pool from outside it parks the caller on a latch and wakes a
/// worker: two context switches, tens of µs on a shared VM, more than a whole decode step's
/// kernels cost at small widths (measured: 200k context switches a second while decoding a
/// d=64 model, which made its timings swing by 10-25 %).
pub const PARALLEL_MIN_WORK: usize = 1 << 16;

/// `items.for_each(f)` on rayon's pool when `work` pays for the hand-off, else the same items
/// in order on the calling thread. The items (chunks) are the same either way, so are the
/// results.
pub fn for_each<I, F>(work: usize, items: I, f: F)
where
    I: IndexedParallelIterator,
    F: Fn(I::Item) + Sync + Send,
{
    if work >= PARALLEL_MIN_WORK {
        items.for_each(f)
    } else {
        items.with_producer(InOrder(f))
    }
}

/// `items.map(f).collect()`, in parallel or in order by the same rule as [`for_each`].
pub fn map_collect<I, F, R>(work: usize, items: I, f: F) -> Vec<R>
where
    I: IndexedParallelIterator,
    F: Fn(I::Item) -> R + Sync + Send,
    R: Send,
{
    if work >= PARALLEL_MIN_WORK {
        items.map(f).collect()
    } else {
        items.map(f).with_producer(CollectInOrder)
    }
}

/// Drives a parallel iterator's producer as a plain iterator (no thread pool involved).
struct InOrder<F>(F);

impl<T, F: Fn(T)> ProducerCallback<T> for InOrder<F> {
    type Output = ();
    fn callback<P: Producer<Item = T>>(self, producer: P) {
        producer.into_iter().for_each(self.0)
    }
}

struct CollectInOrder;

impl<T> ProducerCallback<T> for CollectInOrder {
    type Output = Vec<T>;
    fn callback<P: Producer<Item = T>>(self, producer: P) -> Vec<T> {
        producer.into_iter().collect()
    }
}

/// Rows per parallel task in row-wise kernels: fixed, so partial sums (and therefore
/// results) do not depend on the thread count.
pub const ROW_BLOCK: usize = 64;

/// A strided matrix view for [`gemm`]: element (i, j) at `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub rs: isize,
    pub cs: isize,
}

impl<'a> Mat<'a> {
    pub fn rows(data: &'a [f32], row_stride: usize) -> Self {
        Self {
            data,
            rs: row_stride as isize,
            cs: 1,
        }
    }
    /// The transpose of a row-major matrix with `row_stride`.
    pub fn t(data: &'a [f32], row_stride: usize) -> Self {
        Self {
            data,
            rs: 1,
            cs: row_stride as isize,
        }
    }
}

/// `scale · lhs[m×k] · rhs[k×n]` into a new row-major `m×n` buffer on all threads, written
/// once by the gemm (no zero-fill first: at training sizes the memset was 5 % of a step).
pub fn gemm_new(m: usize, n: usize, k: usize, lhs: Mat, rhs: Mat, scale: f32) -> Vec<f32> {
    if k == 0 {
        return vec![0.0; m * n];
    }
    let mut out: Vec<std::mem::MaybeUninit<f32>> = Vec::with_capacity(m * n);
    // SAFETY: MaybeUninit needs no initialization; the gemm below writes every element
    // (read_dst = false: dst is written, never read) before the buffer is viewed as f32.
    unsafe { out.set_len(m * n) };
    let last = |rows: usize, cols: usize, rs: isize, cs: isize| {
        (rows as isize - 1) * rs + (cols as isize - 1) * cs
    };
    assert!(
        last(m, k, lhs.rs, lhs.cs) < lhs.data.len() as isize,
        "gemm: lhs too short"
    );
    assert!(
        last(k, n, rhs.rs, rhs.cs) < rhs.data.len() as isize,
        "gemm: rhs too short"
    );
    // SAFETY: operand bounds checked above; dst is m×n with row stride n.
    unsafe {
        ::gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr() as *mut f32,
            1,
            n as isize,
            false,
            lhs.data.as_ptr(),
            lhs.cs,
            lhs.rs,
            rhs.data.as_ptr(),
            rhs.cs,
            rhs.rs,
            0.0,
            scale,
            false,
            false,
            false,
            ::gemm::Parallelism::Rayon(0),
        );
    }
    let mut out = std::mem::ManuallyDrop::new(out);
    // SAFETY: every element was written; MaybeUninit<f32> and f32 have the same layout.
    unsafe { Vec::from_raw_parts(out.as_mut_ptr() as *mut f32, out.len(), out.capacity()) }
}

/// `dst[m×n] (row stride dst_rs) = acc·dst + scale · lhs[m×k] · rhs[k×n]`, single-threaded
/// (callers parallelize over independent problems).
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_rs: usize,
    lhs: Mat,
    rhs: Mat,
    accumulate: bool,
    scale: f32,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                dst[i * dst_rs..i * dst_rs + n].fill(0.0);
            }
        }
        return;
    }
    // Bounds: the last element each operand touches must lie inside its slice.
    let last = |rows: usize, cols: usize, rs: isize, cs: isize| {
        (rows as isize - 1) * rs + (cols as isize - 1) * cs
    };
    assert!(
        last(m, n, dst_rs as isize, 1) < dst.len() as isize,
        "gemm: dst too short"
    );
    assert!(
        last(m, k, lhs.rs, lhs.cs) < lhs.data.len() as isize,
        "gemm: lhs too short"
    );
    assert!(
        last(k, n, rhs.rs, rhs.cs) < rhs.data.len() as isize,
        "gemm: rhs too short"
    );
    // SAFETY: every index the kernel touches was bounds-checked above; dst does not alias
    // lhs or rhs (it is a &mut borrow).
    unsafe {
        ::gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs,
            lhs.rs,
            rhs.data.as_ptr(),
            rhs.cs,
            rhs.rs,
            1.0,
            scale,
            false,
            false,
            false,
            ::gemm::Parallelism::None,
        );
    }
}

/// `e^x` to within 2e-7 relative error (and exact at 0), in straight-line f32 code the
/// compiler vectorizes: `x = n ln2 + r` with `|r| ≤ ln2/2`, a degree-7 polynomial for `e^r`,
/// and `2^n` built from its bits. libm's `expf` is a call per element and was the largest
/// non-GEMM cost of a training step. NaN stays NaN; the range is clamped to finite results.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to the nearest integer
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// `Σ a_i b_i` with eight partial sums (SIMD lanes) in a fixed order: vectorized, and the
/// same result on every run.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut acc = [0.0f32; 8];
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// `y += alpha · x`.
#[inline(always)]
pub fn axpy(y: &mut [f32], alpha: f32, x: &[f32]) {
    for (a, b) in y.iter_mut().zip(x) {
        *a += alpha * b;
    }
}

#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// Sums `parts` (each of length `n`) in order: a reduction whose result does not depend on
/// how the parts were computed in parallel.
pub fn sum_in_order(parts: Vec<Vec<f32>>, n: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; n];
    for p in parts {
        for (o, v) in out.iter_mut().zip(p) {
            *o += v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small work stays on the calling thread (no hand-off to rayon), large work may not; both
    /// paths see the same chunks in the same places, so the outputs are identical.
    #[test]
    fn small_work_runs_in_order_on_the_caller() {
        let x: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let me = std::thread::current().id();
        let run = |work: usize| {
            let mut y = vec![0.0f32; x.len()];
            let threads = std::sync::Mutex::new(Vec::new());
            for_each(
                work,
                y.par_chunks_mut(64).zip(x.par_chunks(64)),
                |(yb, xb)| {
                    threads.lock().unwrap().push(std::thread::current().id());
                    for (o, v) in yb.iter_mut().zip(xb) {
                        *o = 2.0 * v + 1.0;
                    }
                },
            );
            let sums = map_collect(work, x.par_chunks(64), |c| c.iter().sum::<f32>());
            (y, sums, threads.into_inner().unwrap())
        };
        let (y_small, sums_small, on) = run(0);
        assert!(on.iter().all(|&t| t == me), "a small call left the caller");
        assert_eq!(on.len(), 16);
        let (y_large, sums_large, _) = run(PARALLEL_MIN_WORK);
        assert_eq!(y_small, y_large);
        assert_eq!(sums_small, sums_large);
        assert_eq!(sums_small[1], (64..128).sum::<i32>() as f32);
    }

    #[test]
    fn fast_exp_matches_libm() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (a, b) = (exp(x) as f64, (x as f64).exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.0137;
        }
        assert!(worst < 2e-7, "relative error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(f32::NAN).is_nan());
        assert!(exp(-1e4) >= 0.0 && exp(-1e4) < 1e-37);
    }

    #[test]
    fn gemm_with_strides_and_accumulation() {
        // lhs 2×3, rhs given as the transpose of a 2×3 (so 3×2).
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0, 0.0, -1.0, 2.0, 1.0, 0.0]; // rows of bᵀ
        let mut d = vec![10.0; 4];
        gemm(
            2,
            2,
            3,
            &mut d,
            2,
            Mat::rows(&a, 3),
            Mat::t(&b, 3),
            false,
            1.0,
        );
        assert_eq!(d, vec![-2.0, 4.0, -2.0, 13.0]);
        gemm(
            2,
            2,
            3,
            &mut d,
            2,
            Mat::rows(&a, 3),
            Mat::t(&b, 3),
            true,
            0.5,
        );
        assert_eq!(d, vec![-3.0, 6.0, -3.0, 19.5]);
    }
}
