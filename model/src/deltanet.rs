//! DeltaNet as used by Nemotron-Flash (§7): q/k/v projections each through its own short
//! conv + SiLU, L2-normalized q (scaled by Dk^−1/2) and k, β = sigmoid(x W_b), the delta rule,
//! per-head RMSNorm, out-projection.

use crate::delta_rule::{delta_rule_chunked, delta_rule_recurrent, DeltaInput};
use crate::kernels::{self, Kernels};
use crate::kind::{Family, KindDescriptor};
use crate::linear::linear;
use crate::short_conv::causal_conv_silu;
use crate::spec::DeltaNetConfig;
use crate::tensors::{conv_default, xavier, Init, TensorSpec};
use crate::weights::{WeightError, WeightReader, WeightWriter};
use crate::Scan;
use burn::module::{Module, Param};
use burn::tensor::activation::sigmoid;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// DeltaNet (weights under `gla`, as Nemotron-Flash names them).
pub const DELTANET: KindDescriptor = KindDescriptor {
    kind: crate::spec::LayerKind::DeltaNet,
    name: "deltanet",
    short: "d",
    section: "deltanet",
    module: "gla",
    family: Family::DeltaNet,
};

/// Decode state of one DeltaNet (or Gated DeltaNet) sublayer.
#[derive(Debug, Clone)]
pub struct DeltaState<B: Backend> {
    /// Short-conv states `[B, K−1, C]` of q, k and v.
    pub conv_q: Tensor<B, 3>,
    pub conv_k: Tensor<B, 3>,
    pub conv_v: Tensor<B, 3>,
    /// Delta-rule state `[B, H, Dk, Dv]`.
    pub s: Tensor<B, 4>,
}

#[derive(Module, Debug)]
pub struct DeltaNet<B: Backend> {
    q_proj: Param<Tensor<B, 2>>,
    k_proj: Param<Tensor<B, 2>>,
    v_proj: Param<Tensor<B, 2>>,
    b_proj: Param<Tensor<B, 2>>,
    q_conv: Param<Tensor<B, 2>>,
    k_conv: Param<Tensor<B, 2>>,
    v_conv: Param<Tensor<B, 2>>,
    o_norm: Param<Tensor<B, 1>>,
    o_proj: Param<Tensor<B, 2>>,
    #[module(skip)]
    cfg: DeltaNetConfig,
}

/// The §10 tensors of a deltanet sublayer under `prefix` (`model.layers.{i}.gla`).
pub fn tensors(prefix: &str, c: &DeltaNetConfig, d: usize) -> Vec<TensorSpec> {
    let (h, dk, dv, k) = (c.n_heads, c.head_k_dim, c.head_v_dim, c.conv_size);
    vec![
        TensorSpec::new(
            format!("{prefix}.q_proj.weight"),
            &[h * dk, d],
            xavier(h * dk, d),
        ),
        TensorSpec::new(
            format!("{prefix}.k_proj.weight"),
            &[h * dk, d],
            xavier(h * dk, d),
        ),
        TensorSpec::new(
            format!("{prefix}.v_proj.weight"),
            &[h * dv, d],
            xavier(h * dv, d),
        ),
        TensorSpec::new(format!("{prefix}.b_proj.weight"), &[h, d], xavier(h, d)),
        TensorSpec::new(
            format!("{prefix}.q_conv1d.weight"),
            &[h * dk, 1, k],
            conv_default(k),
        ),
        TensorSpec::new(
            format!("{prefix}.k_conv1d.weight"),
            &[h * dk, 1, k],
            conv_default(k),
        ),
        TensorSpec::new(
            format!("{prefix}.v_conv1d.weight"),
            &[h * dv, 1, k],
            conv_default(k),
        ),
        TensorSpec::new(format!("{prefix}.o_norm.weight"), &[dv], Init::Const(1.0)),
        TensorSpec::new(
            format!("{prefix}.o_proj.weight"),
            &[d, h * dv],
            xavier(d, h * dv),
        ),
    ]
}

impl<B: Backend> DeltaNet<B> {
    pub fn read(
        r: &mut WeightReader<B>,
        prefix: &str,
        c: &DeltaNetConfig,
        d: usize,
    ) -> Result<Self, WeightError> {
        let (h, dk, dv, k) = (c.n_heads, c.head_k_dim, c.head_v_dim, c.conv_size);
        Ok(Self {
            q_proj: r.linear(&format!("{prefix}.q_proj.weight"), h * dk, d)?,
            k_proj: r.linear(&format!("{prefix}.k_proj.weight"), h * dk, d)?,
            v_proj: r.linear(&format!("{prefix}.v_proj.weight"), h * dv, d)?,
            b_proj: r.linear(&format!("{prefix}.b_proj.weight"), h, d)?,
            q_conv: r.conv(&format!("{prefix}.q_conv1d.weight"), h * dk, k)?,
            k_conv: r.conv(&format!("{prefix}.k_conv1d.weight"), h * dk, k)?,
            v_conv: r.conv(&format!("{prefix}.v_conv1d.weight"), h * dv, k)?,
            o_norm: r.param(&format!("{prefix}.o_norm.weight"), [dv])?,
            o_proj: r.linear(&format!("{prefix}.o_proj.weight"), d, h * dv)?,
            cfg: c.clone(),
        })
    }

    pub fn write(&self, w: &mut WeightWriter, prefix: &str) {
        w.linear(&format!("{prefix}.q_proj.weight"), &self.q_proj);
        w.linear(&format!("{prefix}.k_proj.weight"), &self.k_proj);
        w.linear(&format!("{prefix}.v_proj.weight"), &self.v_proj);
        w.linear(&format!("{prefix}.b_proj.weight"), &self.b_proj);
        w.conv(&format!("{prefix}.q_conv1d.weight"), &self.q_conv);
        w.conv(&format!("{prefix}.k_conv1d.weight"), &self.k_conv);
        w.conv(&format!("{prefix}.v_conv1d.weight"), &self.v_conv);
        w.param(&format!("{prefix}.o_norm.weight"), &self.o_norm);
        w.linear(&format!("{prefix}.o_proj.weight"), &self.o_proj);
    }
}

impl<B: Kernels> DeltaNet<B> {
    /// `x: [B,T,d]` → `[B,T,d]`, continuing from `state` (zeros when `None`).
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        state: Option<DeltaState<B>>,
        scan: Scan,
    ) -> (Tensor<B, 3>, DeltaState<B>) {
        let (y, s) = self.run(x, Some(state), scan);
        (y, s.expect("a state was asked for"))
    }

    /// A whole sequence from a zero state, final state not kept (training): the fused
    /// convolutions and delta rule.
    pub fn forward_sequence(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.run(x, None, Scan::Chunked).0
    }

    /// `state: None` — no state in or out (fused kernels); `Some(s)` — continue from `s`
    /// (zeros when `s` is `None`) and return the final state.
    fn run(
        &self,
        x: Tensor<B, 3>,
        state: Option<Option<DeltaState<B>>>,
        scan: Scan,
    ) -> (Tensor<B, 3>, Option<DeltaState<B>>) {
        let c = &self.cfg;
        let [b, t, _] = x.dims();
        let (h, dk, dv) = (c.n_heads, c.head_k_dim, c.head_v_dim);
        let keep = state.is_some();
        let (cq, ck, cv, s0) = match state.flatten() {
            Some(s) => (Some(s.conv_q), Some(s.conv_k), Some(s.conv_v), Some(s.s)),
            None => (None, None, None, None),
        };
        let conv = |x: Tensor<B, 3>, w: &Param<Tensor<B, 2>>, st: Option<Tensor<B, 3>>| match keep {
            true => {
                let (y, s) = causal_conv_silu(x, st, w.val(), None);
                (y, Some(s))
            }
            false => (kernels::conv_silu(x, w.val(), None), None),
        };
        let (q, conv_q) = conv(linear(x.clone(), &self.q_proj, None), &self.q_conv, cq);
        let (k, conv_k) = conv(linear(x.clone(), &self.k_proj, None), &self.k_conv, ck);
        let (v, conv_v) = conv(linear(x.clone(), &self.v_proj, None), &self.v_conv, cv);
        let q = kernels::l2_normalize(q.reshape([b, t, h, dk]), 1.0 / (dk as f64).sqrt());
        let k = kernels::l2_normalize(k.reshape([b, t, h, dk]), 1.0);
        let v = v.reshape([b, t, h, dv]);
        let mut beta = sigmoid(linear(x, &self.b_proj, None));
        if c.allow_neg_eigval {
            beta = beta.mul_scalar(2.0);
        }
        let input = DeltaInput {
            q,
            k,
            v,
            beta,
            g: None,
        };
        let (o, s) = match (keep, scan) {
            (false, _) => (kernels::delta_rule(input, c.chunk_size), None),
            (true, Scan::Chunked) => {
                let (o, s) = delta_rule_chunked(input, s0, c.chunk_size);
                (o, Some(s))
            }
            (true, Scan::Recurrent) => {
                let (o, s) = delta_rule_recurrent(input, s0);
                (o, Some(s))
            }
        };
        let o = kernels::rms_norm(o, self.o_norm.val(), c.norm_eps).reshape([b, t, h * dv]);
        let out = linear(o, &self.o_proj, None);
        let state = s.map(|s| DeltaState {
            conv_q: conv_q.expect("kept"),
            conv_k: conv_k.expect("kept"),
            conv_v: conv_v.expect("kept"),
            s,
        });
        (out, state)
    }
}
