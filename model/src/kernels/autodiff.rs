//! `Autodiff<B>`: each fused op of a `FUSED` inner backend becomes one node of the graph whose
//! backward calls the inner backend's backward kernel. Without `FUSED`, the ops fall back to
//! the composition of burn ops, differentiated by burn.

use super::{unwrap, wrap, AttentionOpts, Kernels};
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{Int, Tensor, TensorMetadata};
use std::sync::Arc;

type Inner<B> = FloatTensor<B>;

type GradClosure<B> = dyn Fn(Inner<B>) -> Vec<Option<Inner<B>>> + Send + Sync;

/// The gradient of every input (in order; `None` for inputs without one) from the output's.
#[derive(Clone)]
struct GradFn<B: Backend>(Arc<GradClosure<B>>);

impl<B: Backend> std::fmt::Debug for GradFn<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GradFn")
    }
}

#[derive(Debug)]
struct FusedBackward<const N: usize>;

impl<B: Backend, const N: usize> Backward<B, N> for FusedBackward<N> {
    type State = GradFn<B>;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<B>(&ops.node);
        let inputs = (ops.state.0)(dy);
        for (parent, g) in ops.parents.into_iter().zip(inputs) {
            if let (Some(node), Some(g)) = (parent, g) {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

type Ad<B, C> = FloatTensor<Autodiff<B, C>>;

/// Records a fused op over `inputs` whose output (computed on the inner backend) is `out`;
/// `grad` (built only when a gradient is needed) maps the output's gradient to the inputs'.
fn record<B: Kernels, C: CheckpointStrategy, const N: usize>(
    inputs: [&Ad<B, C>; N],
    out: Inner<B>,
    grad: impl FnOnce(Inner<B>) -> GradFn<B>,
) -> Ad<B, C> {
    let nodes = inputs.map(|t| t.node.clone());
    match FusedBackward::<N>
        .prepare::<C>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let g = grad(out.clone());
            prep.finish(g, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(out),
    }
}

fn grad_fn<B: Backend>(
    f: impl Fn(Inner<B>) -> Vec<Option<Inner<B>>> + Send + Sync + 'static,
) -> GradFn<B> {
    GradFn(Arc::new(f))
}

impl<B: Kernels, C: CheckpointStrategy> Kernels for Autodiff<B, C> {
    fn affine(x: Ad<B, C>, w: Ad<B, C>, b: Option<Ad<B, C>>) -> Ad<B, C> {
        if !B::FUSED {
            let y = wrap::<Self, 2>(x).matmul(wrap(w));
            return unwrap(match b {
                Some(b) => y + wrap::<Self, 1>(b).unsqueeze(),
                None => y,
            });
        }
        let (xp, wp) = (x.primitive.clone(), w.primitive.clone());
        let bp = b.as_ref().map(|b| b.primitive.clone());
        let out = B::affine(xp.clone(), wp.clone(), bp.clone());
        let has_bias = bp.is_some();
        let grad = move |_| {
            grad_fn(move |dy| {
                let (dx, dw, db) = B::affine_bwd(xp.clone(), wp.clone(), has_bias, dy);
                vec![Some(dx), Some(dw), db]
            })
        };
        match &b {
            Some(b) => record::<B, C, 3>([&x, &w, b], out, grad),
            None => record::<B, C, 2>([&x, &w], out, grad),
        }
    }

    fn narrow_cols(x: Ad<B, C>, start: usize, len: usize) -> Ad<B, C> {
        if !B::FUSED {
            return unwrap(wrap::<Self, 2>(x).narrow(1, start, len));
        }
        let cols = x.primitive.shape().dims::<2>()[1];
        let out = B::narrow_cols(x.primitive.clone(), start, len);
        record::<B, C, 1>([&x], out, |_| {
            grad_fn(move |g| vec![Some(B::narrow_cols_bwd(g, cols, start))])
        })
    }

    fn rope(x: Ad<B, C>, cos: Ad<B, C>, sin: Ad<B, C>) -> Ad<B, C> {
        if !B::FUSED {
            return unwrap(crate::rope::apply_rope::<Self>(
                wrap(x),
                &wrap(cos),
                &wrap(sin),
            ));
        }
        // The tables are constants: only x gets a gradient.
        let (cp, sp) = (cos.primitive, sin.primitive);
        let out = B::rope(x.primitive.clone(), cp.clone(), sp.clone());
        record::<B, C, 1>([&x], out, |_| {
            grad_fn(move |dy| vec![Some(B::rope_bwd(dy, cp.clone(), sp.clone()))])
        })
    }

    fn cross_entropy(logits: Ad<B, C>, targets: IntTensor<Self>) -> Ad<B, C> {
        if !B::FUSED {
            let logits: Tensor<Self, 2> = wrap(logits);
            let targets: Tensor<Self, 1, Int> = Tensor::from_primitive(targets);
            let n = targets.dims()[0];
            let logp = burn::tensor::activation::log_softmax(logits, 1);
            return unwrap(logp.gather(1, targets.reshape([n, 1])).reshape([n]).neg());
        }
        let lp = logits.primitive.clone();
        let (nll, lse) = B::cross_entropy_fwd(lp.clone(), targets.clone());
        record::<B, C, 1>([&logits], nll, |_| {
            grad_fn(move |g| {
                vec![Some(B::cross_entropy_bwd(
                    lp.clone(),
                    targets.clone(),
                    lse.clone(),
                    g,
                ))]
            })
        })
    }

    fn rms_norm(x: Ad<B, C>, w: Ad<B, C>, eps: f64) -> Ad<B, C> {
        if !B::FUSED {
            return unwrap(crate::rms_norm::rms_norm(wrap::<Self, 2>(x), wrap(w), eps));
        }
        let (xp, wp) = (x.primitive.clone(), w.primitive.clone());
        record::<B, C, 2>([&x, &w], B::rms_norm(xp.clone(), wp.clone(), eps), |_| {
            grad_fn(move |dy| {
                let (dx, dw) = B::rms_norm_bwd(xp.clone(), wp.clone(), dy, eps);
                vec![Some(dx), Some(dw)]
            })
        })
    }

    fn silu_mul(a: Ad<B, C>, b: Ad<B, C>) -> Ad<B, C> {
        if !B::FUSED {
            let (a, b) = (wrap::<Self, 1>(a), wrap::<Self, 1>(b));
            return unwrap(burn::tensor::activation::silu(a) * b);
        }
        let (ap, bp) = (a.primitive.clone(), b.primitive.clone());
        record::<B, C, 2>([&a, &b], B::silu_mul(ap.clone(), bp.clone()), |_| {
            grad_fn(move |dy| {
                let (da, db) = B::silu_mul_bwd(ap.clone(), bp.clone(), dy);
                vec![Some(da), Some(db)]
            })
        })
    }

    fn conv_silu(x: Ad<B, C>, w: Ad<B, C>, bias: Option<Ad<B, C>>) -> Ad<B, C> {
        if !B::FUSED {
            let (y, _) =
                crate::short_conv::causal_conv_silu::<Self>(wrap(x), None, wrap(w), bias.map(wrap));
            return unwrap(y);
        }
        let (xp, wp) = (x.primitive.clone(), w.primitive.clone());
        let bp = bias.as_ref().map(|b| b.primitive.clone());
        let out = B::conv_silu(xp.clone(), wp.clone(), bp.clone());
        let grad = move |_| {
            grad_fn(move |dy| {
                let (dx, dw, db) = B::conv_silu_bwd(xp.clone(), wp.clone(), bp.clone(), dy);
                vec![Some(dx), Some(dw), db]
            })
        };
        match &bias {
            Some(b) => record::<B, C, 3>([&x, &w, b], out, grad),
            None => record::<B, C, 2>([&x, &w], out, grad),
        }
    }

    fn causal_attention(q: Ad<B, C>, k: Ad<B, C>, v: Ad<B, C>, opts: AttentionOpts) -> Ad<B, C> {
        if !B::FUSED {
            return unwrap(super::composed_attention::<Self>(
                wrap(q),
                wrap(k),
                wrap(v),
                opts,
            ));
        }
        let (qp, kp, vp) = (
            q.primitive.clone(),
            k.primitive.clone(),
            v.primitive.clone(),
        );
        // The forward's log-sum-exp is kept for the backward.
        let (o, lse) = B::attention_fwd(qp.clone(), kp.clone(), vp.clone(), opts);
        record::<B, C, 3>([&q, &k, &v], o, |out| {
            grad_fn(move |d_o| {
                let (dq, dk, dv) = B::attention_bwd(
                    qp.clone(),
                    kp.clone(),
                    vp.clone(),
                    out.clone(),
                    lse.clone(),
                    d_o,
                    opts,
                );
                vec![Some(dq), Some(dk), Some(dv)]
            })
        })
    }

    fn ssd(
        x: Ad<B, C>,
        dt: Ad<B, C>,
        a: Ad<B, C>,
        b: Ad<B, C>,
        c: Ad<B, C>,
        d: Ad<B, C>,
        chunk: usize,
    ) -> Ad<B, C> {
        if !B::FUSED {
            return unwrap(super::composed_ssd::<Self>(
                wrap(x),
                wrap(dt),
                wrap(a),
                wrap(b),
                wrap(c),
                wrap(d),
                chunk,
            ));
        }
        let p = [&x, &dt, &a, &b, &c, &d].map(|t| t.primitive.clone());
        let (y, checkpoints) = B::ssd_fwd(p.clone());
        record::<B, C, 6>([&x, &dt, &a, &b, &c, &d], y, |_| {
            grad_fn(move |dy| {
                B::ssd_bwd(p.clone(), checkpoints.clone(), dy)
                    .into_iter()
                    .map(Some)
                    .collect()
            })
        })
    }

    fn l2_normalize(x: Ad<B, C>, scale: f64) -> Ad<B, C> {
        if !B::FUSED {
            return unwrap(crate::rms_norm::l2_normalize(wrap::<Self, 2>(x)).mul_scalar(scale));
        }
        let xp = x.primitive.clone();
        let out = B::l2_normalize(xp.clone(), scale);
        record::<B, C, 1>([&x], out, |_| {
            grad_fn(move |dy| vec![Some(B::l2_normalize_bwd(xp.clone(), dy, scale))])
        })
    }

    fn delta_rule(
        q: Ad<B, C>,
        k: Ad<B, C>,
        v: Ad<B, C>,
        beta: Ad<B, C>,
        g: Option<Ad<B, C>>,
        chunk: usize,
    ) -> Ad<B, C> {
        if !B::FUSED {
            let input = crate::delta_rule::DeltaInput {
                q: wrap(q),
                k: wrap(k),
                v: wrap(v),
                beta: wrap(beta),
                g: g.map(wrap),
            };
            return unwrap(crate::delta_rule::delta_rule_chunked::<Self>(input, None, chunk).0);
        }
        let p = [&q, &k, &v, &beta].map(|t| t.primitive.clone());
        let gp = g.as_ref().map(|t| t.primitive.clone());
        let (o, checkpoints) = B::delta_fwd(
            p[0].clone(),
            p[1].clone(),
            p[2].clone(),
            p[3].clone(),
            gp.clone(),
        );
        let grad = move |_| {
            grad_fn(move |d_o| {
                let [q, k, v, beta] = p.clone();
                let (d, dg) = B::delta_bwd(q, k, v, beta, gp.clone(), checkpoints.clone(), d_o);
                let mut out: Vec<Option<Inner<B>>> = d.into_iter().map(Some).collect();
                out.push(dg);
                out
            })
        };
        match &g {
            Some(gt) => record::<B, C, 5>([&q, &k, &v, &beta, gt], o, grad),
            None => record::<B, C, 4>([&q, &k, &v, &beta], o, grad),
        }
    }
}
