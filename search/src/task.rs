//! One unit of work for an executor: train a candidate with the proxy and time it.
//!
//! The driver writes `DIR/candidates/<name>/task.json`; whoever evaluates it (the driver itself,
//! a local worker process, a Slurm job) runs [`evaluate_task`] and publishes
//! `DIR/candidates/<name>/result.json` with [`publish_result`]. Publishing is exclusive (a
//! hard link of a fully written, fsync'ed temp file, which fails when the name exists), so a
//! result is accepted once; a second result for the same candidate is ignored and logged in
//! `ignored.log` beside it.

use crate::error::{Error, Result};
use flashnas_latency::calibrate::WallClock;
use flashnas_latency::config::LatencyConfig;
use flashnas_latency::lut::{LatencyTable, LutFile, ValidationRow};
use flashnas_latency::profile::{calibrated_decode, decode_seconds};
use flashnas_latency::LatencySource;
use flashnas_model::backend::{device, parse_device, sync, Compute, Train};
use flashnas_model::ArchSpec;
use flashnas_training::{train, Dataset, ProxyResult, Status, TrainConfig};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to evaluate. Self-contained: a worker on another node needs only this file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Folder name under `candidates/` (e.g. `7`, `audit-x4-7`, `D6-W64`).
    pub name: String,
    /// Identity the driver checks a result against (a stale result of another proposal is refused).
    pub proposal_key: String,
    pub spec: ArchSpec,
    /// Training config, seed included.
    pub train: TrainConfig,
    /// Latency protocol, or `None` to skip timing (e.g. the proxy audit).
    pub latency: Option<LatencyConfig>,
    /// Latency already measured by the driver (the fit-the-budget width rule), reused as is.
    #[serde(default)]
    pub known_latency: Option<Latency>,
    /// Folder that relative paths (data, LUT file) are resolved against.
    pub base_dir: PathBuf,
    /// The reference model latencies are calibrated against (`latency.calibrate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ArchSpec>,
}

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
}

/// What an evaluation produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    pub name: String,
    pub proposal_key: String,
    pub proxy: ProxyResult,
    pub latency: Latency,
    pub eval_seconds: f64,
    /// `host:pid` of the process that evaluated it, or the executor that gave up on it.
    pub worker: String,
    /// Attempt that produced it (1 = first try).
    pub attempt: usize,
}

impl TaskResult {
    /// The record of a candidate no executor could evaluate.
    pub fn gave_up(task: &Task, reason: String, attempt: usize, executor: &str) -> Self {
        Self {
            name: task.name.clone(),
            proposal_key: task.proposal_key.clone(),
            proxy: ProxyResult::failed(
                Status::Error { reason },
                flashnas_model::accounting::param_count(&task.spec),
            ),
            latency: Latency {
                seconds: None,
                cv: None,
                source: LatencyOrigin::Skipped,
                ..Default::default()
            },
            eval_seconds: 0.0,
            worker: executor.into(),
            attempt,
        }
    }
}

pub fn candidate_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join("candidates").join(name)
}

/// Writes a candidate file (`candidates/<name>/…`) atomically. A failure is an error of the
/// run (named with `flashnas resume` of the run folder; a study or audit renames it).
fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    // candidates/<name>/<file>: the run folder is three levels up.
    let run = path.ancestors().nth(3).unwrap_or(Path::new("."));
    let resume = format!("flashnas resume {}", run.display());
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::write(parent, &e, &resume))?;
    }
    flashnas_model::fsio::write_atomic(
        path,
        serde_json::to_string_pretty(value)
            .expect("json")
            .as_bytes(),
    )
    .map_err(|e| Error::write(path, &e, &resume))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| Error::file(path, e))
}

/// Writes `candidates/<name>/task.json` atomically.
pub fn write_task(dir: &Path, task: &Task) -> Result<()> {
    write_json(&candidate_dir(dir, &task.name).join("task.json"), task)
}

pub fn read_task(dir: &Path, name: &str) -> Result<Task> {
    read_json(&candidate_dir(dir, name).join("task.json"))
}

/// The published result of `name`, if there is one for this proposal. A result of another
/// proposal (a stale folder from a changed config) is moved aside.
pub fn read_result(dir: &Path, name: &str, proposal_key: &str) -> Option<TaskResult> {
    let path = candidate_dir(dir, name).join("result.json");
    if !path.exists() {
        return None;
    }
    match read_json::<TaskResult>(&path) {
        Ok(r) if r.proposal_key == proposal_key => Some(r),
        _ => {
            let aside = path.with_extension(format!(
                "json.stale-{}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0)
            ));
            let _ = std::fs::rename(&path, aside);
            None
        }
    }
}

/// Publishes a result exactly once. `Ok(false)`: a result was already there; this one is
/// ignored and logged in `ignored.log`.
pub fn publish_result(dir: &Path, result: &TaskResult) -> Result<bool> {
    let folder = candidate_dir(dir, &result.name);
    let cannot = |path: &Path, e: std::io::Error| {
        Error::file(
            path,
            if flashnas_model::fsio::is_disk_full(&e) {
                format!("disk full, the result cannot be written ({e})")
            } else {
                format!("the result cannot be written ({e})")
            },
        )
    };
    std::fs::create_dir_all(&folder).map_err(|e| cannot(&folder, e))?;
    let target = folder.join("result.json");
    let tmp = folder.join(format!(".result.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(
            serde_json::to_string_pretty(result)
                .expect("json")
                .as_bytes(),
        )?;
        flashnas_model::fsio::injected_fault(&target)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(cannot(&target, e));
    }
    // A hard link publishes only if no result is there yet (a rename would replace one).
    let linked = std::fs::hard_link(&tmp, &target);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Ok(d) = std::fs::File::open(&folder) {
                let _ = d.sync_all();
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let line = format!(
                "{} attempt {}: a result was already accepted; this one (val loss {:?}) is ignored\n",
                result.worker, result.attempt, result.proxy.val_loss
            );
            // The accepted result is safe; a lost line of this log costs nothing.
            if let Err(e) =
                flashnas_model::fsio::append_durable(&folder.join("ignored.log"), line.as_bytes())
            {
                eprintln!("{}: {e}", folder.join("ignored.log").display());
            }
            Ok(false)
        }
        Err(e) => Err(cannot(&target, e)),
    }
}

/// Who holds a candidate and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    /// `local` or `slurm`.
    pub executor: String,
    /// `host:pid` of the driver that handed it out.
    pub owner: String,
    /// Worker process id (local) or Slurm job id (`123` or `123_4` for an array task).
    pub job: String,
    pub attempt: usize,
    /// Unix seconds after which the holder is presumed dead.
    pub deadline: u64,
}

impl Lease {
    pub fn path(dir: &Path, name: &str) -> PathBuf {
        candidate_dir(dir, name).join("lease.json")
    }
    pub fn save(&self, dir: &Path, name: &str) -> Result<()> {
        write_json(&Self::path(dir, name), self)
    }
    pub fn load(dir: &Path, name: &str) -> Option<Self> {
        read_json(&Self::path(dir, name)).ok()
    }
    pub fn clear(dir: &Path, name: &str) {
        let _ = std::fs::remove_file(Self::path(dir, name));
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Exclusive use of a device for timing: trainers hold it shared, a measurement holds it
/// exclusively, so no training runs on the device while it is timed. A second lock, the gate,
/// gives waiting measurements priority over new trainers (no starvation).
pub struct DeviceLock {
    main: std::fs::File,
    gate: std::fs::File,
}

/// A held [`DeviceLock`]; released on drop.
pub struct DeviceGuard<'a>(&'a std::fs::File);

impl Drop for DeviceGuard<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl DeviceLock {
    /// The lock of `device` on this host, kept under `dir/locks/`.
    pub fn open(dir: &Path, device: &str) -> Result<Self> {
        let locks = dir.join("locks");
        std::fs::create_dir_all(&locks).map_err(|e| Error::file(&locks, e))?;
        let base = format!("{}-{}", host_name(), device.replace(':', "-"));
        let open = |suffix: &str| {
            let p = locks.join(format!("{base}.{suffix}"));
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&p)
                .map_err(|e| Error::file(&p, e))
        };
        Ok(Self {
            main: open("lock")?,
            gate: open("gate")?,
        })
    }

    /// Held while training.
    pub fn shared(&self) -> DeviceGuard<'_> {
        let _ = self.gate.lock();
        let _ = self.main.lock_shared();
        let _ = self.gate.unlock();
        DeviceGuard(&self.main)
    }

    /// Held while timing.
    pub fn exclusive(&self) -> DeviceGuard<'_> {
        let _ = self.gate.lock();
        let _ = self.main.lock();
        let _ = self.gate.unlock();
        DeviceGuard(&self.main)
    }
}

/// Decode latency of `spec` under the protocol `l` (the device lock must be held exclusively
/// when the source measures). With `latency.calibrate`, timed against `reference`.
pub fn latency_of(
    spec: &ArchSpec,
    l: &LatencyConfig,
    base: &Path,
    reference: Option<&ArchSpec>,
) -> Latency {
    if l.calibrate && l.source == LatencySource::Measured {
        return calibrated_latency(spec, l, reference);
    }
    if l.source == LatencySource::Predicted {
        return predicted_latency(spec, l, base, reference);
    }
    let mut out = uncalibrated_latency(spec, l, base);
    out.raw_s = out.seconds;
    out.ratio = match (out.seconds, l.reference_s) {
        (Some(s), Some(r)) => Some(s / r),
        _ => None,
    };
    out
}

/// The predictor's latency (`ratio × reference_s`), or a calibrated measurement when the
/// prediction's 95 % interval holds the budget or is wider than allowed; then the prediction
/// is kept beside the measurement (`predicted_s`), which validates the predictor.
fn predicted_latency(
    spec: &ArchSpec,
    l: &LatencyConfig,
    base: &Path,
    reference: Option<&ArchSpec>,
) -> Latency {
    let run = || -> Result<Latency, String> {
        let reference = reference.ok_or("the predictor needs the reference model")?;
        let unit = l
            .reference_s
            .ok_or("the predictor needs latency.reference_s (pinned when the campaign starts)")?;
        let path = flashnas_training::config::resolve_path(
            l.model_file
                .as_deref()
                .ok_or("latency.model_file missing")?,
            base,
        );
        let model =
            flashnas_latency::predictor::LatencyModel::load(&path).map_err(|e| e.to_string())?;
        let want = format!("{} w{}", reference.layer_string(), reference.d_model);
        let device = flashnas_latency::profile::device_name_of(&l.device);
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
        let p = model.predict(spec);
        let (seconds, lower, upper) = (p.ratio * unit, p.lower * unit, p.upper * unit);
        let straddles = l.budget_seconds().is_some_and(|b| lower <= b && b <= upper);
        if straddles || p.uncertainty_pct() > l.predict_max_uncertainty_pct {
            let mut measured = calibrated_latency(spec, l, Some(reference));
            if measured.seconds.is_some() {
                measured.source = LatencyOrigin::MeasuredPredictionUncertain;
            }
            measured.predicted_s = Some(seconds);
            return Ok(measured);
        }
        Ok(Latency {
            seconds: Some(seconds),
            cv: None,
            source: LatencyOrigin::Predicted,
            raw_s: None,
            ratio: Some(p.ratio),
            predicted_s: Some(seconds),
        })
    };
    run().unwrap_or_else(|e| Latency {
        source: LatencyOrigin::Error(e),
        ..Default::default()
    })
}

/// The candidate timed interleaved with the reference: `ratio × reference_s` seconds.
fn calibrated_latency(spec: &ArchSpec, l: &LatencyConfig, reference: Option<&ArchSpec>) -> Latency {
    let run = || -> Result<Latency, String> {
        let reference = reference.ok_or("calibration needs the reference model")?;
        let unit = l
            .reference_s
            .ok_or("calibration needs latency.reference_s (pinned when the campaign starts)")?;
        let dev = parse_device(&l.device).map_err(|e| e.to_string())?;
        #[allow(clippy::clone_on_copy)] // CudaDevice is not Copy
        let d2 = dev.clone();
        let c = calibrated_decode::<Compute>(
            spec,
            reference,
            l.prompt,
            l.generate,
            l.repeats,
            &dev,
            &move || sync(&d2),
            &mut WallClock::default(),
        );
        Ok(Latency {
            seconds: Some(c.ratio * unit),
            cv: Some(flashnas_latency::Stats::from_samples(c.ratios).cv),
            source: LatencyOrigin::MeasuredCalibrated,
            raw_s: Some(c.raw_s),
            ratio: Some(c.ratio),
            predicted_s: None,
        })
    };
    run().unwrap_or_else(|e| Latency {
        source: LatencyOrigin::Error(e.to_string()),
        ..Default::default()
    })
}

/// Seconds of the reference model under the protocol `l`, uncalibrated (at least 5 repeats
/// when measured): the unit pinned as `latency.reference_s`.
pub fn reference_seconds(reference: &ArchSpec, l: &LatencyConfig, base: &Path) -> Result<f64> {
    let mut l = l.clone();
    l.calibrate = false;
    l.repeats = l.repeats.max(5);
    if l.source == LatencySource::Predicted {
        l.source = LatencySource::Measured;
    }
    let out = uncalibrated_latency(reference, &l, base);
    out.seconds
        .ok_or_else(|| Error::Latency(format!("the reference model's latency: {}", out.source)))
}

fn uncalibrated_latency(spec: &ArchSpec, l: &LatencyConfig, base: &Path) -> Latency {
    let measure = |spec: &ArchSpec| -> Result<(f64, f64), String> {
        let dev = parse_device(&l.device).map_err(|e| e.to_string())?;
        #[allow(clippy::clone_on_copy)] // CudaDevice is not Copy
        let d2 = dev.clone();
        let s = decode_seconds::<Compute>(
            spec,
            l.prompt,
            l.generate,
            1,
            1,
            l.repeats,
            &dev,
            &move || sync(&d2),
        );
        Ok((s.median, s.cv))
    };
    let out: Result<(f64, Option<f64>, LatencyOrigin), String> = match l.source {
        LatencySource::Analytic => match flashnas_latency::config::roofline_of(l) {
            Some(dev) => Ok((
                dev.decode_seconds(spec, l.prompt, l.generate, 1),
                None,
                LatencyOrigin::Analytic,
            )),
            None => Err("no roofline device configured".into()),
        },
        LatencySource::Measured | LatencySource::Predicted => {
            measure(spec).map(|(m, cv)| (m, Some(cv), LatencyOrigin::Measured))
        }
        LatencySource::Lut => (|| {
            let path = flashnas_training::config::resolve_path(
                l.lut_file.as_deref().ok_or("latency.lut_file missing")?,
                base,
            );
            let mut file = if path.exists() {
                LutFile::load(&path).map_err(|e| e.to_string())?
            } else {
                LutFile::default()
            };
            let dev_name = flashnas_latency::profile::device_name_of(&l.device);
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
                Ok((predicted, None, LatencyOrigin::Lut))
            } else {
                // Not (yet) trusted: measure, and let the measurement validate the table.
                let measured = measure(spec);
                if let Ok((m, _)) = &measured {
                    table.validation.push(ValidationRow {
                        layers: spec.layer_string(),
                        measured_s: *m,
                        predicted_s: predicted,
                        error_pct: 100.0 * (predicted - m).abs() / m,
                    });
                }
                measured.map(|(m, cv)| (m, Some(cv), LatencyOrigin::MeasuredLutNotValidated))
            };
            file.insert(table);
            file.save(&path).map_err(|e| e.to_string())?;
            out
        })(),
    };
    match out {
        Ok((s, cv, source)) => Latency {
            seconds: Some(s),
            cv,
            source,
            ..Default::default()
        },
        Err(e) => Latency {
            source: LatencyOrigin::Error(e.to_string()),
            ..Default::default()
        },
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

/// Trains and times one task. `lock_dir` holds the device locks (the campaign directory).
pub fn evaluate_task(
    task: &Task,
    lock_dir: &Path,
    device_override: Option<&str>,
    on_step: &mut dyn FnMut(flashnas_training::Progress),
) -> TaskResult {
    let start = Instant::now();
    let finish = |proxy: ProxyResult, latency: Latency| TaskResult {
        name: task.name.clone(),
        proposal_key: task.proposal_key.clone(),
        proxy,
        latency,
        eval_seconds: start.elapsed().as_secs_f64(),
        worker: format!("{}:{}", host_name(), std::process::id()),
        attempt: 1,
    };
    let skipped = || Latency {
        source: LatencyOrigin::Skipped,
        ..Default::default()
    };
    let device_name = device_override
        .map(str::to_string)
        .or_else(|| task.latency.as_ref().map(|l| l.device.clone()))
        .unwrap_or_else(|| "default".into());
    let train_device = match device_override.map(parse_device) {
        Some(Ok(d)) => d,
        _ => device(),
    };
    let lock = DeviceLock::open(lock_dir, &device_name).ok();
    let time_it = |l: &LatencyConfig| {
        let _exclusive = match l.source {
            LatencySource::Analytic => None,
            _ => lock.as_ref().map(|l| l.exclusive()),
        };
        latency_of(&task.spec, l, &task.base_dir, task.reference.as_ref())
    };
    // Latency first: a candidate already over the budget is not worth its training.
    let priced = match &task.latency {
        Some(l) if !l.train_over_budget && l.budget_seconds().is_some() => {
            Some(task.known_latency.clone().unwrap_or_else(|| time_it(l)))
        }
        _ => None,
    };
    if let (Some(latency), Some(l)) = (&priced, &task.latency) {
        if let Some(reason) = untrained_reason(l, latency.seconds) {
            let params = flashnas_model::accounting::param_count(&task.spec);
            let proxy = ProxyResult::failed(Status::NotTrained { reason }, params);
            return finish(proxy, latency.clone());
        }
    }
    let proxy = match Dataset::load(&task.train.data, task.train.seq_len, &task.base_dir) {
        Err(e) => ProxyResult::failed(
            Status::Error {
                reason: format!("train.data: {e}"),
            },
            flashnas_model::accounting::param_count(&task.spec),
        ),
        Ok(data) => {
            let _shared = lock.as_ref().map(|l| l.shared());
            train::<Train>(&task.spec, &task.train, &data, &train_device, on_step).0
        }
    };
    let latency = match (&task.latency, &task.known_latency, priced) {
        _ if !proxy.status.is_ok() => skipped(),
        (_, _, Some(priced)) => priced,
        (_, Some(known), None) => known.clone(),
        (None, None, None) => skipped(),
        (Some(l), None, None) => time_it(l),
    };
    finish(proxy, latency)
}

/// `flashnas worker`: evaluate `DIR/candidates/<name>` and publish its result.
/// Returns whether this result was the accepted one.
pub fn run_worker(
    dir: &Path,
    name: &str,
    attempt: usize,
    device_override: Option<&str>,
    on_step: &mut dyn FnMut(flashnas_training::Progress),
) -> Result<bool> {
    let mut task = read_task(dir, name)?;
    if read_result(dir, name, &task.proposal_key).is_some() {
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(candidate_dir(dir, name).join("ignored.log"))
            .map_err(|e| Error::file(dir, e))?;
        let _ = writeln!(
            log,
            "{}:{} attempt {attempt}: a result was already accepted; not evaluated again",
            host_name(),
            std::process::id()
        );
        return Ok(false);
    }
    if let (Some(d), Some(l)) = (device_override, task.latency.as_mut()) {
        parse_device(d).map_err(|e| Error::Config(e.to_string()))?;
        l.device = d.to_string();
    }
    let mut result = evaluate_task(&task, dir, device_override, on_step);
    result.attempt = attempt;
    publish_result(dir, &result)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every spelling older journals hold reads back as the same variant and writes back
    /// unchanged; an unknown spelling is refused, not guessed.
    #[test]
    fn latency_sources_keep_their_journal_spelling() {
        for s in [
            "measured",
            "measured (calibrated)",
            "lut",
            "measured (lut not yet validated)",
            "analytic",
            "skipped",
            "error: no roofline device configured",
        ] {
            let json = serde_json::to_string(s).unwrap();
            let o: LatencyOrigin = serde_json::from_str(&json).unwrap();
            assert_eq!(serde_json::to_string(&o).unwrap(), json);
            assert!(o == s, "{o} != {s}");
        }
        assert_eq!(
            serde_json::from_str::<LatencyOrigin>("\"error: x\"").unwrap(),
            LatencyOrigin::Error("x".into())
        );
        assert!(serde_json::from_str::<LatencyOrigin>("\"guessed\"").is_err());
    }

    fn result(worker: &str, loss: f64) -> TaskResult {
        TaskResult {
            name: "3".into(),
            proposal_key: "k".into(),
            proxy: ProxyResult {
                val_loss: Some(loss),
                ..ProxyResult::failed(Status::Ok, 10)
            },
            latency: Latency {
                seconds: Some(0.1),
                cv: None,
                source: LatencyOrigin::Analytic,
                ..Default::default()
            },
            eval_seconds: 1.0,
            worker: worker.into(),
            attempt: 1,
        }
    }

    #[test]
    fn a_result_is_accepted_once_and_a_second_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        assert!(publish_result(dir.path(), &result("a:1", 2.5)).unwrap());
        assert!(!publish_result(dir.path(), &result("b:2", 9.0)).unwrap());
        let kept = read_result(dir.path(), "3", "k").unwrap();
        assert_eq!(kept.worker, "a:1");
        assert_eq!(kept.proxy.val_loss, Some(2.5));
        let log =
            std::fs::read_to_string(candidate_dir(dir.path(), "3").join("ignored.log")).unwrap();
        assert!(log.contains("b:2") && log.contains("ignored"), "{log}");
        // A result of another proposal is stale: not returned, moved aside.
        assert!(read_result(dir.path(), "3", "other").is_none());
        assert!(!candidate_dir(dir.path(), "3").join("result.json").exists());
    }
}
