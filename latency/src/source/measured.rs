//! `source = "measured"`: the model timed on the device — on its own, or interleaved with
//! the reference model (`calibrate`, then `ratio × reference_s`). A figure within
//! `latency.edge_pct` of a budget level is timed again and decided on all its timings.

use super::contract::{Figure, Source};
use crate::calibrate::WallClock;
use crate::config::LatencyConfig;
use crate::pricing::{Latency, LatencyOrigin, Pricer};
use crate::profile::calibrated_decode;
use crate::Stats;
use flashnas_model::backend::{parse_device, sync, Compute};
use flashnas_model::ArchSpec;

pub struct Measured;

impl Source for Measured {
    fn figure(p: &Pricer, spec: &ArchSpec, l: &LatencyConfig) -> Result<Figure, String> {
        let mut all = p.samples(spec, l, l.repeats)?;
        let mut retimed = None;
        if p.near_edge(Stats::from_samples(all.clone()).median) {
            all.extend(p.samples(spec, l, p.edge_repeats())?);
            retimed = Some(all.len());
        }
        let s = Stats::from_samples(all);
        Ok(Figure {
            seconds: s.median,
            cv: Some(s.cv),
            origin: LatencyOrigin::Measured,
            retimed,
        })
    }

    fn price(p: &Pricer, spec: &ArchSpec) -> Latency {
        match p.config().calibrate {
            true => calibrated(p, spec),
            false => p.uncalibrated(spec, p.config()),
        }
    }
}

/// The candidate timed interleaved with the reference: `ratio × reference_s` seconds.
pub(crate) fn calibrated(p: &Pricer, spec: &ArchSpec) -> Latency {
    let run = || -> Result<Latency, String> {
        let l = p.config();
        let reference = p
            .reference()
            .ok_or("calibration needs the reference model")?;
        let unit = l
            .reference_s
            .ok_or("calibration needs latency.reference_s (pinned when the campaign starts)")?;
        let dev = parse_device(&l.device).map_err(|e| e.to_string())?;
        #[allow(clippy::clone_on_copy)] // CudaDevice is not Copy
        let d2 = dev.clone();
        let time = |rounds: usize| {
            calibrated_decode::<Compute>(
                spec,
                reference,
                l.prompt,
                l.generate,
                rounds,
                &dev,
                &|| sync(&d2),
                &mut WallClock::default(),
            )
        };
        let first = time(l.repeats);
        let (mut ratios, mut raw, mut retimed) = (first.ratios, first.candidate.samples, None);
        if p.near_edge(first.ratio * unit) {
            let again = time(p.edge_repeats());
            ratios.extend(again.ratios);
            raw.extend(again.candidate.samples);
            retimed = Some(ratios.len());
        }
        let ratio = Stats::from_samples(ratios.clone()).median;
        Ok(Latency {
            seconds: Some(ratio * unit),
            cv: Some(Stats::from_samples(ratios).cv),
            source: LatencyOrigin::MeasuredCalibrated,
            raw_s: Some(Stats::from_samples(raw).median),
            ratio: Some(ratio),
            predicted_s: None,
            retimed,
        })
    };
    run().unwrap_or_else(Latency::error)
}
