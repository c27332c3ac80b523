//! DeltaNet as used by Nemotron-Flash (§7): q/k/v projections each through its own short
//! conv + SiLU, L2-normalized q (scaled by Dk^−1/2) and k, β = sigmoid(x W_b), the delta rule,
//! per-head RMSNorm, out-projection.
//!
//! That is Gated DeltaNet without decay and output gate, with one value head per q/k head:
//! the operator is [`GatedDeltaNet`] built from a [`DeltaNetConfig`]
//! (its weights are DeltaNet's, under `gla`, Xavier-initialized). This file declares the kind.

use crate::gated_deltanet::{delta_rule_cost, sized};
use crate::kind::{DecodeCost, Family, KindDescriptor, LayerConfig, LayerKind};
use crate::spec::{Fields, SpecError};
use crate::tensors::TensorSpec;

pub use crate::gated_deltanet::{tensors, DeltaState, GatedDeltaNet};

/// DeltaNet (weights under `gla`, as Nemotron-Flash names them).
pub const DELTANET: KindDescriptor = KindDescriptor {
    kind: LayerKind::DeltaNet,
    name: "deltanet",
    short: "d",
    section: "deltanet",
    module: "gla",
    family: Family::DeltaNet,
    resolve,
    tensors: layer_tensors,
    cost: decode_cost,
    sized,
};

/// DeltaNet (§7).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeltaNetConfig {
    pub n_heads: usize,
    pub head_k_dim: usize,
    pub head_v_dim: usize,
    pub conv_size: usize,
    pub norm_eps: f64,
    pub chunk_size: usize,
    pub allow_neg_eigval: bool,
}

/// §11: `n_heads` required; Dk = d_model / n_heads, Dv = Dk, conv 4, chunks of 64.
fn resolve(f: &mut Fields) -> Result<LayerConfig, SpecError> {
    let h = f.positive_required("n_heads")?;
    let dk = f.head_dim_or_split("head_k_dim", h)?;
    let dk = f.positive("head_k_dim", dk)?;
    let dv = f.positive_or("head_v_dim", dk)?;
    let conv = f.conv_or("conv_size", 4)?;
    let eps = f.positive_f_or("norm_eps", 1e-5)?;
    let chunk = f.positive_or("chunk_size", 64)?;
    let neg = f.bool_or("allow_neg_eigval", false)?;
    Ok(LayerConfig::DeltaNet(DeltaNetConfig {
        n_heads: h,
        head_k_dim: dk,
        head_v_dim: dv,
        conv_size: conv,
        norm_eps: eps,
        chunk_size: chunk,
        allow_neg_eigval: neg,
    }))
}

fn layer_tensors(prefix: &str, c: &LayerConfig, d: usize) -> Vec<TensorSpec> {
    match c {
        LayerConfig::DeltaNet(c) => tensors(prefix, c, d),
        other => unreachable!("the deltanet descriptor was given {other:?}"),
    }
}

fn decode_cost(c: &LayerConfig, d: usize, _seen: usize) -> DecodeCost {
    match c {
        LayerConfig::DeltaNet(c) => delta_rule_cost(c, d),
        other => unreachable!("the deltanet descriptor was given {other:?}"),
    }
}

/// A DeltaNet sublayer: the delta-rule operator built from a `DeltaNetConfig`.
pub type DeltaNet<B> = GatedDeltaNet<B>;
