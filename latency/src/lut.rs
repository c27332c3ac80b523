//! Per-operator lookup table: decode latency of each distinct sublayer, measured once per
//! device, predicting a whole model as the sum plus a measured fixed overhead.
//!
//! A sublayer's marginal cost is measured from two models built of it alone: `[s]` and
//! `[s, s, s]`; `e(s) = (T₃ − T₁) / 2` and the model's shell (embedding, final norm, head,
//! framework) costs `T₁ − e(s)`. The table is only trusted where its validated error on real
//! models is below a bound.

use crate::profile::decode_seconds;
use crate::stats::Stats;
use flashnas_model::kernels::Kernels;
use flashnas_model::spec::LayerEntry;
use flashnas_model::ArchSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const BURN_VERSION: &str = "0.21.0";

/// Protocol of the measurements in a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LutProtocol {
    pub prompt: usize,
    pub generate: usize,
    pub batch: usize,
    pub warmup: usize,
    pub repeats: usize,
}

/// Predicted vs measured decode time of one validation architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationRow {
    pub layers: String,
    pub measured_s: f64,
    pub predicted_s: f64,
    pub error_pct: f64,
}

/// One device's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyTable {
    pub device: String,
    pub backend: String,
    pub burn_version: String,
    pub protocol: LutProtocol,
    /// Seconds per decode run (prefill + G steps) added by one sublayer, by signature.
    pub entries: BTreeMap<String, f64>,
    /// Seconds of the model shell, by `d{d}-v{V}-m{n_meta}`.
    pub overhead: BTreeMap<String, f64>,
    pub validation: Vec<ValidationRow>,
}

/// The persistent file: tables keyed by device model, backend, burn version and protocol.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LutFile {
    pub tables: BTreeMap<String, LatencyTable>,
}

/// `device model | backend | burn version | protocol`: a table measured under another
/// decode protocol (or on another GPU model) is never reused.
pub fn table_key(device: &str, backend: &str, protocol: &LutProtocol) -> String {
    format!(
        "{device} | {backend} | burn {BURN_VERSION} | prompt {} + generate {}, batch {}",
        protocol.prompt, protocol.generate, protocol.batch
    )
}

/// Identifies every sublayer of `spec` by d_model, its kind and its fully resolved config.
pub fn signatures(spec: &ArchSpec) -> Vec<String> {
    let configs = spec.resolve().expect("validated spec");
    spec.layers
        .iter()
        .zip(&configs)
        .map(|(entry, cfg)| format!("d{}:{}:{:?}", spec.d_model, entry.kind.name(), cfg))
        .collect()
}

fn shell_key(spec: &ArchSpec) -> String {
    format!("d{}-v{}-m{}", spec.d_model, spec.vocab_size, spec.n_meta)
}

/// A model of `n` copies of `spec.layers[i]`, resolved so it no longer depends on sections.
fn repeated(spec: &ArchSpec, i: usize, n: usize) -> ArchSpec {
    let mut s = spec.clone();
    let entry: LayerEntry = spec.layers[i].clone();
    s.layers = vec![entry; n];
    s
}

impl LatencyTable {
    /// An empty table for `device` (a device model, see [`crate::profile::device_name_of`]).
    pub fn new(device: &str, protocol: LutProtocol) -> Self {
        Self {
            device: device.to_string(),
            backend: flashnas_model::backend::backend_name().into(),
            burn_version: BURN_VERSION.into(),
            protocol,
            entries: BTreeMap::new(),
            overhead: BTreeMap::new(),
            validation: Vec::new(),
        }
    }

    fn time<B: Kernels>(&self, spec: &ArchSpec, device: &B::Device, sync: &dyn Fn()) -> Stats {
        let p = &self.protocol;
        decode_seconds::<B>(
            spec, p.prompt, p.generate, p.batch, p.warmup, p.repeats, device, sync,
        )
    }

    /// Measures every sublayer of `specs` not yet in the table (and the shells).
    pub fn add<B: Kernels>(
        &mut self,
        specs: &[ArchSpec],
        device: &B::Device,
        sync: &dyn Fn(),
        on_measure: &mut dyn FnMut(&str),
    ) {
        for spec in specs {
            for (i, sig) in signatures(spec).into_iter().enumerate() {
                if self.entries.contains_key(&sig) {
                    continue;
                }
                on_measure(&sig);
                let t1 = self.time::<B>(&repeated(spec, i, 1), device, sync).median;
                let t3 = self.time::<B>(&repeated(spec, i, 3), device, sync).median;
                let e = ((t3 - t1) / 2.0).max(0.0);
                self.entries.insert(sig, e);
                self.overhead
                    .entry(shell_key(spec))
                    .or_insert((t1 - e).max(0.0));
            }
        }
    }

    /// Predicted decode seconds, or `None` when a sublayer or the shell was never measured.
    pub fn predict(&self, spec: &ArchSpec) -> Option<f64> {
        let mut total = *self.overhead.get(&shell_key(spec))?;
        for sig in signatures(spec) {
            total += self.entries.get(&sig)?;
        }
        Some(total)
    }

    /// Measures `specs` whole and records predicted vs measured error (%).
    pub fn validate<B: Kernels>(
        &mut self,
        specs: &[ArchSpec],
        device: &B::Device,
        sync: &dyn Fn(),
    ) -> Vec<ValidationRow> {
        let mut rows = Vec::new();
        for spec in specs {
            let Some(predicted) = self.predict(spec) else {
                continue;
            };
            let measured = self.time::<B>(spec, device, sync).median;
            rows.push(ValidationRow {
                layers: spec.layer_string(),
                measured_s: measured,
                predicted_s: predicted,
                error_pct: 100.0 * (predicted - measured).abs() / measured,
            });
        }
        self.validation = rows.clone();
        rows
    }

    /// The largest validated error (%), `None` before validation.
    pub fn max_error_pct(&self) -> Option<f64> {
        self.validation.iter().map(|r| r.error_pct).reduce(f64::max)
    }

    /// Whether the search may use this table under an error bound (%).
    pub fn usable(&self, bound_pct: f64) -> bool {
        self.max_error_pct().is_some_and(|e| e <= bound_pct)
    }
}

impl LutFile {
    /// Reads a table file. Keys are derived from each table's own fields (device, backend,
    /// burn version, protocol): a table from another burn version keeps its key and is never
    /// matched; one written under an older key format is filed under its full key.
    pub fn load(path: &Path) -> Result<Self, crate::Error> {
        use crate::Error;
        if !path.exists() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Table(format!("{}: cannot read: {e}", path.display())))?;
        let file: Self = serde_json::from_str(&text).map_err(|e| {
            Error::Table(format!(
                "{}: not a flashnas latency table: {e}",
                path.display()
            ))
        })?;
        let mut out = Self::default();
        for t in file.tables.into_values() {
            out.insert(t);
        }
        Ok(out)
    }

    pub fn save(&self, path: &Path) -> Result<(), crate::Error> {
        let text = serde_json::to_string_pretty(self).expect("serializable");
        flashnas_model::fsio::write_atomic(path, text.as_bytes())
            .map_err(|e| crate::Error::Table(format!("{}: cannot write: {e}", path.display())))
    }

    /// The table of this device model, backend and protocol (and this burn version).
    pub fn table(
        &self,
        device: &str,
        backend: &str,
        protocol: &LutProtocol,
    ) -> Option<&LatencyTable> {
        self.tables
            .get(&table_key(device, backend, protocol))
            .filter(|t| t.burn_version == BURN_VERSION)
    }

    pub fn insert(&mut self, table: LatencyTable) {
        let key = match table.burn_version.as_str() {
            BURN_VERSION => table_key(&table.device, &table.backend, &table.protocol),
            other => format!(
                "{} | burn {other}",
                table_key(&table.device, &table.backend, &table.protocol)
            ),
        };
        self.tables.insert(key, table);
    }
}
