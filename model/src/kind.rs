//! What a layer kind is, declared once per kind beside its operator.
//!
//! Each operator file declares the [`KindDescriptor`] of the kinds it implements: names and
//! spellings, the Arch-JSON section it reads with its defaults and rules (`resolve`), its §10
//! tensors, its decode cost, the section a search space gives it at a width (`sized`), the
//! module name in its weight names and the family reports and plots group it under. This file
//! registers them: the [`LayerKind`] and [`LayerConfig`] variants and one line in
//! [`LayerKind::descriptor`]. Whatever parses, resolves, counts, prices or draws kinds goes
//! through the descriptors, so a spelling, a default or a group cannot drift between files.
//!
//! Adding a kind: its operator file (module, config, descriptor), the two variants and the
//! registration line here, `pub mod` in lib.rs, and its arm in the model's `Operator` enum
//! (lm.rs: burn modules are concrete types, so the forward dispatch is a `match`).

use crate::attention::AttentionConfig;
use crate::deltanet::DeltaNetConfig;
use crate::ffn::FfnConfig;
use crate::gated_deltanet::GatedDeltaNetConfig;
use crate::mamba2::Mamba2Config;
use crate::spec::{Fields, Section, SpecError};
use crate::tensors::TensorSpec;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The sublayer kinds of §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    Attention,
    Swa,
    Mamba2,
    #[serde(rename = "deltanet")]
    DeltaNet,
    GatedDeltaNet,
    Ffn,
}

/// One sublayer, fully resolved (the config type its operator is built from).
#[derive(Debug, Clone, PartialEq)]
pub enum LayerConfig {
    /// `attention` and `swa` (with a window).
    Attention(AttentionConfig),
    Mamba2(Mamba2Config),
    DeltaNet(DeltaNetConfig),
    GatedDeltaNet(GatedDeltaNetConfig),
    Ffn(FfnConfig),
}

impl LayerKind {
    /// Every registered kind, in the order sections are written.
    pub const ALL: [LayerKind; 6] = [
        LayerKind::Attention,
        LayerKind::Swa,
        LayerKind::Mamba2,
        LayerKind::DeltaNet,
        LayerKind::GatedDeltaNet,
        LayerKind::Ffn,
    ];

    /// The token mixers (every kind but the FFN).
    pub const MIXERS: [LayerKind; 5] = [
        LayerKind::Attention,
        LayerKind::Swa,
        LayerKind::Mamba2,
        LayerKind::DeltaNet,
        LayerKind::GatedDeltaNet,
    ];

    /// The registration point: the descriptor each operator file declares.
    pub fn descriptor(self) -> &'static KindDescriptor {
        match self {
            LayerKind::Attention => &crate::attention::ATTENTION,
            LayerKind::Swa => &crate::attention::SWA,
            LayerKind::Mamba2 => &crate::mamba2::MAMBA2,
            LayerKind::DeltaNet => &crate::deltanet::DELTANET,
            LayerKind::GatedDeltaNet => &crate::gated_deltanet::GATED_DELTANET,
            LayerKind::Ffn => &crate::ffn::FFN,
        }
    }

    /// Canonical spelling used in the JSON.
    pub fn name(self) -> &'static str {
        self.descriptor().name
    }

    /// Short spelling, in the style of Nemotron-Flash `layer_types` (`a m2 f …`).
    pub fn short(self) -> &'static str {
        self.descriptor().short
    }

    /// Parses the canonical names and the NF `layer_types` spellings.
    pub fn parse(s: &str) -> Option<LayerKind> {
        Self::ALL.into_iter().find(|k| k.descriptor().spells(s))
    }

    pub fn is_mixer(self) -> bool {
        self.descriptor().family != Family::Ffn
    }

    /// The section of the Arch JSON this kind reads.
    pub fn section(self) -> &'static str {
        self.descriptor().section
    }
}

impl fmt::Display for LayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How reports, plots and studies group layers: one column and one colour per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Global and sliding-window attention.
    Attention,
    Mamba2,
    /// DeltaNet and Gated DeltaNet.
    DeltaNet,
    Ffn,
}

impl Family {
    pub const ALL: [Family; 4] = [
        Family::Attention,
        Family::Mamba2,
        Family::DeltaNet,
        Family::Ffn,
    ];

    /// Column name in reports and study data (`attention`, `mamba2`, `deltanet`, `ffn`).
    pub fn name(self) -> &'static str {
        match self {
            Family::Attention => "attention",
            Family::Mamba2 => "mamba2",
            Family::DeltaNet => "deltanet",
            Family::Ffn => "ffn",
        }
    }

    /// Axis label for people.
    pub fn label(self) -> &'static str {
        match self {
            Family::Attention => "attention (+swa)",
            Family::Mamba2 => "mamba2",
            Family::DeltaNet => "deltanet (+gated)",
            Family::Ffn => "FFNs",
        }
    }

    /// Colour in reports and plots (hex RGB).
    pub fn colour(self) -> &'static str {
        match self {
            Family::Attention => "#d62728",
            Family::Mamba2 => "#1f77b4",
            Family::DeltaNet => "#2ca02c",
            Family::Ffn => "#7f7f7f",
        }
    }

    /// How many layers of each family `kinds` holds, in [`Family::ALL`] order.
    pub fn counts(kinds: impl IntoIterator<Item = LayerKind>) -> [(Family, usize); 4] {
        let mut out = Family::ALL.map(|f| (f, 0));
        for k in kinds {
            let f = k.descriptor().family;
            out[Family::ALL.iter().position(|&x| x == f).expect("listed")].1 += 1;
        }
        out
    }
}

/// What decoding one token costs a sublayer (f32), at a given context.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeCost {
    /// Decode-state bytes per sequence (a KV cache grows with context, a recurrent state not).
    pub state_bytes: usize,
    pub flops: f64,
    /// State bytes read or written per token: a KV cache is read and one row appended, a
    /// recurrent state is read and rewritten.
    pub state_traffic: f64,
}

/// The sizes a search space (or a grid of baselines) gives every kind at one width; each
/// kind's `sized` turns it into its section.
#[derive(Debug, Clone, PartialEq)]
pub struct Sizing {
    pub d_model: usize,
    /// Head size of attention and the delta-rule mixers (heads = d_model / head_dim, ≥ 1).
    pub head_dim: usize,
    /// KV heads per attention layer (GQA); `None`: as many as query heads.
    pub kv_heads: Option<usize>,
    /// Mamba2 state size N and head size P.
    pub ssm_state: usize,
    pub ssm_head_dim: usize,
    /// Chunk length of the chunked mixers.
    pub chunk_size: usize,
    /// FFN width: int(ratio · d_model) rounded down to a multiple of `ffn_multiple_of`.
    pub ffn_ratio: f64,
    pub ffn_multiple_of: usize,
}

impl Sizing {
    /// Query heads at this width.
    pub fn heads(&self) -> usize {
        (self.d_model / self.head_dim).max(1)
    }
}

/// One layer kind: its identity and everything the crates ask of a kind.
#[derive(Clone, Copy)]
pub struct KindDescriptor {
    pub kind: LayerKind,
    /// Canonical spelling (Arch JSON, journals, plots).
    pub name: &'static str,
    /// Nemotron-Flash `layer_types` spelling (`a m2 f …`).
    pub short: &'static str,
    /// The Arch-JSON section its fields default from.
    pub section: &'static str,
    /// Its module in weight names: `model.layers.{i}.{module}.…` (OPERATORS.md).
    pub module: &'static str,
    pub family: Family,
    /// The merged section fields → the kind's config: defaults and rules of §11.
    pub resolve: fn(&mut Fields) -> Result<LayerConfig, SpecError>,
    /// Its §10 tensors under a prefix (`model.layers.{i}.{module}`), at `d_model`.
    pub tensors: fn(&str, &LayerConfig, usize) -> Vec<TensorSpec>,
    /// Decode cost at `d_model` with `seen` positions already cached.
    pub cost: fn(&LayerConfig, usize, usize) -> DecodeCost,
    /// The section it gets from a [`Sizing`].
    pub sized: fn(&Sizing) -> Section,
}

/// A section from `(field, value)` pairs, in order (the `sized` functions, bench specs).
pub fn section<const N: usize>(fields: [(&str, serde_json::Value); N]) -> Section {
    fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

impl fmt::Debug for KindDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KindDescriptor({})", self.name)
    }
}

impl KindDescriptor {
    /// Whether `s` spells this kind (canonical or short).
    pub fn spells(&self, s: &str) -> bool {
        s == self.name || s == self.short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_are_registered_once_and_spell_uniquely() {
        let mut spellings = std::collections::HashSet::new();
        for k in LayerKind::ALL {
            let d = k.descriptor();
            assert_eq!(d.kind, k, "{} registered under another kind", d.name);
            for s in [d.name, d.short] {
                assert_eq!(LayerKind::parse(s), Some(k), "{s}");
                assert!(
                    spellings.insert(s) || d.name == d.short,
                    "{s} spells two kinds"
                );
            }
        }
        let counts = Family::counts(
            ["a", "swa", "m2", "d", "gdn", "f", "f"]
                .iter()
                .map(|s| LayerKind::parse(s).unwrap()),
        );
        assert_eq!(counts.map(|(_, n)| n), [2, 1, 2, 2]);
    }
}
