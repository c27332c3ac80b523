//! Seeded initialization (§9): every tensor drawn on the host from a ChaCha stream.
//!
//! Each tensor gets its own stream (the seed, and a hash of the tensor's §10 name as the
//! stream id), so the weights of a layer do not depend on which other layers exist or on the
//! backend: the same spec and seed give the same numbers on CPU and GPU.

use crate::tensors::{Init, TensorSpec};
use crate::weights::{HostTensor, WeightMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

fn softplus_inv(y: f32) -> f32 {
    // y + log(−expm1(−y)), stable for small y.
    y + (-(-y).exp_m1()).ln()
}

/// FNV-1a, a fixed hash (std's hasher may change between Rust releases).
pub fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// Draws one tensor.
pub fn sample(init: Init, numel: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    match init {
        Init::Normal(std) => {
            let n = Normal::new(0.0f32, std).expect("finite std");
            (0..numel).map(|_| n.sample(rng)).collect()
        }
        Init::Uniform(a) => (0..numel).map(|_| rng.gen_range(-a..=a)).collect(),
        Init::Const(c) => vec![c; numel],
        Init::LogUniform(lo, hi) => (0..numel)
            .map(|_| {
                // U(0,16) can draw 0; keep A_log finite.
                let u: f32 = rng.gen_range(lo..hi);
                u.max(1e-4).ln()
            })
            .collect(),
        Init::DtBias => (0..numel)
            .map(|_| {
                let log_dt = rng.gen_range((1e-3f32).ln()..(1e-1f32).ln());
                softplus_inv(log_dt.exp().max(1e-4))
            })
            .collect(),
    }
}

/// The initial weights of a tensor list, seeded.
pub fn initial_weights(tensors: &[TensorSpec], seed: u64) -> WeightMap {
    tensors
        .iter()
        .map(|t| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(fnv1a(&t.name));
            let data = sample(t.init, t.numel(), &mut rng);
            (t.name.clone(), HostTensor::new(t.shape.clone(), data))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_inverse_inverts() {
        for y in [1e-4f32, 1e-3, 0.01, 0.1, 1.0] {
            let x = softplus_inv(y);
            let back = (1.0 + x.exp()).ln();
            assert!((back - y).abs() / y < 1e-3, "{y} -> {x} -> {back}");
        }
    }
}
