//! Backend extension: the operations of the hybrid LM that burn's generic ops cannot do well
//! enough on every backend.
//!
//! Model code calls the tensor-level functions at the bottom of this file. Each maps to a
//! [`Kernels`] method whose default is the plain composition of burn ops (what every backend,
//! and burn's autodiff, handles), so a backend opts in with `impl Kernels for X {}`.
//! burn-flex (the CPU default) overrides them with the fused kernels of [`cpu`], and
//! `Autodiff<Flex>` runs those with hand-written backward passes (`autodiff.rs`). Each fused
//! op is tested against its composition, values and gradients (`model/tests/kernels.rs`).

mod autodiff;
pub mod cpu;
mod flex;

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{Int, Tensor, TensorPrimitive};

pub(crate) fn wrap<B: Backend, const D: usize>(t: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

pub(crate) fn unwrap<B: Backend, const D: usize>(t: Tensor<B, D>) -> FloatTensor<B> {
    t.into_primitive().tensor()
}

/// Shapes and options of a causal attention call (see [`Kernels::attention`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttentionOpts {
    /// Keys a query sees: itself and the `w − 1` before it (`None`: all before it).
    pub window: Option<usize>,
    pub scale: f64,
}

pub trait Kernels: Backend {
    /// Whether this backend implements the raw forward / backward kernels (`*_fwd`, `*_bwd`).
    /// `Autodiff<B>` runs fused ops with their own backward when `B::FUSED`, and burn's
    /// autodiff over the composition otherwise.
    const FUSED: bool = false;

    /// `dst[:, :, at .. at + n, :] ← src` for rank-4 `dst: [A, B, S, D]` and `src: [A, B, n, D]`;
    /// returns `dst`. Decode caches are written through this: a backend that can write in
    /// place (no copy of `dst`) makes a cache append cost O(n), not O(S).
    fn write_axis2(dst: FloatTensor<Self>, at: usize, src: FloatTensor<Self>) -> FloatTensor<Self> {
        let dst: Tensor<Self, 4> = wrap(dst);
        let src: Tensor<Self, 4> = wrap(src);
        let [a, b, n, d] = src.dims();
        unwrap(dst.slice_assign([0..a, 0..b, at..at + n, 0..d], src))
    }

    /// One decode step of attention: grouped queries `q: [B, Hkv, rep, Dh]` (already scaled)
    /// over the first `len` slots of the caches `k, v: [B, Hkv, slots, Dh]` and, when given,
    /// the step's own key and value `[B, Hkv, 1, Dh]` (a swa ring, written after the step).
    /// Returns `o: [B, Hkv, rep, Dh]`.
    fn decode_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        len: usize,
        own: Option<(FloatTensor<Self>, FloatTensor<Self>)>,
    ) -> FloatTensor<Self> {
        use burn::tensor::activation::softmax;
        let q: Tensor<Self, 4> = wrap(q);
        // With no cached positions (the first step after an empty prefill) the token attends
        // to itself alone; a zero-length narrow is an error on burn's GPU backends (found on
        // wgpu; burn-flex's own kernel never took this path).
        if len == 0 {
            let (_, v1) = own.expect("a step with an empty cache attends to its own key");
            let [b, hkv, rep, dh] = q.dims();
            return unwrap(wrap::<Self, 4>(v1).expand([b, hkv, rep, dh]));
        }
        let keys = wrap::<Self, 4>(k).narrow(2, 0, len);
        let values = wrap::<Self, 4>(v).narrow(2, 0, len);
        match own {
            None => unwrap(softmax(q.matmul(keys.swap_dims(2, 3)), 3).matmul(values)),
            Some((k1, v1)) => {
                let (k1, v1): (Tensor<Self, 4>, Tensor<Self, 4>) = (wrap(k1), wrap(v1));
                let own = q.clone().matmul(k1.swap_dims(2, 3)); // [B,Hkv,rep,1]
                let p = softmax(Tensor::cat(vec![q.matmul(keys.swap_dims(2, 3)), own], 3), 3);
                unwrap(p.clone().narrow(3, 0, len).matmul(values) + p.narrow(3, len, 1).matmul(v1))
            }
        }
    }

    /// `T` queries continuing a global cache (a chunk of a chunked prefill): `q: [B, T, H, Dh]`
    /// (unscaled) over caches `k, v: [B, Hkv, slots, Dh]` that hold positions `0 .. pos + T`
    /// (the chunk's own keys already written); query `i` attends to positions `0 ..= pos + i`.
    /// Returns `o: [B, T, H, Dh]`.
    fn cached_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        pos: usize,
        scale: f64,
    ) -> FloatTensor<Self> {
        let q: Tensor<Self, 4> = wrap(q);
        let [b, t, h, dh] = q.dims();
        let k: Tensor<Self, 4> = wrap(k);
        let hkv = k.dims()[1];
        let rep = h / hkv;
        let len = pos + t;
        let keys = k.narrow(2, 0, len);
        let values = wrap::<Self, 4>(v).narrow(2, 0, len);
        let q = q
            .swap_dims(1, 2)
            .reshape([b, hkv, rep * t, dh])
            .mul_scalar(scale);
        let scores = q
            .matmul(keys.swap_dims(2, 3))
            .reshape([b, hkv, rep, t, len]);
        let mut m = vec![0.0f32; t * len];
        for i in 0..t {
            for j in pos + i + 1..len {
                m[i * len + j] = f32::NEG_INFINITY;
            }
        }
        let mask = Tensor::<Self, 2>::from_data(
            burn::tensor::TensorData::new(m, [t, len]),
            &scores.device(),
        );
        let p = burn::tensor::activation::softmax(
            (scores + mask.reshape([1, 1, 1, t, len])).reshape([b, hkv, rep * t, len]),
            3,
        );
        unwrap(p.matmul(values).reshape([b, h, t, dh]).swap_dims(1, 2))
    }

    /// `x W (+ b)` for `x: [R, In]`, `w: [In, Out]`, `b: [Out]`.
    fn affine(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: Option<FloatTensor<Self>>,
    ) -> FloatTensor<Self> {
        let y = wrap::<Self, 2>(x).matmul(wrap(w));
        unwrap(match b {
            Some(b) => y + wrap::<Self, 1>(b).unsqueeze(),
            None => y,
        })
    }

    /// Columns `start .. start + len` of `x: [R, C]`, as a contiguous tensor.
    fn narrow_cols(x: FloatTensor<Self>, start: usize, len: usize) -> FloatTensor<Self> {
        unwrap(wrap::<Self, 2>(x).narrow(1, start, len))
    }

    /// Rotary embedding of `x: [B, T, H, D]` with tables `cos, sin: [T, D]` (no gradient).
    fn rope(
        x: FloatTensor<Self>,
        cos: FloatTensor<Self>,
        sin: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        unwrap(crate::rope::apply_rope::<Self>(
            wrap(x),
            &wrap(cos),
            &wrap(sin),
        ))
    }

    /// Negative log-likelihood of `targets: [N]` under `logits: [N, V]`, per row: `[N]`.
    fn cross_entropy(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self> {
        let logits: Tensor<Self, 2> = wrap(logits);
        let targets: Tensor<Self, 1, Int> = Tensor::from_primitive(targets);
        let n = targets.dims()[0];
        let logp = burn::tensor::activation::log_softmax(logits, 1);
        unwrap(logp.gather(1, targets.reshape([n, 1])).reshape([n]).neg())
    }

    /// RMSNorm of the rows of `x: [R, D]` with weight `w: [D]`.
    fn rms_norm(x: FloatTensor<Self>, w: FloatTensor<Self>, eps: f64) -> FloatTensor<Self> {
        unwrap(crate::rms_norm::rms_norm(wrap::<Self, 2>(x), wrap(w), eps))
    }

    /// `silu(a) ⊙ b` (any shape, both alike).
    fn silu_mul(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        let a: Tensor<Self, 1> = wrap(a);
        let b: Tensor<Self, 1> = wrap(b);
        unwrap(burn::tensor::activation::silu(a) * b)
    }

    /// Depthwise causal conv + SiLU of `x: [B, T, C]` from a zero state, taps `w: [K, C]`.
    fn conv_silu(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        bias: Option<FloatTensor<Self>>,
    ) -> FloatTensor<Self> {
        let (y, _) =
            crate::short_conv::causal_conv_silu::<Self>(wrap(x), None, wrap(w), bias.map(wrap));
        unwrap(y)
    }

    /// Causal attention from position 0: `q: [B, T, H, Dh]`, `k, v: [B, T, Hkv, Dh]` →
    /// `o: [B, T, H, Dh]` (query head `h` reads KV head `h / (H / Hkv)`).
    fn causal_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        opts: AttentionOpts,
    ) -> FloatTensor<Self> {
        unwrap(composed_attention::<Self>(wrap(q), wrap(k), wrap(v), opts))
    }

    /// The SSD scan from a zero state with the D skip: `x: [B,T,H,P]`, `dt: [B,T,H]`, `a: [H]`,
    /// `b, c: [B,T,G,N]`, `d: [H]` → `y: [B,T,H,P]`.
    #[allow(clippy::too_many_arguments)]
    fn ssd(
        x: FloatTensor<Self>,
        dt: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
        chunk: usize,
    ) -> FloatTensor<Self> {
        unwrap(composed_ssd::<Self>(
            wrap(x),
            wrap(dt),
            wrap(a),
            wrap(b),
            wrap(c),
            wrap(d),
            chunk,
        ))
    }

    /// `scale · x / sqrt(Σx² + 1e-6)` over the rows of `x: [R, D]` (fla's `l2norm`).
    fn l2_normalize(x: FloatTensor<Self>, scale: f64) -> FloatTensor<Self> {
        unwrap(crate::rms_norm::l2_normalize(wrap::<Self, 2>(x)).mul_scalar(scale))
    }

    /// The (gated) delta rule from a zero state: `q, k: [B,T,H,Dk]`, `v: [B,T,H,Dv]`,
    /// `beta, g: [B,T,H]` → `o: [B,T,H,Dv]`.
    fn delta_rule(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        g: Option<FloatTensor<Self>>,
        chunk: usize,
    ) -> FloatTensor<Self> {
        let input = crate::delta_rule::DeltaInput {
            q: wrap(q),
            k: wrap(k),
            v: wrap(v),
            beta: wrap(beta),
            g: g.map(wrap),
        };
        unwrap(crate::delta_rule::delta_rule_chunked::<Self>(input, None, chunk).0)
    }

    // Raw kernels of a `FUSED` backend (called only when `FUSED` is true).

    /// Returns `(dx, dw, db)`.
    #[allow(clippy::type_complexity)]
    fn affine_bwd(
        _x: FloatTensor<Self>,
        _w: FloatTensor<Self>,
        _has_bias: bool,
        _dy: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        Option<FloatTensor<Self>>,
    ) {
        unreachable!("called only on FUSED backends")
    }
    /// `[R, cols]` zeros with `g: [R, len]` at columns `start ..`.
    fn narrow_cols_bwd(_g: FloatTensor<Self>, _cols: usize, _start: usize) -> FloatTensor<Self> {
        unreachable!("called only on FUSED backends")
    }
    fn rope_bwd(
        _dy: FloatTensor<Self>,
        _cos: FloatTensor<Self>,
        _sin: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        unreachable!("called only on FUSED backends")
    }
    /// Returns `(nll, lse)`.
    fn cross_entropy_fwd(
        _logits: FloatTensor<Self>,
        _targets: IntTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called only on FUSED backends")
    }
    fn cross_entropy_bwd(
        _logits: FloatTensor<Self>,
        _targets: IntTensor<Self>,
        _lse: FloatTensor<Self>,
        _g: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        unreachable!("called only on FUSED backends")
    }

    fn rms_norm_bwd(
        _x: FloatTensor<Self>,
        _w: FloatTensor<Self>,
        _dy: FloatTensor<Self>,
        _eps: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called only on FUSED backends")
    }
    fn silu_mul_bwd(
        _a: FloatTensor<Self>,
        _b: FloatTensor<Self>,
        _dy: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called only on FUSED backends")
    }
    /// Returns `(dx, dw, dbias)`.
    fn conv_silu_bwd(
        _x: FloatTensor<Self>,
        _w: FloatTensor<Self>,
        _bias: Option<FloatTensor<Self>>,
        _dy: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        Option<FloatTensor<Self>>,
    ) {
        unreachable!("called only on FUSED backends")
    }
    /// Returns `(o, lse)`.
    fn attention_fwd(
        _q: FloatTensor<Self>,
        _k: FloatTensor<Self>,
        _v: FloatTensor<Self>,
        _opts: AttentionOpts,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called only on FUSED backends")
    }
    /// Returns `(dq, dk, dv)`.
    #[allow(clippy::type_complexity)]
    fn attention_bwd(
        _q: FloatTensor<Self>,
        _k: FloatTensor<Self>,
        _v: FloatTensor<Self>,
        _o: FloatTensor<Self>,
        _lse: FloatTensor<Self>,
        _do: FloatTensor<Self>,
        _opts: AttentionOpts,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called only on FUSED backends")
    }
    /// `[x, dt, a, b, c, d]` → `(y, checkpoints)`.
    fn ssd_fwd(_inputs: [FloatTensor<Self>; 6]) -> (FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called only on FUSED backends")
    }
    /// Returns `[dx, ddt, da, db, dc, dd]`.
    fn ssd_bwd(
        _inputs: [FloatTensor<Self>; 6],
        _checkpoints: FloatTensor<Self>,
        _dy: FloatTensor<Self>,
    ) -> [FloatTensor<Self>; 6] {
        unreachable!("called only on FUSED backends")
    }
    fn l2_normalize_bwd(
        _x: FloatTensor<Self>,
        _dy: FloatTensor<Self>,
        _scale: f64,
    ) -> FloatTensor<Self> {
        unreachable!("called only on FUSED backends")
    }
    /// Returns `(o, checkpoints)`.
    fn delta_fwd(
        _q: FloatTensor<Self>,
        _k: FloatTensor<Self>,
        _v: FloatTensor<Self>,
        _beta: FloatTensor<Self>,
        _g: Option<FloatTensor<Self>>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called only on FUSED backends")
    }
    /// Returns `(dq, dk, dv, dbeta, dg)`.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn delta_bwd(
        _q: FloatTensor<Self>,
        _k: FloatTensor<Self>,
        _v: FloatTensor<Self>,
        _beta: FloatTensor<Self>,
        _g: Option<FloatTensor<Self>>,
        _checkpoints: FloatTensor<Self>,
        _do: FloatTensor<Self>,
    ) -> ([FloatTensor<Self>; 4], Option<FloatTensor<Self>>) {
        unreachable!("called only on FUSED backends")
    }
}

/// The composition of burn ops behind [`Kernels::ssd`]: the chunked scan plus the D skip.
pub fn composed_ssd<B: Backend>(
    x: Tensor<B, 4>,
    dt: Tensor<B, 3>,
    a: Tensor<B, 1>,
    b: Tensor<B, 4>,
    c: Tensor<B, 4>,
    d: Tensor<B, 1>,
    chunk: usize,
) -> Tensor<B, 4> {
    let h = a.dims()[0];
    let input = crate::ssd::SsdInput {
        x: x.clone(),
        dt,
        a,
        b,
        c,
    };
    crate::ssd::ssd_chunked::<B>(input, None, chunk).0 + x * d.reshape([1, 1, h, 1])
}

/// The composition of burn ops behind [`Kernels::causal_attention`]: grouped queries against the
/// KV heads (no repeated K/V), additive causal / window mask, softmax.
pub fn composed_attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    opts: AttentionOpts,
) -> Tensor<B, 4> {
    let [b, t, h, dh] = q.dims();
    let hkv = k.dims()[2];
    let rep = h / hkv;
    let q = q
        .swap_dims(1, 2)
        .reshape([b, hkv, rep * t, dh])
        .mul_scalar(opts.scale);
    let (k, v) = (k.swap_dims(1, 2), v.swap_dims(1, 2)); // [B,Hkv,T,Dh]
    let scores = q.matmul(k.swap_dims(2, 3)).reshape([b, hkv, rep, t, t]);
    let mut m = vec![0.0f32; t * t];
    for i in 0..t {
        for j in 0..t {
            if j > i || opts.window.is_some_and(|w| j + w <= i) {
                m[i * t + j] = f32::NEG_INFINITY;
            }
        }
    }
    let mask =
        Tensor::<B, 2>::from_data(burn::tensor::TensorData::new(m, [t, t]), &scores.device());
    let p = burn::tensor::activation::softmax(
        (scores + mask.reshape([1, 1, 1, t, t])).reshape([b, hkv, rep * t, t]),
        3,
    );
    p.matmul(v).reshape([b, h, t, dh]).swap_dims(1, 2)
}

/// A training backend whose inner (inference) backend also has the kernels.
pub trait AutodiffKernels: AutodiffBackend<InnerBackend: Kernels> + Kernels {}
impl<B> AutodiffKernels for B
where
    B: AutodiffBackend + Kernels,
    B::InnerBackend: Kernels,
{
}

#[cfg(feature = "cuda")]
impl Kernels for burn::backend::Cuda<f32, i32> {}

#[cfg(all(feature = "wgpu", not(feature = "cuda")))]
impl Kernels for burn::backend::Wgpu<f32, i32> {}

#[cfg(feature = "ndarray")]
impl Kernels for burn::backend::NdArray<f32> {}

// Tensor-level functions for model code.

pub fn write_axis2<B: Kernels>(dst: Tensor<B, 4>, at: usize, src: Tensor<B, 4>) -> Tensor<B, 4> {
    wrap(B::write_axis2(unwrap(dst), at, unwrap(src)))
}

pub fn decode_attention<B: Kernels>(
    q: Tensor<B, 4>,
    k: &Tensor<B, 4>,
    v: &Tensor<B, 4>,
    len: usize,
    own: Option<(Tensor<B, 4>, Tensor<B, 4>)>,
) -> Tensor<B, 4> {
    wrap(B::decode_attention(
        unwrap(q),
        unwrap(k.clone()),
        unwrap(v.clone()),
        len,
        own.map(|(a, b)| (unwrap(a), unwrap(b))),
    ))
}

/// See [`Kernels::cached_attention`].
pub fn cached_attention<B: Kernels>(
    q: Tensor<B, 4>,
    k: &Tensor<B, 4>,
    v: &Tensor<B, 4>,
    pos: usize,
    scale: f64,
) -> Tensor<B, 4> {
    wrap(B::cached_attention(
        unwrap(q),
        unwrap(k.clone()),
        unwrap(v.clone()),
        pos,
        scale,
    ))
}

/// `x W (+ b)` over the last axis of `x` (`w: [In, Out]`).
pub fn linear<B: Kernels, const D: usize>(
    x: Tensor<B, D>,
    w: Tensor<B, 2>,
    b: Option<Tensor<B, 1>>,
) -> Tensor<B, D> {
    let dims = x.dims();
    let [n_in, n_out] = w.dims();
    let rows = dims[..D - 1].iter().product::<usize>();
    let y: Tensor<B, 2> = wrap(B::affine(
        unwrap(x.reshape([rows, n_in])),
        unwrap(w),
        b.map(unwrap),
    ));
    let mut out = dims;
    out[D - 1] = n_out;
    y.reshape(out)
}

/// `x[..., start .. start + len]` (last axis), contiguous.
pub fn narrow_last<B: Kernels, const D: usize>(
    x: Tensor<B, D>,
    start: usize,
    len: usize,
) -> Tensor<B, D> {
    let dims = x.dims();
    let cols = dims[D - 1];
    let rows = dims.iter().product::<usize>() / cols.max(1);
    let y: Tensor<B, 2> = wrap(B::narrow_cols(unwrap(x.reshape([rows, cols])), start, len));
    let mut out = dims;
    out[D - 1] = len;
    y.reshape(out)
}

pub fn rope<B: Kernels>(x: Tensor<B, 4>, cos: &Tensor<B, 2>, sin: &Tensor<B, 2>) -> Tensor<B, 4> {
    wrap(B::rope(unwrap(x), unwrap(cos.clone()), unwrap(sin.clone())))
}

/// Per-row NLL `[N]` of `targets: [N]` under `logits: [N, V]`.
pub fn cross_entropy<B: Kernels>(logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    wrap(B::cross_entropy(unwrap(logits), targets.into_primitive()))
}

/// RMSNorm over the last axis with weight `w` (length of that axis).
pub fn rms_norm<B: Kernels, const D: usize>(
    x: Tensor<B, D>,
    w: Tensor<B, 1>,
    eps: f64,
) -> Tensor<B, D> {
    let dims = x.dims();
    let d = dims[D - 1];
    let rows = dims.iter().product::<usize>() / d.max(1);
    wrap::<B, 2>(B::rms_norm(unwrap(x.reshape([rows, d])), unwrap(w), eps)).reshape(dims)
}

/// `silu(a) ⊙ b`.
pub fn silu_mul<B: Kernels, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> Tensor<B, D> {
    let dims = a.dims();
    let n = dims.iter().product::<usize>();
    wrap::<B, 1>(B::silu_mul(unwrap(a.reshape([n])), unwrap(b.reshape([n])))).reshape(dims)
}

pub fn conv_silu<B: Kernels>(
    x: Tensor<B, 3>,
    w: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, 3> {
    wrap(B::conv_silu(unwrap(x), unwrap(w), bias.map(unwrap)))
}

pub fn attention<B: Kernels>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    opts: AttentionOpts,
) -> Tensor<B, 4> {
    wrap(B::causal_attention(unwrap(q), unwrap(k), unwrap(v), opts))
}

/// The SSD scan from a zero state plus the D skip `d: [H]`.
pub fn ssd<B: Kernels>(
    input: crate::ssd::SsdInput<B>,
    d: Tensor<B, 1>,
    chunk: usize,
) -> Tensor<B, 4> {
    let crate::ssd::SsdInput { x, dt, a, b, c } = input;
    wrap(B::ssd(
        unwrap(x),
        unwrap(dt),
        unwrap(a),
        unwrap(b),
        unwrap(c),
        unwrap(d),
        chunk,
    ))
}

/// `scale · x / sqrt(Σx² + 1e-6)` over the last axis.
pub fn l2_normalize<B: Kernels, const D: usize>(x: Tensor<B, D>, scale: f64) -> Tensor<B, D> {
    let dims = x.dims();
    let d = dims[D - 1];
    let rows = dims.iter().product::<usize>() / d.max(1);
    wrap::<B, 2>(B::l2_normalize(unwrap(x.reshape([rows, d])), scale)).reshape(dims)
}

pub fn delta_rule<B: Kernels>(
    input: crate::delta_rule::DeltaInput<B>,
    chunk: usize,
) -> Tensor<B, 4> {
    let crate::delta_rule::DeltaInput { q, k, v, beta, g } = input;
    wrap(B::delta_rule(
        unwrap(q),
        unwrap(k),
        unwrap(v),
        unwrap(beta),
        g.map(unwrap),
        chunk,
    ))
}
