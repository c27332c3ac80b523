//! DeltaNet as used by Nemotron-Flash (§7): q/k/v projections each through its own short
//! conv + SiLU, L2-normalized q (scaled by Dk^−1/2) and k, β = sigmoid(x W_b), the delta rule,
//! per-head RMSNorm, out-projection.
//!
//! That is Gated DeltaNet without decay and output gate, with one value head per q/k head:
//! the operator is [`GatedDeltaNet`] built from a [`DeltaNetConfig`]
//! (its weights are DeltaNet's, under `gla`, Xavier-initialized). This file declares the kind.

use crate::gated_deltanet::{read_fields, Variant, GATED_DELTANET};
use crate::kind::{Family, KindDescriptor, LayerConfig, LayerKind};
use crate::spec::{Fields, SpecError};

pub use crate::gated_deltanet::{tensors, DeltaState, GatedDeltaNet};

/// DeltaNet (weights under `gla`, as Nemotron-Flash names them); its tensors, cost and sizing
/// are the delta-rule operator's.
pub const DELTANET: KindDescriptor = KindDescriptor {
    kind: LayerKind::DeltaNet,
    name: "deltanet",
    short: "d",
    section: "deltanet",
    module: "gla",
    family: Family::DeltaNet,
    resolve,
    ..GATED_DELTANET
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
    let c = read_fields(f, Variant::Plain)?;
    Ok(LayerConfig::DeltaNet(DeltaNetConfig {
        n_heads: c.n_heads,
        head_k_dim: c.head_k_dim,
        head_v_dim: c.head_v_dim,
        conv_size: c.conv_size,
        norm_eps: c.norm_eps,
        chunk_size: c.chunk_size,
        allow_neg_eigval: c.allow_neg_eigval,
    }))
}

/// A DeltaNet sublayer: the delta-rule operator built from a `DeltaNetConfig`.
pub type DeltaNet<B> = GatedDeltaNet<B>;
