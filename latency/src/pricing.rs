//! Pricing a candidate: the one place that decides how a latency figure is obtained.
//!
//! A campaign's `[latency]` section names a source (timed on the device, timed against a
//! reference model, a lookup table, the learned predictor, the roofline); a [`Pricer`] built
//! from it owns what that source needs (the device lock, the lookup-table file, the predictor,
//! the pinned reference) and answers [`Pricer::price`] for any architecture. The search's
//! driver (fitting widths to the budget), its workers and the validation stage all call it.

use crate::config::LatencyConfig;
use crate::device_lock::{DeviceGuard, DeviceLock};
use crate::predictor::LatencyModel;
use crate::profile::{decode_seconds, device_name_of};
use crate::LatencySource;
use flashnas_model::backend::{parse_device, sync, Compute};
use flashnas_model::fsio::resolve_path;
use flashnas_model::ArchSpec;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where a latency figure came from (the journal spells it as a string: `measured`,
/// `measured (calibrated)`, `lut`, `measured (lut not yet validated)`, `analytic`, `skipped`
/// or `error: <reason>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LatencyOrigin {
    /// Timed on the device.
    Measured,
    /// Timed interleaved with the reference model: `ratio × reference_s`.
    MeasuredCalibrated,
    /// Predicted by a validated lookup table.
    Lut,
    /// Timed because the lookup table is not validated yet (the timing validates it).
    MeasuredLutNotValidated,
    /// The roofline estimate.
    Analytic,
    /// The learned predictor, sure enough of it.
    Predicted,
    /// Timed because the predictor was unsure or its interval held the budget.
    MeasuredPredictionUncertain,
    /// Not priced (the candidate was not evaluated).
    #[default]
    Skipped,
    /// Pricing failed, with the reason.
    Error(String),
}

impl LatencyOrigin {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "measured" => Self::Measured,
            "measured (calibrated)" => Self::MeasuredCalibrated,
            "lut" => Self::Lut,
            "measured (lut not yet validated)" => Self::MeasuredLutNotValidated,
            "analytic" => Self::Analytic,
            "predicted" => Self::Predicted,
            "measured (prediction uncertain)" => Self::MeasuredPredictionUncertain,
            "skipped" => Self::Skipped,
            _ => Self::Error(s.strip_prefix("error: ")?.to_string()),
        })
    }
}

impl std::fmt::Display for LatencyOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Measured => "measured",
            Self::MeasuredCalibrated => "measured (calibrated)",
            Self::Lut => "lut",
            Self::MeasuredLutNotValidated => "measured (lut not yet validated)",
            Self::Analytic => "analytic",
            Self::Predicted => "predicted",
            Self::MeasuredPredictionUncertain => "measured (prediction uncertain)",
            Self::Skipped => "skipped",
            Self::Error(e) => return write!(f, "error: {e}"),
        })
    }
}

impl PartialEq<&str> for LatencyOrigin {
    fn eq(&self, other: &&str) -> bool {
        Self::parse(other).as_ref() == Some(self)
    }
}

impl Serialize for LatencyOrigin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LatencyOrigin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("'{s}' is not a latency source (measured, measured (calibrated), lut, measured (lut not yet validated), analytic, skipped, error: …)"))
        })
    }
}

/// A latency figure and where it came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// The campaign's latency: raw seconds, or `ratio × reference_s` when calibrated.
    pub seconds: Option<f64>,
    pub cv: Option<f64>,
    pub source: LatencyOrigin,
    /// Raw seconds as timed (differs from `seconds` when calibrated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_s: Option<f64>,
    /// In reference units (candidate / reference), when the campaign has a reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    /// What the predictor said (`source = "predicted"`), also when it was then measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_s: Option<f64>,
    /// The timings behind the figure when the first landed near a budget level and it was
    /// timed again (`latency.edge_pct`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retimed: Option<usize>,
}

impl Latency {
    /// A figure that could not be obtained, with the reason.
    pub fn error(reason: impl Into<String>) -> Self {
        Self {
            source: LatencyOrigin::Error(reason.into()),
            ..Default::default()
        }
    }

    /// Not priced (the candidate was not evaluated).
    pub fn skipped() -> Self {
        Self::default()
    }
}

/// Why a candidate priced at `seconds` is left untrained under `l` (latency first: over the
/// budget, and `train_over_budget` off), or `None` when it is to be trained.
pub fn untrained_reason(l: &LatencyConfig, seconds: Option<f64>) -> Option<String> {
    if l.train_over_budget {
        return None;
    }
    let (budget, s) = (l.budget_seconds()?, seconds?);
    (s > budget).then(|| format!("latency {s:.6} s is over the budget {budget:.6} s"))
}

/// Prices architectures under one latency protocol.
pub struct Pricer {
    config: LatencyConfig,
    /// Folder that relative paths (lookup table, predictor file) are resolved against.
    base: PathBuf,
    /// The model calibrated latencies and the predictor's ratios are taken against.
    reference: Option<ArchSpec>,
    /// Where the device lock lives; opened on first use.
    lock_dir: Option<PathBuf>,
    /// Held exclusively while timing, so that nothing trains on the device meanwhile.
    lock: OnceLock<Option<DeviceLock>>,
    /// Loaded on first use and checked against the protocol once.
    predictor: OnceLock<Result<LatencyModel, String>>,
    /// The budget levels (fractions of the budget) decided at: a measurement near one of them
    /// is timed again (`latency.edge_pct`).
    edge_levels: Vec<f64>,
}

impl Pricer {
    /// A pricer for `config`; `lock_dir` holds the device locks shared with every process of
    /// the campaign (its folder), `None` for no lock.
    pub fn new(
        config: LatencyConfig,
        base: &Path,
        lock_dir: Option<&Path>,
        reference: Option<ArchSpec>,
    ) -> Self {
        Self {
            config,
            base: base.to_path_buf(),
            reference,
            lock_dir: lock_dir.map(Path::to_path_buf),
            lock: OnceLock::new(),
            predictor: OnceLock::new(),
            edge_levels: vec![1.0],
        }
    }

    /// The budget levels (fractions of the budget; the budget itself is always one) at which
    /// the caller decides: a measured latency within `latency.edge_pct` of any is re-timed.
    pub fn set_edge_levels(&mut self, levels: &[f64]) {
        let mut all: Vec<f64> = levels.iter().copied().filter(|l| *l > 0.0).collect();
        all.push(1.0);
        all.sort_by(|a, b| a.total_cmp(b));
        all.dedup();
        self.edge_levels = all;
    }

    /// Whether `seconds` lies within `latency.edge_pct` of a budget level: a verdict there is
    /// inside the timing noise.
    pub fn near_edge(&self, seconds: f64) -> bool {
        let Some(budget) = self.config.budget_seconds() else {
            return false;
        };
        let band = self.config.edge_pct / 100.0;
        band > 0.0
            && self
                .edge_levels
                .iter()
                .any(|l| (seconds / (l * budget) - 1.0).abs() <= band)
    }

    /// Repeats of the second timing near an edge.
    pub(crate) fn edge_repeats(&self) -> usize {
        3 * self.config.repeats
    }

    pub fn config(&self) -> &LatencyConfig {
        &self.config
    }

    /// Pins the reference's seconds (`latency.reference_s`), the unit of calibrated figures.
    pub fn set_reference_s(&mut self, seconds: f64) {
        self.config.reference_s = Some(seconds);
    }

    /// The device's lock, opened on first use (none when its folder cannot be written: the
    /// lock only orders this host's processes, so pricing goes on without it).
    fn lock(&self) -> Option<&DeviceLock> {
        self.lock
            .get_or_init(|| {
                let dir = self.lock_dir.as_ref()?;
                DeviceLock::open(dir, &self.config.device).ok()
            })
            .as_ref()
    }

    /// The device held shared, for training beside other processes' timings.
    pub fn training_guard(&self) -> Option<DeviceGuard<'_>> {
        self.lock().map(|l| l.shared())
    }

    /// Why a candidate priced at `seconds` is not trained (see [`untrained_reason`]).
    pub fn untrained_reason(&self, seconds: Option<f64>) -> Option<String> {
        untrained_reason(&self.config, seconds)
    }

    fn measuring(&self) -> Option<DeviceGuard<'_>> {
        match self.config.source.measures() {
            false => None,
            true => self.lock().map(|l| l.exclusive()),
        }
    }

    /// Decode latency of `spec` under the protocol. With `latency.calibrate`, timed
    /// interleaved with the reference; with the predictor, predicted unless unsure.
    pub fn price(&self, spec: &ArchSpec) -> Latency {
        let _exclusive = self.measuring();
        self.config.source.price(self, spec)
    }

    /// Generated tokens/s of `spec` decoding `batch` sequences of `context` tokens on the
    /// protocol's device (`steps` steps, median of `repeats` timings), holding the device as
    /// a timing does.
    pub fn throughput(
        &self,
        spec: &ArchSpec,
        batch: usize,
        context: usize,
        steps: usize,
        repeats: usize,
    ) -> Result<crate::Stats, String> {
        let _exclusive = self.lock().map(|l| l.exclusive());
        let dev = parse_device(&self.config.device).map_err(|e| e.to_string())?;
        #[allow(clippy::clone_on_copy)] // CudaDevice is not Copy
        let d2 = dev.clone();
        Ok(crate::profile::decode_throughput::<Compute>(
            spec,
            batch,
            context,
            steps,
            repeats,
            &dev,
            &move || sync(&d2),
        ))
    }

    /// Seconds of the reference model under the protocol, uncalibrated (at least 5 repeats
    /// when measured): the unit pinned as `latency.reference_s`.
    pub fn reference_seconds(&self) -> Result<f64, String> {
        let reference = self
            .reference
            .as_ref()
            .ok_or("the campaign has no reference model")?;
        let mut l = self.config.clone();
        l.calibrate = false;
        l.repeats = l.repeats.max(5);
        if l.source == LatencySource::Predicted {
            l.source = LatencySource::Measured;
        }
        let _exclusive = self.measuring();
        let out = self.uncalibrated(reference, &l);
        out.seconds
            .ok_or_else(|| format!("the reference model's latency: {}", out.source))
    }

    /// The predictor, loaded once and checked against the campaign's device and protocol.
    pub(crate) fn predictor(&self) -> Result<&LatencyModel, String> {
        let loaded = self.predictor.get_or_init(|| {
            let l = &self.config;
            let reference = self
                .reference
                .as_ref()
                .ok_or("the predictor needs the reference model")?;
            let file = l.model_file.as_deref().ok_or("latency.model_file missing")?;
            let path = resolve_path(file, &self.base);
            let model = LatencyModel::load(&path).map_err(|e| e.to_string())?;
            let want = format!("{} w{}", reference.layer_string(), reference.d_model);
            let device = device_name_of(&l.device);
            if model.reference != want
                || model.device != device
                || model.backend != flashnas_model::backend::backend_name()
                || (model.protocol.prompt, model.protocol.generate) != (l.prompt, l.generate)
            {
                return Err(format!(
                    "{}: built for {}, the campaign runs {device} with reference {want}, prompt {} + generate {}",
                    path.display(),
                    model.key(),
                    l.prompt,
                    l.generate
                ));
            }
            Ok(model)
        });
        loaded.as_ref().map_err(Clone::clone)
    }

    /// Seconds of `repeats` timings of batch-1 decoding of `spec` under the protocol of `l`.
    pub(crate) fn samples(
        &self,
        spec: &ArchSpec,
        l: &LatencyConfig,
        repeats: usize,
    ) -> Result<Vec<f64>, String> {
        let dev = parse_device(&l.device).map_err(|e| e.to_string())?;
        #[allow(clippy::clone_on_copy)] // CudaDevice is not Copy
        let d2 = dev.clone();
        let s = decode_seconds::<Compute>(
            spec,
            l.prompt,
            l.generate,
            1,
            1,
            repeats,
            &dev,
            &move || sync(&d2),
        );
        Ok(s.samples)
    }

    /// The source's uncalibrated figure as the campaign's latency (with its ratio to the
    /// pinned reference when there is one).
    pub(crate) fn uncalibrated(&self, spec: &ArchSpec, l: &LatencyConfig) -> Latency {
        match l.source.figure(self, spec, l) {
            Ok(f) => Latency {
                seconds: Some(f.seconds),
                cv: f.cv,
                source: f.origin,
                raw_s: Some(f.seconds),
                ratio: l.reference_s.map(|r| f.seconds / r),
                predicted_s: None,
                retimed: f.retimed,
            },
            Err(e) => Latency::error(e),
        }
    }

    /// Folder relative paths (lookup table, predictor file) are resolved against.
    pub(crate) fn base(&self) -> &Path {
        &self.base
    }

    /// The reference model (calibration, the predictor's unit).
    pub(crate) fn reference(&self) -> Option<&ArchSpec> {
        self.reference.as_ref()
    }
}
