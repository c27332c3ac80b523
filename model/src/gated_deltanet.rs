//! Gated DeltaNet (§8, fla `GatedDeltaNet`): like DeltaNet plus a per-head log-decay
//! `g = −exp(A_log)·softplus(x W_a + dt_bias)`, grouped value heads (GVA), and an output
//! gate applied after the per-head norm (`RMSNorm(o) ⊙ silu(x W_g)`).
//!
//! The operator, shared with DeltaNet (§7), is in delta_common.rs; this file declares the kind.

use crate::config::LayerConfig;
use crate::delta_common::{decode_cost, layer_tensors, read_fields, sized, Variant};
use crate::descriptor::KindDescriptor;
use crate::fields::{Fields, SpecError};
use crate::kind::{Family, LayerKind};

pub use crate::delta_common::{tensors, DeltaState, GatedDeltaNet};

/// Gated DeltaNet.
pub const GATED_DELTANET: KindDescriptor = KindDescriptor {
    kind: LayerKind::GatedDeltaNet,
    name: "gated_deltanet",
    short: "gdn",
    section: "gated_deltanet",
    module: "gdn",
    family: Family::DeltaNet,
    resolve,
    tensors: layer_tensors,
    cost: decode_cost,
    sized,
};

/// §11: `n_heads` required; `n_v_heads` = n_heads (a multiple of it), Dk = d_model / n_heads,
/// Dv = 2·Dk, gate on, conv 4, chunks of 64.
fn resolve(f: &mut Fields) -> Result<LayerConfig, SpecError> {
    read_fields(f, Variant::Gated).map(LayerConfig::GatedDeltaNet)
}
