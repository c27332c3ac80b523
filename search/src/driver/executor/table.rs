//! An executor that answers from a benchmark table (`--executor table:PATH`): any strategy
//! runs against a tabulated space unchanged, in seconds. Each answer's `eval_seconds` is the
//! training it cost when tabulated ([`crate::table::TableRow::cost`]: the training to the
//! rung asked for plus one validation, and at the full run the recall probe where the table
//! has one; a
//! promotion retrains from the start, as the real executors do), so simulated compute can be
//! compared across strategies. Latency comes
//! first, as on the real executors: a candidate over the campaign's budget is answered
//! untrained, at no training cost (its pricing is counted, not charged).
//!
//! **Seed noise.** A row of several seeds holds their mean, which no single training run
//! gives: a campaign trains a genome once and sees one seed's loss. So a replicated row is
//! answered as one run would be — its mean plus `z ×` its replicate standard deviation, `z ~
//! N(0, 1)` drawn once per (training seed, genome) and the same at every rung (one run's noise),
//! as the surrogate executor draws it. The benchmark scores what a run found at the mean (its
//! truth); the gap between the two is the luck it reports. A row of one seed is answered as is.
//! The recall probe's accuracy is answered at its mean, the figure the constraint is judged on.

use super::Executor;
use crate::error::Result;
use crate::event::Event;
use crate::journal::RecordStatus;
use crate::table::{key_of, Table};
use crate::task::{untrained_reason, Latency, Task, TaskResult};
use flashnas_training::{ProxyResult, Status};
use std::path::Path;

pub struct TableExecutor {
    table: Table,
}

impl TableExecutor {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    fn answer(&self, task: &Task) -> TaskResult {
        let key = key_of(&task.spec.layer_string(), task.spec.d_model);
        let Some(row) = self.table.get(&key) else {
            let reason = format!(
                "'{key}' is not in the table {} (is the campaign's space the table's?)",
                self.table.path.display()
            );
            return TaskResult::gave_up(task, reason, 1, "table");
        };
        let latency = Latency {
            seconds: row.latency_s,
            cv: None,
            source: row.latency_source.clone(),
            raw_s: None,
            ratio: row.latency_ref,
            predicted_s: None,
            retimed: None,
        };
        let params = row.params;
        let mut result = TaskResult {
            name: task.name.clone(),
            proposal_key: task.proposal_key.clone(),
            proxy: ProxyResult::failed(Status::Ok, params),
            latency: latency.clone(),
            eval_seconds: 0.0,
            worker: "table".into(),
            attempt: 1,
            throughput: None,
        };
        if let Some(reason) = task
            .latency
            .as_ref()
            .and_then(|l| untrained_reason(l, row.latency_s))
        {
            // Priced, not trained: pricing is counted apart from training compute.
            result.proxy.status = Status::NotTrained { reason };
            result.eval_seconds = row.cost(None);
            return result;
        }
        if row.status == RecordStatus::Failed {
            let reason = row.failure.clone().unwrap_or_else(|| "failed".into());
            result.proxy.status = Status::Error { reason };
            result.latency = Latency::default();
            // A failed run cost its training as far as it went: the full run's, at most.
            result.eval_seconds = row.train_s;
            return result;
        }
        let step = task.train.run_steps();
        match row.at(step) {
            Some((mean, seconds)) => {
                let noise = match row.val_loss_std {
                    Some(sd) if row.replicates > 1 => {
                        sd * crate::surrogate::Surrogate::noise_draw(task.train.seed, &key)
                    }
                    _ => 0.0,
                };
                let loss = mean + noise;
                result.proxy.val_loss = Some(loss);
                result.proxy.perplexity = Some(loss.exp());
                // The full run answers the recall probe (its own fresh run), as the live
                // worker does; a rung is screened on its loss alone and does not pay for it.
                if step == row.steps {
                    result.proxy.recall_accuracy = row.recall;
                    result.proxy.recall_seconds = (row.recall_s > 0.0).then_some(row.recall_s);
                }
                result.proxy.steps = step;
                result.proxy.tokens_seen = step * task.train.batch_size * task.train.seq_len;
                result.proxy.wall_seconds = seconds;
                result.eval_seconds = row.cost(Some(step));
            }
            None => {
                let have: Vec<String> = row
                    .rungs
                    .iter()
                    .map(|r| r.0)
                    .chain([row.steps])
                    .map(|s| s.to_string())
                    .collect();
                result.proxy.status = Status::Error {
                    reason: format!(
                        "the table has the loss after {} steps, not {step}",
                        have.join(", ")
                    ),
                };
            }
        }
        result
    }
}

impl Executor for TableExecutor {
    fn reads_task_files(&self) -> bool {
        false
    }

    fn name(&self) -> &'static str {
        "table"
    }

    fn start(&mut self, _dir: &Path, _task: &Task, _ev: &mut dyn FnMut(Event)) -> Result<()> {
        Ok(())
    }

    fn wait(&mut self, _dir: &Path, task: &Task, _ev: &mut dyn FnMut(Event)) -> TaskResult {
        self.answer(task)
    }
}

impl crate::section::Sectioned for TableExecutor {
    /// `table = "PATH"` in `[executor]`.
    const SECTION: &'static str = "table";
    type Config = Option<String>;
    const WRITE_DEFAULT: bool = false;
}

impl super::registry::Registered for TableExecutor {
    fn validate(c: &Option<String>, _e: &super::ExecutorConfig) -> Result<(), String> {
        super::registry::path_given(c, "table", "the table")
    }
    fn build(c: &Option<String>, _e: &super::ExecutorConfig) -> Result<Box<dyn Executor>> {
        let path = c.as_deref().unwrap_or_default();
        Ok(Box::new(TableExecutor::new(Table::load(Path::new(path))?)))
    }
    const ARGUMENT: Option<&'static str> = Some("PATH (a table from flashnas tabulate)");
    fn argument(arg: &str) -> Result<String, String> {
        super::registry::absolute_path(arg, "build one with flashnas tabulate")
    }
}
