//! Mamba2 (§6): in-projection, causal conv over `[x | B | C]`, the SSD scan, D skip, gated
//! RMSNorm (gate first, then per-group norm), out-projection.

use crate::config::{LayerConfig, Mamba2Config};
use crate::descriptor::KindDescriptor;
use crate::fields::{Fields, SpecError};
use crate::kernels::{self, Kernels};
use crate::kind::{section, DecodeCost, Family, LayerKind, Section, Sizing};
use crate::linear::linear;
use crate::rms_norm::rms_normalize;
use crate::short_conv::causal_conv_silu;
use crate::ssd::{ssd_chunked, ssd_recurrent, SsdInput};
use crate::tensors::{Init, TensorSpec};
use crate::weights::{WeightError, WeightReader, WeightWriter};
use crate::Scan;
use burn::module::{Module, Param};
use burn::tensor::activation::softplus;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// Mamba2.
pub const MAMBA2: KindDescriptor = KindDescriptor {
    kind: LayerKind::Mamba2,
    name: "mamba2",
    short: "m2",
    section: "mamba2",
    module: "mamba",
    family: Family::Mamba2,
    resolve,
    tensors: layer_tensors,
    cost: decode_cost,
    sized,
};

/// §11 defaults: N 16, conv 4, expand 2, P 64, one group, chunks of 256; P must divide
/// `expand · d_model` and the groups the heads.
fn resolve(f: &mut Fields) -> Result<LayerConfig, SpecError> {
    let d_state = f.positive_or("d_state", 16)?;
    let d_conv = f.conv_or("d_conv", 4)?;
    let expand = f.positive_or("expand", 2)?;
    let p = f.positive_or("head_dim", 64)?;
    let g = f.positive_or("n_groups", 1)?;
    let chunk = f.positive_or("chunk_size", 256)?;
    let eps = f.positive_f_or("norm_eps", 1e-5)?;
    let conv_bias = f.bool_or("conv_bias", true)?;
    let proj_bias = f.bool_or("proj_bias", false)?;
    let di = expand * f.d_model;
    if !di.is_multiple_of(p) {
        return Err(f.err(
            "head_dim",
            format!("{p} does not divide d_inner = expand·d_model = {di}"),
        ));
    }
    let heads = di / p;
    if !heads.is_multiple_of(g) {
        return Err(f.err(
            "n_groups",
            format!("{g} does not divide the number of heads d_inner/head_dim = {heads}"),
        ));
    }
    Ok(LayerConfig::Mamba2(Mamba2Config {
        d_state,
        d_conv,
        expand,
        head_dim: p,
        n_groups: g,
        chunk_size: chunk,
        norm_eps: eps,
        conv_bias,
        proj_bias,
        d_inner: di,
    }))
}

fn config(c: &LayerConfig) -> &Mamba2Config {
    match c {
        LayerConfig::Mamba2(c) => c,
        other => unreachable!("the mamba2 descriptor was given {other:?}"),
    }
}

fn layer_tensors(prefix: &str, c: &LayerConfig, d: usize) -> Vec<TensorSpec> {
    tensors(prefix, config(c), d)
}

/// in/out projections, the conv over `conv_dim` channels and the SSM update (decay, outer
/// product, add, read-out) over an `H·P·N` state, plus the conv's `K − 1` inputs.
fn decode_cost(c: &LayerConfig, d: usize, _seen: usize) -> DecodeCost {
    let c = config(c);
    let mm = |a: usize, b: usize| 2.0 * a as f64 * b as f64;
    let (h, p, n) = (c.n_heads(), c.head_dim, c.d_state);
    let state_bytes = (c.conv_dim() * (c.d_conv - 1) + h * p * n) * 4;
    let proj = mm(d, c.in_proj_dim()) + mm(c.d_inner, d);
    let conv = 2.0 * (c.conv_dim() * c.d_conv) as f64;
    let ssm = 5.0 * (h * p * n) as f64;
    DecodeCost {
        state_bytes,
        flops: proj + conv + ssm,
        state_traffic: 2.0 * state_bytes as f64,
    }
}

fn sized(s: &Sizing) -> Section {
    section([
        ("d_state", s.ssm_state.into()),
        ("head_dim", s.ssm_head_dim.into()),
        ("chunk_size", s.chunk_size.into()),
    ])
}

/// Decode state of one Mamba2 sublayer.
#[derive(Debug, Clone)]
pub struct Mamba2State<B: Backend> {
    /// `[B, K−1, conv_dim]`: the last K−1 raw conv inputs, oldest first.
    pub conv: Tensor<B, 3>,
    /// `[B, H, P, N]`.
    pub ssm: Tensor<B, 4>,
}

#[derive(Module, Debug)]
pub struct Mamba2<B: Backend> {
    in_proj: Param<Tensor<B, 2>>,
    in_proj_bias: Option<Param<Tensor<B, 1>>>,
    conv_w: Param<Tensor<B, 2>>,
    conv_b: Option<Param<Tensor<B, 1>>>,
    dt_bias: Param<Tensor<B, 1>>,
    a_log: Param<Tensor<B, 1>>,
    d_skip: Param<Tensor<B, 1>>,
    norm: Param<Tensor<B, 1>>,
    out_proj: Param<Tensor<B, 2>>,
    out_proj_bias: Option<Param<Tensor<B, 1>>>,
    #[module(skip)]
    cfg: Mamba2Config,
}

/// The §10 tensors of a mamba2 sublayer under `prefix` (`model.layers.{i}.mamba`).
pub fn tensors(prefix: &str, c: &Mamba2Config, d: usize) -> Vec<TensorSpec> {
    let (di, h, cd, k) = (c.d_inner, c.n_heads(), c.conv_dim(), c.d_conv);
    let mut v = vec![TensorSpec::new(
        format!("{prefix}.in_proj.weight"),
        &[c.in_proj_dim(), d],
        Init::Normal(0.02),
    )];
    if c.proj_bias {
        v.push(TensorSpec::new(
            format!("{prefix}.in_proj.bias"),
            &[c.in_proj_dim()],
            Init::Const(0.0),
        ));
    }
    v.push(TensorSpec::new(
        format!("{prefix}.conv1d.weight"),
        &[cd, 1, k],
        Init::Normal(0.02),
    ));
    if c.conv_bias {
        v.push(TensorSpec::new(
            format!("{prefix}.conv1d.bias"),
            &[cd],
            Init::Const(0.0),
        ));
    }
    v.push(TensorSpec::new(
        format!("{prefix}.dt_bias"),
        &[h],
        Init::DtBias,
    ));
    v.push(TensorSpec::new(
        format!("{prefix}.A_log"),
        &[h],
        Init::LogUniform(1.0, 16.0),
    ));
    v.push(TensorSpec::new(
        format!("{prefix}.D"),
        &[h],
        Init::Const(1.0),
    ));
    v.push(TensorSpec::new(
        format!("{prefix}.norm.weight"),
        &[di],
        Init::Const(1.0),
    ));
    v.push(TensorSpec::new(
        format!("{prefix}.out_proj.weight"),
        &[d, di],
        Init::Normal(0.02),
    ));
    if c.proj_bias {
        v.push(TensorSpec::new(
            format!("{prefix}.out_proj.bias"),
            &[d],
            Init::Const(0.0),
        ));
    }
    v
}

impl<B: Backend> Mamba2<B> {
    pub fn read(
        r: &mut WeightReader<B>,
        prefix: &str,
        c: &Mamba2Config,
        d: usize,
    ) -> Result<Self, WeightError> {
        let (di, h, cd, k) = (c.d_inner, c.n_heads(), c.conv_dim(), c.d_conv);
        Ok(Self {
            in_proj: r.linear(&format!("{prefix}.in_proj.weight"), c.in_proj_dim(), d)?,
            in_proj_bias: match c.proj_bias {
                true => Some(r.param(&format!("{prefix}.in_proj.bias"), [c.in_proj_dim()])?),
                false => None,
            },
            conv_w: r.conv(&format!("{prefix}.conv1d.weight"), cd, k)?,
            conv_b: match c.conv_bias {
                true => Some(r.param(&format!("{prefix}.conv1d.bias"), [cd])?),
                false => None,
            },
            dt_bias: r.param(&format!("{prefix}.dt_bias"), [h])?,
            a_log: r.param(&format!("{prefix}.A_log"), [h])?,
            d_skip: r.param(&format!("{prefix}.D"), [h])?,
            norm: r.param(&format!("{prefix}.norm.weight"), [di])?,
            out_proj: r.linear(&format!("{prefix}.out_proj.weight"), d, di)?,
            out_proj_bias: match c.proj_bias {
                true => Some(r.param(&format!("{prefix}.out_proj.bias"), [d])?),
                false => None,
            },
            cfg: c.clone(),
        })
    }

    pub fn write(&self, w: &mut WeightWriter, prefix: &str) {
        w.linear(&format!("{prefix}.in_proj.weight"), &self.in_proj);
        if let Some(b) = &self.in_proj_bias {
            w.param(&format!("{prefix}.in_proj.bias"), b);
        }
        w.conv(&format!("{prefix}.conv1d.weight"), &self.conv_w);
        if let Some(b) = &self.conv_b {
            w.param(&format!("{prefix}.conv1d.bias"), b);
        }
        w.param(&format!("{prefix}.dt_bias"), &self.dt_bias);
        w.param(&format!("{prefix}.A_log"), &self.a_log);
        w.param(&format!("{prefix}.D"), &self.d_skip);
        w.param(&format!("{prefix}.norm.weight"), &self.norm);
        w.linear(&format!("{prefix}.out_proj.weight"), &self.out_proj);
        if let Some(b) = &self.out_proj_bias {
            w.param(&format!("{prefix}.out_proj.bias"), b);
        }
    }
}

impl<B: Kernels> Mamba2<B> {
    /// `u: [B,T,d]` → `[B,T,d]`, continuing from `state` (zeros when `None`).
    pub fn forward(
        &self,
        u: Tensor<B, 3>,
        state: Option<Mamba2State<B>>,
        scan: Scan,
    ) -> (Tensor<B, 3>, Mamba2State<B>) {
        let (y, s) = self.run(u, Some(state), scan);
        (y, s.expect("a state was asked for"))
    }

    /// A whole sequence from a zero state, final state not kept (training): the fused
    /// convolution and SSD scan.
    pub fn forward_sequence(&self, u: Tensor<B, 3>) -> Tensor<B, 3> {
        self.run(u, None, Scan::Chunked).0
    }

    /// `state: None` — no state in or out (fused kernels); `Some(s)` — continue from `s`
    /// (zeros when `s` is `None`) and return the final state.
    fn run(
        &self,
        u: Tensor<B, 3>,
        state: Option<Option<Mamba2State<B>>>,
        scan: Scan,
    ) -> (Tensor<B, 3>, Option<Mamba2State<B>>) {
        let c = &self.cfg;
        let keep = state.is_some();
        let [b, t, _] = u.dims();
        let (di, h, p, g, n, cd) = (
            c.d_inner,
            c.n_heads(),
            c.head_dim,
            c.n_groups,
            c.d_state,
            c.conv_dim(),
        );
        let zxbcdt = linear(u, &self.in_proj, self.in_proj_bias.as_ref());
        let z = kernels::narrow_last(zxbcdt.clone(), 0, di);
        let xbc = kernels::narrow_last(zxbcdt.clone(), di, cd);
        let dt_raw = kernels::narrow_last(zxbcdt, di + cd, h);

        let (conv0, ssm0) = match state.flatten() {
            Some(s) => (Some(s.conv), Some(s.ssm)),
            None => (None, None),
        };
        let bias = self.conv_b.as_ref().map(|b| b.val());
        let (xbc, conv) = match keep {
            true => {
                let (y, s) = causal_conv_silu(xbc, conv0, self.conv_w.val(), bias);
                (y, Some(s))
            }
            false => (kernels::conv_silu(xbc, self.conv_w.val(), bias), None),
        };
        let x = kernels::narrow_last(xbc.clone(), 0, di).reshape([b, t, h, p]);
        let bm = kernels::narrow_last(xbc.clone(), di, g * n).reshape([b, t, g, n]);
        let cm = kernels::narrow_last(xbc, di + g * n, g * n).reshape([b, t, g, n]);
        let dt = softplus(dt_raw + self.dt_bias.val().reshape([1, 1, h]), 1.0);
        let a = self.a_log.val().exp().neg();

        let input = SsdInput {
            x: x.clone(),
            dt,
            a,
            b: bm,
            c: cm,
        };
        let skip = |y: Tensor<B, 4>| y + x * self.d_skip.val().reshape([1, 1, h, 1]);
        let (y, ssm) = match (keep, scan) {
            (false, _) => (kernels::ssd(input, self.d_skip.val(), c.chunk_size), None),
            (true, Scan::Chunked) => {
                let (y, s) = ssd_chunked(input, ssm0, c.chunk_size);
                (skip(y), Some(s))
            }
            (true, Scan::Recurrent) => {
                let (y, s) = ssd_recurrent(input, ssm0);
                (skip(y), Some(s))
            }
        };
        // Gated RMSNorm, NF `norm_before_gate=False`: norm(y · silu(z)) per group of Di/G.
        let y = kernels::silu_mul(z, y.reshape([b, t, di]));
        let y = match g {
            1 => kernels::rms_norm(y, self.norm.val(), c.norm_eps),
            _ => {
                rms_normalize(y.reshape([b, t, g, di / g]), c.norm_eps).reshape([b, t, di])
                    * self.norm.val().unsqueeze::<3>()
            }
        };
        let out = linear(y, &self.out_proj, self.out_proj_bias.as_ref());
        let state = ssm.map(|ssm| Mamba2State {
            conv: conv.expect("kept"),
            ssm,
        });
        (out, state)
    }
}
