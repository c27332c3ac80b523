//! Learning rate: linear warmup to `lr`, then cosine decay to `min_lr_ratio · lr`.

/// The learning rate at `step` (0-based) of `total` steps.
pub fn lr_at(step: usize, total: usize, warmup: usize, lr: f64, min_lr_ratio: f64) -> f64 {
    if warmup > 0 && step < warmup {
        return lr * (step + 1) as f64 / warmup as f64;
    }
    let decay_steps = total.saturating_sub(warmup).max(1);
    let progress = ((step - warmup.min(step)) as f64 / decay_steps as f64).min(1.0);
    let min_lr = lr * min_lr_ratio;
    min_lr + 0.5 * (lr - min_lr) * (1.0 + (std::f64::consts::PI * progress).cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine() {
        let lr = |s| lr_at(s, 110, 10, 1.0, 0.1);
        assert!((lr(0) - 0.1).abs() < 1e-12);
        assert!((lr(9) - 1.0).abs() < 1e-12);
        assert!((lr(10) - 1.0).abs() < 1e-12);
        assert!((lr(60) - 0.55).abs() < 1e-12); // half way: mean of 1 and 0.1
        assert!((lr(110) - 0.1).abs() < 1e-12);
        assert!((1..110).all(|s| lr(s) <= lr(s - 1) + 1e-12 || s <= 10));
    }
}
