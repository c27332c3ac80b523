//! `source = "analytic"`: the roofline model of a configured device (deterministic; nothing
//! runs on the device).

use super::contract::{Figure, Source};
use crate::config::{roofline_of, LatencyConfig};
use crate::pricing::{LatencyOrigin, Pricer};
use crate::DeviceModel;
use flashnas_model::ArchSpec;

pub struct Analytic;

impl Source for Analytic {
    const MEASURES: bool = false;

    fn check(l: &LatencyConfig) -> Result<(), String> {
        match (&l.roofline, &l.roofline_device) {
            (_, Some(d)) => d
                .validate()
                .map_err(|e| format!("latency.roofline_device.{e}")),
            (Some(p), None) => DeviceModel::preset(p)
                .map(|_| ())
                .map_err(|e| format!("latency.roofline: {e}")),
            (None, None) => Err("latency.roofline: set a preset (cpu-2core, a100, h100, h200) or latency.roofline_device for source = \"analytic\"".into()),
        }
    }

    fn figure(_p: &Pricer, spec: &ArchSpec, l: &LatencyConfig) -> Result<Figure, String> {
        let dev = roofline_of(l).ok_or("no roofline device configured")?;
        Ok(Figure {
            seconds: dev.decode_seconds(spec, l.prompt, l.generate, 1),
            cv: None,
            origin: LatencyOrigin::Analytic,
            retimed: None,
        })
    }
}
