//! Slurm: each candidate is a batch job running `flashnas worker` (job arrays when several
//! are ready); jobs are tracked with `squeue` / `scontrol`, results read from the shared
//! campaign directory.

use super::retry::retry_or_give_up;
use super::{last_line, Executor, ExecutorConfig};
use crate::error::Result;
use crate::event::Event;
use crate::task::{candidate_dir, host_name, read_result, unix_now, Lease, Task, TaskResult};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// `[executor.slurm]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmConfig {
    /// `--partition` (empty: the cluster's default).
    #[serde(default)]
    pub partition: String,
    /// `--time` of each job (Slurm syntax, e.g. `01:00:00` or `30`).
    #[serde(default = "d_time")]
    pub time_limit: String,
    /// `--gpus` per job (0: none requested).
    #[serde(default)]
    pub gpus_per_job: usize,
    /// `--cpus-per-task`.
    #[serde(default = "d_one")]
    pub cpus_per_job: usize,
    /// `--mem` (e.g. `4G`; empty: the cluster's default).
    #[serde(default)]
    pub mem: String,
    /// `--job-name`.
    #[serde(default = "d_job_name")]
    pub job_name: String,
    /// Submit several ready candidates as one job array.
    #[serde(default = "d_true")]
    pub array: bool,
    /// Further `sbatch` arguments, e.g. `["--account=lm", "--qos=short"]`.
    #[serde(default)]
    pub extra_args: Vec<String>,
}

impl Default for SlurmConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl SlurmConfig {
    /// The key (under `executor.`) and the reason of the first problem.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.cpus_per_job == 0 {
            return Err("slurm.cpus_per_job: must be at least 1".into());
        }
        if self.time_limit.trim().is_empty() {
            return Err("slurm.time_limit: must not be empty".into());
        }
        Ok(())
    }
}

fn d_one() -> usize {
    1
}
fn d_time() -> String {
    "01:00:00".into()
}
fn d_job_name() -> String {
    "flashnas".into()
}
fn d_true() -> bool {
    true
}

struct Job {
    task: Task,
    /// `123` or `123_4` (array task).
    id: String,
    attempt: usize,
}

pub struct SlurmExecutor {
    cfg: ExecutorConfig,
    command: PathBuf,
    owner: String,
    ready: VecDeque<(Task, usize)>,
    jobs: HashMap<String, Job>,
    done: HashMap<String, TaskResult>,
    batches: usize,
    /// Consecutive polls Slurm did not answer (the next poll waits longer each time).
    unanswered: u32,
}

/// Job states after which a job will not produce anything more.
const FINISHED: &[&str] = &[
    "COMPLETED",
    "FAILED",
    "TIMEOUT",
    "PREEMPTED",
    "CANCELLED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "BOOT_FAIL",
    "DEADLINE",
    "SPECIAL_EXIT",
    "REVOKED",
];

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| {
        format!(
            "cannot run {:?}: {e} (is Slurm installed and on PATH?)",
            cmd.get_program()
        )
    })?;
    if !out.status.success() {
        return Err(format!(
            "{:?} failed: {}",
            cmd.get_program(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Slurm's answer for a job it no longer knows (as opposed to not answering at all).
fn unknown_job(err: &str) -> bool {
    err.contains("Invalid job id")
}

/// State of every listed job known to `squeue` (array tasks one per line). A job missing from
/// the map is one the controller says it does not know; `Err` means the controller did not
/// answer (restarting, unreachable): nothing is known, and nothing may be concluded.
fn squeue_states(ids: &[String]) -> Result<HashMap<String, (String, String)>, String> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let query = |ids: &str| {
        run(Command::new("squeue")
            .args(["-h", "-r", "-t", "all", "-o", "%i|%T|%r", "-j"])
            .arg(ids))
    };
    let out = match query(&ids.join(",")) {
        Ok(out) => out,
        // squeue refuses the whole list when one id is unknown: ask one job at a time.
        Err(e) if unknown_job(&e) => {
            let mut all = String::new();
            for id in ids {
                match query(id) {
                    Ok(o) => all.push_str(&o),
                    Err(e) if unknown_job(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            all
        }
        Err(e) => return Err(e),
    };
    Ok(out
        .lines()
        .filter_map(|l| {
            let mut f = l.trim().splitn(3, '|');
            Some((
                f.next()?.to_string(),
                (f.next()?.to_string(), f.next().unwrap_or("").to_string()),
            ))
        })
        .collect())
}

/// `ExitCode=` of a job from `scontrol`, when it still knows the job.
fn exit_code(id: &str) -> Option<String> {
    let out = run(Command::new("scontrol").args(["-o", "show", "job", id])).ok()?;
    out.split_whitespace()
        .find_map(|kv| kv.strip_prefix("ExitCode=").map(str::to_string))
}

/// What became of a job `squeue` does not list: `Ok(Some(state))` when Slurm positively says
/// it ended (`scontrol` still holds it, `sacct` remembers it, or the controller answers that
/// the job is gone), `Ok(None)` when it is in fact still queued or running, `Err` when Slurm
/// does not answer.
fn vanished_state(id: &str) -> Result<Option<String>, String> {
    match run(Command::new("scontrol").args(["-o", "show", "job", id])) {
        Ok(out) => {
            let state = out
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("JobState="))
                .unwrap_or("UNKNOWN")
                .to_string();
            Ok(FINISHED.contains(&state.as_str()).then_some(state))
        }
        Err(e) if unknown_job(&e) => {
            // Purged from the controller (MinJobAge): accounting may know how it ended.
            let state =
                run(Command::new("sacct").args(["-n", "-X", "-P", "-o", "State", "-j", id]))
                    .ok()
                    .and_then(|o| o.lines().next().map(|l| l.trim().to_string()))
                    .filter(|s| !s.is_empty());
            Ok(Some(state.unwrap_or_else(|| "VANISHED".into())))
        }
        Err(e) => Err(e),
    }
}

impl SlurmExecutor {
    pub fn new(cfg: ExecutorConfig) -> Result<Self> {
        let command = cfg.worker_command()?;
        Ok(Self {
            cfg,
            command,
            owner: format!("{}:{}", host_name(), std::process::id()),
            ready: VecDeque::new(),
            jobs: HashMap::new(),
            done: HashMap::new(),
            batches: 0,
            unanswered: 0,
        })
    }

    fn deadline(&self) -> u64 {
        // Slurm enforces the time limit; the lease only has to outlive it.
        let t = &self.cfg.sections.slurm.time_limit;
        let parts: Vec<u64> = t.split(['-', ':']).filter_map(|p| p.parse().ok()).collect();
        let secs = match (t.contains('-'), parts.as_slice()) {
            (false, [m]) => m * 60,
            (false, [m, s]) => m * 60 + s,
            (false, [h, m, s]) => h * 3600 + m * 60 + s,
            (true, [d, h]) => d * 86400 + h * 3600,
            (true, [d, h, m]) => d * 86400 + h * 3600 + m * 60,
            (true, [d, h, m, s]) => d * 86400 + h * 3600 + m * 60 + s,
            _ => 86400,
        };
        unix_now() + secs + 600
    }

    /// Submits every ready candidate the in-flight limit allows (one array when several).
    fn submit(&mut self, dir: &Path, ev: &mut dyn FnMut(Event)) {
        let room = self.cfg.workers.saturating_sub(self.jobs.len());
        let n = room.min(self.ready.len());
        if n == 0 {
            return;
        }
        let batch: Vec<(Task, usize)> = self.ready.drain(..n).collect();
        match self.sbatch(dir, &batch) {
            Ok(ids) => {
                for ((task, attempt), id) in batch.into_iter().zip(ids) {
                    let lease = Lease {
                        executor: "slurm".into(),
                        owner: self.owner.clone(),
                        job: id.clone(),
                        attempt,
                        deadline: self.deadline(),
                    };
                    if let Err(e) = lease.save(dir, &task.name) {
                        ev(Event::Note(e.to_string()));
                    }
                    ev(Event::Note(format!(
                        "candidate {}: submitted as Slurm job {id} (attempt {attempt})",
                        task.name
                    )));
                    self.jobs
                        .insert(task.name.clone(), Job { task, id, attempt });
                }
            }
            Err(e) => {
                for (task, attempt) in batch {
                    let reason = format!("sbatch: {e}");
                    ev(Event::Note(format!("candidate {}: {reason}", task.name)));
                    self.done.insert(
                        task.name.clone(),
                        TaskResult::gave_up(&task, reason, attempt, "slurm"),
                    );
                }
            }
        }
    }

    /// One `sbatch` for the batch; returns the job id of each candidate.
    fn sbatch(&mut self, dir: &Path, batch: &[(Task, usize)]) -> Result<Vec<String>, String> {
        let dir = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let scripts = dir.join("slurm");
        std::fs::create_dir_all(&scripts).map_err(|e| format!("{}: {e}", scripts.display()))?;
        self.batches += 1;
        let tag = format!("{}-{}-{}", std::process::id(), unix_now(), self.batches);
        let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let names: Vec<String> = batch.iter().map(|(t, _)| quote(&t.name)).collect();
        let attempts: Vec<String> = batch.iter().map(|(_, a)| a.to_string()).collect();
        let array = self.cfg.sections.slurm.array && batch.len() > 1;
        let script = format!(
            "#!/bin/bash\n\
             # flashnas candidates {names}; written by the campaign driver {owner}\n\
             names=({names})\n\
             attempts=({attempts})\n\
             i=${{SLURM_ARRAY_TASK_ID:-0}}\n\
             name=${{names[$i]}}\n\
             attempt=${{attempts[$i]}}\n\
             export RAYON_NUM_THREADS={threads}\n\
             exec {cmd} worker --campaign {dir} --candidate \"$name\" --attempt \"$attempt\" \
             >> {dir}/candidates/\"$name\"/worker-\"$attempt\".log 2>&1\n",
            names = names.join(" "),
            owner = self.owner,
            attempts = attempts.join(" "),
            threads = self.cfg.sections.slurm.cpus_per_job.max(1),
            cmd = quote(&self.command.display().to_string()),
            dir = quote(&dir.display().to_string()),
        );
        let path = scripts.join(format!("{tag}.sh"));
        flashnas_model::fsio::write_atomic(&path, script.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let s = &self.cfg.sections.slurm;
        let mut cmd = Command::new("sbatch");
        cmd.arg("--parsable")
            .arg(format!("--job-name={}", s.job_name))
            .arg(format!("--time={}", s.time_limit))
            .arg(format!("--cpus-per-task={}", s.cpus_per_job))
            .arg(format!("--chdir={}", dir.display()))
            .arg(format!(
                "--output={}",
                scripts
                    .join(if array { "%A_%a.out" } else { "%j.out" })
                    .display()
            ));
        if !s.partition.is_empty() {
            cmd.arg(format!("--partition={}", s.partition));
        }
        if s.gpus_per_job > 0 {
            cmd.arg(format!("--gpus={}", s.gpus_per_job));
        }
        if !s.mem.is_empty() {
            cmd.arg(format!("--mem={}", s.mem));
        }
        if array {
            cmd.arg(format!("--array=0-{}", batch.len() - 1));
        }
        cmd.args(&s.extra_args).arg(&path);
        let out = run(&mut cmd)?;
        // --parsable prints `jobid` or `jobid;cluster`.
        let id = out
            .trim()
            .split(';')
            .next()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("sbatch printed no job id ({out:?})"))?
            .to_string();
        Ok(if array {
            (0..batch.len()).map(|i| format!("{id}_{i}")).collect()
        } else {
            vec![id]
        })
    }

    /// Seconds until the next look at the queue: the poll interval, doubled for every poll
    /// Slurm did not answer (up to a minute).
    fn next_poll(&self) -> Duration {
        let base = self.cfg.poll_interval_s.max(0.05);
        Duration::from_secs_f64(
            (base * 2f64.powi(self.unanswered.min(10) as i32)).min(60f64.max(base)),
        )
    }

    /// Looks at every job once: collects results, resubmits failures, submits ready ones.
    /// When Slurm does not answer, nothing is concluded about any job (no attempt is charged):
    /// the queue is asked again later, with backoff.
    fn tick(&mut self, dir: &Path, ev: &mut dyn FnMut(Event)) {
        // Results first: they need no answer from Slurm.
        let names: Vec<String> = self.jobs.keys().cloned().collect();
        for name in &names {
            let job = &self.jobs[name];
            if let Some(result) = read_result(dir, name, &job.task.proposal_key) {
                self.jobs.remove(name);
                Lease::clear(dir, name);
                self.done.insert(name.clone(), result);
            }
        }
        let ids: Vec<String> = self.jobs.values().map(|j| j.id.clone()).collect();
        let states = match squeue_states(&ids) {
            Ok(s) => {
                if self.unanswered > 0 {
                    ev(Event::Note(format!(
                        "squeue answers again after {} failed polls",
                        self.unanswered
                    )));
                }
                self.unanswered = 0;
                s
            }
            Err(e) => {
                self.unanswered += 1;
                ev(Event::Note(format!(
                    "squeue: {e}; the state of {} jobs is unknown, asking again in {:.1} s",
                    ids.len(),
                    self.next_poll().as_secs_f64()
                )));
                self.submit(dir, ev);
                return;
            }
        };
        let names: Vec<String> = self.jobs.keys().cloned().collect();
        for name in names {
            let job = &self.jobs[&name];
            let (state, reason) = match states.get(&job.id) {
                Some((s, r)) => (s.clone(), r.clone()),
                // Not listed: only a positive answer that it ended counts.
                None => match vanished_state(&job.id) {
                    Ok(Some(s)) => (s, String::new()),
                    Ok(None) => continue,
                    Err(e) => {
                        ev(Event::Note(format!(
                            "candidate {name}: Slurm job {} is not listed and scontrol did not answer ({e}); asking again later",
                            job.id
                        )));
                        continue;
                    }
                },
            };
            if !FINISHED.contains(&state.as_str()) && state != "VANISHED" {
                continue;
            }
            // A result can land between the squeue call and now.
            if let Some(result) = read_result(dir, &name, &job.task.proposal_key) {
                self.jobs.remove(&name);
                Lease::clear(dir, &name);
                self.done.insert(name, result);
                continue;
            }
            let job = self.jobs.remove(&name).expect("job");
            let code = exit_code(&job.id).unwrap_or_else(|| "?".into());
            let detail =
                last_line(&candidate_dir(dir, &name).join(format!("worker-{}.log", job.attempt)));
            let why = format!(
                "Slurm job {} {state}{} (ExitCode {code}){}",
                job.id,
                if reason.is_empty() || reason == "None" {
                    String::new()
                } else {
                    format!(", reason {reason}")
                },
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(": {detail}")
                }
            );
            let again = retry_or_give_up(
                dir,
                name,
                job.task,
                job.attempt,
                self.cfg.max_attempts,
                why,
                "resubmitting",
                "slurm",
                &mut self.done,
                ev,
            );
            self.ready.extend(again);
        }
        self.submit(dir, ev);
    }
}

impl Executor for SlurmExecutor {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn start(&mut self, dir: &Path, task: &Task, ev: &mut dyn FnMut(Event)) -> Result<()> {
        if let Some(r) = read_result(dir, &task.name, &task.proposal_key) {
            self.done.insert(task.name.clone(), r);
            return Ok(());
        }
        if let Some(lease) = Lease::load(dir, &task.name) {
            if lease.executor == "slurm" {
                // While Slurm does not answer, the job may still run: re-attach, and let the
                // polls decide (never submit a second copy on a guess).
                let state = match squeue_states(std::slice::from_ref(&lease.job)) {
                    Ok(states) => states.get(&lease.job).map(|(s, _)| s.clone()),
                    Err(e) => Some(format!("state unknown: {e}")),
                };
                if let Some(state) = state {
                    if !FINISHED.contains(&state.as_str()) {
                        ev(Event::Note(format!(
                            "candidate {}: re-attached to Slurm job {} ({state}) submitted by {}",
                            task.name, lease.job, lease.owner
                        )));
                        self.jobs.insert(
                            task.name.clone(),
                            Job {
                                task: task.clone(),
                                id: lease.job,
                                attempt: lease.attempt,
                            },
                        );
                        return Ok(());
                    }
                }
            }
        }
        self.ready.push_back((task.clone(), 1));
        Ok(())
    }

    fn wait(&mut self, dir: &Path, task: &Task, ev: &mut dyn FnMut(Event)) -> TaskResult {
        let poll = Duration::from_secs_f64(self.cfg.poll_interval_s);
        let mut last = Instant::now() - self.next_poll();
        loop {
            if let Some(r) = self.done.remove(&task.name) {
                return r;
            }
            if !self.jobs.contains_key(&task.name)
                && !self.ready.iter().any(|(t, _)| t.name == task.name)
            {
                self.ready.push_back((task.clone(), 1));
            }
            // Submit at once; look at the queue every poll interval (longer while Slurm
            // does not answer).
            self.submit(dir, ev);
            if last.elapsed() >= self.next_poll() {
                last = Instant::now();
                self.tick(dir, ev);
                continue;
            }
            std::thread::sleep(Duration::from_millis(50).min(poll));
        }
    }
}

impl crate::section::Sectioned for SlurmExecutor {
    const SECTION: &'static str = "slurm";
    type Config = SlurmConfig;
}

impl super::registry::Registered for SlurmExecutor {
    fn check_section(c: &SlurmConfig) -> Result<(), String> {
        c.validate()
    }
    /// One job in flight per worker.
    fn default_in_flight(e: &ExecutorConfig) -> usize {
        e.workers
    }
    fn build(_c: &SlurmConfig, e: &ExecutorConfig) -> Result<Box<dyn Executor>> {
        Ok(Box::new(SlurmExecutor::new(e.clone())?))
    }
}
