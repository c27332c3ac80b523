//! Causal attention with GQA, RoPE and an optional sliding window (§5): kinds `attention`
//! and `swa`.
//!
//! One function serves training, prefill and decode: queries at absolute positions
//! `pos .. pos+T` attend over `cache ∪ new keys`, masked causally (and to the last `w` keys for
//! swa). The cache holds post-RoPE keys and values, `[B, Hkv, L, Dh]`; for swa it is a window
//! of the last `w − 1` positions (all a future query can still see).

use crate::linear::linear;
use crate::rms_norm::rms_norm;
use crate::rope::{apply_rope, rope_tables};
use crate::spec::AttentionConfig;
use crate::tensors::{Init, TensorSpec};
use crate::weights::{WeightError, WeightReader, WeightWriter};
use burn::module::{Module, Param};
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

/// Keys and values of the positions a future query may attend to.
#[derive(Debug, Clone)]
pub struct KvCache<B: Backend> {
    /// `[B, Hkv, L, Dh]`, post-RoPE (post qk-norm).
    pub k: Tensor<B, 4>,
    pub v: Tensor<B, 4>,
}

impl<B: Backend> KvCache<B> {
    pub fn len(&self) -> usize {
        self.k.dims()[2]
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    /// Projects, normalizes and rotates one kind of head: `[B,T,d] → [B,heads,T,Dh]`.
    fn heads(
        &self,
        x: Tensor<B, 3>,
        w: &Param<Tensor<B, 2>>,
        norm: &Option<Param<Tensor<B, 1>>>,
        heads: usize,
        rope: Option<&(Tensor<B, 2>, Tensor<B, 2>)>,
    ) -> Tensor<B, 4> {
        let [b, t, _] = x.dims();
        let mut y = linear(x, w, None).reshape([b, t, heads, self.cfg.head_dim]);
        if let Some(n) = norm {
            y = rms_norm(y, n.val(), self.cfg.qk_norm_eps);
        }
        if let Some((cos, sin)) = rope {
            y = apply_rope(y, cos, sin);
        }
        y.swap_dims(1, 2)
    }

    /// Attends the `T` tokens of `x` (absolute positions `pos..pos+T`) over the cache and
    /// themselves. Returns the output `[B,T,d]` and the cache to carry on.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        pos: usize,
        cache: Option<KvCache<B>>,
    ) -> (Tensor<B, 3>, Option<KvCache<B>>) {
        let [b, t, _] = x.dims();
        let device = x.device();
        let AttentionConfig {
            n_heads: h,
            n_kv_heads: hkv,
            head_dim: dh,
            ..
        } = self.cfg;
        let rope = rope_tables::<B>(pos, t, dh, self.cfg.rope_theta, &device);
        let q = self.heads(x.clone(), &self.q_proj, &self.q_norm, h, Some(&rope));
        let k_new = self.heads(x.clone(), &self.k_proj, &self.k_norm, hkv, Some(&rope));
        let v_new = self.heads(x, &self.v_proj, &None, hkv, None);

        let (k, v) = match cache {
            Some(c) if !c.is_empty() => (
                Tensor::cat(vec![c.k, k_new], 2),
                Tensor::cat(vec![c.v, v_new], 2),
            ),
            _ => (k_new, v_new),
        };
        let l = k.dims()[2];
        let first_key = pos + t - l; // absolute position of k[:, :, 0]

        let rep = h / hkv;
        let expand = |x: Tensor<B, 4>| {
            if rep == 1 {
                x
            } else {
                x.unsqueeze_dim::<5>(2)
                    .expand([b, hkv, rep, l, dh])
                    .reshape([b, h, l, dh])
            }
        };
        let scale = 1.0 / (dh as f64).sqrt();
        let mut scores = q
            .matmul(expand(k.clone()).swap_dims(2, 3))
            .mul_scalar(scale); // [B,H,T,L]
        if let Some(mask) = self.mask(pos, t, first_key, l, &device) {
            scores = scores + mask.reshape([1, 1, t, l]);
        }
        let p = softmax(scores, 3);
        let o = p
            .matmul(expand(v.clone()))
            .swap_dims(1, 2)
            .reshape([b, t, h * dh]);
        let out = linear(o, &self.o_proj, None);

        // Keep what a later query can still see: everything, or the last w − 1 keys.
        let keep = match self.cfg.window {
            None => l,
            Some(w) => l.min(w - 1),
        };
        let cache = (keep > 0).then(|| KvCache {
            k: k.narrow(2, l - keep, keep),
            v: v.narrow(2, l - keep, keep),
        });
        (out, cache)
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
