//! One unit of work for an executor: train a candidate with the proxy and time it.
//!
//! The driver writes `DIR/candidates/<name>/task.json`; whoever evaluates it (the driver itself,
//! a local worker process, a Slurm job) runs [`evaluate_task`] and publishes
//! `DIR/candidates/<name>/result.json` with [`publish_result`]. Publishing is exclusive (a
//! hard link of a fully written, fsync'ed temp file, which fails when the name exists), so a
//! result is accepted once; a second result for the same candidate is ignored and logged in
//! `ignored.log` beside it.

use crate::error::{Error, Result};
use flashnas_latency::config::LatencyConfig;
pub use flashnas_latency::device_lock::{host_name, DeviceLock};
pub use flashnas_latency::pricing::{untrained_reason, Latency, LatencyOrigin, Pricer};
use flashnas_model::backend::{device, parse_device, Train};
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
    /// `[throughput]` with `source = "measured"`: the trained candidate's large-batch decode
    /// throughput is measured after its latency, on the same device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serve: Option<crate::throughput::ThroughputConfig>,
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
    /// The measured large-batch throughput (`Task::serve`), or why there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<std::result::Result<crate::throughput::Throughput, String>>,
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
            latency: Latency::skipped(),
            eval_seconds: 0.0,
            worker: executor.into(),
            attempt,
            throughput: None,
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
        throughput: None,
    };
    let device_name = device_override
        .map(str::to_string)
        .or_else(|| task.latency.as_ref().map(|l| l.device.clone()))
        .unwrap_or_else(|| "default".into());
    let train_device = match device_override.map(parse_device) {
        Some(Ok(d)) => d,
        _ => device(),
    };
    // The pricer holds the device's lock; a task without latency locks the device it trains on.
    let pricer = task.latency.clone().map(|mut l| {
        l.device = device_name.clone();
        Pricer::new(l, &task.base_dir, Some(lock_dir), task.reference.clone())
    });
    let own_lock = match &pricer {
        Some(_) => None,
        None => DeviceLock::open(lock_dir, &device_name).ok(),
    };
    // Latency first: a candidate already over the budget is not worth its training.
    let priced = match &pricer {
        Some(p) if !p.config().train_over_budget && p.config().budget_seconds().is_some() => Some(
            task.known_latency
                .clone()
                .unwrap_or_else(|| p.price(&task.spec)),
        ),
        _ => None,
    };
    if let (Some(latency), Some(p)) = (&priced, &pricer) {
        if let Some(reason) = p.untrained_reason(latency.seconds) {
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
            let _shared = match (&pricer, &own_lock) {
                (Some(p), _) => p.training_guard(),
                (None, Some(l)) => Some(l.shared()),
                (None, None) => None,
            };
            train::<Train>(&task.spec, &task.train, &data, &train_device, on_step).0
        }
    };
    let latency = match (&pricer, &task.known_latency, priced) {
        _ if !proxy.status.is_ok() => Latency::skipped(),
        (_, _, Some(priced)) => priced,
        (_, Some(known), None) => known.clone(),
        (None, None, None) => Latency::skipped(),
        (Some(p), None, None) => p.price(&task.spec),
    };
    let mut result = finish(proxy, latency);
    if let (Some(serve), Some(p)) = (&task.serve, &pricer) {
        if result.proxy.status.is_ok() && result.latency.seconds.is_some() {
            let l = p.config();
            result.throughput = Some(serve.measure(p, &task.spec, l.prompt + l.generate));
            // Part of what the evaluation cost.
            result.eval_seconds = start.elapsed().as_secs_f64();
        }
    }
    result
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
            throughput: None,
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
