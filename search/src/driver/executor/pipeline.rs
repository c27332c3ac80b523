//! The executor pipeline, written once for campaigns, depth–width studies and the proxy audit:
//! submit up to `in_flight` candidates, admit their results strictly in submission order
//! (whatever order the executor finishes them in), drain at the end.
//!
//! An item may be queued without a task (a campaign's journal replay or a reused result): it
//! keeps its place in the order and is admitted without waiting on the executor.

use super::Executor;
use crate::error::Result;
use crate::event::Event;
use crate::task::{write_task, Task, TaskResult};
use std::collections::VecDeque;
use std::path::Path;

pub struct Pipeline<T> {
    in_flight: usize,
    queue: VecDeque<(T, Option<Task>)>,
}

impl<T> Pipeline<T> {
    /// A pipeline keeping at most `in_flight` (≥ 1) items out.
    pub fn new(in_flight: usize) -> Self {
        Self {
            in_flight: in_flight.max(1),
            queue: VecDeque::new(),
        }
    }

    /// Items submitted and not yet admitted.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// No room for another item until the oldest is admitted.
    pub fn is_full(&self) -> bool {
        self.queue.len() >= self.in_flight
    }

    /// The items out, oldest first.
    pub fn items(&self) -> impl Iterator<Item = &T> {
        self.queue.iter().map(|(item, _)| item)
    }

    /// Queues `item`; with a task, writes `task.json` and hands it to the executor. A task
    /// that cannot be written is an error of the run (a full disk, say): nothing is queued and
    /// the caller stops. An executor that cannot start it is noted, and the item stays queued:
    /// waiting for it reports the failure as its result.
    pub fn submit(
        &mut self,
        dir: &Path,
        executor: &mut dyn Executor,
        item: T,
        task: Option<Task>,
        ev: &mut dyn FnMut(Event),
    ) -> Result<()> {
        if let Some(t) = &task {
            if executor.reads_task_files() {
                write_task(dir, t)?;
            }
            if let Err(e) = executor.start(dir, t, ev) {
                ev(Event::Note(format!("candidate {}: {e}", t.name)));
            }
        }
        self.queue.push_back((item, task));
        Ok(())
    }

    /// The oldest item and its result (`None` for an item queued without a task), after
    /// waiting for it; `None` when nothing is out.
    pub fn admit_head(
        &mut self,
        dir: &Path,
        executor: &mut dyn Executor,
        ev: &mut dyn FnMut(Event),
    ) -> Option<(T, Option<TaskResult>)> {
        let (item, task) = self.queue.pop_front()?;
        let result = task.map(|t| executor.wait(dir, &t, ev));
        Some((item, result))
    }
}

/// Receives each finished task with its result, in order; an error (its journal could not be
/// written) stops the run.
pub type Admit<'a> = dyn FnMut(Task, TaskResult, &mut dyn FnMut(Event)) -> Result<()> + 'a;

/// Evaluates `tasks` with at most `in_flight` at once, handing the results to `admit` in the
/// order of `tasks`: what the depth–width study and the proxy audit run on.
pub fn run_in_order(
    dir: &Path,
    executor: &mut dyn Executor,
    in_flight: usize,
    tasks: Vec<Task>,
    ev: &mut dyn FnMut(Event),
    admit: &mut Admit<'_>,
) -> Result<()> {
    let mut pipeline = Pipeline::new(in_flight);
    for task in tasks {
        while pipeline.is_full() {
            admit_next(&mut pipeline, dir, executor, ev, admit)?;
        }
        pipeline.submit(dir, executor, task.clone(), Some(task), ev)?;
    }
    while !pipeline.is_empty() {
        admit_next(&mut pipeline, dir, executor, ev, admit)?;
    }
    Ok(())
}

fn admit_next(
    pipeline: &mut Pipeline<Task>,
    dir: &Path,
    executor: &mut dyn Executor,
    ev: &mut dyn FnMut(Event),
    admit: &mut Admit<'_>,
) -> Result<()> {
    let (task, result) = pipeline.admit_head(dir, executor, ev).expect("an item out");
    admit(
        task,
        result.expect("every task was submitted with itself"),
        ev,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashnas_model::ArchSpec;
    use flashnas_training::TrainConfig;
    use rand::{Rng, SeedableRng};
    use std::collections::HashMap;

    /// Finishes the jobs it holds in a random order: when one is waited for, a random subset
    /// of the others finishes first (their results kept until they are waited for).
    struct OutOfOrder {
        rng: rand_chacha::ChaCha8Rng,
        running: Vec<String>,
        finished: HashMap<String, TaskResult>,
        completion_order: Vec<String>,
        most_running: usize,
    }

    impl OutOfOrder {
        fn finish(&mut self, name: &str, task: &Task) {
            self.running.retain(|n| n != name);
            self.completion_order.push(name.to_string());
            let mut r = TaskResult::gave_up(task, format!("result of {name}"), 1, "fake");
            r.name = name.to_string();
            self.finished.insert(name.to_string(), r);
        }
    }

    impl Executor for OutOfOrder {
        fn name(&self) -> &'static str {
            "out-of-order"
        }
        fn start(&mut self, _: &Path, task: &Task, _: &mut dyn FnMut(Event)) -> Result<()> {
            self.running.push(task.name.clone());
            self.most_running = self.most_running.max(self.running.len());
            Ok(())
        }
        fn wait(&mut self, _: &Path, task: &Task, _: &mut dyn FnMut(Event)) -> TaskResult {
            for other in self.running.clone() {
                if other != task.name && self.rng.gen_bool(0.6) {
                    self.finish(&other, task);
                }
            }
            if self.running.contains(&task.name) {
                self.finish(&task.name.clone(), task);
            }
            self.finished.remove(&task.name).expect("finished")
        }
    }

    fn task(dir: &Path, i: usize) -> Task {
        Task {
            name: i.to_string(),
            proposal_key: format!("k{i}"),
            spec: ArchSpec::from_json(
                r#"{"vocab_size": 8, "d_model": 8, "ffn": {"hidden": 8}, "layers": ["f"]}"#,
            )
            .unwrap(),
            train: TrainConfig::from_toml("steps = 1", "test").unwrap(),
            latency: None,
            known_latency: None,
            base_dir: dir.to_path_buf(),
            reference: None,
            serve: None,
        }
    }

    /// Results come back in any order; they are admitted in submission order, each with its
    /// own task, and never more than `in_flight` are out.
    #[test]
    fn an_executor_finishing_out_of_order_is_still_admitted_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for in_flight in [1, 3, 5] {
            let mut ex = OutOfOrder {
                rng: rand_chacha::ChaCha8Rng::seed_from_u64(in_flight as u64),
                running: Vec::new(),
                finished: HashMap::new(),
                completion_order: Vec::new(),
                most_running: 0,
            };
            let tasks: Vec<Task> = (0..20).map(|i| task(dir.path(), i)).collect();
            let mut admitted = Vec::new();
            run_in_order(
                dir.path(),
                &mut ex,
                in_flight,
                tasks,
                &mut |_| {},
                &mut |t, r, _| {
                    assert_eq!(t.name, r.name, "a result admitted with another's task");
                    assert!(r
                        .proxy
                        .status
                        .describe()
                        .contains(&format!("result of {}", t.name)));
                    admitted.push(t.name.parse::<usize>().unwrap());
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(admitted, (0..20).collect::<Vec<_>>());
            assert_eq!(ex.most_running, in_flight);
            let completed: Vec<usize> = ex
                .completion_order
                .iter()
                .map(|n| n.parse().unwrap())
                .collect();
            if in_flight > 1 {
                assert_ne!(
                    completed, admitted,
                    "the fake must really finish out of order"
                );
            }
        }
    }

    /// Items queued without a task keep their place and are admitted without waiting.
    #[test]
    fn items_without_a_task_keep_their_place() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = OutOfOrder {
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(0),
            running: Vec::new(),
            finished: HashMap::new(),
            completion_order: Vec::new(),
            most_running: 0,
        };
        let mut p = Pipeline::new(4);
        p.submit(
            dir.path(),
            &mut ex,
            "a",
            Some(task(dir.path(), 0)),
            &mut |_| {},
        )
        .unwrap();
        p.submit(dir.path(), &mut ex, "b", None, &mut |_| {})
            .unwrap();
        p.submit(
            dir.path(),
            &mut ex,
            "c",
            Some(task(dir.path(), 2)),
            &mut |_| {},
        )
        .unwrap();
        assert!(!p.is_full());
        let mut out = Vec::new();
        while let Some((item, r)) = p.admit_head(dir.path(), &mut ex, &mut |_| {}) {
            out.push((item, r.map(|r| r.name)));
        }
        assert_eq!(
            out,
            vec![
                ("a", Some("0".to_string())),
                ("b", None),
                ("c", Some("2".to_string()))
            ]
        );
    }
}
