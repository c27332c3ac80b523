//! DeltaNet as used by Nemotron-Flash (§7): q/k/v projections each through its own short
//! conv + SiLU, L2-normalized q (scaled by Dk^−1/2) and k, β = sigmoid(x W_b), the delta rule,
//! per-head RMSNorm, out-projection.
//!
//! That is Gated DeltaNet without decay and output gate, with one value head per q/k head:
//! the operator is [`GatedDeltaNet`] (delta_common.rs) built from a [`DeltaNetConfig`]
//! (its weights are DeltaNet's, under `gla`, Xavier-initialized). This file declares the kind.

use crate::config::{DeltaNetConfig, LayerConfig};
use crate::delta_common::{decode_cost, layer_tensors, read_fields, sized, Variant};
use crate::descriptor::KindDescriptor;
use crate::fields::{Fields, SpecError};
use crate::kind::{Family, LayerKind};

pub use crate::delta_common::{tensors, DeltaState, GatedDeltaNet};

/// DeltaNet (weights under `gla`, as Nemotron-Flash names them); its tensors, cost and sizing
/// are the delta-rule operator's, as Gated DeltaNet's are.
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
