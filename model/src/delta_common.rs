//! What DeltaNet (§7) and Gated DeltaNet (§8) share: one operator, [`GatedDeltaNet`], built
//! from either kind's config, with the section reader, tensors, decode cost and sizing of both
//! kinds. deltanet.rs and gated_deltanet.rs declare the two kinds on top of it (neither imports
//! the other).
//!
//! Gated DeltaNet is DeltaNet plus a per-head log-decay `g = −exp(A_log)·softplus(x W_a +
//! dt_bias)`, grouped value heads (GVA), and an output gate applied after the per-head norm
//! (`RMSNorm(o) ⊙ silu(x W_g)`). Built from a [`DeltaNetConfig`] (see [`DeltaConfig`]), the
//! operator has no decay and no gate, one value head per q/k head and DeltaNet's own
//! initialization: exactly DeltaNet's weights, computing exactly DeltaNet's function.

use crate::config::{DeltaNetConfig, GatedDeltaNetConfig, LayerConfig};
use crate::delta_rule::{delta_rule_chunked, delta_rule_recurrent, DeltaInput};
use crate::fields::{Fields, SpecError};
use crate::kernels::{self, Kernels};
use crate::kind::{section, DecodeCost, Section, Sizing};
use crate::linear::linear;
use crate::short_conv::causal_conv_silu;
use crate::tensors::{conv_default, xavier, Init, TensorSpec};
use crate::weights::{WeightError, WeightReader, WeightWriter};
use crate::Scan;
use burn::module::{Module, Param};
use burn::tensor::activation::{sigmoid, softplus};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// Reads a delta-rule section: Gated DeltaNet's fields, or DeltaNet's (`Plain`: no
/// `n_v_heads`, no `use_gate`, and Dv = Dk by default).
pub(crate) fn read_fields(
    f: &mut Fields,
    variant: Variant,
) -> Result<GatedDeltaNetConfig, SpecError> {
    let gated = variant == Variant::Gated;
    let h = f.positive_required("n_heads")?;
    let hv = if gated {
        f.positive_or("n_v_heads", h)?
    } else {
        h
    };
    let dk = f.head_dim_or_split("head_k_dim", h)?;
    let dk = f.positive("head_k_dim", dk)?;
    let dv = f.positive_or("head_v_dim", if gated { 2 * dk } else { dk })?;
    let use_gate = gated && f.bool_or("use_gate", true)?;
    let conv = f.conv_or("conv_size", 4)?;
    let eps = f.positive_f_or("norm_eps", 1e-5)?;
    let chunk = f.positive_or("chunk_size", 64)?;
    let neg = f.bool_or("allow_neg_eigval", false)?;
    if hv % h != 0 {
        return Err(f.err(
            "n_v_heads",
            format!("{hv} is not a multiple of n_heads {h}"),
        ));
    }
    Ok(GatedDeltaNetConfig {
        n_heads: h,
        n_v_heads: hv,
        head_k_dim: dk,
        head_v_dim: dv,
        use_gate,
        conv_size: conv,
        norm_eps: eps,
        chunk_size: chunk,
        allow_neg_eigval: neg,
    })
}

/// The tensors of either delta-rule kind.
pub(crate) fn layer_tensors(prefix: &str, c: &LayerConfig, d: usize) -> Vec<TensorSpec> {
    match c {
        LayerConfig::DeltaNet(c) => tensors(prefix, c, d),
        LayerConfig::GatedDeltaNet(c) => tensors(prefix, c, d),
        other => unreachable!("a delta-rule descriptor was given {other:?}"),
    }
}

/// The decode cost of either delta-rule kind.
pub(crate) fn decode_cost(c: &LayerConfig, d: usize, _seen: usize) -> DecodeCost {
    match c {
        LayerConfig::DeltaNet(c) => delta_rule_cost(c, d),
        LayerConfig::GatedDeltaNet(c) => delta_rule_cost(c, d),
        other => unreachable!("a delta-rule descriptor was given {other:?}"),
    }
}

/// Projections (q, k, v, β, and for the gated variant the decay and the gate), the three
/// short convs and the delta-rule update on an `Hv·Dk·Dv` state (Sᵀk, k uᵀ, Sᵀq, + the
/// decay when gated), plus the convs' `K − 1` inputs.
fn delta_rule_cost(c: &impl DeltaConfig, d: usize) -> DecodeCost {
    let (c, variant) = c.as_gated();
    let gated = variant == Variant::Gated;
    let mm = |a: usize, b: usize| 2.0 * a as f64 * b as f64;
    let (h, hv, dk, dv, k) = (
        c.n_heads,
        c.n_v_heads,
        c.head_k_dim,
        c.head_v_dim,
        c.conv_size,
    );
    let conv_ch = 2 * h * dk + hv * dv;
    let state_bytes = (conv_ch * (k - 1) + hv * dk * dv) * 4;
    let per_head = if gated { 2 * hv } else { hv }; // β (and the decay)
    let gate = if gated && c.use_gate { hv * dv } else { 0 };
    let proj = mm(d, 2 * h * dk + hv * dv + per_head + gate) + mm(hv * dv, d);
    let rule = (if gated { 7.0 } else { 6.0 }) * (hv * dk * dv) as f64;
    DecodeCost {
        state_bytes,
        flops: proj + 2.0 * (conv_ch * k) as f64 + rule,
        state_traffic: 2.0 * state_bytes as f64,
    }
}

/// Heads of `head_dim` for keys and values alike (either kind).
pub(crate) fn sized(s: &Sizing) -> Section {
    section([
        ("n_heads", s.heads().into()),
        ("head_k_dim", s.head_dim.into()),
        ("head_v_dim", s.head_dim.into()),
        ("chunk_size", s.chunk_size.into()),
    ])
}

/// Decode state of one DeltaNet or Gated DeltaNet sublayer.
#[derive(Debug, Clone)]
pub struct DeltaState<B: Backend> {
    /// Short-conv states `[B, K−1, C]` of q, k and v.
    pub conv_q: Tensor<B, 3>,
    pub conv_k: Tensor<B, 3>,
    pub conv_v: Tensor<B, 3>,
    /// Delta-rule state `[B, H, Dk, Dv]`.
    pub s: Tensor<B, 4>,
}

/// Which of the two delta-rule mixers a config builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// DeltaNet: no decay, no output gate; Xavier-initialized projections.
    Plain,
    /// Gated DeltaNet: the decay, the gate when `use_gate`; N(0, 0.02) projections.
    Gated,
}

/// A config the delta-rule operator is built from, seen as Gated DeltaNet's.
pub trait DeltaConfig {
    fn as_gated(&self) -> (GatedDeltaNetConfig, Variant);
}

impl DeltaConfig for GatedDeltaNetConfig {
    fn as_gated(&self) -> (GatedDeltaNetConfig, Variant) {
        (self.clone(), Variant::Gated)
    }
}

impl DeltaConfig for DeltaNetConfig {
    fn as_gated(&self) -> (GatedDeltaNetConfig, Variant) {
        let c = GatedDeltaNetConfig {
            n_heads: self.n_heads,
            n_v_heads: self.n_heads,
            head_k_dim: self.head_k_dim,
            head_v_dim: self.head_v_dim,
            use_gate: false,
            conv_size: self.conv_size,
            norm_eps: self.norm_eps,
            chunk_size: self.chunk_size,
            allow_neg_eigval: self.allow_neg_eigval,
        };
        (c, Variant::Plain)
    }
}

#[derive(Module, Debug)]
pub struct GatedDeltaNet<B: Backend> {
    q_proj: Param<Tensor<B, 2>>,
    k_proj: Param<Tensor<B, 2>>,
    v_proj: Param<Tensor<B, 2>>,
    /// The decay's parameters (Gated DeltaNet only).
    a_proj: Option<Param<Tensor<B, 2>>>,
    b_proj: Param<Tensor<B, 2>>,
    a_log: Option<Param<Tensor<B, 1>>>,
    dt_bias: Option<Param<Tensor<B, 1>>>,
    q_conv: Param<Tensor<B, 2>>,
    k_conv: Param<Tensor<B, 2>>,
    v_conv: Param<Tensor<B, 2>>,
    g_proj: Option<Param<Tensor<B, 2>>>,
    o_norm: Param<Tensor<B, 1>>,
    o_proj: Param<Tensor<B, 2>>,
    #[module(skip)]
    cfg: GatedDeltaNetConfig,
}

/// The §10 tensors of a gated_deltanet sublayer under `prefix` (`model.layers.{i}.gdn`), or
/// of a deltanet one (`model.layers.{i}.gla`: no `a_proj`, `A_log`, `dt_bias`, `g_proj`).
pub fn tensors(prefix: &str, c: &impl DeltaConfig, d: usize) -> Vec<TensorSpec> {
    let (c, variant) = c.as_gated();
    let (h, hv, dk, dv, k) = (
        c.n_heads,
        c.n_v_heads,
        c.head_k_dim,
        c.head_v_dim,
        c.conv_size,
    );
    let gated = variant == Variant::Gated;
    let init = |rows: usize, cols: usize| match variant {
        Variant::Plain => xavier(rows, cols),
        Variant::Gated => Init::Normal(0.02),
    };
    let mut v = vec![
        TensorSpec::new(
            format!("{prefix}.q_proj.weight"),
            &[h * dk, d],
            init(h * dk, d),
        ),
        TensorSpec::new(
            format!("{prefix}.k_proj.weight"),
            &[h * dk, d],
            init(h * dk, d),
        ),
        TensorSpec::new(
            format!("{prefix}.v_proj.weight"),
            &[hv * dv, d],
            init(hv * dv, d),
        ),
    ];
    if gated {
        v.push(TensorSpec::new(
            format!("{prefix}.a_proj.weight"),
            &[hv, d],
            init(hv, d),
        ));
    }
    v.push(TensorSpec::new(
        format!("{prefix}.b_proj.weight"),
        &[hv, d],
        init(hv, d),
    ));
    if gated {
        v.push(TensorSpec::new(
            format!("{prefix}.A_log"),
            &[hv],
            Init::LogUniform(0.0, 16.0),
        ));
        v.push(TensorSpec::new(
            format!("{prefix}.dt_bias"),
            &[hv],
            Init::DtBias,
        ));
    }
    for (name, channels) in [("q", h * dk), ("k", h * dk), ("v", hv * dv)] {
        v.push(TensorSpec::new(
            format!("{prefix}.{name}_conv1d.weight"),
            &[channels, 1, k],
            conv_default(k),
        ));
    }
    if c.use_gate {
        v.push(TensorSpec::new(
            format!("{prefix}.g_proj.weight"),
            &[hv * dv, d],
            init(hv * dv, d),
        ));
    }
    v.push(TensorSpec::new(
        format!("{prefix}.o_norm.weight"),
        &[dv],
        Init::Const(1.0),
    ));
    v.push(TensorSpec::new(
        format!("{prefix}.o_proj.weight"),
        &[d, hv * dv],
        init(d, hv * dv),
    ));
    v
}

impl<B: Backend> GatedDeltaNet<B> {
    pub fn read(
        r: &mut WeightReader<B>,
        prefix: &str,
        c: &impl DeltaConfig,
        d: usize,
    ) -> Result<Self, WeightError> {
        let (c, variant) = c.as_gated();
        let gated = variant == Variant::Gated;
        let (h, hv, dk, dv, k) = (
            c.n_heads,
            c.n_v_heads,
            c.head_k_dim,
            c.head_v_dim,
            c.conv_size,
        );
        Ok(Self {
            q_proj: r.linear(&format!("{prefix}.q_proj.weight"), h * dk, d)?,
            k_proj: r.linear(&format!("{prefix}.k_proj.weight"), h * dk, d)?,
            v_proj: r.linear(&format!("{prefix}.v_proj.weight"), hv * dv, d)?,
            a_proj: match gated {
                true => Some(r.linear(&format!("{prefix}.a_proj.weight"), hv, d)?),
                false => None,
            },
            b_proj: r.linear(&format!("{prefix}.b_proj.weight"), hv, d)?,
            a_log: match gated {
                true => Some(r.param(&format!("{prefix}.A_log"), [hv])?),
                false => None,
            },
            dt_bias: match gated {
                true => Some(r.param(&format!("{prefix}.dt_bias"), [hv])?),
                false => None,
            },
            q_conv: r.conv(&format!("{prefix}.q_conv1d.weight"), h * dk, k)?,
            k_conv: r.conv(&format!("{prefix}.k_conv1d.weight"), h * dk, k)?,
            v_conv: r.conv(&format!("{prefix}.v_conv1d.weight"), hv * dv, k)?,
            g_proj: match c.use_gate {
                true => Some(r.linear(&format!("{prefix}.g_proj.weight"), hv * dv, d)?),
                false => None,
            },
            o_norm: r.param(&format!("{prefix}.o_norm.weight"), [dv])?,
            o_proj: r.linear(&format!("{prefix}.o_proj.weight"), d, hv * dv)?,
            cfg: c,
        })
    }

    pub fn write(&self, w: &mut WeightWriter, prefix: &str) {
        w.linear(&format!("{prefix}.q_proj.weight"), &self.q_proj);
        w.linear(&format!("{prefix}.k_proj.weight"), &self.k_proj);
        w.linear(&format!("{prefix}.v_proj.weight"), &self.v_proj);
        if let Some(a) = &self.a_proj {
            w.linear(&format!("{prefix}.a_proj.weight"), a);
        }
        w.linear(&format!("{prefix}.b_proj.weight"), &self.b_proj);
        if let (Some(a_log), Some(dt_bias)) = (&self.a_log, &self.dt_bias) {
            w.param(&format!("{prefix}.A_log"), a_log);
            w.param(&format!("{prefix}.dt_bias"), dt_bias);
        }
        w.conv(&format!("{prefix}.q_conv1d.weight"), &self.q_conv);
        w.conv(&format!("{prefix}.k_conv1d.weight"), &self.k_conv);
        w.conv(&format!("{prefix}.v_conv1d.weight"), &self.v_conv);
        if let Some(g) = &self.g_proj {
            w.linear(&format!("{prefix}.g_proj.weight"), g);
        }
        w.param(&format!("{prefix}.o_norm.weight"), &self.o_norm);
        w.linear(&format!("{prefix}.o_proj.weight"), &self.o_proj);
    }
}

impl<B: Kernels> GatedDeltaNet<B> {
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
    /// convolutions and gated delta rule.
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
        let (h, hv, dk, dv) = (c.n_heads, c.n_v_heads, c.head_k_dim, c.head_v_dim);
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
        // GVA: value head j reads q/k head ⌊j / (HV/H)⌋.
        let to_value_heads = |x: Tensor<B, 4>| {
            if hv == h {
                x
            } else {
                x.unsqueeze_dim::<5>(3)
                    .expand([b, t, h, hv / h, dk])
                    .reshape([b, t, hv, dk])
            }
        };
        let (q, k) = (to_value_heads(q), to_value_heads(k));
        let v = v.reshape([b, t, hv, dv]);
        let mut beta = sigmoid(linear(x.clone(), &self.b_proj, None));
        if c.allow_neg_eigval {
            beta = beta.mul_scalar(2.0);
        }
        let g = match (&self.a_proj, &self.a_log, &self.dt_bias) {
            (Some(a_proj), Some(a_log), Some(dt_bias)) => Some(
                softplus(
                    linear(x.clone(), a_proj, None) + dt_bias.val().reshape([1, 1, hv]),
                    1.0,
                ) * a_log.val().exp().neg().reshape([1, 1, hv]),
            ),
            _ => None,
        };
        let input = DeltaInput { q, k, v, beta, g };
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
        // fla FusedRMSNormGated: normalize first, then gate.
        let mut o = kernels::rms_norm(o, self.o_norm.val(), c.norm_eps);
        if let Some(gp) = &self.g_proj {
            o = kernels::silu_mul(linear(x, gp, None).reshape([b, t, hv, dv]), o);
        }
        let out = linear(o.reshape([b, t, hv * dv]), &self.o_proj, None);
        let state = s.map(|s| DeltaState {
            conv_q: conv_q.expect("kept"),
            conv_k: conv_k.expect("kept"),
            conv_v: conv_v.expect("kept"),
            s,
        });
        (out, state)
    }
}
