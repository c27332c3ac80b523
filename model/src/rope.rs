//! Rotary position embedding, HF "rotate-half" (neox) layout (§3.4).
//!
//! `inv_freq` and the angles are computed in f32 on the host exactly as HF does, then
//! uploaded as `[T, D]` cos / sin tables for positions `start .. start+T`. A [`RopeTable`]
//! holds the rows of a whole decode protocol, so that a decode step reads its row instead of
//! building and uploading one.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

/// cos and sin tables `[len, head_dim]` for positions `start .. start + len`.
pub fn rope_tables<B: Backend>(
    start: usize,
    len: usize,
    head_dim: usize,
    theta: f64,
    device: &B::Device,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let half = head_dim / 2;
    let theta = theta as f32;
    let inv_freq: Vec<f32> = (0..half)
        .map(|i| 1.0 / theta.powf((2 * i) as f32 / head_dim as f32))
        .collect();
    let mut cos = Vec::with_capacity(len * head_dim);
    let mut sin = Vec::with_capacity(len * head_dim);
    for p in start..start + len {
        let p = p as f32;
        for _rep in 0..2 {
            for f in &inv_freq {
                let a = p * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
    }
    (
        Tensor::from_data(TensorData::new(cos, [len, head_dim]), device),
        Tensor::from_data(TensorData::new(sin, [len, head_dim]), device),
    )
}

/// Precomputed cos / sin rows for positions `0 .. len` of one (head_dim, theta).
#[derive(Debug, Clone)]
pub struct RopeTable<B: Backend> {
    pub head_dim: usize,
    pub theta: f64,
    cos: Tensor<B, 2>,
    sin: Tensor<B, 2>,
}

impl<B: Backend> RopeTable<B> {
    pub fn new(head_dim: usize, theta: f64, len: usize, device: &B::Device) -> Self {
        let (cos, sin) = rope_tables::<B>(0, len.max(1), head_dim, theta, device);
        Self {
            head_dim,
            theta,
            cos,
            sin,
        }
    }

    pub fn len(&self) -> usize {
        self.cos.dims()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn matches(&self, head_dim: usize, theta: f64) -> bool {
        self.head_dim == head_dim && self.theta == theta
    }

    /// Rows for positions `start .. start + len`: views of the table, or computed when the
    /// table is too short (bit-identical either way: same host arithmetic).
    pub fn rows(&self, start: usize, len: usize) -> (Tensor<B, 2>, Tensor<B, 2>) {
        if start + len <= self.len() {
            (
                self.cos.clone().narrow(0, start, len),
                self.sin.clone().narrow(0, start, len),
            )
        } else {
            rope_tables::<B>(start, len, self.head_dim, self.theta, &self.cos.device())
        }
    }
}

/// Applies RoPE to `x: [B, T, H, D]` with tables `[T, D]`.
pub fn apply_rope<B: Backend>(
    x: Tensor<B, 4>,
    cos: &Tensor<B, 2>,
    sin: &Tensor<B, 2>,
) -> Tensor<B, 4> {
    let [_, t, _, d] = x.dims();
    let half = d / 2;
    let rotated = Tensor::cat(
        vec![
            x.clone().narrow(3, half, half).neg(),
            x.clone().narrow(3, 0, half),
        ],
        3,
    );
    let cos = cos.clone().reshape([1, t, 1, d]);
    let sin = sin.clone().reshape([1, t, 1, d]);
    x * cos + rotated * sin
}
