//! What a layer kind is: the types every part of the model shares about kinds ([`LayerKind`],
//! [`Family`], [`Sizing`], [`DecodeCost`], [`Section`]), and nothing that needs an operator.
//!
//! A kind is declared in three layers, each file importing only files of the layers before
//! it, so that the model's files import each other without a cycle (tests/module_graph.rs):
//! 1. here, its [`LayerKind`] variant; in config.rs, its operator's config and its
//!    [`LayerConfig`] variant (fields.rs, the reader of a section, and descriptor.rs, the
//!    [`KindDescriptor`] type, are built on these);
//! 2. its operator file: the operator and its descriptor — names and spellings, the Arch-JSON
//!    section it reads with its defaults and rules (`resolve`), its §10 tensors, its decode
//!    cost, the section a search space gives it at a width (`sized`), the module name in its
//!    weight names and its family;
//! 3. registry.rs: one line in `LayerKind::descriptor`, through which the spec, the model,
//!    the accounting and the other crates reach every kind.
//!
//! Whatever parses, resolves, counts, prices or draws kinds goes through the descriptors, so a
//! spelling, a default or a group cannot drift between files. Adding a kind: its variants here
//! and in config.rs, its operator file, its registration line, `pub mod` in lib.rs, and its
//! arm in the model's `Operator` enum (lm.rs: burn modules are concrete types, so the forward
//! dispatch is a `match`).
//!
//! [`LayerConfig`]: crate::config::LayerConfig
//! [`KindDescriptor`]: crate::descriptor::KindDescriptor

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// The fields of one kind's section (or a layer's overrides of them), as written.
pub type Section = Map<String, Value>;

/// A section from `(field, value)` pairs, in order (the `sized` functions, bench specs).
pub fn section<const N: usize>(fields: [(&str, Value); N]) -> Section {
    fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}
