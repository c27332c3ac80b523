//! Export of a campaign's frontier or all candidates, one row per candidate, with polars.

use crate::error::{Error, Result};
use crate::rank::median;
use crate::store::{load_records, pareto_flags};
use polars::prelude::*;
use std::path::Path;

/// Columns over a set of rows (records, a study's shapes), one value per row.
pub struct Cols<'a, T>(pub &'a [T]);

impl<T> Cols<'_, T> {
    pub fn u(&self, name: &str, f: &dyn Fn(&T) -> u64) -> Column {
        Column::new(name.into(), self.0.iter().map(f).collect::<Vec<u64>>())
    }
    pub fn f(&self, name: &str, f: &dyn Fn(&T) -> Option<f64>) -> Column {
        Column::new(
            name.into(),
            self.0.iter().map(f).collect::<Vec<Option<f64>>>(),
        )
    }
    pub fn s(&self, name: &str, f: &dyn Fn(&T) -> String) -> Column {
        Column::new(name.into(), self.0.iter().map(f).collect::<Vec<String>>())
    }
    pub fn b(&self, name: &str, f: &dyn Fn(&T) -> bool) -> Column {
        Column::new(name.into(), self.0.iter().map(f).collect::<Vec<bool>>())
    }
}

/// A CSV file of `columns` (`rows` long), written atomically.
pub fn write_csv(out: &Path, rows: usize, columns: Vec<Column>) -> Result<()> {
    let mut df = DataFrame::new(rows, columns).map_err(|e| Error::file(out, e))?;
    write_frame(out, &mut df, false)
}

/// The table of a campaign: id, cycle, genome string, every objective, params, width, depth,
/// status, is_pareto.
pub fn table(dir: &Path, frontier_only: bool) -> Result<DataFrame> {
    let (cfg, records, _) = load_records(dir)?;
    let flags = pareto_flags(&cfg, &records);
    let keep: Vec<usize> = (0..records.len())
        .filter(|&i| !frontier_only || flags[i])
        .collect();
    let rs: Vec<_> = keep.iter().map(|&i| &records[i]).collect();
    let c = Cols(&rs);
    let mut columns = vec![
        c.u("id", &|r| r.id as u64),
        c.u("cycle", &|r| r.cycle as u64),
        c.f("parent", &|r| r.parent.map(|p| p as f64)),
        c.s("origin", &|r| r.origin.to_string()),
        c.s("genome", &|r| r.layers.clone()),
        c.s("structure", &|r| r.genome.describe()),
        c.u("width", &|r| r.width as u64),
        c.u("depth", &|r| r.depth as u64),
        c.u("params", &|r| r.params as u64),
        c.u("state_bytes", &|r| r.state_bytes as u64),
        c.f("val_loss", &|r| r.proxy.val_loss),
        c.f("perplexity", &|r| r.proxy.perplexity),
        c.f("accuracy", &|r| r.proxy.accuracy),
        c.f("recall_accuracy", &|r| r.proxy.recall_accuracy),
        c.f("latency_s", &|r| r.latency.seconds),
        c.s("latency_source", &|r| r.latency.source.to_string()),
        c.s("status", &|r| r.status.to_string()),
        c.s("failure", &|r| r.failure.clone().unwrap_or_default()),
        Column::new(
            "feasible".into(),
            rs.iter().map(|r| r.feasible).collect::<Vec<bool>>(),
        ),
        Column::new(
            "is_pareto".into(),
            keep.iter().map(|&i| flags[i]).collect::<Vec<bool>>(),
        ),
        c.f("hypervolume_after", &|r| Some(r.hypervolume)),
    ];
    if rs.iter().any(|r| r.throughput_tokens_s.is_some()) {
        columns.push(c.f("throughput_tokens_s", &|r| r.throughput_tokens_s));
        columns.push(c.f("throughput_batch", &|r| {
            r.throughput_batch.map(|b| b as f64)
        }));
    }
    DataFrame::new(rs.len(), columns)
        .map_err(|e| Error::Analysis(format!("building the table: {e}")))
}

/// Writes the table as CSV or Parquet.
pub fn export(dir: &Path, frontier_only: bool, parquet: bool, out: &Path) -> Result<usize> {
    let mut df = table(dir, frontier_only)?;
    write_frame(out, &mut df, parquet)?;
    Ok(df.height())
}

/// One genome of a tabulation over its replicates (the same proposals trained with other
/// seeds): what a table row is made of.
struct Replicated<'a> {
    runs: Vec<&'a crate::Record>,
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn std(v: &[f64]) -> Option<f64> {
    let m = mean(v)?;
    (v.len() > 1)
        .then(|| (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt())
}

/// Training seconds of a run (validation excluded).
fn train_seconds(r: &crate::Record) -> Option<f64> {
    (r.proxy.tokens_per_second > 0.0)
        .then(|| r.proxy.tokens_seen as f64 / r.proxy.tokens_per_second)
}

impl Replicated<'_> {
    fn first(&self) -> &crate::Record {
        self.runs[0]
    }
    /// Failed when any replicate failed, ok when any was trained, else the first's (over
    /// budget).
    fn status(&self) -> crate::journal::RecordStatus {
        use crate::journal::RecordStatus;
        if self.runs.iter().any(|r| r.status == RecordStatus::Failed) {
            RecordStatus::Failed
        } else if !self.ok().is_empty() {
            RecordStatus::Ok
        } else {
            self.first().status
        }
    }
    fn ok(&self) -> Vec<&crate::Record> {
        self.runs
            .iter()
            .copied()
            .filter(|r| r.status == crate::journal::RecordStatus::Ok)
            .collect()
    }
    fn over<T>(&self, f: impl Fn(&crate::Record) -> Option<T>) -> Vec<T> {
        self.ok().into_iter().filter_map(f).collect()
    }
}

/// Writes finished `flashnas tabulate` campaigns (one, or several replicates of the same
/// proposals trained with other seeds) as a benchmark table (`crate::table` says the columns)
/// at `out`, and the first one's config beside it ([`crate::table::config_path`]): the space,
/// training ladder and latency protocol it was built under, read by `flashnas bench
/// strategies`. With replicates a row holds the mean loss and its standard deviation over
/// the seeds, and the median of the replicates' latency measurements (one sweep each).
pub fn write_table(dirs: &[&Path], out: &Path) -> Result<usize> {
    let dir = dirs
        .first()
        .ok_or_else(|| Error::Config("no tabulation to write".into()))?;
    let (cfg, records, _) = load_records(dir)?;
    let mut others = Vec::new();
    for d in &dirs[1..] {
        let (_, rs, _) = load_records(d)?;
        others.push(rs);
    }
    let full: Vec<&crate::Record> = records.iter().filter(|r| r.rung.is_none()).collect();
    // A tabulation of the feasible region (`--within-budget`) prices each replicate anew: a
    // genome at the budget's edge can be trained in one replicate and priced over in another,
    // and a replicate that reached its count of trained genomes sooner stops sooner. Its rows
    // hold the replicates that have them; a whole-space tabulation must have every one.
    let within_budget = !cfg.latency.train_over_budget;
    let mut rows: Vec<Replicated> = Vec::new();
    for r in &full {
        let mut runs = vec![*r];
        for (k, rs) in others.iter().enumerate() {
            match rs.iter().find(|o| o.rung.is_none() && o.key == r.key) {
                Some(twin) => runs.push(twin),
                None if within_budget => {}
                None => {
                    return Err(Error::Analysis(format!(
                        "{}: replicate {} has no '{}' (replicates must tabulate the same proposals; finish it first)",
                        dirs[k + 1].display(),
                        k + 1,
                        r.key
                    )))
                }
            }
        }
        rows.push(Replicated { runs });
    }
    let ladder = cfg.train.rung_steps();
    let n = rows.len();
    let col_f = |name: &str, f: &dyn Fn(&Replicated) -> Option<f64>| {
        Column::new(
            name.into(),
            rows.iter().map(f).collect::<Vec<Option<f64>>>(),
        )
    };
    let col_s = |name: &str, f: &dyn Fn(&Replicated) -> String| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<String>>())
    };
    let col_u = |name: &str, f: &dyn Fn(&Replicated) -> u64| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<u64>>())
    };
    // The overhead of an evaluation beyond training: the latency timing (all of an untrained
    // one's seconds; a trained one's beyond the trainer's wall time) and the validations
    // (the trainer's wall time beyond training, one pass per rung and one at the end).
    let timing = |r: &crate::Record| match r.status {
        crate::journal::RecordStatus::OverBudget => Some(r.eval_seconds),
        _ => Some((r.eval_seconds - r.proxy.wall_seconds).max(0.0)),
    };
    // The run's time beyond training and the recall probe is its validation passes.
    let val_once = |r: &crate::Record| {
        let passes = (r.proxy.rungs.len() + 1) as f64;
        let probe = r.proxy.recall_seconds.unwrap_or(0.0);
        train_seconds(r).map(|t| ((r.proxy.wall_seconds - t - probe) / passes).max(0.0))
    };
    let mut columns = vec![
        col_s("key", &|g| {
            crate::table::key_of(&g.first().layers, g.first().width)
        }),
        col_s("layers", &|g| g.first().layers.clone()),
        col_s("structure", &|g| g.first().genome.describe()),
        col_u("width", &|g| g.first().width as u64),
        col_u("depth", &|g| g.first().depth as u64),
        col_u("params", &|g| g.first().params as u64),
        col_u("state_bytes", &|g| g.first().state_bytes as u64),
        col_s("status", &|g| g.status().to_string()),
        col_s("failure", &|g| {
            g.runs
                .iter()
                .find_map(|r| r.failure.clone())
                .unwrap_or_default()
        }),
        col_f("latency_s", &|g| {
            median(
                &g.runs
                    .iter()
                    .filter_map(|r| r.latency.seconds)
                    .collect::<Vec<_>>(),
            )
        }),
        col_f("latency_ref", &|g| {
            median(
                &g.runs
                    .iter()
                    .filter_map(|r| r.latency.ratio)
                    .collect::<Vec<_>>(),
            )
        }),
        col_f("latency_cv", &|g| g.first().latency.cv),
        // (max − min) / median of the replicates' latency sweeps.
        col_f("latency_spread", &|g| {
            let v: Vec<f64> = g.runs.iter().filter_map(|r| r.latency.seconds).collect();
            let m = median(&v)?;
            (v.len() > 1).then(|| {
                (v.iter().copied().fold(f64::MIN, f64::max)
                    - v.iter().copied().fold(f64::MAX, f64::min))
                    / m
            })
        }),
        col_s("latency_source", &|g| g.first().latency.source.to_string()),
        col_f("val_loss", &|g| mean(&g.over(|r| r.proxy.val_loss))),
        col_f("val_loss_std", &|g| std(&g.over(|r| r.proxy.val_loss))),
        // The seeds behind the loss: the trained replicates (all of them for an untrained row).
        col_u("replicates", &|g| match g.ok().len() {
            0 => g.runs.len() as u64,
            n => n as u64,
        }),
        col_f("accuracy", &|g| mean(&g.over(|r| r.proxy.accuracy))),
        // The recall probe's accuracy over the seeds (empty where the probe was off).
        col_f("recall_accuracy", &|g| {
            mean(&g.over(|r| r.proxy.recall_accuracy))
        }),
        col_f("recall_accuracy_std", &|g| {
            std(&g.over(|r| r.proxy.recall_accuracy))
        }),
        col_f("recall_s", &|g| mean(&g.over(|r| r.proxy.recall_seconds))),
        col_u("steps", &|g| g.first().proxy.steps as u64),
        col_f("train_s", &|g| mean(&g.over(train_seconds))),
        col_f("eval_s", &|g| {
            mean(&g.runs.iter().map(|r| r.eval_seconds).collect::<Vec<_>>())
        }),
        col_f("timing_s", &|g| {
            mean(&g.runs.iter().filter_map(|r| timing(r)).collect::<Vec<_>>())
        }),
        col_f("val_s", &|g| mean(&g.over(val_once))),
    ];
    for &step in &ladder {
        let at = |r: &crate::Record| r.proxy.rungs.iter().find(|g| g.step == step).cloned();
        columns.push(col_f(&format!("val_loss@{step}"), &|g| {
            mean(&g.over(|r| at(r).map(|x| x.val_loss)))
        }));
        columns.push(col_f(&format!("val_loss_std@{step}"), &|g| {
            std(&g.over(|r| at(r).map(|x| x.val_loss)))
        }));
        columns.push(col_f(&format!("train_s@{step}"), &|g| {
            mean(&g.over(|r| at(r).map(|x| x.train_seconds)))
        }));
    }
    let mut df = DataFrame::new(n, columns)
        .map_err(|e| Error::Analysis(format!("building the table: {e}")))?;
    write_frame(out, &mut df, true)?;
    let config = std::fs::read_to_string(dir.join("config.toml"))
        .map_err(|e| Error::file(&dir.join("config.toml"), e))?;
    let sidecar = crate::table::config_path(out);
    flashnas_model::fsio::write_atomic(&sidecar, config.as_bytes())
        .map_err(|e| Error::file(&sidecar, flashnas_model::fsio::reason(&e)))?;
    Ok(df.height())
}

/// Writes a table as Parquet or CSV, atomically (a failed write leaves no temp file and the
/// old `out`, if any, in place).
pub fn write_frame(out: &Path, df: &mut DataFrame, parquet: bool) -> Result<()> {
    flashnas_model::fsio::write_atomic_with(out, |file| {
        let res = if parquet {
            ParquetWriter::new(&mut *file).finish(df).map(|_| ())
        } else {
            CsvWriter::new(&mut *file).include_header(true).finish(df)
        };
        // Keep the OS error's kind: a full disk must read as one.
        res.map_err(|e| match e {
            PolarsError::IO { error, .. } => std::io::Error::new(error.kind(), error.to_string()),
            other => std::io::Error::other(other.to_string()),
        })
    })
    .map_err(|e| {
        Error::file(
            out,
            format!("cannot write: {}", flashnas_model::fsio::reason(&e)),
        )
    })
}
