//! Analytic accounting of an [`ArchSpec`]: parameters, decode-state bytes, FLOPs and bytes
//! moved per decoded token. These feed the search objectives, the roofline latency model and
//! the README tables; the parameter count is checked against the built module in the tests.
//!
//! Conventions: f32 (4 bytes) for weights and states; a matmul of `m×k` by `k×n` is `2mkn`
//! FLOPs; elementwise work is counted where it scales with a state (decay, outer products),
//! and ignored where it is O(d) per token. `context` is the number of tokens already in the
//! sequence when the next one is decoded, meta tokens excluded (they are added here).

use crate::lm::tensors;
use crate::spec::{ArchSpec, LayerConfig};

const F32: usize = 4;

/// Per-sublayer figures at a given context length.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerCost {
    pub kind: String,
    pub params: usize,
    pub state_bytes: usize,
    pub flops_per_token: f64,
    /// Bytes read or written per decoded token at batch 1: weights once, state read + write.
    pub bytes_per_token: f64,
}

/// Whole-model accounting at a given context length.
#[derive(Debug, Clone, PartialEq)]
pub struct Accounting {
    pub params: usize,
    /// Embedding + LM head (+ meta tokens), i.e. parameters outside the sublayers.
    pub params_outside_layers: usize,
    pub state_bytes: usize,
    pub flops_per_token: f64,
    pub bytes_per_token: f64,
    pub layers: Vec<LayerCost>,
}

/// Parameter count (every tensor of §10).
pub fn param_count(spec: &ArchSpec) -> usize {
    tensors(spec).iter().map(|t| t.numel()).sum()
}

/// Decode-state bytes per sequence after `context` tokens (KV caches grow with context,
/// SWA caches stop at the window, recurrent states are constant).
pub fn state_bytes(spec: &ArchSpec, context: usize) -> usize {
    accounting(spec, context).state_bytes
}

/// FLOPs to decode one token after `context` tokens.
pub fn flops_per_token(spec: &ArchSpec, context: usize) -> f64 {
    accounting(spec, context).flops_per_token
}

/// Full accounting at `context` tokens of context. The spec must be valid.
pub fn accounting(spec: &ArchSpec, context: usize) -> Accounting {
    let d = spec.d_model;
    let v = spec.vocab_size;
    let seen = context + spec.n_meta; // positions in the caches
    let all = tensors(spec);
    let params: usize = all.iter().map(|t| t.numel()).sum();
    let mut layers = Vec::new();
    for (i, entry) in spec.layers.iter().enumerate() {
        let prefix = format!("model.layers.{i}.");
        let lp: usize = all
            .iter()
            .filter(|t| t.name.starts_with(&prefix))
            .map(|t| t.numel())
            .sum();
        let mm = |a: usize, b: usize| 2.0 * a as f64 * b as f64;
        let (state, flops) = match spec.layer(i).expect("validated spec") {
            LayerConfig::Attention(c) => {
                let cached = match c.window {
                    None => seen,
                    Some(w) => seen.min(w - 1),
                };
                let attended = (cached + 1) as f64;
                let proj =
                    mm(d, c.n_heads * c.head_dim) * 2.0 + mm(d, c.n_kv_heads * c.head_dim) * 2.0;
                let attn = 4.0 * c.n_heads as f64 * c.head_dim as f64 * attended;
                (2 * cached * c.n_kv_heads * c.head_dim * F32, proj + attn)
            }
            LayerConfig::Mamba2(c) => {
                let (h, p, n) = (c.n_heads(), c.head_dim, c.d_state);
                let state = (c.conv_dim() * (c.d_conv - 1) + h * p * n) * F32;
                let proj = mm(d, c.in_proj_dim()) + mm(c.d_inner, d);
                let conv = 2.0 * (c.conv_dim() * c.d_conv) as f64;
                let ssm = 5.0 * (h * p * n) as f64; // decay, outer product, add, read-out
                (state, proj + conv + ssm)
            }
            LayerConfig::DeltaNet(c) => {
                let (h, dk, dv, k) = (c.n_heads, c.head_k_dim, c.head_v_dim, c.conv_size);
                let conv_ch = 2 * h * dk + h * dv;
                let state = (conv_ch * (k - 1) + h * dk * dv) * F32;
                let proj = mm(d, 2 * h * dk + h * dv + h) + mm(h * dv, d);
                let rule = 6.0 * (h * dk * dv) as f64; // Sᵀk, k uᵀ, Sᵀq
                (state, proj + 2.0 * (conv_ch * k) as f64 + rule)
            }
            LayerConfig::GatedDeltaNet(c) => {
                let (h, hv, dk, dv, k) = (
                    c.n_heads,
                    c.n_v_heads,
                    c.head_k_dim,
                    c.head_v_dim,
                    c.conv_size,
                );
                let conv_ch = 2 * h * dk + hv * dv;
                let state = (conv_ch * (k - 1) + hv * dk * dv) * F32;
                let gate = if c.use_gate { hv * dv } else { 0 };
                let proj = mm(d, 2 * h * dk + hv * dv + 2 * hv + gate) + mm(hv * dv, d);
                let rule = 7.0 * (hv * dk * dv) as f64; // + the decay
                (state, proj + 2.0 * (conv_ch * k) as f64 + rule)
            }
            LayerConfig::Ffn(c) => (0, 3.0 * mm(d, c.hidden)),
        };
        // A KV cache is read and one row appended; a recurrent state is read and rewritten.
        let state_traffic = match entry.kind {
            crate::LayerKind::Attention | crate::LayerKind::Swa => state as f64,
            _ => 2.0 * state as f64,
        };
        layers.push(LayerCost {
            kind: entry.kind.name().to_string(),
            params: lp,
            state_bytes: state,
            flops_per_token: flops,
            bytes_per_token: (lp * F32) as f64 + state_traffic,
        });
    }
    let in_layers: usize = layers.iter().map(|l| l.params).sum();
    let outside = params - in_layers;
    // Decoding reads one embedding row and the whole LM head.
    let head_flops = 2.0 * (d * v) as f64;
    let head_bytes = ((d * v + d) * F32) as f64;
    Accounting {
        params,
        params_outside_layers: outside,
        state_bytes: layers.iter().map(|l| l.state_bytes).sum(),
        flops_per_token: layers.iter().map(|l| l.flops_per_token).sum::<f64>() + head_flops,
        bytes_per_token: layers.iter().map(|l| l.bytes_per_token).sum::<f64>() + head_bytes,
        layers,
    }
}
