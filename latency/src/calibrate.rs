//! Calibrated measurement: time a candidate interleaved with a fixed reference model
//! (A B A B … A) and report the candidate's latency as a ratio to the reference.
//!
//! On a shared machine the speed of the whole machine drifts (other jobs, frequency, memory
//! traffic) by tens of percent between campaigns; a candidate and a reference measured
//! moments apart drift together, so their ratio stays put. Each candidate timing `B_i` is
//! divided by the mean of the reference timings on either side of it, and the ratio reported
//! is the median over rounds.

use crate::stats::Stats;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Where the timings come from: the wall clock, or a scripted one in tests.
pub trait Clock {
    /// Seconds since an arbitrary origin.
    fn now(&mut self) -> f64;
}

/// The monotonic wall clock.
pub struct WallClock(Instant);

impl Default for WallClock {
    fn default() -> Self {
        Self(Instant::now())
    }
}

impl Clock for WallClock {
    fn now(&mut self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

/// A candidate's latency measured against the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibrated {
    /// Raw seconds of the candidate (median over rounds).
    pub raw_s: f64,
    /// Raw seconds of the reference (median over its R + 1 timings).
    pub reference_s: f64,
    /// Median over rounds of `B_i / ((A_i + A_{i+1}) / 2)`: the candidate in reference units.
    pub ratio: f64,
    pub candidate: Stats,
    pub reference: Stats,
    pub ratios: Vec<f64>,
}

/// Runs `warmup` untimed calls of each, then `A (B A) × rounds`; `sync` is called before
/// every clock read so that asynchronous devices are measured, not queued.
pub fn calibrated(
    rounds: usize,
    warmup: usize,
    candidate: &mut dyn FnMut(),
    reference: &mut dyn FnMut(),
    sync: &dyn Fn(),
    clock: &mut dyn Clock,
) -> Calibrated {
    let rounds = rounds.max(1);
    for _ in 0..warmup {
        reference();
        candidate();
    }
    let time = |f: &mut dyn FnMut(), clock: &mut dyn Clock| {
        sync();
        let start = clock.now();
        f();
        sync();
        clock.now() - start
    };
    let mut refs = vec![time(reference, clock)];
    let mut cands = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        cands.push(time(candidate, clock));
        refs.push(time(reference, clock));
    }
    let ratios: Vec<f64> = cands
        .iter()
        .enumerate()
        .map(|(i, b)| b / (0.5 * (refs[i] + refs[i + 1])))
        .collect();
    let candidate = Stats::from_samples(cands);
    let reference = Stats::from_samples(refs);
    let ratio = Stats::from_samples(ratios.clone()).median;
    Calibrated {
        raw_s: candidate.median,
        reference_s: reference.median,
        ratio,
        candidate,
        reference,
        ratios,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns scripted instants: each timed call advances by the next scripted duration.
    struct Script {
        t: f64,
        durations: Vec<f64>,
        reads: usize,
    }

    impl Clock for Script {
        fn now(&mut self) -> f64 {
            // Reads come in pairs (start, end): the end read adds the call's duration.
            if self.reads % 2 == 1 {
                self.t += self.durations[self.reads / 2];
            }
            self.reads += 1;
            self.t
        }
    }

    #[test]
    fn ratio_cancels_a_machine_that_slows_down() {
        // The machine slows 2× halfway: A = 1, B = 1.5 (ratio 1.5), then A = 2, B = 3.
        let durations = vec![1.0, 1.5, 1.0, 1.5, 1.0, 3.0, 2.0, 3.0, 2.0];
        let mut clock = Script {
            t: 0.0,
            durations,
            reads: 0,
        };
        let (mut a, mut b) = (0, 0);
        let c = calibrated(4, 1, &mut || b += 1, &mut || a += 1, &|| {}, &mut clock);
        assert_eq!((a, b), (1 + 5, 1 + 4), "warm-up once, then A (B A) × 4");
        // Rounds: 1.5/1, 1.5/1, 3/1.5 (the step sits between A = 1 and A = 2), 3/2.
        assert_eq!(c.ratios, vec![1.5, 1.5, 2.0, 1.5]);
        assert_eq!(c.ratio, 1.5);
        assert_eq!(c.raw_s, 2.25); // median of 1.5, 1.5, 3, 3
        assert_eq!(c.reference_s, 1.0); // median of 1, 1, 1, 2, 2
                                        // Deterministic given the timings.
        let mut again = Script {
            t: 0.0,
            durations: vec![1.0, 1.5, 1.0, 1.5, 1.0, 3.0, 2.0, 3.0, 2.0],
            reads: 0,
        };
        let d = calibrated(4, 1, &mut || {}, &mut || {}, &|| {}, &mut again);
        assert_eq!(c, d);
    }
}
