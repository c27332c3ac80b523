//! Causal attention with GQA, RoPE and an optional sliding window (§5): kinds `attention`
//! and `swa`.
//!
//! Two forms over one set of weights:
//! - **sequence** (training, prefill, or several tokens continuing a cache): queries at
//!   absolute positions `pos..pos+T` attend over `cache ∪ new keys`, masked causally (and to
//!   the last `w` keys for swa);
//! - **step** (one decoded token): the cost of what the architecture implies and nothing
//!   more. Global attention appends to a preallocated cache in place and reads its filled
//!   prefix; swa keeps a ring of `w − 1` slots; query heads are grouped per KV head
//!   (`[B, Hkv, H/Hkv, Dh]`), so repeated K/V are never materialized.

use crate::config::{AttentionConfig, LayerConfig};
use crate::descriptor::KindDescriptor;
use crate::fields::{Fields, SpecError};
use crate::kernels::{self, write_axis2, AttentionOpts, Kernels};
use crate::kind::{section, DecodeCost, Family, LayerKind, Section, Sizing};
use crate::linear::linear;
use crate::rope::RopeTable;
use crate::tensors::{Init, TensorSpec};
use crate::weights::{WeightError, WeightReader, WeightWriter};
use burn::module::{Module, Param};
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

/// Global causal attention.
pub const ATTENTION: KindDescriptor = KindDescriptor {
    kind: LayerKind::Attention,
    name: "attention",
    short: "a",
    section: "attention",
    module: "self_attn",
    family: Family::Attention,
    resolve,
    tensors: layer_tensors,
    cost: decode_cost,
    sized,
};

/// Sliding-window attention (same weights and section as `attention`, a window).
pub const SWA: KindDescriptor = KindDescriptor {
    kind: LayerKind::Swa,
    name: "swa",
    short: "swa",
    ..ATTENTION
};

/// §11: `n_heads` required; `n_kv_heads` = n_heads, `head_dim` = d_model / n_heads,
/// `rope_theta` 10000, no qk-norm; `window` required for swa and refused on a global layer.
fn resolve(f: &mut Fields) -> Result<LayerConfig, SpecError> {
    let h = f.positive_required("n_heads")?;
    let hkv = f.positive_or("n_kv_heads", h)?;
    let dh = f.head_dim_or_split("head_dim", h)?;
    let theta = f.positive_f_or("rope_theta", 10000.0)?;
    let qk_norm = f.bool_or("qk_norm", false)?;
    let qk_eps = f.positive_f_or("qk_norm_eps", 1e-6)?;
    let window = f.usize_opt("window")?;
    if h % hkv != 0 {
        return Err(f.err(
            "n_heads",
            format!("{h} is not a multiple of n_kv_heads {hkv}"),
        ));
    }
    if dh == 0 || dh % 2 != 0 {
        return Err(f.err(
            "head_dim",
            format!("{dh} must be even and > 0 (RoPE rotates pairs)"),
        ));
    }
    let window = if f.kind == LayerKind::Swa {
        match window {
            Some(w) if w >= 1 => Some(w),
            Some(w) => return Err(f.err("window", format!("{w} must be at least 1"))),
            None => {
                return Err(f.err(
                    "window",
                    "is required for swa (keys seen per query, incl. itself)",
                ))
            }
        }
    } else {
        // A global `attention` layer ignores a section-level window (it is the default for
        // `swa` layers), but a window set on the layer itself is a mistake.
        if f.set_on_layer("window") {
            return Err(f.err(
                "window",
                "is set on an 'attention' layer; use kind 'swa' for a sliding window",
            ));
        }
        None
    };
    Ok(LayerConfig::Attention(AttentionConfig {
        n_heads: h,
        n_kv_heads: hkv,
        head_dim: dh,
        rope_theta: theta,
        qk_norm,
        qk_norm_eps: qk_eps,
        window,
    }))
}

fn config(c: &LayerConfig) -> &AttentionConfig {
    match c {
        LayerConfig::Attention(c) => c,
        other => unreachable!("the attention descriptor was given {other:?}"),
    }
}

fn layer_tensors(prefix: &str, c: &LayerConfig, d: usize) -> Vec<TensorSpec> {
    tensors(prefix, config(c), d)
}

/// q, k, v, o projections and one attention read over the cached keys; the KV cache is
/// `2 · cached · Hkv · Dh` floats (swa: at most `w − 1` cached).
fn decode_cost(c: &LayerConfig, d: usize, seen: usize) -> DecodeCost {
    let c = config(c);
    let mm = |a: usize, b: usize| 2.0 * a as f64 * b as f64;
    let cached = match c.window {
        None => seen,
        Some(w) => seen.min(w - 1),
    };
    let attended = (cached + 1) as f64;
    let proj = mm(d, c.n_heads * c.head_dim) * 2.0 + mm(d, c.n_kv_heads * c.head_dim) * 2.0;
    let attn = 4.0 * c.n_heads as f64 * c.head_dim as f64 * attended;
    let state_bytes = 2 * cached * c.n_kv_heads * c.head_dim * 4;
    DecodeCost {
        state_bytes,
        flops: proj + attn,
        state_traffic: state_bytes as f64,
    }
}

/// Heads of `head_dim`, `kv_heads` of them shared (at most as many as query heads).
fn sized(s: &Sizing) -> Section {
    let heads = s.heads();
    let kv = s.kv_heads.map(|k| k.min(heads)).unwrap_or(heads);
    section([
        ("n_heads", heads.into()),
        ("n_kv_heads", kv.into()),
        ("head_dim", s.head_dim.into()),
    ])
}

/// Keys and values a later query may attend to, in preallocated slots written in place.
#[derive(Debug, Clone)]
pub struct KvCache<B: Backend> {
    /// `[B, Hkv, slots, Dh]`, post-RoPE (post qk-norm).
    pub k: Tensor<B, 4>,
    pub v: Tensor<B, 4>,
    /// Slots that hold a key. Global attention: position `p` in slot `p`, slots `0..len`
    /// filled. swa: a ring of `w − 1` slots, position `p` in slot `p mod (w − 1)`.
    pub len: usize,
    /// Whether this is a swa ring (else a global cache that grows by doubling when full).
    pub ring: bool,
}

impl<B: Kernels> KvCache<B> {
    /// Allocated slots (global: capacity; swa: `w − 1`).
    pub fn slots(&self) -> usize {
        self.k.dims()[2]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn zeros(b: usize, hkv: usize, slots: usize, dh: usize, ring: bool, d: &B::Device) -> Self {
        Self {
            k: Tensor::zeros([b, hkv, slots, dh], d),
            v: Tensor::zeros([b, hkv, slots, dh], d),
            len: 0,
            ring,
        }
    }

    /// The cache after a sequence whose keys `k, v: [B, Hkv, L, Dh]` are positions
    /// `next_pos − L .. next_pos` (in order, and all of them since position 0 unless L ≥
    /// slots for swa). `None` for swa with a window of 1 (nothing is ever read back).
    fn from_sequence(
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
        next_pos: usize,
        window: Option<usize>,
        capacity: usize,
    ) -> Option<Self> {
        let [b, hkv, l, dh] = k.dims();
        let device = k.device();
        match window {
            None => {
                let mut c = Self::zeros(b, hkv, capacity.max(l), dh, false, &device);
                c.k = write_axis2(c.k, 0, k);
                c.v = write_axis2(c.v, 0, v);
                c.len = l;
                Some(c)
            }
            Some(w) if w <= 1 => None,
            Some(w) => {
                let slots = w - 1;
                let keep = l.min(slots);
                let (k, v) = (k.narrow(2, l - keep, keep), v.narrow(2, l - keep, keep));
                let mut c = Self::zeros(b, hkv, slots, dh, true, &device);
                // Chronological entry j is position next_pos − keep + j, slot (that) mod slots.
                let first_slot = (next_pos - keep) % slots;
                let head = (slots - first_slot).min(keep);
                c.k = write_axis2(c.k, first_slot, k.clone().narrow(2, 0, head));
                c.v = write_axis2(c.v, first_slot, v.clone().narrow(2, 0, head));
                if keep > head {
                    c.k = write_axis2(c.k, 0, k.narrow(2, head, keep - head));
                    c.v = write_axis2(c.v, 0, v.narrow(2, head, keep - head));
                }
                c.len = keep;
                Some(c)
            }
        }
    }

    /// Keys and values in position order, `[B, Hkv, len, Dh]` (`next_pos`: the position the
    /// next token will take).
    fn chronological(&self, next_pos: usize) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let slots = self.slots();
        if !self.ring || self.len < slots {
            return (
                self.k.clone().narrow(2, 0, self.len),
                self.v.clone().narrow(2, 0, self.len),
            );
        }
        let oldest = next_pos % slots;
        let order = |t: &Tensor<B, 4>| {
            if oldest == 0 {
                t.clone()
            } else {
                Tensor::cat(
                    vec![
                        t.clone().narrow(2, oldest, slots - oldest),
                        t.clone().narrow(2, 0, oldest),
                    ],
                    2,
                )
            }
        };
        (order(&self.k), order(&self.v))
    }

    /// Global cache: appends one position `[B, Hkv, 1, Dh]` in place (doubling the slots,
    /// a copy amortized over as many appends, only when the capacity was too small).
    fn push(self, k: Tensor<B, 4>, v: Tensor<B, 4>) -> Self {
        self.append(k, v)
    }

    /// Global cache: appends positions `[B, Hkv, n, Dh]` in place (doubling the slots until
    /// they fit, a copy amortized over as many appends, only when the capacity was too small).
    fn append(mut self, k: Tensor<B, 4>, v: Tensor<B, 4>) -> Self {
        let n = k.dims()[2];
        if self.len + n > self.slots() {
            let [b, hkv, mut slots, dh] = self.k.dims();
            while self.len + n > slots {
                slots = (2 * slots).max(16);
            }
            let mut grown = Self::zeros(b, hkv, slots, dh, false, &k.device());
            grown.k = write_axis2(grown.k, 0, self.k);
            grown.v = write_axis2(grown.v, 0, self.v);
            grown.len = self.len;
            self = grown;
        }
        self.k = write_axis2(self.k, self.len, k);
        self.v = write_axis2(self.v, self.len, v);
        self.len += n;
        self
    }
}

#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    q_proj: Param<Tensor<B, 2>>,
    k_proj: Param<Tensor<B, 2>>,
    v_proj: Param<Tensor<B, 2>>,
    o_proj: Param<Tensor<B, 2>>,
    q_norm: Option<Param<Tensor<B, 1>>>,
    k_norm: Option<Param<Tensor<B, 1>>>,
    #[module(skip)]
    cfg: AttentionConfig,
}

/// The §10 tensors of an attention / swa sublayer under `prefix` (`model.layers.{i}.self_attn`).
pub fn tensors(prefix: &str, cfg: &AttentionConfig, d: usize) -> Vec<TensorSpec> {
    let (h, hkv, dh) = (cfg.n_heads, cfg.n_kv_heads, cfg.head_dim);
    let mut v = vec![
        TensorSpec::new(
            format!("{prefix}.q_proj.weight"),
            &[h * dh, d],
            Init::Normal(0.02),
        ),
        TensorSpec::new(
            format!("{prefix}.k_proj.weight"),
            &[hkv * dh, d],
            Init::Normal(0.02),
        ),
        TensorSpec::new(
            format!("{prefix}.v_proj.weight"),
            &[hkv * dh, d],
            Init::Normal(0.02),
        ),
        TensorSpec::new(
            format!("{prefix}.o_proj.weight"),
            &[d, h * dh],
            Init::Normal(0.02),
        ),
    ];
    if cfg.qk_norm {
        v.push(TensorSpec::new(
            format!("{prefix}.q_norm.weight"),
            &[dh],
            Init::Const(1.0),
        ));
        v.push(TensorSpec::new(
            format!("{prefix}.k_norm.weight"),
            &[dh],
            Init::Const(1.0),
        ));
    }
    v
}

impl<B: Backend> Attention<B> {
    pub fn read(
        r: &mut WeightReader<B>,
        prefix: &str,
        cfg: &AttentionConfig,
        d: usize,
    ) -> Result<Self, WeightError> {
        let (h, hkv, dh) = (cfg.n_heads, cfg.n_kv_heads, cfg.head_dim);
        Ok(Self {
            q_proj: r.linear(&format!("{prefix}.q_proj.weight"), h * dh, d)?,
            k_proj: r.linear(&format!("{prefix}.k_proj.weight"), hkv * dh, d)?,
            v_proj: r.linear(&format!("{prefix}.v_proj.weight"), hkv * dh, d)?,
            o_proj: r.linear(&format!("{prefix}.o_proj.weight"), d, h * dh)?,
            q_norm: match cfg.qk_norm {
                true => Some(r.param(&format!("{prefix}.q_norm.weight"), [dh])?),
                false => None,
            },
            k_norm: match cfg.qk_norm {
                true => Some(r.param(&format!("{prefix}.k_norm.weight"), [dh])?),
                false => None,
            },
            cfg: cfg.clone(),
        })
    }

    pub fn write(&self, w: &mut WeightWriter, prefix: &str) {
        w.linear(&format!("{prefix}.q_proj.weight"), &self.q_proj);
        w.linear(&format!("{prefix}.k_proj.weight"), &self.k_proj);
        w.linear(&format!("{prefix}.v_proj.weight"), &self.v_proj);
        w.linear(&format!("{prefix}.o_proj.weight"), &self.o_proj);
        if let (Some(q), Some(k)) = (&self.q_norm, &self.k_norm) {
            w.param(&format!("{prefix}.q_norm.weight"), q);
            w.param(&format!("{prefix}.k_norm.weight"), k);
        }
    }

    pub fn config(&self) -> &AttentionConfig {
        &self.cfg
    }
}

impl<B: Kernels> Attention<B> {
    /// Projects, normalizes and rotates one kind of head: `[B,T,d] → [B,T,heads,Dh]`.
    fn project(
        &self,
        x: Tensor<B, 3>,
        w: &Param<Tensor<B, 2>>,
        norm: &Option<Param<Tensor<B, 1>>>,
        heads: usize,
        rope: Option<(&Tensor<B, 2>, &Tensor<B, 2>)>,
    ) -> Tensor<B, 4> {
        let [b, t, _] = x.dims();
        let mut y = linear(x, w, None).reshape([b, t, heads, self.cfg.head_dim]);
        if let Some(n) = norm {
            y = kernels::rms_norm(y, n.val(), self.cfg.qk_norm_eps);
        }
        if let Some((cos, sin)) = rope {
            y = kernels::rope(y, cos, sin);
        }
        y
    }

    /// Attends the `T` tokens of `x` (absolute positions `pos..pos+T`) over the cache and
    /// themselves, with RoPE tables built for this call. See [`Attention::forward_with`].
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        pos: usize,
        cache: Option<KvCache<B>>,
    ) -> (Tensor<B, 3>, Option<KvCache<B>>) {
        let t = x.dims()[1];
        let rope = RopeTable::new(self.cfg.head_dim, self.cfg.rope_theta, pos + t, &x.device());
        self.forward_with(x, pos, cache, &rope, Some(pos + t))
    }

    /// Attends the `T` tokens of `x` (absolute positions `pos..pos+T`) over the cache and
    /// themselves. `capacity`: positions the returned global cache is allocated for (`None`:
    /// return no cache, as in training). One token with a cache takes the step form.
    pub fn forward_with(
        &self,
        x: Tensor<B, 3>,
        pos: usize,
        cache: Option<KvCache<B>>,
        rope: &RopeTable<B>,
        capacity: Option<usize>,
    ) -> (Tensor<B, 3>, Option<KvCache<B>>) {
        let t = x.dims()[1];
        let AttentionConfig {
            n_heads: h,
            n_kv_heads: hkv,
            ..
        } = self.cfg;
        let (cos, sin) = rope.rows(pos, t);
        let q = self.project(x.clone(), &self.q_proj, &self.q_norm, h, Some((&cos, &sin)));
        let k = self.project(
            x.clone(),
            &self.k_proj,
            &self.k_norm,
            hkv,
            Some((&cos, &sin)),
        );
        let v = self.project(x, &self.v_proj, &None, hkv, None);
        let (o, cache) = match (t, capacity) {
            (1, Some(capacity)) => self.step(q, k, v, pos, cache, capacity),
            _ => self.sequence(q, k, v, pos, cache, capacity),
        };
        (linear(o, &self.o_proj, None), cache)
    }

    /// One token: `q: [B,1,H,Dh]`, `k, v: [B,1,Hkv,Dh]`. Returns `o: [B,1,H·Dh]`.
    fn step(
        &self,
        q: Tensor<B, 4>,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
        pos: usize,
        cache: Option<KvCache<B>>,
        capacity: usize,
    ) -> (Tensor<B, 3>, Option<KvCache<B>>) {
        let AttentionConfig {
            n_heads: h,
            n_kv_heads: hkv,
            head_dim: dh,
            ..
        } = self.cfg;
        let b = q.dims()[0];
        let rep = h / hkv;
        let device = q.device();
        // Query head h = kv·rep + r reads KV head kv: group the queries, not the keys.
        let q = q
            .reshape([b, hkv, rep, dh])
            .mul_scalar(1.0 / (dh as f64).sqrt());
        let k = k.reshape([b, hkv, 1, dh]);
        let v = v.reshape([b, hkv, 1, dh]);
        let (o, cache) = match self.cfg.window {
            None => {
                let cache = cache.unwrap_or_else(|| {
                    KvCache::zeros(b, hkv, capacity.max(pos + 1), dh, false, &device)
                });
                let cache = cache.push(k, v);
                let o = kernels::decode_attention(q, &cache.k, &cache.v, cache.len, None);
                (o, Some(cache))
            }
            Some(w) if w <= 1 => (v.expand([b, hkv, rep, dh]), None),
            Some(w) => {
                let slots = w - 1;
                let mut ring =
                    cache.unwrap_or_else(|| KvCache::zeros(b, hkv, slots, dh, true, &device));
                // This query sees the whole ring and its own key; the new key is written after,
                // over the oldest, which the next query no longer sees.
                let o = kernels::decode_attention(
                    q,
                    &ring.k,
                    &ring.v,
                    ring.len,
                    Some((k.clone(), v.clone())),
                );
                // The new key replaces the one the next query no longer sees.
                let slot = pos % slots;
                ring.k = write_axis2(ring.k, slot, k);
                ring.v = write_axis2(ring.v, slot, v);
                ring.len = (ring.len + 1).min(slots);
                (o, Some(ring))
            }
        };
        (o.reshape([b, 1, h * dh]), cache)
    }

    /// `T` tokens: `q: [B,T,H,Dh]`, `k, v: [B,T,Hkv,Dh]`. Returns `o: [B,T,H·Dh]`.
    fn sequence(
        &self,
        q: Tensor<B, 4>,
        k_new: Tensor<B, 4>,
        v_new: Tensor<B, 4>,
        pos: usize,
        cache: Option<KvCache<B>>,
        capacity: Option<usize>,
    ) -> (Tensor<B, 3>, Option<KvCache<B>>) {
        let [b, t, h, dh] = q.dims();
        let hkv = self.cfg.n_kv_heads;
        let rep = h / hkv;
        let device = q.device();
        let scale = 1.0 / (dh as f64).sqrt();
        if pos == 0 && cache.as_ref().is_none_or(|c| c.is_empty()) {
            // A sequence from its start (training, prefill): the fused causal attention.
            let o = kernels::attention(
                q,
                k_new.clone(),
                v_new.clone(),
                AttentionOpts {
                    window: self.cfg.window,
                    scale,
                },
            );
            let cache = capacity.and_then(|cap| {
                KvCache::from_sequence(
                    k_new.swap_dims(1, 2),
                    v_new.swap_dims(1, 2),
                    t,
                    self.cfg.window,
                    cap,
                )
            });
            return (o.reshape([b, t, h * dh]), cache);
        }
        let (k_new, v_new) = (k_new.swap_dims(1, 2), v_new.swap_dims(1, 2)); // [B,Hkv,T,Dh]
                                                                             // A chunk continuing a global cache (chunked prefill): its keys are appended in place
                                                                             // and its queries read the cache where it lies, so the chunk's memory is its own
                                                                             // activations, whatever the cache holds.
        let cache = match cache {
            Some(c) if self.cfg.window.is_none() && capacity.is_some() && c.len == pos => {
                let c = c.append(k_new, v_new);
                let o = kernels::cached_attention(q, &c.k, &c.v, pos, scale);
                return (o.reshape([b, t, h * dh]), Some(c));
            }
            other => other,
        };
        let (k, v) = match cache.filter(|c| !c.is_empty()) {
            Some(c) => {
                let (k_old, v_old) = c.chronological(pos);
                (
                    Tensor::cat(vec![k_old, k_new], 2),
                    Tensor::cat(vec![v_old, v_new], 2),
                )
            }
            None => (k_new, v_new),
        };
        let l = k.dims()[2];
        let first_key = pos + t - l; // absolute position of k[:, :, 0]

        // Grouped queries: [B,Hkv,rep·T,Dh] against the Hkv key heads.
        let q = q
            .swap_dims(1, 2)
            .reshape([b, hkv, rep * t, dh])
            .mul_scalar(scale);
        let mut scores = q.matmul(k.clone().swap_dims(2, 3)); // [B,Hkv,rep·T,L]
        if let Some(mask) = self.mask(pos, t, first_key, l, &device) {
            scores = (scores.reshape([b, hkv, rep, t, l]) + mask.reshape([1, 1, 1, t, l]))
                .reshape([b, hkv, rep * t, l]);
        }
        let p = softmax(scores, 3);
        let o = p
            .matmul(v.clone())
            .reshape([b, h, t, dh])
            .swap_dims(1, 2)
            .reshape([b, t, h * dh]);
        let cache =
            capacity.and_then(|cap| KvCache::from_sequence(k, v, pos + t, self.cfg.window, cap));
        (o, cache)
    }
    /// Additive mask `[T, L]` (0 or −∞), or `None` when every key is visible.
    fn mask(
        &self,
        pos: usize,
        t: usize,
        first_key: usize,
        l: usize,
        device: &B::Device,
    ) -> Option<Tensor<B, 2>> {
        let mut m = vec![0.0f32; t * l];
        let mut any = false;
        for i in 0..t {
            let qp = pos + i;
            for j in 0..l {
                let kp = first_key + j;
                let hidden = kp > qp || self.cfg.window.is_some_and(|w| kp + w <= qp);
                if hidden {
                    m[i * l + j] = f32::NEG_INFINITY;
                    any = true;
                }
            }
        }
        any.then(|| Tensor::from_data(TensorData::new(m, [t, l]), device))
    }
}
