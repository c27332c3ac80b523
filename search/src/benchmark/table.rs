//! A tabular benchmark of a search space (as NAS-Bench-201 and HW-GPT-Bench are for theirs):
//! every genome evaluated once — latency, and the validation loss at each rung of a fidelity
//! ladder from one training run — so strategies replay against it in seconds
//! (`--executor table:PATH`, `flashnas bench strategies`). `flashnas tabulate` builds one
//! (`crate::export::write_table` writes it); this reads it.
//!
//! Parquet columns: `key` (`layers | wW`), `layers`, `width`, `depth`, `params`, `status`,
//! `failure`, `latency_s`, `latency_ref`, `latency_source`, `val_loss`, `steps`, `train_s`
//! (training seconds of the full run), `eval_s` (the whole evaluation, latency included), and
//! per rung below the full run `val_loss@<step>` and `train_s@<step>`. Tables built since the
//! benchmark protocol charges every answer also hold `timing_s` (the latency measurement) and
//! `val_s` (one validation pass), and, when every genome was trained with several seeds,
//! `replicates` and `val_loss_std` / `val_loss_std@<step>` (the standard deviation over them;
//! `val_loss` is their mean).
//!
//! **What an answer costs** ([`TableRow::cost`]): for a trained answer, the training seconds
//! to the rung asked for and one validation pass; a priced-only answer costs no compute (it is
//! counted). The latency timing is the tabulation's overhead and is not charged. A table
//! without `timing_s` / `val_s` holds the whole measured overhead `eval_s − train_s` (timing
//! and every validation of the ladder) as `timing_s` and no validation cost: its answers are
//! charged their training alone. A cost the table lacks is an error at load.

use crate::error::{Error, Result};
use crate::journal::RecordStatus;
use crate::task::LatencyOrigin;
use polars::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One genome of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub key: String,
    pub layers: String,
    pub width: usize,
    pub params: usize,
    pub status: RecordStatus,
    pub failure: Option<String>,
    pub latency_s: Option<f64>,
    pub latency_ref: Option<f64>,
    pub latency_source: LatencyOrigin,
    /// Validation loss of the full run.
    pub val_loss: Option<f64>,
    pub steps: usize,
    /// Training seconds of the full run (validation excluded).
    pub train_s: f64,
    /// (step, validation loss, training seconds to that step) below the full run.
    pub rungs: Vec<(usize, f64, f64)>,
    /// Seconds of the latency measurement (or, for an old table, the whole overhead).
    pub timing_s: f64,
    /// Seconds of one validation pass (0 for an old table: in `timing_s`).
    pub val_s: f64,
    /// Training seeds behind `val_loss` (1 for a table of single runs).
    pub replicates: usize,
    /// Standard deviation of the full run's loss over the seeds (`None` with one seed).
    pub val_loss_std: Option<f64>,
    /// The recall probe's accuracy, mean over the seeds (`None` where the probe was off).
    pub recall: Option<f64>,
    /// Its standard deviation over the seeds.
    pub recall_std: Option<f64>,
    /// Seconds of the recall probe, which the full run pays (a rung is screened on its loss):
    /// 0 without it.
    pub recall_s: f64,
}

impl TableRow {
    /// The seconds an answer costs a strategy: when trained (`step`: to that rung or the full
    /// run) the training to it, one validation and — at the full run, as the live worker runs
    /// it — the recall probe; nothing when only priced. The timing is
    /// the tabulation's own overhead (its repeats and calibration), not a cost a strategy
    /// causes: a live campaign counts its pricings apart from its training compute, and so
    /// does the benchmark. A promotion retrains from the first step, as the live executors
    /// do, and is charged its whole training.
    pub fn cost(&self, step: Option<usize>) -> f64 {
        match step.and_then(|s| self.at(s)) {
            // The recall probe runs at the full run only (a rung is screened on its loss).
            Some((_, train)) if step == Some(self.steps) => train + self.val_s + self.recall_s,
            Some((_, train)) => train + self.val_s,
            None => 0.0,
        }
    }

    /// Validation loss and training seconds after `step` steps (the full run at its steps).
    pub fn at(&self, step: usize) -> Option<(f64, f64)> {
        if step == self.steps {
            return self.val_loss.map(|l| (l, self.train_s));
        }
        self.rungs
            .iter()
            .find(|r| r.0 == step)
            .map(|&(_, l, s)| (l, s))
    }
}

pub struct Table {
    pub path: PathBuf,
    pub rows: Vec<TableRow>,
    index: HashMap<String, usize>,
}

/// Where a table's config lives: `T.parquet` → `T.table.toml` (the campaign config it was
/// built under, reference latency pinned; never the user's own config file).
pub fn config_path(table: &Path) -> PathBuf {
    table.with_extension("table.toml")
}

/// The table key of an architecture: its layer string and width.
pub fn key_of(layers: &str, width: usize) -> String {
    format!("{layers} | w{width}")
}

impl Table {
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |why: String| Error::file(path, why);
        let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
        let df = ParquetReader::new(file)
            .finish()
            .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
        let strings = |name: &str| -> Result<Vec<Option<String>>> {
            let c = df
                .column(name)
                .map_err(|_| bad(format!("no column '{name}': not a flashnas table")))?;
            let s = c
                .str()
                .map_err(|_| bad(format!("column '{name}' is not text")))?;
            Ok(s.iter().map(|v| v.map(str::to_string)).collect())
        };
        let floats = |name: &str| -> Result<Vec<Option<f64>>> {
            let c = df
                .column(name)
                .map_err(|_| bad(format!("no column '{name}': not a flashnas table")))?;
            let c = c
                .cast(&DataType::Float64)
                .map_err(|_| bad(format!("column '{name}' is not numeric")))?;
            let f = c.f64().map_err(|e| bad(e.to_string()))?;
            Ok(f.iter().collect())
        };
        let rung_steps: Vec<usize> = {
            let mut s: Vec<usize> = df
                .get_column_names()
                .iter()
                .filter_map(|n| n.strip_prefix("val_loss@")?.parse().ok())
                .collect();
            s.sort_unstable();
            s
        };
        let keys = strings("key")?;
        let layers = strings("layers")?;
        let status = strings("status")?;
        let failure = strings("failure")?;
        let source = strings("latency_source")?;
        let (width, params, steps) = (floats("width")?, floats("params")?, floats("steps")?);
        let (latency, ratio) = (floats("latency_s")?, floats("latency_ref")?);
        let (loss, train) = (floats("val_loss")?, floats("train_s")?);
        let optional = |name: &str| -> Result<Option<Vec<Option<f64>>>> {
            match df.column(name) {
                Ok(_) => floats(name).map(Some),
                Err(_) => Ok(None),
            }
        };
        let (timing, val_once) = (optional("timing_s")?, optional("val_s")?);
        let eval = optional("eval_s")?;
        let (replicates, loss_std) = (optional("replicates")?, optional("val_loss_std")?);
        let (recall, recall_std) = (
            optional("recall_accuracy")?,
            optional("recall_accuracy_std")?,
        );
        let recall_s = optional("recall_s")?;
        // A charge needs its cost: say which row and column lacks one.
        let cost_of = |i: usize, col: &str, v: Option<f64>| {
            v.filter(|x| x.is_finite() && *x >= 0.0).ok_or_else(|| {
                bad(format!(
                    "row {i} ({}): no '{col}', so its answers have no cost; rebuild the table with flashnas tabulate",
                    keys[i].clone().unwrap_or_default()
                ))
            })
        };
        let mut rung_cols = Vec::new();
        for s in &rung_steps {
            rung_cols.push((
                *s,
                floats(&format!("val_loss@{s}"))?,
                floats(&format!("train_s@{s}"))?,
            ));
        }
        let mut rows = Vec::with_capacity(df.height());
        for i in 0..df.height() {
            let text = |v: &Vec<Option<String>>| v[i].clone().unwrap_or_default();
            let status = match text(&status).as_str() {
                "ok" => RecordStatus::Ok,
                "over_budget" => RecordStatus::OverBudget,
                "failed" => RecordStatus::Failed,
                s => {
                    return Err(bad(format!(
                        "row {i}: status '{s}' is not ok, failed or over_budget"
                    )))
                }
            };
            let latency_source: LatencyOrigin =
                serde_json::from_value(serde_json::Value::String(text(&source)))
                    .map_err(|e| bad(format!("row {i}: {e}")))?;
            let trained = status == RecordStatus::Ok;
            let mut rungs = Vec::new();
            for (s, l, t) in &rung_cols {
                if let Some(l) = l[i] {
                    rungs.push((*s, l, cost_of(i, &format!("train_s@{s}"), t[i])?));
                }
            }
            let train_s = match trained {
                true => cost_of(i, "train_s", train[i])?,
                false => train[i].unwrap_or(0.0),
            };
            let (timing_s, val_s) = match (&timing, &val_once) {
                (Some(t), Some(v)) => (
                    cost_of(i, "timing_s", t[i])?,
                    match trained {
                        true => cost_of(i, "val_s", v[i])?,
                        false => 0.0,
                    },
                ),
                _ => {
                    let e = eval.as_ref().ok_or_else(|| {
                        bad("no 'eval_s' (nor 'timing_s' and 'val_s'): answers would cost nothing; rebuild the table with flashnas tabulate".into())
                    })?;
                    let e = cost_of(i, "eval_s", e[i])?;
                    ((e - train_s).max(0.0), 0.0)
                }
            };
            rows.push(TableRow {
                key: text(&keys),
                layers: text(&layers),
                width: width[i].unwrap_or(0.0) as usize,
                params: params[i].unwrap_or(0.0) as usize,
                status,
                failure: failure[i].clone().filter(|f| !f.is_empty()),
                latency_s: latency[i],
                latency_ref: ratio[i],
                latency_source,
                val_loss: loss[i],
                steps: steps[i].unwrap_or(0.0) as usize,
                train_s,
                rungs,
                timing_s,
                val_s,
                replicates: replicates
                    .as_ref()
                    .and_then(|r| r[i])
                    .map_or(1, |r| r as usize),
                val_loss_std: loss_std.as_ref().and_then(|v| v[i]),
                recall: recall.as_ref().and_then(|v| v[i]),
                recall_std: recall_std.as_ref().and_then(|v| v[i]),
                recall_s: recall_s.as_ref().and_then(|v| v[i]).unwrap_or(0.0),
            });
        }
        let index = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.key.clone(), i))
            .collect();
        Ok(Self {
            path: path.to_path_buf(),
            rows,
            index,
        })
    }

    /// A table of `rows` (what `load` builds from a Parquet file; tests build synthetic ones).
    pub fn from_rows(path: &Path, rows: Vec<TableRow>) -> Self {
        let index = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.key.clone(), i))
            .collect();
        Self {
            path: path.to_path_buf(),
            rows,
            index,
        }
    }

    /// A hash of every genome and figure the table holds (keys, status, latency, losses and
    /// costs): what a surrogate fitted on it records, so that it is never used for another.
    pub fn fingerprint(&self) -> String {
        let mut text = String::new();
        for r in &self.rows {
            text.push_str(&format!(
                "{}|{:?}|{:?}|{:?}|{:?}|{}|{}|{}|{:?}\n",
                r.key,
                r.status,
                r.latency_s,
                r.val_loss,
                r.rungs,
                r.train_s,
                r.timing_s,
                r.val_s,
                r.val_loss_std
            ));
            // (Only where measured: tables without the probe keep their fingerprints.)
            if r.recall.is_some() {
                text.push_str(&format!(
                    "recall {:?} {:?} {}\n",
                    r.recall, r.recall_std, r.recall_s
                ));
            }
        }
        format!("{:016x}", flashnas_model::init::fnv1a(&text))
    }

    pub fn get(&self, key: &str) -> Option<&TableRow> {
        self.index.get(key).map(|&i| &self.rows[i])
    }

    /// The table's seed noise: the pooled standard deviation of the full run's loss over the
    /// replicated rows, √(Σ (nᵢ − 1) sᵢ² / Σ (nᵢ − 1)) — unbiased in the variance, where a mean
    /// of two-seed standard deviations runs ~20 % low. `None` for a table of single runs.
    pub fn replicate_noise(&self) -> Option<f64> {
        let (mut ss, mut df) = (0.0, 0.0);
        for r in &self.rows {
            if let Some(s) = r.val_loss_std {
                let n = r.replicates.max(2) as f64 - 1.0;
                ss += n * s * s;
                df += n;
            }
        }
        (df > 0.0).then(|| (ss / df).sqrt())
    }

    /// How each rung ranks like the full run: (step, Spearman over every trained row,
    /// Spearman over the best `top` fraction of them by full-run loss). A ladder is only worth
    /// pruning on where it still ranks among the good genomes.
    pub fn rung_correlations(&self, top: f64) -> Vec<(usize, f64, f64)> {
        let mut rows: Vec<&TableRow> = self
            .rows
            .iter()
            .filter(|r| r.status == RecordStatus::Ok && r.val_loss.is_some())
            .collect();
        rows.sort_by(|a, b| a.val_loss.unwrap().total_cmp(&b.val_loss.unwrap()));
        let best = ((rows.len() as f64 * top).ceil() as usize).clamp(3.min(rows.len()), rows.len());
        self.rung_steps()
            .into_iter()
            .map(|step| {
                let rho = |rs: &[&TableRow]| {
                    let (x, y): (Vec<f64>, Vec<f64>) = rs
                        .iter()
                        .filter_map(|r| Some((r.at(step)?.0, r.val_loss?)))
                        .unzip();
                    crate::rank::spearman(&x, &y)
                };
                (step, rho(&rows), rho(&rows[..best]))
            })
            .collect()
    }

    /// The steps of the rungs below the full run that every trained row has.
    pub fn rung_steps(&self) -> Vec<usize> {
        self.rows
            .iter()
            .find(|r| r.status == RecordStatus::Ok)
            .map(|r| r.rungs.iter().map(|g| g.0).collect())
            .unwrap_or_default()
    }
}
