//! What each kind's operator is built from: its config, fully resolved (section ⊕ the layer's
//! overrides ⊕ the kind's defaults), and [`LayerConfig`], one sublayer's.
//!
//! Plain data: the defaults and rules that fill them live beside each operator (its
//! descriptor's `resolve`), the Arch JSON they are read from in spec.rs.

use serde::{Deserialize, Serialize};

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

/// Causal attention with GQA and RoPE (§5); `window` is set for `swa` layers only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttentionConfig {
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub rope_theta: f64,
    pub qk_norm: bool,
    pub qk_norm_eps: f64,
    pub window: Option<usize>,
}

/// Mamba2 / SSD (§6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mamba2Config {
    pub d_state: usize,
    pub d_conv: usize,
    pub expand: usize,
    pub head_dim: usize,
    pub n_groups: usize,
    pub chunk_size: usize,
    pub norm_eps: f64,
    pub conv_bias: bool,
    pub proj_bias: bool,
    /// `expand · d_model`, filled in at resolution.
    pub d_inner: usize,
}

impl Mamba2Config {
    pub fn n_heads(&self) -> usize {
        self.d_inner / self.head_dim
    }
    pub fn conv_dim(&self) -> usize {
        self.d_inner + 2 * self.n_groups * self.d_state
    }
    pub fn in_proj_dim(&self) -> usize {
        2 * self.d_inner + 2 * self.n_groups * self.d_state + self.n_heads()
    }
}

/// DeltaNet (§7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeltaNetConfig {
    pub n_heads: usize,
    pub head_k_dim: usize,
    pub head_v_dim: usize,
    pub conv_size: usize,
    pub norm_eps: f64,
    pub chunk_size: usize,
    pub allow_neg_eigval: bool,
}

/// Gated DeltaNet (§8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatedDeltaNetConfig {
    pub n_heads: usize,
    pub n_v_heads: usize,
    pub head_k_dim: usize,
    pub head_v_dim: usize,
    pub use_gate: bool,
    pub conv_size: usize,
    pub norm_eps: f64,
    pub chunk_size: usize,
    pub allow_neg_eigval: bool,
}

/// SwiGLU FFN (§4); `hidden` is the resolved width F.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FfnConfig {
    pub hidden: usize,
}
