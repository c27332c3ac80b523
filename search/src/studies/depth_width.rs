//! The depth–width study (Nemotron-Flash §3.1): train a grid of depths × widths of one block
//! pattern with the proxy, time every shape on the device, fit
//! `L(D, W) = L0 + a·D^-α + b·W^-β`, check the fit on held-out larger shapes, and pick the
//! best shape under each latency budget.
//!
//! It runs on the campaign machinery: every shape is a [`Task`] evaluated by the configured
//! executor (inline, local pool, Slurm), results are admitted in grid order into a
//! checksummed journal (`journal.jsonl`), and a resume reads the journal back and evaluates
//! only what is missing.

use crate::config::{LatencyConfig, SpaceConfig};
use crate::error::{Error, Result};
use crate::executor::ExecutorConfig;
use crate::journal::{Entry, Journal};
use crate::lock::FolderLock;
use crate::plot::{chart, Series};
use crate::rows::Rows;
use crate::scaling::{fit, Fit, Observation, ScalingLaw};
use crate::task::{Latency, Task};
use crate::Event;
use flashnas_model::spec::LayerKind;
use flashnas_model::{accounting, ArchSpec};
use flashnas_training::{Dataset, ProxyResult, TrainConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

mod config;
mod outputs;

pub use config::{DepthWidthConfig, ModelConfig};
use outputs::table_for_choice;
pub use outputs::{report_data, write_outputs};

/// One trained and timed shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapeRow {
    pub id: usize,
    pub depth: usize,
    pub width: usize,
    pub layers: String,
    pub params: usize,
    pub proxy: ProxyResult,
    pub latency: Latency,
    pub eval_seconds: f64,
    pub attempts: usize,
}

impl Entry for ShapeRow {
    fn index(&self) -> usize {
        self.id
    }
}

impl ShapeRow {
    /// Validation loss when the run succeeded.
    pub fn loss(&self) -> Option<f64> {
        self.proxy.val_loss.filter(|_| self.proxy.status.is_ok())
    }
}

/// For one budget: the best measured shape and the best predicted one (row ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetChoice {
    pub budget_s: f64,
    /// Lowest measured proxy loss among shapes within the budget.
    pub best_measured: Option<usize>,
    /// Lowest loss predicted by the fitted law among shapes within the budget.
    pub best_predicted: Option<usize>,
}

/// Picks shapes under a budget from `(latency, measured loss, predicted loss)` per row
/// (ties to the lower row id).
pub fn choose(rows: &[(Option<f64>, Option<f64>, Option<f64>)], budget_s: f64) -> BudgetChoice {
    let within = |i: &usize| rows[*i].0.is_some_and(|l| l <= budget_s);
    let argmin = |key: &dyn Fn(usize) -> Option<f64>| {
        (0..rows.len())
            .filter(within)
            .filter_map(|i| key(i).map(|v| (v, i)))
            .min_by(|a, b| a.0.partial_cmp(&b.0).expect("finite").then(a.1.cmp(&b.1)))
            .map(|(_, i)| i)
    };
    BudgetChoice {
        budget_s,
        best_measured: argmin(&|i| rows[i].1),
        best_predicted: argmin(&|i| rows[i].2),
    }
}

/// The held-out check: fit on the smaller shapes, predict the largest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutCheck {
    pub fit: Fit,
    /// (row id, observed loss, predicted loss, loss error %, perplexity error %).
    pub predictions: Vec<(usize, f64, f64, f64, f64)>,
    pub mean_loss_error_pct: f64,
    pub mean_ppl_error_pct: f64,
}

/// Everything the study concludes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyReport {
    pub name: String,
    /// The law fitted on every successful shape.
    pub fit: Fit,
    pub holdout: Option<HoldoutCheck>,
    pub budgets: Vec<BudgetChoice>,
    pub failed: Vec<usize>,
}

pub struct Study<'a> {
    pub dir: PathBuf,
    pub cfg: DepthWidthConfig,
    pub rows: Rows<ShapeRow>,
    vocab_size: usize,
    on_event: &'a mut dyn FnMut(Event),
    _lock: FolderLock,
}

impl<'a> Study<'a> {
    pub fn create(
        dir: &Path,
        cfg: DepthWidthConfig,
        config_text: &str,
        on_event: &'a mut dyn FnMut(Event),
    ) -> Result<Self> {
        let lock = crate::run_dir::new_run_dir(
            dir,
            config_text,
            &format!(
                "a study already exists here; resume it with `flashnas depth-width --resume {}`",
                dir.display()
            ),
        )?;
        Self::open(dir, cfg, lock, on_event)
    }

    pub fn resume(dir: &Path, on_event: &'a mut dyn FnMut(Event)) -> Result<Self> {
        let (lock, config) =
            crate::run_dir::resume_run_dir(dir, "depth-width study", "study driver")?;
        let cfg = DepthWidthConfig::from_file(&config)?;
        Self::open(dir, cfg, lock, on_event)
    }

    fn open(
        dir: &Path,
        cfg: DepthWidthConfig,
        lock: FolderLock,
        on_event: &'a mut dyn FnMut(Event),
    ) -> Result<Self> {
        let data = Dataset::probe(&cfg.train.data, cfg.train.seq_len, dir)
            .map_err(|e| Error::Data(e.to_string()))?;
        let shapes = cfg.shapes();
        // A journal from another grid is not silently mixed in.
        let rows = Rows::open(
            dir.join("journal.jsonl"),
            format!("flashnas depth-width --resume {}", dir.display()),
            on_event,
            |_, r: &ShapeRow| {
                (shapes.get(r.id) != Some(&(r.depth, r.width))).then(|| {
                    format!(
                        "record {} is D{} W{}, which is not shape {} of this config's grid",
                        r.id, r.depth, r.width, r.id
                    )
                })
            },
        )?;
        Ok(Self {
            dir: dir.to_path_buf(),
            vocab_size: data.vocab_size,
            cfg,
            rows,
            on_event,
            _lock: lock,
        })
    }

    /// Trains and times every shape not yet in the journal.
    pub fn run(&mut self) -> Result<StudyReport> {
        let shapes = self.cfg.shapes();
        for r in self.rows.rows() {
            (self.on_event)(Event::Note(format!(
                "D{} W{}: from journal (loss {})",
                r.depth,
                r.width,
                r.loss()
                    .map(|l| format!("{l:.4}"))
                    .unwrap_or_else(|| r.proxy.status.describe())
            )));
        }
        let mut train = self.cfg.train.clone();
        train.seed = self.cfg.seed;
        let tasks: Vec<Task> = shapes
            .iter()
            .enumerate()
            .skip(self.rows.len())
            .map(|(_, &(d, w))| {
                let spec = self.cfg.arch(d, w, self.vocab_size);
                Task {
                    name: format!("D{d}-W{w}"),
                    proposal_key: format!("{}|{w}", spec.layer_string()),
                    spec,
                    train: train.clone(),
                    // The scaling fit needs every shape trained, whatever its latency.
                    latency: Some(LatencyConfig {
                        train_over_budget: true,
                        ..self.cfg.latency.clone()
                    }),
                    known_latency: None,
                    base_dir: self.dir.clone(),
                    reference: None,
                    serve: None,
                }
            })
            .collect();
        let total = shapes.len();
        let ev = &mut self.on_event;
        self.rows.run(
            &self.dir,
            &self.cfg.executor,
            tasks,
            &mut |e| ev(e),
            &mut |task, r, id| {
                let (depth, width) = shapes[id];
                ShapeRow {
                    id,
                    depth,
                    width,
                    layers: task.spec.layer_string(),
                    params: accounting::param_count(&task.spec),
                    proxy: r.proxy,
                    latency: r.latency,
                    eval_seconds: r.eval_seconds,
                    attempts: r.attempt,
                }
            },
            &mut |row| {
                format!(
                    "[{}/{total}] D{:<3} W{:<5} params {:>9}  loss {}  latency {}",
                    row.id + 1,
                    row.depth,
                    row.width,
                    row.params,
                    row.loss()
                        .map(|l| format!("{l:.4}"))
                        .unwrap_or_else(|| row.proxy.status.describe()),
                    row.latency
                        .seconds
                        .map(|s| format!("{s:.5} s"))
                        .unwrap_or_else(|| row.latency.source.to_string())
                )
            },
        )?;
        let report = analyze(&self.cfg, self.rows.rows())?;
        write_outputs(&self.dir, &self.cfg, self.rows.rows(), &report)?;
        Ok(report)
    }
}

/// Fits the law, checks it on held-out shapes and picks shapes per budget.
pub fn analyze(cfg: &DepthWidthConfig, rows: &[ShapeRow]) -> Result<StudyReport> {
    let ok: Vec<&ShapeRow> = rows
        .iter()
        .filter(|r| r.loss().is_some() && r.latency.seconds.is_some())
        .collect();
    let obs = |rs: &[&ShapeRow]| -> Vec<Observation> {
        rs.iter()
            .map(|r| Observation {
                depth: r.depth as f64,
                width: r.width as f64,
                loss: r.loss().expect("ok"),
            })
            .collect()
    };
    let full = fit(&obs(&ok)).map_err(|e| Error::Analysis(format!("fit: {e}")))?;
    let holdout = if cfg.holdout > 0 && ok.len() >= cfg.holdout + 5 {
        let mut by_size = ok.clone();
        by_size.sort_by_key(|r| (r.params, r.id));
        let (train, test) = by_size.split_at(by_size.len() - cfg.holdout);
        let f = fit(&obs(train)).map_err(|e| Error::Analysis(format!("held-out fit: {e}")))?;
        let predictions: Vec<(usize, f64, f64, f64, f64)> = test
            .iter()
            .map(|r| {
                let observed = r.loss().expect("ok");
                let predicted = f.law.predict(r.depth as f64, r.width as f64);
                (
                    r.id,
                    observed,
                    predicted,
                    100.0 * (predicted - observed).abs() / observed,
                    100.0 * (predicted.exp() - observed.exp()).abs() / observed.exp(),
                )
            })
            .collect();
        let n = predictions.len() as f64;
        Some(HoldoutCheck {
            mean_loss_error_pct: predictions.iter().map(|p| p.3).sum::<f64>() / n,
            mean_ppl_error_pct: predictions.iter().map(|p| p.4).sum::<f64>() / n,
            fit: f,
            predictions,
        })
    } else {
        None
    };
    let table = table_for_choice(rows, &full.law);
    let budgets = cfg.budgets_s.iter().map(|&b| choose(&table, b)).collect();
    Ok(StudyReport {
        name: cfg.name.clone(),
        fit: full,
        holdout,
        budgets,
        failed: rows
            .iter()
            .filter(|r| r.loss().is_none())
            .map(|r| r.id)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_choice_on_a_hand_made_table() {
        // (latency, measured loss, predicted loss)
        let rows = vec![
            (Some(0.010), Some(3.0), Some(3.05)), // 0: fast, poor
            (Some(0.020), Some(2.6), Some(2.55)), // 1
            (Some(0.020), Some(2.5), Some(2.70)), // 2: best measured at 0.02, predicted worse
            (Some(0.040), Some(2.2), Some(2.20)), // 3: best overall, slow
            (None, None, None),                   // 4: failed
            (Some(0.015), None, None),            // 5: trained but diverged
        ];
        let c = choose(&rows, 0.005);
        assert_eq!((c.best_measured, c.best_predicted), (None, None));
        let c = choose(&rows, 0.015);
        assert_eq!((c.best_measured, c.best_predicted), (Some(0), Some(0)));
        let c = choose(&rows, 0.020);
        assert_eq!((c.best_measured, c.best_predicted), (Some(2), Some(1)));
        let c = choose(&rows, 1.0);
        assert_eq!((c.best_measured, c.best_predicted), (Some(3), Some(3)));
    }
}
