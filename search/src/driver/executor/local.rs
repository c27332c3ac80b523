//! A pool of `flashnas worker` processes on this machine.

use super::retry::retry_or_give_up;
use super::{last_line, Executor, ExecutorConfig};
use crate::error::Result;
use crate::event::Event;
use crate::task::{candidate_dir, host_name, read_result, unix_now, Lease, Task, TaskResult};
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

enum Handle {
    /// Spawned by this driver.
    Child(Child),
    /// Left running by an earlier driver (re-attached after a resume): watched by pid.
    Orphan(u32),
}

struct Running {
    task: Task,
    handle: Handle,
    attempt: usize,
    slot: usize,
    /// Unix seconds after which the worker is killed and the candidate retried (the lease's
    /// deadline: for a re-attached worker, the one its first driver set).
    deadline: u64,
}

pub struct LocalExecutor {
    cfg: ExecutorConfig,
    command: PathBuf,
    owner: String,
    /// Waiting for a free slot: (task, attempt).
    queue: VecDeque<(Task, usize)>,
    running: HashMap<String, Running>,
    done: HashMap<String, TaskResult>,
    free_slots: Vec<usize>,
}

impl LocalExecutor {
    pub fn new(cfg: ExecutorConfig) -> Result<Self> {
        let command = cfg.worker_command()?;
        Ok(Self {
            free_slots: (0..cfg.workers).rev().collect(),
            cfg,
            command,
            owner: format!("{}:{}", host_name(), std::process::id()),
            queue: VecDeque::new(),
            running: HashMap::new(),
            done: HashMap::new(),
        })
    }

    fn spawn(&mut self, dir: &Path, task: Task, attempt: usize) -> Result<(), String> {
        let slot = self.free_slots.pop().expect("a free slot");
        let folder = candidate_dir(dir, &task.name);
        let log_path = folder.join(format!("worker-{attempt}.log"));
        let log =
            std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let mut cmd = Command::new(&self.command);
        cmd.arg("worker")
            .arg("--campaign")
            .arg(dir)
            .arg("--candidate")
            .arg(&task.name)
            .arg("--attempt")
            .arg(attempt.to_string())
            .env("RAYON_NUM_THREADS", self.cfg.threads().to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
        if !self.cfg.devices.is_empty() {
            cmd.arg("--device")
                .arg(&self.cfg.devices[slot % self.cfg.devices.len()]);
        }
        let child = cmd.spawn().map_err(|e| {
            format!(
                "cannot start the worker {}: {e} (set executor.worker_command)",
                self.command.display()
            )
        })?;
        let deadline = if self.cfg.lease_timeout_s > 0 {
            unix_now() + self.cfg.lease_timeout_s
        } else {
            u64::MAX
        };
        Lease {
            executor: "local".into(),
            owner: self.owner.clone(),
            job: child.id().to_string(),
            attempt,
            deadline,
        }
        .save(dir, &task.name)
        .map_err(|e| e.to_string())?;
        self.running.insert(
            task.name.clone(),
            Running {
                task,
                handle: Handle::Child(child),
                attempt,
                slot,
                deadline,
            },
        );
        Ok(())
    }

    fn fill(&mut self, dir: &Path, ev: &mut dyn FnMut(Event)) {
        while !self.free_slots.is_empty() {
            let Some((task, attempt)) = self.queue.pop_front() else {
                break;
            };
            let name = task.name.clone();
            if let Err(e) = self.spawn(dir, task.clone(), attempt) {
                ev(Event::Note(format!("candidate {name}: {e}")));
                self.done
                    .insert(name, TaskResult::gave_up(&task, e, attempt, "local"));
            }
        }
    }

    /// Looks at every running worker once.
    fn tick(&mut self, dir: &Path, ev: &mut dyn FnMut(Event)) {
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            let r = self.running.get_mut(&name).expect("running");
            let expired = unix_now() > r.deadline;
            let exit: Option<String> = match &mut r.handle {
                Handle::Child(c) => {
                    if expired {
                        let _ = c.kill();
                        let _ = c.wait();
                        Some(format!(
                            "lease expired after {} s; worker killed",
                            self.cfg.lease_timeout_s
                        ))
                    } else {
                        match c.try_wait() {
                            Ok(Some(status)) => Some(describe_exit(status)),
                            Ok(None) => None,
                            Err(e) => Some(format!("cannot wait for the worker: {e}")),
                        }
                    }
                }
                Handle::Orphan(pid) => {
                    if !worker_alive(*pid, &name) {
                        Some("the worker left by the previous driver exited".into())
                    } else if expired {
                        kill_worker(*pid, &name);
                        Some(format!(
                            "(pid {pid}, left by the previous driver) passed its lease deadline; killed"
                        ))
                    } else {
                        None
                    }
                }
            };
            let Some(why) = exit else { continue };
            let r = self.running.remove(&name).expect("running");
            self.free_slots.push(r.slot);
            if let Some(result) = read_result(dir, &name, &r.task.proposal_key) {
                Lease::clear(dir, &name);
                self.done.insert(name, result);
                continue;
            }
            let log = candidate_dir(dir, &name).join(format!("worker-{}.log", r.attempt));
            let detail = last_line(&log);
            let reason = format!(
                "worker {why}{}",
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({detail})")
                }
            );
            let again = retry_or_give_up(
                dir,
                name,
                r.task,
                r.attempt,
                self.cfg.max_attempts,
                reason,
                "retrying",
                "local",
                &mut self.done,
                ev,
            );
            if let Some(t) = again {
                self.queue.push_front(t);
            }
        }
        self.fill(dir, ev);
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => "exited without publishing a result".into(),
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        _ => "ended".into(),
    }
}

/// SIGKILLs `pid` if it is still the worker of candidate `name`, and waits for it to go.
fn kill_worker(pid: u32, name: &str) {
    if worker_alive(pid, name) {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    for _ in 0..100 {
        if !worker_alive(pid, name) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `pid` is a `flashnas worker` process for candidate `name`.
fn worker_alive(pid: u32, name: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            let args: Vec<String> = c
                .split(|&b| b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            args.iter().any(|a| a == "worker") && args.iter().any(|a| a == name)
        })
        .unwrap_or(false)
}

impl Executor for LocalExecutor {
    fn name(&self) -> &'static str {
        "local"
    }

    fn start(&mut self, dir: &Path, task: &Task, ev: &mut dyn FnMut(Event)) -> Result<()> {
        if let Some(r) = read_result(dir, &task.name, &task.proposal_key) {
            self.done.insert(task.name.clone(), r);
            return Ok(());
        }
        if let Some(lease) = Lease::load(dir, &task.name) {
            if let (true, Ok(pid)) = (lease.executor == "local", lease.job.parse::<u32>()) {
                if worker_alive(pid, &task.name) && !self.free_slots.is_empty() {
                    ev(Event::Note(format!(
                        "candidate {}: re-attached to worker pid {pid} left by the previous driver",
                        task.name
                    )));
                    let slot = self.free_slots.pop().expect("free");
                    self.running.insert(
                        task.name.clone(),
                        Running {
                            task: task.clone(),
                            handle: Handle::Orphan(pid),
                            attempt: lease.attempt,
                            slot,
                            deadline: lease.deadline,
                        },
                    );
                    return Ok(());
                }
            }
        }
        self.queue.push_back((task.clone(), 1));
        self.fill(dir, ev);
        Ok(())
    }

    fn wait(&mut self, dir: &Path, task: &Task, ev: &mut dyn FnMut(Event)) -> TaskResult {
        let poll = Duration::from_secs_f64(self.cfg.poll_interval_s.min(0.25));
        loop {
            if let Some(r) = self.done.remove(&task.name) {
                return r;
            }
            if !self.running.contains_key(&task.name)
                && !self.queue.iter().any(|(t, _)| t.name == task.name)
            {
                // Never started (or forgotten): start it now.
                self.queue.push_back((task.clone(), 1));
            }
            self.tick(dir, ev);
            if self.done.contains_key(&task.name) {
                continue;
            }
            std::thread::sleep(poll);
        }
    }
}

impl Drop for LocalExecutor {
    fn drop(&mut self) {
        // An error or an early stop: do not leave workers of this driver behind.
        for (_, r) in self.running.drain() {
            if let Handle::Child(mut c) = r.handle {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

impl crate::section::Sectioned for LocalExecutor {
    const SECTION: &'static str = "local";
    type Config = ();
}

impl super::registry::Registered for LocalExecutor {
    /// One candidate in flight per worker process.
    fn default_in_flight(e: &ExecutorConfig) -> usize {
        e.workers
    }
    fn build(_c: &(), e: &ExecutorConfig) -> Result<Box<dyn Executor>> {
        Ok(Box::new(LocalExecutor::new(e.clone())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::write_task;
    use flashnas_model::ArchSpec;
    use flashnas_training::TrainConfig;

    /// A worker left running by a dead driver keeps its first deadline: once past it, the
    /// driver that re-attached kills it and retries the candidate (here: gives up, one attempt).
    #[test]
    fn a_reattached_worker_past_its_lease_deadline_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let task = Task {
            name: "7".into(),
            proposal_key: "k".into(),
            spec: ArchSpec::from_json(
                r#"{"vocab_size": 8, "d_model": 8, "ffn": {"hidden": 8}, "layers": ["f"]}"#,
            )
            .unwrap(),
            train: TrainConfig::from_toml("steps = 1", "test").unwrap(),
            latency: None,
            known_latency: None,
            base_dir: dir.path().to_path_buf(),
            reference: None,
            serve: None,
        };
        write_task(dir.path(), &task).unwrap();
        // Stands in for `flashnas worker … --candidate 7` (its command line names both).
        let mut orphan = Command::new("bash")
            .args(["-c", "sleep 30; true", "worker", "7"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        Lease {
            executor: "local".into(),
            owner: "gone:1".into(),
            job: orphan.id().to_string(),
            attempt: 1,
            deadline: unix_now() - 1,
        }
        .save(dir.path(), "7")
        .unwrap();
        let cfg = ExecutorConfig {
            kind: super::super::ExecutorKind::Local,
            max_attempts: 1,
            worker_command: Some("/bin/true".into()),
            poll_interval_s: 0.05,
            ..Default::default()
        };
        let mut ex = LocalExecutor::new(cfg).unwrap();
        let mut notes = Vec::new();
        ex.start(dir.path(), &task, &mut |e| {
            if let Event::Note(n) = e {
                notes.push(n)
            }
        })
        .unwrap();
        assert!(notes.iter().any(|n| n.contains("re-attached")), "{notes:?}");
        let r = ex.wait(dir.path(), &task, &mut |_| {});
        let why = r.proxy.status.describe();
        assert!(why.contains("passed its lease deadline"), "{why}");
        let status = orphan.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "the orphan was SIGKILLed");
    }
}
