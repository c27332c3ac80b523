//! `ProxyResult`: what a short training run reports.

use serde::{Deserialize, Serialize};

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// NaN / infinite loss or a loss above `max_loss`, at `step`.
    Diverged {
        step: usize,
        reason: String,
    },
    /// Anything else that stopped the run (bad input, a panic inside the backend, …).
    Error {
        reason: String,
    },
    /// Deliberately not trained (e.g. its latency was already over the budget).
    NotTrained {
        reason: String,
    },
}

impl Status {
    pub fn is_ok(&self) -> bool {
        matches!(self, Status::Ok)
    }
    /// One line for tables and logs.
    pub fn describe(&self) -> String {
        match self {
            Status::Ok => "ok".into(),
            Status::Diverged { step, reason } => format!("diverged at step {step}: {reason}"),
            Status::Error { reason } => format!("error: {reason}"),
            Status::NotTrained { reason } => format!("not trained: {reason}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyResult {
    #[serde(flatten)]
    pub status: Status,
    /// Mean next-token NLL on the fixed validation windows (nats/token).
    pub val_loss: Option<f64>,
    pub perplexity: Option<f64>,
    /// Next-token argmax accuracy on the validation windows.
    pub accuracy: Option<f64>,
    /// Multi-query associative recall accuracy, when enabled.
    pub recall_accuracy: Option<f64>,
    /// Seconds the recall probe took (its own training and scoring), when it ran — at the
    /// full run only, not at a multi-fidelity rung: part of `wall_seconds` and of the cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall_seconds: Option<f64>,
    pub tokens_seen: usize,
    pub steps: usize,
    pub wall_seconds: f64,
    pub tokens_per_second: f64,
    /// (step, training loss) every `log_every` steps, and the last step.
    pub loss_curve: Vec<(usize, f64)>,
    pub params: usize,
    pub backend: String,
    /// Validation loss at the configured checkpoints (`rungs`) of this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rungs: Vec<RungLoss>,
}

/// The validation loss after `step` training steps, and the training seconds spent to get
/// there (validation excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RungLoss {
    pub step: usize,
    pub val_loss: f64,
    pub train_seconds: f64,
}

impl ProxyResult {
    pub fn failed(status: Status, params: usize) -> Self {
        Self {
            status,
            val_loss: None,
            perplexity: None,
            accuracy: None,
            recall_accuracy: None,
            recall_seconds: None,
            tokens_seen: 0,
            steps: 0,
            wall_seconds: 0.0,
            tokens_per_second: 0.0,
            loss_curve: Vec::new(),
            params,
            backend: flashnas_model::backend::backend_name().into(),
            rungs: Vec::new(),
        }
    }
}
