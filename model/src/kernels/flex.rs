//! burn-flex: the fused [`super::cpu`] kernels over the raw f32 buffers.

use super::cpu;
use super::{AttentionOpts, Kernels};
use burn::backend::flex::{Flex, FlexTensor, Layout};
use burn::tensor::{Bytes, DType, Shape, TensorMetadata};

/// A contiguous f32 copy of `t` (an `Arc` clone when it already is contiguous).
fn contiguous(t: &FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "flashnas kernels run in f32");
    t.to_contiguous()
}

/// The f32 values of a contiguous tensor.
fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("contiguous f32 tensor")
}

fn from_vec(v: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::new(Bytes::from_elems(v), Layout::contiguous(shape), DType::F32)
}

fn dims<const D: usize>(t: &FlexTensor) -> [usize; D] {
    t.shape().dims()
}

/// `t` itself when it owns a contiguous buffer starting at 0 (so it can be written in place),
/// else a private contiguous copy.
fn owned(t: FlexTensor) -> FlexTensor {
    let in_place = t.is_unique()
        && t.is_contiguous()
        && t.layout().contiguous_offsets().is_some_and(|(s, _)| s == 0);
    if in_place {
        return t;
    }
    let c = contiguous(&t);
    from_vec(values(&c).to_vec(), c.shape())
}

/// Class ids of an int tensor.
fn class_ids(t: &FlexTensor) -> Vec<usize> {
    let t = t.to_contiguous();
    match t.dtype() {
        DType::I64 => t
            .as_slice::<i64>()
            .expect("contiguous")
            .iter()
            .map(|&v| v as usize)
            .collect(),
        DType::I32 => t
            .as_slice::<i32>()
            .expect("contiguous")
            .iter()
            .map(|&v| v as usize)
            .collect(),
        other => panic!("class ids must be i32 or i64, got {other:?}"),
    }
}

fn attention_dims(q: &FlexTensor, k: &FlexTensor, opts: AttentionOpts) -> cpu::attention::Dims {
    let [b, t, h, dh] = dims::<4>(q);
    cpu::attention::Dims {
        b,
        t,
        h,
        hkv: dims::<4>(k)[2],
        dh,
        window: opts.window,
        scale: opts.scale as f32,
    }
}

fn ssd_dims(x: &FlexTensor, b: &FlexTensor) -> cpu::ssd::Dims {
    let [bs, t, h, p] = dims::<4>(x);
    let [_, _, g, n] = dims::<4>(b);
    cpu::ssd::Dims {
        b: bs,
        t,
        h,
        p,
        g,
        n,
    }
}

fn delta_dims(q: &FlexTensor, v: &FlexTensor) -> cpu::delta::Dims {
    let [b, t, h, dk] = dims::<4>(q);
    cpu::delta::Dims {
        b,
        t,
        h,
        dk,
        dv: dims::<4>(v)[3],
    }
}

impl Kernels for Flex {
    const FUSED: bool = true;

    fn write_axis2(dst: FlexTensor, at: usize, src: FlexTensor) -> FlexTensor {
        let mut dst = owned(dst);
        let src = contiguous(&src);
        let [a, b, s, d] = dims::<4>(&dst);
        let [sa, sb, n, sd] = dims::<4>(&src);
        assert!(
            sa == a && sb == b && sd == d && at + n <= s,
            "write_axis2: [{sa}, {sb}, {n}, {sd}] at {at} into [{a}, {b}, {s}, {d}]"
        );
        let from = values(&src);
        let to = dst
            .try_storage_mut::<f32>()
            .expect("owned() returns a unique buffer");
        for (outer, rows) in from.chunks_exact(n * d).enumerate() {
            let start = (outer * s + at) * d;
            to[start..start + n * d].copy_from_slice(rows);
        }
        dst
    }

    fn decode_attention(
        q: FlexTensor,
        k: FlexTensor,
        v: FlexTensor,
        len: usize,
        own: Option<(FlexTensor, FlexTensor)>,
    ) -> FlexTensor {
        let [q, k, v] = [&q, &k, &v].map(contiguous);
        let own = own.map(|(a, b)| (contiguous(&a), contiguous(&b)));
        let [b, hkv, rep, dh] = dims::<4>(&q);
        let d = cpu::decode::Dims {
            b,
            hkv,
            rep,
            dh,
            slots: dims::<4>(&k)[2],
            len,
        };
        let o = cpu::decode::forward(
            values(&q),
            values(&k),
            values(&v),
            own.as_ref().map(|(a, b)| (values(a), values(b))),
            d,
        );
        from_vec(o, q.shape())
    }

    fn cached_attention(
        q: FlexTensor,
        k: FlexTensor,
        v: FlexTensor,
        pos: usize,
        scale: f64,
    ) -> FlexTensor {
        let [q, k, v] = [&q, &k, &v].map(contiguous);
        let [b, t, h, dh] = dims::<4>(&q);
        let [_, hkv, slots, _] = dims::<4>(&k);
        let d = cpu::decode::ChunkDims {
            b,
            t,
            h,
            hkv,
            dh,
            slots,
            pos,
            scale: scale as f32,
        };
        let o = cpu::decode::chunk_forward(values(&q), values(&k), values(&v), d);
        from_vec(o, q.shape())
    }

    fn affine(x: FlexTensor, w: FlexTensor, b: Option<FlexTensor>) -> FlexTensor {
        let (x, w) = (contiguous(&x), contiguous(&w));
        let b = b.map(|b| contiguous(&b));
        let [r, n_in] = dims::<2>(&x);
        let n_out = dims::<2>(&w)[1];
        let y = cpu::linear::forward(values(&x), values(&w), b.as_ref().map(values), n_in, n_out);
        from_vec(y, Shape::new([r, n_out]))
    }

    fn narrow_cols(x: FlexTensor, start: usize, len: usize) -> FlexTensor {
        let x = contiguous(&x);
        let [r, c] = dims::<2>(&x);
        from_vec(
            cpu::layout::narrow(values(&x), c, start, len),
            Shape::new([r, len]),
        )
    }

    fn rope(x: FlexTensor, cos: FlexTensor, sin: FlexTensor) -> FlexTensor {
        let [x, cos, sin] = [&x, &cos, &sin].map(contiguous);
        from_vec(
            cpu::rope::apply(values(&x), values(&cos), values(&sin), dims(&x), 1.0),
            x.shape(),
        )
    }

    fn cross_entropy(logits: FlexTensor, targets: FlexTensor) -> FlexTensor {
        Self::cross_entropy_fwd(logits, targets).0
    }

    fn affine_bwd(
        x: FlexTensor,
        w: FlexTensor,
        has_bias: bool,
        dy: FlexTensor,
    ) -> (FlexTensor, FlexTensor, Option<FlexTensor>) {
        let [x, w, dy] = [&x, &w, &dy].map(contiguous);
        let [_, n_in] = dims::<2>(&x);
        let n_out = dims::<2>(&w)[1];
        let (dx, dw, db) =
            cpu::linear::backward(values(&x), values(&w), has_bias, values(&dy), n_in, n_out);
        (
            from_vec(dx, x.shape()),
            from_vec(dw, w.shape()),
            has_bias.then(|| from_vec(db, Shape::new([n_out]))),
        )
    }

    fn narrow_cols_bwd(g: FlexTensor, cols: usize, start: usize) -> FlexTensor {
        let g = contiguous(&g);
        let [r, len] = dims::<2>(&g);
        from_vec(
            cpu::layout::pad(values(&g), cols, start, len),
            Shape::new([r, cols]),
        )
    }

    fn rope_bwd(dy: FlexTensor, cos: FlexTensor, sin: FlexTensor) -> FlexTensor {
        let [dy, cos, sin] = [&dy, &cos, &sin].map(contiguous);
        from_vec(
            cpu::rope::apply(values(&dy), values(&cos), values(&sin), dims(&dy), -1.0),
            dy.shape(),
        )
    }

    fn cross_entropy_fwd(logits: FlexTensor, targets: FlexTensor) -> (FlexTensor, FlexTensor) {
        let logits = contiguous(&logits);
        let [n, v] = dims::<2>(&logits);
        let (nll, lse) = cpu::xent::forward(values(&logits), &class_ids(&targets), v);
        (
            from_vec(nll, Shape::new([n])),
            from_vec(lse, Shape::new([n])),
        )
    }

    fn cross_entropy_bwd(
        logits: FlexTensor,
        targets: FlexTensor,
        lse: FlexTensor,
        g: FlexTensor,
    ) -> FlexTensor {
        let [logits, lse, g] = [&logits, &lse, &g].map(contiguous);
        let v = dims::<2>(&logits)[1];
        let d = cpu::xent::backward(
            values(&logits),
            &class_ids(&targets),
            values(&lse),
            values(&g),
            v,
        );
        from_vec(d, logits.shape())
    }

    fn rms_norm(x: FlexTensor, w: FlexTensor, eps: f64) -> FlexTensor {
        let (x, w) = (contiguous(&x), contiguous(&w));
        from_vec(
            cpu::norm::forward(values(&x), values(&w), eps as f32),
            x.shape(),
        )
    }

    fn silu_mul(a: FlexTensor, b: FlexTensor) -> FlexTensor {
        let (a, b) = (contiguous(&a), contiguous(&b));
        from_vec(cpu::swiglu::forward(values(&a), values(&b)), a.shape())
    }

    fn conv_silu(x: FlexTensor, w: FlexTensor, bias: Option<FlexTensor>) -> FlexTensor {
        let (x, w) = (contiguous(&x), contiguous(&w));
        let bias = bias.map(|b| contiguous(&b));
        let y = cpu::conv::forward(values(&x), values(&w), bias.as_ref().map(values), dims(&x));
        from_vec(y, x.shape())
    }

    fn causal_attention(
        q: FlexTensor,
        k: FlexTensor,
        v: FlexTensor,
        opts: AttentionOpts,
    ) -> FlexTensor {
        Self::attention_fwd(q, k, v, opts).0
    }

    fn ssd(
        x: FlexTensor,
        dt: FlexTensor,
        a: FlexTensor,
        b: FlexTensor,
        c: FlexTensor,
        d: FlexTensor,
        _chunk: usize,
    ) -> FlexTensor {
        Self::ssd_fwd([x, dt, a, b, c, d]).0
    }

    fn l2_normalize(x: FlexTensor, scale: f64) -> FlexTensor {
        let x = contiguous(&x);
        let d = dims::<2>(&x)[1];
        from_vec(
            cpu::norm::l2_forward(values(&x), d, scale as f32),
            x.shape(),
        )
    }

    fn l2_normalize_bwd(x: FlexTensor, dy: FlexTensor, scale: f64) -> FlexTensor {
        let (x, dy) = (contiguous(&x), contiguous(&dy));
        let d = dims::<2>(&x)[1];
        from_vec(
            cpu::norm::l2_backward(values(&x), values(&dy), d, scale as f32),
            x.shape(),
        )
    }

    fn delta_rule(
        q: FlexTensor,
        k: FlexTensor,
        v: FlexTensor,
        beta: FlexTensor,
        g: Option<FlexTensor>,
        _chunk: usize,
    ) -> FlexTensor {
        Self::delta_fwd(q, k, v, beta, g).0
    }

    fn rms_norm_bwd(
        x: FlexTensor,
        w: FlexTensor,
        dy: FlexTensor,
        eps: f64,
    ) -> (FlexTensor, FlexTensor) {
        let (x, w, dy) = (contiguous(&x), contiguous(&w), contiguous(&dy));
        let (dx, dw) = cpu::norm::backward(values(&x), values(&w), values(&dy), eps as f32);
        (from_vec(dx, x.shape()), from_vec(dw, w.shape()))
    }

    fn silu_mul_bwd(a: FlexTensor, b: FlexTensor, dy: FlexTensor) -> (FlexTensor, FlexTensor) {
        let (a, b, dy) = (contiguous(&a), contiguous(&b), contiguous(&dy));
        let (da, db) = cpu::swiglu::backward(values(&a), values(&b), values(&dy));
        (from_vec(da, a.shape()), from_vec(db, a.shape()))
    }

    fn conv_silu_bwd(
        x: FlexTensor,
        w: FlexTensor,
        bias: Option<FlexTensor>,
        dy: FlexTensor,
    ) -> (FlexTensor, FlexTensor, Option<FlexTensor>) {
        let (x, w, dy) = (contiguous(&x), contiguous(&w), contiguous(&dy));
        let bias = bias.map(|b| contiguous(&b));
        let (dx, dw, db) = cpu::conv::backward(
            values(&x),
            values(&w),
            bias.as_ref().map(values),
            values(&dy),
            dims(&x),
        );
        (
            from_vec(dx, x.shape()),
            from_vec(dw, w.shape()),
            bias.map(|b| from_vec(db, b.shape())),
        )
    }

    fn attention_fwd(
        q: FlexTensor,
        k: FlexTensor,
        v: FlexTensor,
        opts: AttentionOpts,
    ) -> (FlexTensor, FlexTensor) {
        let (q, k, v) = (contiguous(&q), contiguous(&k), contiguous(&v));
        let d = attention_dims(&q, &k, opts);
        let (o, lse) = cpu::attention::forward(values(&q), values(&k), values(&v), d);
        (
            from_vec(o, q.shape()),
            from_vec(lse, Shape::new([d.b, d.h, d.t])),
        )
    }

    fn attention_bwd(
        q: FlexTensor,
        k: FlexTensor,
        v: FlexTensor,
        o: FlexTensor,
        lse: FlexTensor,
        d_o: FlexTensor,
        opts: AttentionOpts,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let [q, k, v, o, lse, d_o] = [&q, &k, &v, &o, &lse, &d_o].map(contiguous);
        let d = attention_dims(&q, &k, opts);
        let (dq, dk, dv) = cpu::attention::backward(
            values(&q),
            values(&k),
            values(&v),
            values(&o),
            values(&lse),
            values(&d_o),
            d,
        );
        (
            from_vec(dq, q.shape()),
            from_vec(dk, k.shape()),
            from_vec(dv, v.shape()),
        )
    }

    fn ssd_fwd(inputs: [FlexTensor; 6]) -> (FlexTensor, FlexTensor) {
        let [x, dt, a, b, c, dskip] = inputs.each_ref().map(contiguous);
        let d = ssd_dims(&x, &b);
        let (y, ck) = cpu::ssd::forward(
            values(&x),
            values(&dt),
            values(&a),
            values(&b),
            values(&c),
            values(&dskip),
            d,
        );
        let n = ck.len();
        (from_vec(y, x.shape()), from_vec(ck, Shape::new([n])))
    }

    fn ssd_bwd(
        inputs: [FlexTensor; 6],
        checkpoints: FlexTensor,
        dy: FlexTensor,
    ) -> [FlexTensor; 6] {
        let inputs = inputs.each_ref().map(contiguous);
        let [x, dt, a, b, c, dskip] = &inputs;
        let (ck, dy) = (contiguous(&checkpoints), contiguous(&dy));
        let d = ssd_dims(x, b);
        let grads = cpu::ssd::backward(
            values(x),
            values(dt),
            values(a),
            values(b),
            values(c),
            values(dskip),
            values(&ck),
            values(&dy),
            d,
        );
        let mut out = grads
            .into_iter()
            .zip(&inputs)
            .map(|(g, t)| from_vec(g, t.shape()));
        std::array::from_fn(|_| out.next().expect("six gradients"))
    }

    fn delta_fwd(
        q: FlexTensor,
        k: FlexTensor,
        v: FlexTensor,
        beta: FlexTensor,
        g: Option<FlexTensor>,
    ) -> (FlexTensor, FlexTensor) {
        let [q, k, v, beta] = [&q, &k, &v, &beta].map(contiguous);
        let g = g.map(|g| contiguous(&g));
        let d = delta_dims(&q, &v);
        let inputs = cpu::delta::Inputs {
            q: values(&q),
            k: values(&k),
            v: values(&v),
            beta: values(&beta),
            g: g.as_ref().map(values),
        };
        let (o, ck) = cpu::delta::forward(inputs, d);
        let n = ck.len();
        (from_vec(o, v.shape()), from_vec(ck, Shape::new([n])))
    }

    fn delta_bwd(
        q: FlexTensor,
        k: FlexTensor,
        v: FlexTensor,
        beta: FlexTensor,
        g: Option<FlexTensor>,
        checkpoints: FlexTensor,
        d_o: FlexTensor,
    ) -> ([FlexTensor; 4], Option<FlexTensor>) {
        let [q, k, v, beta, ck, d_o] = [&q, &k, &v, &beta, &checkpoints, &d_o].map(contiguous);
        let g = g.map(|g| contiguous(&g));
        let d = delta_dims(&q, &v);
        let inputs = cpu::delta::Inputs {
            q: values(&q),
            k: values(&k),
            v: values(&v),
            beta: values(&beta),
            g: g.as_ref().map(values),
        };
        let (dq, dk, dv, dbeta, dg) = cpu::delta::backward(inputs, values(&ck), values(&d_o), d);
        (
            [
                from_vec(dq, q.shape()),
                from_vec(dk, k.shape()),
                from_vec(dv, v.shape()),
                from_vec(dbeta, beta.shape()),
            ],
            g.map(|g| from_vec(dg, g.shape())),
        )
    }
}
