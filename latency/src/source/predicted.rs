//! `source = "predicted"`: the learned predictor's latency (`ratio × reference_s`), or a
//! calibrated measurement when the prediction's 95 % interval holds the budget or is wider
//! than allowed; then the prediction is kept beside the measurement (`predicted_s`), which
//! validates the predictor.

use super::contract::{Figure, Source};
use super::measured;
use crate::config::LatencyConfig;
use crate::pricing::{Latency, LatencyOrigin, Pricer};
use flashnas_model::ArchSpec;

pub struct Predicted;

impl Source for Predicted {
    fn check(l: &LatencyConfig) -> Result<(), String> {
        match l.model_file {
            Some(_) => Ok(()),
            None => Err(
                "latency.model_file: required for source = \"predicted\" (flashnas latency-model build)"
                    .into(),
            ),
        }
    }

    /// Uncalibrated (the reference's own timing), a predictor campaign measures.
    fn figure(p: &Pricer, spec: &ArchSpec, l: &LatencyConfig) -> Result<Figure, String> {
        measured::Measured::figure(p, spec, l)
    }

    fn price(p: &Pricer, spec: &ArchSpec) -> Latency {
        let run = || -> Result<Latency, String> {
            let l = p.config();
            let unit = l.reference_s.ok_or(
                "the predictor needs latency.reference_s (pinned when the campaign starts)",
            )?;
            let pred = p.predictor()?.predict(spec);
            let (seconds, lower, upper) = (pred.ratio * unit, pred.lower * unit, pred.upper * unit);
            let straddles = l.budget_seconds().is_some_and(|b| lower <= b && b <= upper);
            if straddles || pred.uncertainty_pct() > l.predict_max_uncertainty_pct {
                let mut m = measured::calibrated(p, spec);
                if m.seconds.is_some() {
                    m.source = LatencyOrigin::MeasuredPredictionUncertain;
                }
                m.predicted_s = Some(seconds);
                return Ok(m);
            }
            Ok(Latency {
                seconds: Some(seconds),
                cv: None,
                source: LatencyOrigin::Predicted,
                raw_s: None,
                ratio: Some(pred.ratio),
                predicted_s: Some(seconds),
                retimed: None,
            })
        };
        run().unwrap_or_else(Latency::error)
    }
}
