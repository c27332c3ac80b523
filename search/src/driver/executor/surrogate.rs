//! An executor that answers from a surrogate benchmark (`--executor surrogate:FILE`): any
//! genome of the surrogate's space gets the predicted latency and loss (the seed noise drawn
//! per campaign seed and genome) and the predicted cost, as the table executor does for
//! tabulated genomes. Latency comes first: a genome over the budget is answered untrained, at
//! its timing cost. A genome outside the space is a failed evaluation with the reason.

use super::Executor;
use crate::error::Result;
use crate::event::Event;
use crate::surrogate::Surrogate;
use crate::task::{untrained_reason, Latency, LatencyOrigin, Task, TaskResult};
use flashnas_training::{ProxyResult, Status};
use std::path::Path;

pub struct SurrogateExecutor {
    surrogate: Surrogate,
}

impl SurrogateExecutor {
    pub fn new(surrogate: Surrogate) -> Self {
        Self { surrogate }
    }

    fn answer(&self, task: &Task) -> TaskResult {
        let a = match self.surrogate.answer(&task.spec) {
            Ok(a) => a,
            Err(e) => return TaskResult::gave_up(task, e.to_string(), 1, "surrogate"),
        };
        let params = flashnas_model::accounting::param_count(&task.spec);
        let mut result = TaskResult {
            name: task.name.clone(),
            proposal_key: task.proposal_key.clone(),
            proxy: ProxyResult::failed(Status::Ok, params),
            latency: Latency {
                seconds: Some(a.latency_s),
                cv: None,
                source: LatencyOrigin::Predicted,
                raw_s: None,
                ratio: a.latency_ref,
                predicted_s: Some(a.latency_s),
                retimed: None,
            },
            // Pricing is counted apart from training compute (see `TableRow::cost`).
            eval_seconds: 0.0,
            worker: "surrogate".into(),
            attempt: 1,
            throughput: None,
        };
        if let Some(reason) = task
            .latency
            .as_ref()
            .and_then(|l| untrained_reason(l, Some(a.latency_s)))
        {
            result.proxy.status = Status::NotTrained { reason };
            return result;
        }
        let step = task.train.run_steps();
        let Some(&(_, mean, std, train_s)) = a.losses.iter().find(|l| l.0 == step) else {
            let have: Vec<String> = a.losses.iter().map(|l| l.0.to_string()).collect();
            result.proxy.status = Status::Error {
                reason: format!(
                    "the surrogate has the loss after {} steps, not {step}",
                    have.join(", ")
                ),
            };
            return result;
        };
        let z = Surrogate::noise_draw(task.train.seed, &Surrogate::key(&task.spec));
        let loss = mean + z * std;
        result.proxy.val_loss = Some(loss);
        result.proxy.perplexity = Some(loss.exp());
        result.proxy.steps = step;
        result.proxy.tokens_seen = step * task.train.batch_size * task.train.seq_len;
        result.proxy.wall_seconds = train_s + a.val_s;
        result.eval_seconds = train_s + a.val_s;
        result
    }
}

impl Executor for SurrogateExecutor {
    fn reads_task_files(&self) -> bool {
        false
    }

    fn name(&self) -> &'static str {
        "surrogate"
    }

    fn start(&mut self, _dir: &Path, _task: &Task, _ev: &mut dyn FnMut(Event)) -> Result<()> {
        Ok(())
    }

    fn wait(&mut self, _dir: &Path, task: &Task, _ev: &mut dyn FnMut(Event)) -> TaskResult {
        self.answer(task)
    }
}

impl crate::section::Sectioned for SurrogateExecutor {
    /// `surrogate = "PATH"` in `[executor]`.
    const SECTION: &'static str = "surrogate";
    type Config = Option<String>;
    const WRITE_DEFAULT: bool = false;
}

impl super::registry::Registered for SurrogateExecutor {
    fn validate(c: &Option<String>, _e: &super::ExecutorConfig) -> Result<(), String> {
        super::registry::path_given(c, "surrogate", "the surrogate")
    }
    fn build(c: &Option<String>, _e: &super::ExecutorConfig) -> Result<Box<dyn Executor>> {
        let path = c.as_deref().unwrap_or_default();
        Ok(Box::new(SurrogateExecutor::new(Surrogate::load(
            Path::new(path),
        )?)))
    }
    const ARGUMENT: Option<&'static str> = Some("PATH (from flashnas surrogate fit)");
    fn argument(arg: &str) -> Result<String, String> {
        super::registry::absolute_path(arg, "fit one with flashnas surrogate fit")
    }
}
