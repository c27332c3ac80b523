//! `source = "lut"`: the sum of measured sublayers from the lookup table once the table is
//! validated; until then a measurement, which validates it. The table file is read and
//! written on every call: workers of the same campaign add to it.

use super::contract::{Figure, Source};
use crate::config::LatencyConfig;
use crate::lut::{LatencyTable, LutFile, ValidationRow};
use crate::pricing::{LatencyOrigin, Pricer};
use crate::profile::device_name_of;
use crate::Stats;
use flashnas_model::backend::{parse_device, sync, Compute};
use flashnas_model::fsio::resolve_path;
use flashnas_model::ArchSpec;

pub struct Lut;

impl Source for Lut {
    fn check(l: &LatencyConfig) -> Result<(), String> {
        match l.lut_file {
            Some(_) => Ok(()),
            None => Err("latency.lut_file: required for source = \"lut\"".into()),
        }
    }

    fn figure(p: &Pricer, spec: &ArchSpec, l: &LatencyConfig) -> Result<Figure, String> {
        let path = resolve_path(
            l.lut_file.as_deref().ok_or("latency.lut_file missing")?,
            p.base(),
        );
        let mut file = if path.exists() {
            LutFile::load(&path).map_err(|e| e.to_string())?
        } else {
            LutFile::default()
        };
        let dev_name = device_name_of(&l.device);
        let backend = flashnas_model::backend::backend_name();
        let protocol = l.lut_protocol();
        // Only a table of this device model, backend and protocol is reused.
        let mut table = file
            .table(&dev_name, backend, &protocol)
            .cloned()
            .unwrap_or_else(|| LatencyTable::new(&dev_name, protocol));
        let dev = parse_device(&l.device).map_err(|e| e.to_string())?;
        #[allow(clippy::clone_on_copy)] // CudaDevice is not Copy
        let d2 = dev.clone();
        let s = move || sync(&d2);
        table.add::<Compute>(std::slice::from_ref(spec), &dev, &s, &mut |_| {});
        let predicted = table.predict(spec).expect("entries added");
        let out = if table.usable(l.lut_max_error_pct) {
            Ok(Figure {
                seconds: predicted,
                cv: None,
                origin: LatencyOrigin::Lut,
                retimed: None,
            })
        } else {
            // Not (yet) trusted: measure, and let the measurement validate the table.
            let measured = p.samples(spec, l, l.repeats).map(Stats::from_samples);
            if let Ok(m) = &measured {
                table.validation.push(ValidationRow {
                    layers: spec.layer_string(),
                    measured_s: m.median,
                    predicted_s: predicted,
                    error_pct: 100.0 * (predicted - m.median).abs() / m.median,
                });
            }
            measured.map(|m| Figure {
                seconds: m.median,
                cv: Some(m.cv),
                origin: LatencyOrigin::MeasuredLutNotValidated,
                retimed: None,
            })
        };
        file.insert(table);
        file.save(&path).map_err(|e| e.to_string())?;
        out
    }
}
