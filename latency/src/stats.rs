//! Repeated measurements: median, min, max, coefficient of variation.

use serde::{Deserialize, Serialize};
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// Standard deviation / mean.
    pub cv: f64,
    pub samples: Vec<f64>,
}

impl Stats {
    pub fn from_samples(samples: Vec<f64>) -> Self {
        assert!(!samples.is_empty(), "at least one sample");
        let mut s = samples.clone();
        s.sort_by(|a, b| a.partial_cmp(b).expect("finite timings"));
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            0.5 * (s[n / 2 - 1] + s[n / 2])
        };
        let mean = s.iter().sum::<f64>() / n as f64;
        let var = s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        Self {
            median,
            min: s[0],
            max: s[n - 1],
            mean,
            cv: if mean > 0.0 { var.sqrt() / mean } else { 0.0 },
            samples,
        }
    }
}

/// Runs `f` `warmup` times untimed, then `repeats` times timed; `sync` is called before
/// reading each clock so that lazy / asynchronous backends are measured, not queued.
pub fn measure(warmup: usize, repeats: usize, sync: &dyn Fn(), f: &mut dyn FnMut()) -> Stats {
    for _ in 0..warmup {
        f();
        sync();
    }
    let mut samples = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        sync();
        let start = Instant::now();
        f();
        sync();
        samples.push(start.elapsed().as_secs_f64());
    }
    Stats::from_samples(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_known_samples() {
        let s = Stats::from_samples(vec![3.0, 1.0, 2.0, 4.0]);
        assert_eq!((s.median, s.min, s.max, s.mean), (2.5, 1.0, 4.0, 2.5));
        assert!((s.cv - (1.25f64).sqrt() / 2.5).abs() < 1e-12);
    }
}
