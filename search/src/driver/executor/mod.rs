//! Executors: who evaluates the candidates a strategy proposes.
//!
//! The driver writes a [`Task`] per candidate, hands it to an executor with [`Executor::start`],
//! and later collects results *in proposal order* with [`Executor::wait`]: results may finish
//! in any order, but the campaign admits them in order, so the search trajectory depends only
//! on the seed and on `executor.in_flight`, never on which executor ran or how fast it was.
//!
//! - [`InlineExecutor`]: evaluates in the driver's process, one at a time (the default).
//! - [`LocalExecutor`]: a pool of `flashnas worker` processes on this machine.
//! - [`SlurmExecutor`]: `sbatch` jobs (arrays when several are ready), tracked with `squeue`.

mod local;
mod pipeline;
mod registry;
mod retry;
mod slurm;
mod surrogate;
mod table;

pub use local::LocalExecutor;
pub use pipeline::{run_in_order, Admit, Pipeline};
pub use registry::Registered;
pub use slurm::{SlurmConfig, SlurmExecutor};
pub use surrogate::SurrogateExecutor;
pub use table::TableExecutor;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::task::{evaluate_task, publish_result, read_result, Task, TaskResult};
use registry::executors;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

// The registered executors: `Variant "name" Type [its section of [executor]]`. A new executor
// is its module (implementing `registry::Registered`) and one line here.
executors! {
    /// In the driver process, one candidate at a time.
    #[default]
    Inline "inline" InlineExecutor,
    /// `workers` concurrent `flashnas worker` processes on this machine.
    Local "local" LocalExecutor,
    /// Slurm batch jobs.
    Slurm "slurm" SlurmExecutor [slurm],
    /// Answers from a benchmark table (`table`), with simulated training time.
    Table "table" TableExecutor [table],
    /// Answers any genome of a surrogate's space (`surrogate`), with simulated cost.
    Surrogate "surrogate" SurrogateExecutor [surrogate],
}

fn d_one() -> usize {
    1
}
fn d_attempts() -> usize {
    3
}
fn d_poll() -> f64 {
    1.0
}

/// `[executor]` of a campaign config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorConfig {
    #[serde(default)]
    pub kind: ExecutorKind,
    /// Concurrent evaluations (local: worker processes; slurm: jobs submitted at once).
    #[serde(default = "d_one")]
    pub workers: usize,
    /// Candidates proposed ahead of the oldest unfinished one. Part of the search trajectory
    /// (aging evolution proposes each child from the population as it was `in_flight`
    /// results ago); defaults to `workers`, and `flashnas search` records it in the copy of
    /// the config so that a resume with another worker count replays the same campaign.
    #[serde(default)]
    pub in_flight: Option<usize>,
    /// Tries per candidate when a worker dies or a job fails, times out or is preempted.
    #[serde(default = "d_attempts")]
    pub max_attempts: usize,
    /// Local workers: kill and retry a worker running longer than this (0 = no limit).
    #[serde(default)]
    pub lease_timeout_s: u64,
    /// CPU threads per worker (0 = this machine's cores divided among the workers).
    #[serde(default)]
    pub threads_per_worker: usize,
    /// Local workers: one device each, e.g. `["cuda:0", "cuda:1"]` (empty: the config's).
    #[serde(default)]
    pub devices: Vec<String>,
    /// The `flashnas` binary workers run (default: the running one; on a cluster, a path
    /// every node can reach).
    #[serde(default)]
    pub worker_command: Option<String>,
    /// Seconds between looks at workers and the Slurm queue.
    #[serde(default = "d_poll")]
    pub poll_interval_s: f64,
    /// The executors' own sections (`[executor.slurm]`, `table`, `surrogate`): each
    /// registered executor's, from the list above.
    #[serde(flatten)]
    pub sections: ExecutorSections,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl ExecutorConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.workers == 0 {
            return Err("workers: must be at least 1".into());
        }
        if self.in_flight == Some(0) {
            return Err("in_flight: must be at least 1".into());
        }
        if self.max_attempts == 0 {
            return Err("max_attempts: must be at least 1".into());
        }
        if !(self.poll_interval_s > 0.0 && self.poll_interval_s.is_finite()) {
            return Err("poll_interval_s: must be > 0".into());
        }
        for (i, d) in self.devices.iter().enumerate() {
            if d != "cpu" && !d.starts_with("cuda") && !d.starts_with("wgpu") {
                return Err(format!(
                    "devices[{i}]: '{d}' is not a device (cpu, cuda:N, wgpu, wgpu:N)"
                ));
            }
        }
        self.kind.validate(self)
    }

    /// Candidates in flight (see the field; by default what the kind runs at once).
    pub fn in_flight(&self) -> usize {
        self.in_flight
            .unwrap_or_else(|| self.kind.default_in_flight(self))
    }

    /// CPU threads each worker gets.
    pub fn threads(&self) -> usize {
        if self.threads_per_worker > 0 {
            return self.threads_per_worker;
        }
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        (cores / self.workers).max(1)
    }

    /// The worker binary.
    pub fn worker_command(&self) -> Result<PathBuf> {
        match &self.worker_command {
            Some(c) => Ok(PathBuf::from(c)),
            None => std::env::current_exe().map_err(|e| {
                Error::Executor(format!("cannot find the running flashnas binary: {e}"))
            }),
        }
    }

    /// Builds the executor this config names.
    pub fn build(&self) -> Result<Box<dyn Executor>> {
        self.kind.build(self)
    }
}

/// Evaluates tasks written under `dir/candidates/`.
pub trait Executor {
    fn name(&self) -> &'static str;
    /// Starts evaluating `task` (already written with [`crate::task::write_task`]), or
    /// re-attaches to the worker or job an earlier driver left running for it.
    fn start(&mut self, dir: &Path, task: &Task, ev: &mut dyn FnMut(Event)) -> Result<()>;
    /// Blocks until `task` has a result, looking after every other job meanwhile (retries,
    /// failures). A candidate that fails every attempt comes back as a failed result with
    /// the reason.
    fn wait(&mut self, dir: &Path, task: &Task, ev: &mut dyn FnMut(Event)) -> TaskResult;
    /// Whether its workers read `candidates/<name>/task.json` (an executor that answers in
    /// the driver from the task itself — a benchmark table, a surrogate — needs no file, and
    /// writing one per candidate would cost a folder per evaluation).
    fn reads_task_files(&self) -> bool {
        true
    }
}

/// Evaluates in the driver's process when the result is waited for.
#[derive(Default)]
pub struct InlineExecutor;

impl crate::section::Sectioned for InlineExecutor {
    const SECTION: &'static str = "inline";
    type Config = ();
}

impl Registered for InlineExecutor {
    fn build(_c: &(), _e: &ExecutorConfig) -> Result<Box<dyn Executor>> {
        Ok(Box::new(InlineExecutor))
    }
}

impl Executor for InlineExecutor {
    fn name(&self) -> &'static str {
        "inline"
    }
    fn start(&mut self, _dir: &Path, _task: &Task, _ev: &mut dyn FnMut(Event)) -> Result<()> {
        // Nothing runs ahead: the task is evaluated when it is waited for.
        Ok(())
    }
    fn wait(&mut self, dir: &Path, task: &Task, ev: &mut dyn FnMut(Event)) -> TaskResult {
        if let Some(r) = read_result(dir, &task.name, &task.proposal_key) {
            return r;
        }
        ev(Event::Start {
            id: task.name.parse().unwrap_or(usize::MAX),
            describe: &task.spec.layer_string(),
        });
        let result = evaluate_task(task, dir, None, &mut |p| ev(Event::Step(p)));
        match publish_result(dir, &result) {
            Ok(true) => result,
            // Another process published first: that one is the accepted result.
            Ok(false) => read_result(dir, &task.name, &task.proposal_key).unwrap_or(result),
            Err(e) => {
                ev(Event::Note(format!("{e} (keeping the result in memory)")));
                result
            }
        }
    }
}

/// The last non-empty line of a worker log, for failure reasons.
pub(crate) fn last_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| {
            t.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_default()
}
