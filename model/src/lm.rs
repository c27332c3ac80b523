//! `HybridLm`: embedding, meta tokens, pre-norm residual sublayers, final norm, LM head (§2).
//!
//! ```text
//! h = [M ; E[tokens]]                       meta tokens only at the start of a sequence
//! h ← h + Sublayer_i(RMSNorm(h; norm_i))    for every entry of `layers`
//! logits = RMSNorm(h)[:, n_meta:] Wᵀ        W = lm_head, or the embedding when tied
//! ```

use crate::attention::{Attention, KvCache};
use crate::delta_common::{DeltaState, GatedDeltaNet};
use crate::ffn::Ffn;
use crate::init::initial_weights;
use crate::kernels::{self, Kernels};
use crate::linear::linear;
use crate::mamba2::{Mamba2, Mamba2State};
use crate::rope::RopeTable;
use crate::spec::{ArchSpec, LayerConfig, LayerKind};
use crate::tensors::{Init, TensorSpec};
use crate::weights::{
    load_safetensors, save_safetensors, WeightError, WeightMap, WeightReader, WeightWriter,
};
use crate::Scan;
use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use std::path::Path;

/// The operator inside one residual sublayer.
#[allow(clippy::large_enum_variant)] // one per sublayer; boxing buys nothing
#[derive(Module, Debug)]
pub enum Operator<B: Backend> {
    /// `attention` and `swa`.
    Attention(Attention<B>),
    Mamba2(Mamba2<B>),
    /// `deltanet` and `gated_deltanet`: one delta-rule operator, built from either config.
    Delta(GatedDeltaNet<B>),
    Ffn(Ffn<B>),
}

/// `h ← h + op(RMSNorm(h; norm))`.
#[derive(Module, Debug)]
pub struct Sublayer<B: Backend> {
    norm: Param<Tensor<B, 1>>,
    op: Operator<B>,
}

/// Decode state of one sublayer.
#[allow(clippy::large_enum_variant)] // one per sublayer; boxing buys nothing
#[derive(Debug, Clone)]
pub enum LayerState<B: Backend> {
    /// `None` until a key is cached (and for swa with a window of 1).
    Attention(Option<KvCache<B>>),
    Mamba2(Mamba2State<B>),
    Delta(DeltaState<B>),
    Ffn,
}

/// The decode state of the whole model: every sublayer's state, the position counter
/// (`n_meta + tokens seen`, the RoPE position of the next token), the positions global KV
/// caches are allocated for, and the RoPE rows of those positions.
#[derive(Debug, Clone)]
pub struct ModelState<B: Backend> {
    pub pos: usize,
    pub layers: Vec<LayerState<B>>,
    /// Positions (meta tokens included) the global KV caches hold without growing.
    pub capacity: usize,
    /// One table per distinct (head_dim, rope_theta) of the attention layers.
    pub rope: Vec<RopeTable<B>>,
}

impl<B: Backend> ModelState<B> {
    /// The state of `b` sequences that each stand where this one (of batch 1) stands: every
    /// cache and recurrent state repeated along the batch. A large-batch decode is timed from
    /// it without prefilling every sequence (a step's cost depends on what it reads, not on
    /// the values).
    pub fn repeat_batch(self, b: usize) -> Self {
        let layers = self
            .layers
            .into_iter()
            .map(|l| match l {
                LayerState::Attention(c) => LayerState::Attention(c.map(|c| KvCache {
                    k: c.k.repeat_dim(0, b),
                    v: c.v.repeat_dim(0, b),
                    ..c
                })),
                LayerState::Mamba2(m) => LayerState::Mamba2(Mamba2State {
                    conv: m.conv.repeat_dim(0, b),
                    ssm: m.ssm.repeat_dim(0, b),
                }),
                LayerState::Delta(d) => LayerState::Delta(DeltaState {
                    conv_q: d.conv_q.repeat_dim(0, b),
                    conv_k: d.conv_k.repeat_dim(0, b),
                    conv_v: d.conv_v.repeat_dim(0, b),
                    s: d.s.repeat_dim(0, b),
                }),
                LayerState::Ffn => LayerState::Ffn,
            })
            .collect();
        Self { layers, ..self }
    }
}

#[derive(Module, Debug)]
pub struct HybridLm<B: Backend> {
    embed: Param<Tensor<B, 2>>,
    meta: Option<Param<Tensor<B, 2>>>,
    layers: Vec<Sublayer<B>>,
    final_norm: Param<Tensor<B, 1>>,
    /// `[d, V]` (compute layout); `None` when tied to the embedding.
    lm_head: Option<Param<Tensor<B, 2>>>,
    #[module(skip)]
    spec: ArchSpec,
}

fn norm_name(i: usize, kind: LayerKind) -> String {
    match kind {
        LayerKind::Ffn => format!("model.layers.{i}.pre_ffn_layernorm.weight"),
        _ => format!("model.layers.{i}.input_layernorm.weight"),
    }
}

fn op_prefix(i: usize, kind: LayerKind) -> String {
    format!("model.layers.{i}.{}", kind.descriptor().module)
}

/// Every tensor of the architecture, with its §10 name, shape and §9 init. The spec must be
/// valid (see [`ArchSpec::validate`]).
pub fn tensors(spec: &ArchSpec) -> Vec<TensorSpec> {
    tensors_of(spec, &spec.resolve().expect("validated spec"))
}

/// [`tensors`] of a spec already resolved into `configs`.
pub(crate) fn tensors_of(spec: &ArchSpec, configs: &[LayerConfig]) -> Vec<TensorSpec> {
    let (v, d) = (spec.vocab_size, spec.d_model);
    let mut out = vec![TensorSpec::new(
        "model.embed_tokens.weight",
        &[v, d],
        Init::Normal(0.02),
    )];
    if spec.n_meta > 0 {
        out.push(TensorSpec::new(
            "model.memory_tokens",
            &[spec.n_meta, d],
            Init::Normal(1.0),
        ));
    }
    for (i, (entry, cfg)) in spec.layers.iter().zip(configs).enumerate() {
        out.push(TensorSpec::new(
            norm_name(i, entry.kind),
            &[d],
            Init::Const(1.0),
        ));
        let p = op_prefix(i, entry.kind);
        out.extend((entry.kind.descriptor().tensors)(&p, cfg, d));
    }
    out.push(TensorSpec::new(
        "model.final_layernorm.weight",
        &[d],
        Init::Const(1.0),
    ));
    if !spec.tie_embeddings {
        out.push(TensorSpec::new(
            "lm_head.weight",
            &[v, d],
            Init::Normal(0.02),
        ));
    }
    out
}

impl<B: Backend> HybridLm<B> {
    /// Random initial weights (§9), seeded; identical on every backend.
    pub fn init(spec: &ArchSpec, seed: u64, device: &B::Device) -> Self {
        let map = initial_weights(&tensors(spec), seed);
        Self::from_weights(spec, map, device).expect("the init map matches the spec")
    }

    /// Builds the model from named tensors; a missing, unexpected or mis-shaped tensor is an
    /// error naming it.
    pub fn from_weights(
        spec: &ArchSpec,
        map: WeightMap,
        device: &B::Device,
    ) -> Result<Self, WeightError> {
        let configs = spec
            .resolve()
            .map_err(|e| WeightError::File(format!("invalid architecture: {e}")))?;
        let (v, d) = (spec.vocab_size, spec.d_model);
        let mut r = WeightReader::<B>::new(map, device);
        let embed = r.param("model.embed_tokens.weight", [v, d])?;
        let meta = match spec.n_meta {
            0 => None,
            n => Some(r.param("model.memory_tokens", [n, d])?),
        };
        let mut layers = Vec::with_capacity(spec.layers.len());
        for (i, (entry, cfg)) in spec.layers.iter().zip(configs).enumerate() {
            let norm = r.param(&norm_name(i, entry.kind), [d])?;
            let p = op_prefix(i, entry.kind);
            let op = match cfg {
                LayerConfig::Attention(c) => {
                    Operator::Attention(Attention::read(&mut r, &p, &c, d)?)
                }
                LayerConfig::Mamba2(c) => Operator::Mamba2(Mamba2::read(&mut r, &p, &c, d)?),
                LayerConfig::DeltaNet(c) => {
                    Operator::Delta(GatedDeltaNet::read(&mut r, &p, &c, d)?)
                }
                LayerConfig::GatedDeltaNet(c) => {
                    Operator::Delta(GatedDeltaNet::read(&mut r, &p, &c, d)?)
                }
                LayerConfig::Ffn(c) => Operator::Ffn(Ffn::read(&mut r, &p, &c, d)?),
            };
            layers.push(Sublayer { norm, op });
        }
        let final_norm = r.param("model.final_layernorm.weight", [d])?;
        let lm_head = if spec.tie_embeddings {
            r.discard("lm_head.weight");
            None
        } else {
            Some(r.linear("lm_head.weight", v, d)?)
        };
        r.finish()?;
        Ok(Self {
            embed,
            meta,
            layers,
            final_norm,
            lm_head,
            spec: spec.clone(),
        })
    }

    /// All weights under their §10 names and shapes.
    pub fn to_weights(&self) -> WeightMap {
        let mut map = WeightMap::new();
        let mut w = WeightWriter { map: &mut map };
        w.param("model.embed_tokens.weight", &self.embed);
        if let Some(m) = &self.meta {
            w.param("model.memory_tokens", m);
        }
        for (i, (layer, entry)) in self.layers.iter().zip(&self.spec.layers).enumerate() {
            w.param(&norm_name(i, entry.kind), &layer.norm);
            let p = op_prefix(i, entry.kind);
            match &layer.op {
                Operator::Attention(op) => op.write(&mut w, &p),
                Operator::Mamba2(op) => op.write(&mut w, &p),
                Operator::Delta(op) => op.write(&mut w, &p),
                Operator::Ffn(op) => op.write(&mut w, &p),
            }
        }
        w.param("model.final_layernorm.weight", &self.final_norm);
        if let Some(h) = &self.lm_head {
            w.linear("lm_head.weight", h);
        }
        map
    }

    pub fn save(&self, path: &Path) -> Result<(), WeightError> {
        save_safetensors(&self.to_weights(), path)
    }

    pub fn load(spec: &ArchSpec, path: &Path, device: &B::Device) -> Result<Self, WeightError> {
        let map = load_safetensors(path)?;
        Self::from_weights(spec, map, device)
            .map_err(|e| WeightError::File(format!("{}: {e}", path.display())))
    }

    pub fn spec(&self) -> &ArchSpec {
        &self.spec
    }
}

impl<B: Kernels> HybridLm<B> {
    /// Logits `[B, T, V]` of a whole batch of sequences (training and evaluation).
    pub fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.forward_with(tokens, None, Scan::Chunked, None).0
    }

    /// Processes a prompt: logits `[B, T, V]` and the state to decode from. Global KV caches
    /// are sized for the prompt and grow by doubling; see [`Self::prefill_with_capacity`].
    pub fn prefill(&self, tokens: Tensor<B, 2, Int>) -> (Tensor<B, 3>, ModelState<B>) {
        let t = tokens.dims()[1];
        self.prefill_with_capacity(tokens, t)
    }

    /// Like [`Self::prefill`], with caches preallocated for `max_tokens` tokens in all
    /// (prompt + generated): decode steps up to there write in place and never reallocate.
    pub fn prefill_with_capacity(
        &self,
        tokens: Tensor<B, 2, Int>,
        max_tokens: usize,
    ) -> (Tensor<B, 3>, ModelState<B>) {
        let capacity = self.spec.n_meta + max_tokens.max(tokens.dims()[1]);
        let (logits, state) = self.forward_with(tokens, None, Scan::Chunked, Some(capacity));
        (logits, state.expect("a capacity was given"))
    }

    /// Like [`Self::prefill_with_capacity`], the prompt fed `chunk` tokens at a time (the
    /// sequence form continuing the state: global caches written in place, swa rings, the
    /// recurrent states carried), so that what a long prompt needs beyond its caches and
    /// states is one chunk's activations, not the prompt's. Returns the logits of the last
    /// prompt position `[B, V]` (the only ones a generation reads) and the state.
    pub fn prefill_chunked(
        &self,
        tokens: Tensor<B, 2, Int>,
        max_tokens: usize,
        chunk: usize,
    ) -> (Tensor<B, 2>, ModelState<B>) {
        let [b, t] = tokens.dims();
        assert!(
            t > 0 && chunk > 0,
            "a prompt and a chunk of at least one token"
        );
        let capacity = self.spec.n_meta + max_tokens.max(t);
        let mut state: Option<ModelState<B>> = None;
        let mut last = None;
        for start in (0..t).step_by(chunk) {
            let n = chunk.min(t - start);
            let (logits, next) = self.forward_with(
                tokens.clone().narrow(1, start, n),
                state.take(),
                Scan::Chunked,
                Some(capacity),
            );
            state = next;
            if start + n == t {
                last = Some(
                    logits
                        .narrow(1, n - 1, 1)
                        .reshape([b, self.spec.vocab_size]),
                );
            }
        }
        (
            last.expect("at least one chunk"),
            state.expect("a capacity was given"),
        )
    }

    /// One decoding step: `tokens: [B]` at position `state.pos`; returns logits `[B, V]`.
    pub fn decode_step(
        &self,
        tokens: Tensor<B, 1, Int>,
        state: &mut ModelState<B>,
    ) -> Tensor<B, 2> {
        let [b] = tokens.dims();
        let taken = ModelState {
            pos: state.pos,
            layers: std::mem::take(&mut state.layers),
            capacity: state.capacity,
            rope: std::mem::take(&mut state.rope),
        };
        let capacity = taken.capacity;
        let (logits, next) = self.forward_with(
            tokens.reshape([b, 1]),
            Some(taken),
            Scan::Recurrent,
            Some(capacity),
        );
        *state = next.expect("a capacity was given");
        let v = self.spec.vocab_size;
        logits.reshape([b, v])
    }

    /// The general pass: `T` tokens continuing `state` (or starting a sequence, with meta
    /// tokens, when `None`), with the recurrent mixers in the given scan form. With
    /// `capacity` (positions, meta tokens included) the state to continue from is returned;
    /// without it (training) no cache is built.
    pub fn forward_with(
        &self,
        tokens: Tensor<B, 2, Int>,
        state: Option<ModelState<B>>,
        scan: Scan,
        capacity: Option<usize>,
    ) -> (Tensor<B, 3>, Option<ModelState<B>>) {
        let [b, t] = tokens.dims();
        let d = self.spec.d_model;
        let device = tokens.device();
        let x = self
            .embed
            .val()
            .select(0, tokens.reshape([b * t]))
            .reshape([b, t, d]);
        let (mut h, pos, mut states, n_meta, mut rope) = match state {
            Some(s) => (
                x,
                s.pos,
                s.layers.into_iter().map(Some).collect::<Vec<_>>(),
                0,
                s.rope,
            ),
            None => {
                let n_meta = self.spec.n_meta;
                let h = match &self.meta {
                    Some(m) => {
                        Tensor::cat(vec![m.val().unsqueeze::<3>().expand([b, n_meta, d]), x], 1)
                    }
                    None => x,
                };
                (h, 0, vec![None; self.layers.len()], n_meta, Vec::new())
            }
        };
        let total = h.dims()[1];
        // RoPE rows for every position this state will see (or this call, in training).
        let rope_len = capacity.unwrap_or(0).max(pos + total);
        let mut next = Vec::with_capacity(self.layers.len());
        for (layer, st) in self.layers.iter().zip(states.iter_mut()) {
            let u = kernels::rms_norm(h.clone(), layer.norm.val(), self.spec.rms_eps);
            let (y, s) = match (&layer.op, st.take()) {
                // Training: whole sequences from a zero state, no state kept (fused kernels).
                (Operator::Mamba2(op), None) if capacity.is_none() => {
                    (op.forward_sequence(u), LayerState::Ffn)
                }
                (Operator::Delta(op), None) if capacity.is_none() => {
                    (op.forward_sequence(u), LayerState::Ffn)
                }
                (Operator::Attention(op), s) => {
                    let cache = match s {
                        Some(LayerState::Attention(c)) => c,
                        _ => None,
                    };
                    let cfg = op.config();
                    let table = match rope
                        .iter()
                        .position(|r| r.matches(cfg.head_dim, cfg.rope_theta))
                    {
                        Some(i) => i,
                        None => {
                            rope.push(RopeTable::new(
                                cfg.head_dim,
                                cfg.rope_theta,
                                rope_len,
                                &device,
                            ));
                            rope.len() - 1
                        }
                    };
                    let (y, c) = op.forward_with(u, pos, cache, &rope[table], capacity);
                    (y, LayerState::Attention(c))
                }
                (Operator::Mamba2(op), s) => {
                    let s = match s {
                        Some(LayerState::Mamba2(s)) => Some(s),
                        _ => None,
                    };
                    let (y, s) = op.forward(u, s, scan);
                    (y, LayerState::Mamba2(s))
                }
                (Operator::Delta(op), s) => {
                    let s = match s {
                        Some(LayerState::Delta(s)) => Some(s),
                        _ => None,
                    };
                    let (y, s) = op.forward(u, s, scan);
                    (y, LayerState::Delta(s))
                }
                (Operator::Ffn(op), _) => (op.forward(u), LayerState::Ffn),
            };
            h = h + y;
            next.push(s);
        }
        let h = kernels::rms_norm(h, self.final_norm.val(), self.spec.rms_eps).narrow(
            1,
            n_meta,
            total - n_meta,
        );
        let logits = self.head(h);
        let state = capacity.map(|capacity| ModelState {
            pos: pos + total,
            layers: next,
            capacity,
            rope,
        });
        (logits, state)
    }

    fn head(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, t, d] = h.dims();
        let v = self.spec.vocab_size;
        let (logits, row_norms) = match &self.lm_head {
            Some(w) => {
                let norms = self
                    .spec
                    .lm_head_normalize
                    .then(|| w.val().powi_scalar(2).sum_dim(0).sqrt().reshape([1, 1, v]));
                (linear(h, w, None), norms)
            }
            None => {
                let e = self.embed.val();
                let norms = self.spec.lm_head_normalize.then(|| {
                    e.clone()
                        .powi_scalar(2)
                        .sum_dim(1)
                        .sqrt()
                        .reshape([1, 1, v])
                });
                (
                    h.reshape([b * t, d])
                        .matmul(e.transpose())
                        .reshape([b, t, v]),
                    norms,
                )
            }
        };
        match row_norms {
            Some(n) => logits / n,
            None => logits,
        }
    }
}
