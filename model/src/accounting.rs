//! Analytic accounting of an [`ArchSpec`]: parameters, decode-state bytes, FLOPs and bytes
//! moved per decoded token. These feed the search objectives, the roofline latency model and
//! the README tables; the parameter count is checked against the built module in the tests.
//!
//! Conventions: f32 (4 bytes) for weights and states; a matmul of `m×k` by `k×n` is `2mkn`
//! FLOPs; elementwise work is counted where it scales with a state (decay, outer products),
//! and ignored where it is O(d) per token. `context` is the number of tokens already in the
//! sequence when the next one is decoded, meta tokens excluded (they are added here).

use crate::lm::{tensors, tensors_of};
use crate::spec::ArchSpec;

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
    let configs = spec.resolve().expect("validated spec");
    let all = tensors_of(spec, &configs);
    let params: usize = all.iter().map(|t| t.numel()).sum();
    let mut layers = Vec::new();
    for (i, (entry, cfg)) in spec.layers.iter().zip(&configs).enumerate() {
        let prefix = format!("model.layers.{i}.");
        let lp: usize = all
            .iter()
            .filter(|t| t.name.starts_with(&prefix))
            .map(|t| t.numel())
            .sum();
        let cost = (entry.kind.descriptor().cost)(cfg, d, seen);
        layers.push(LayerCost {
            kind: entry.kind.name().to_string(),
            params: lp,
            state_bytes: cost.state_bytes,
            flops_per_token: cost.flops,
            bytes_per_token: (lp * F32) as f64 + cost.state_traffic,
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
