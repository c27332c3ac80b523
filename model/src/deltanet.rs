//! DeltaNet as used by Nemotron-Flash (§7): q/k/v projections each through its own short
//! conv + SiLU, L2-normalized q (scaled by Dk^−1/2) and k, β = sigmoid(x W_b), the delta rule,
//! per-head RMSNorm, out-projection.
//!
//! That is Gated DeltaNet without decay and output gate, with one value head per q/k head:
//! the operator is [`GatedDeltaNet`] built from a [`DeltaNetConfig`](crate::spec::DeltaNetConfig)
//! (its weights are DeltaNet's, under `gla`, Xavier-initialized). This file declares the kind.

use crate::kind::{Family, KindDescriptor};

pub use crate::gated_deltanet::{tensors, DeltaState, GatedDeltaNet};

/// DeltaNet (weights under `gla`, as Nemotron-Flash names them).
pub const DELTANET: KindDescriptor = KindDescriptor {
    kind: crate::spec::LayerKind::DeltaNet,
    name: "deltanet",
    short: "d",
    section: "deltanet",
    module: "gla",
    family: Family::DeltaNet,
};

/// A DeltaNet sublayer: the delta-rule operator built from a `DeltaNetConfig`.
pub type DeltaNet<B> = GatedDeltaNet<B>;
