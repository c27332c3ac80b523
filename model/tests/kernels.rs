//! Every fused kernel against the composition of burn ops it replaces: outputs, and the
//! gradients of every input under a random linear loss (so that a wrong backward formula, a
//! missed term or a wrong layout shows). On backends without fused kernels the two paths are
//! the same code and the test is trivially true.

use burn::backend::Autodiff;
use burn::tensor::activation::{sigmoid, silu, softplus};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use flashnas_model::backend::{device, Compute};
use flashnas_model::delta_rule::{delta_rule_chunked, DeltaInput};
use flashnas_model::kernels::{self, composed_attention, AttentionOpts};
use flashnas_model::rms_norm::{l2_normalize, rms_norm};
use flashnas_model::short_conv::causal_conv_silu;
use flashnas_model::ssd::{ssd_chunked, SsdInput};

type A = Autodiff<Compute>;
type B = Compute;

fn rand<const D: usize>(shape: [usize; D], seed: u64) -> Tensor<B, D> {
    B::seed(&device(), seed);
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), &device())
}

/// `max |a − b| / max |b|`, with `max |b|` floored at 1e-2 (a gradient that is zero in exact
/// arithmetic, such as that of a query that only sees itself, is compared absolutely).
fn rel<const D: usize>(a: &Tensor<B, D>, b: &Tensor<B, D>) -> f64 {
    let d: f32 = (a.clone() - b.clone()).abs().max().into_scalar();
    let s: f32 = b.clone().abs().max().into_scalar();
    d as f64 / (s as f64).max(1e-2)
}

/// Output and input gradients of `f` under the loss `Σ out ⊙ r`.
fn run<const D: usize, const N: usize>(
    inputs: &[Tensor<B, N>],
    r: &Tensor<B, D>,
    f: impl Fn(&[Tensor<A, N>]) -> Tensor<A, D>,
) -> (Tensor<B, D>, Vec<Tensor<B, N>>) {
    let xs: Vec<Tensor<A, N>> = inputs
        .iter()
        .map(|x| Tensor::from_inner(x.clone()).require_grad())
        .collect();
    let out = f(&xs);
    let loss = (out.clone() * Tensor::from_inner(r.clone())).sum();
    let grads = loss.backward();
    let g = xs
        .iter()
        .map(|x| x.grad(&grads).expect("a gradient"))
        .collect();
    (out.inner(), g)
}

fn compare<const D: usize, const N: usize>(
    what: &str,
    inputs: &[Tensor<B, N>],
    fused: impl Fn(&[Tensor<A, N>]) -> Tensor<A, D>,
    composed: impl Fn(&[Tensor<A, N>]) -> Tensor<A, D>,
    tol: f64,
) {
    let probe: Vec<Tensor<A, N>> = inputs
        .iter()
        .map(|x| Tensor::from_inner(x.clone()))
        .collect();
    let r = rand(fused(&probe).dims(), 99);
    let (y1, g1) = run(inputs, &r, &fused);
    let (y2, g2) = run(inputs, &r, &composed);
    let e = rel(&y1, &y2);
    assert!(e <= tol, "{what}: output differs by {e:e}");
    for (i, (a, b)) in g1.iter().zip(&g2).enumerate() {
        let e = rel(a, b);
        assert!(e <= tol, "{what}: gradient of input {i} differs by {e:e}");
    }
}

#[test]
fn rms_norm_and_silu_mul() {
    compare(
        "rms_norm",
        &[rand([33, 16], 1), rand([1, 16], 2)],
        |x| kernels::rms_norm(x[0].clone(), x[1].clone().reshape([16]), 1e-6),
        |x| rms_norm(x[0].clone(), x[1].clone().reshape([16]), 1e-6),
        1e-5,
    );
    compare(
        "l2_normalize",
        &[rand([2, 9, 3, 16], 22)],
        |x| kernels::l2_normalize(x[0].clone(), 0.25),
        |x| l2_normalize(x[0].clone()).mul_scalar(0.25),
        1e-5,
    );
    compare(
        "silu_mul",
        &[rand([5, 7, 3], 3), rand([5, 7, 3], 4)],
        |x| kernels::silu_mul(x[0].clone(), x[1].clone()),
        |x| silu(x[0].clone()) * x[1].clone(),
        1e-5,
    );
}

#[test]
fn causal_conv_silu_with_and_without_bias() {
    for bias in [true, false] {
        compare(
            &format!("conv bias={bias}"),
            &[rand([2, 20, 6], 5), rand([1, 4, 6], 6), rand([1, 1, 6], 7)],
            |x| {
                let b = bias.then(|| x[2].clone().reshape([6]));
                kernels::conv_silu(x[0].clone(), x[1].clone().reshape([4, 6]), b)
                    + x[2].clone().mul_scalar(0.0) // keeps every input in the graph
            },
            |x| {
                let b = bias.then(|| x[2].clone().reshape([6]));
                causal_conv_silu(x[0].clone(), None, x[1].clone().reshape([4, 6]), b).0
                    + x[2].clone().mul_scalar(0.0)
            },
            1e-5,
        );
    }
}

#[test]
fn attention_causal_window_and_gqa() {
    // T = 70 spans two query blocks; windows 1, 5 and none; GQA ratio 2.
    for window in [None, Some(5), Some(1), Some(64)] {
        let opts = AttentionOpts {
            window,
            scale: 1.0 / 8f64.sqrt(),
        };
        compare(
            &format!("attention window={window:?}"),
            &[
                rand([2, 70, 4, 8], 8),
                rand([2, 70, 2, 8], 9),
                rand([2, 70, 2, 8], 10),
            ],
            |x| kernels::attention(x[0].clone(), x[1].clone(), x[2].clone(), opts),
            |x| composed_attention(x[0].clone(), x[1].clone(), x[2].clone(), opts),
            1e-4,
        );
    }
}

#[test]
fn ssd_scan_against_the_chunked_form() {
    // T = 70: past the scan's 64-step checkpoint; 4 heads in 2 groups.
    let (b, t, h, p, g, n) = (2, 70, 4, 8, 2, 4);
    let inputs = [
        rand([b, t, h * p], 11),
        rand([b, t, h], 12),
        rand([1, 1, h], 13),
        rand([b, t, g * n], 14),
        rand([b, t, g * n], 15),
        rand([1, 1, h], 21),
    ];
    let prep = |x: &[Tensor<A, 3>]| SsdInput {
        x: x[0].clone().reshape([b, t, h, p]),
        dt: softplus(x[1].clone(), 1.0),
        a: x[2].clone().reshape([h]).exp().neg(),
        b: x[3].clone().reshape([b, t, g, n]),
        c: x[4].clone().reshape([b, t, g, n]),
    };
    compare(
        "ssd",
        &inputs,
        |x| kernels::ssd(prep(x), x[5].clone().reshape([h]), 16).reshape([b, t, h * p]),
        |x| {
            let skip = x[0].clone().reshape([b, t, h, p]) * x[5].clone().reshape([1, 1, h, 1]);
            (ssd_chunked(prep(x), None, 16).0 + skip).reshape([b, t, h * p])
        },
        1e-4,
    );
}

#[test]
fn delta_rule_gated_and_plain_against_the_chunked_form() {
    let (b, t, h, dk, dv) = (2, 70, 3, 8, 6);
    for gated in [true, false] {
        let inputs = [
            rand([b, t, h * dk], 16),
            rand([b, t, h * dk], 17),
            rand([b, t, h * dv], 18),
            rand([b, t, h], 19),
            rand([b, t, h], 20),
        ];
        let prep = |x: &[Tensor<A, 3>]| {
            let unit = |v: Tensor<A, 3>| {
                let v = v.reshape([b, t, h, dk]);
                let n = v.clone().powi_scalar(2).sum_dim(3).sqrt();
                v / n
            };
            DeltaInput {
                q: unit(x[0].clone()).mul_scalar(1.0 / (dk as f64).sqrt()),
                k: unit(x[1].clone()),
                v: x[2].clone().reshape([b, t, h, dv]),
                beta: sigmoid(x[3].clone()),
                g: gated.then(|| softplus(x[4].clone(), 1.0).neg().mul_scalar(0.3)),
            }
        };
        let keep = |x: &[Tensor<A, 3>]| x[4].clone().sum().mul_scalar(0.0);
        compare(
            &format!("delta rule gated={gated}"),
            &inputs,
            |x| kernels::delta_rule(prep(x), 16).reshape([b, t, h * dv]) + keep(x).unsqueeze::<3>(),
            |x| {
                delta_rule_chunked(prep(x), None, 16)
                    .0
                    .reshape([b, t, h * dv])
                    + keep(x).unsqueeze::<3>()
            },
            1e-4,
        );
    }
}
