//! Export of a campaign's frontier or all candidates, one row per candidate, with polars.

use crate::error::{Error, Result};
use crate::store::{load_records, pareto_flags};
use polars::prelude::*;
use std::path::Path;

/// Columns over a set of records, one value per record.
struct Cols<'a>(&'a [&'a crate::Record]);

impl Cols<'_> {
    fn u(&self, name: &str, f: &dyn Fn(&crate::Record) -> u64) -> Column {
        Column::new(
            name.into(),
            self.0.iter().map(|r| f(r)).collect::<Vec<u64>>(),
        )
    }
    fn f(&self, name: &str, f: &dyn Fn(&crate::Record) -> Option<f64>) -> Column {
        Column::new(
            name.into(),
            self.0.iter().map(|r| f(r)).collect::<Vec<Option<f64>>>(),
        )
    }
    fn s(&self, name: &str, f: &dyn Fn(&crate::Record) -> String) -> Column {
        Column::new(
            name.into(),
            self.0.iter().map(|r| f(r)).collect::<Vec<String>>(),
        )
    }
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
    let columns = vec![
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
        c.f("latency_s", &|r| r.latency_s),
        c.s("latency_source", &|r| r.latency_source.to_string()),
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
    DataFrame::new(rs.len(), columns)
        .map_err(|e| Error::Analysis(format!("building the table: {e}")))
}

/// Writes the table as CSV or Parquet.
pub fn export(dir: &Path, frontier_only: bool, parquet: bool, out: &Path) -> Result<usize> {
    let mut df = table(dir, frontier_only)?;
    write_frame(out, &mut df, parquet)?;
    Ok(df.height())
}

/// Writes a finished `flashnas tabulate` campaign as a benchmark table (`crate::table` says
/// the columns) at `out`, and its config beside it ([`crate::table::config_path`]): the space, training
/// ladder and latency protocol it was built under, read by `flashnas bench strategies`.
pub fn write_table(dir: &Path, out: &Path) -> Result<usize> {
    let (cfg, records, _) = load_records(dir)?;
    let rs: Vec<&crate::Record> = records.iter().filter(|r| r.rung.is_none()).collect();
    let ladder = cfg.train.rung_steps();
    let c = Cols(&rs);
    // Training seconds of the full run, validation excluded.
    let train_s = |r: &crate::Record| {
        (r.proxy.tokens_per_second > 0.0)
            .then(|| r.proxy.tokens_seen as f64 / r.proxy.tokens_per_second)
    };
    let mut columns = vec![
        c.s("key", &|r| crate::table::key_of(&r.layers, r.width)),
        c.s("layers", &|r| r.layers.clone()),
        c.s("structure", &|r| r.genome.describe()),
        c.u("width", &|r| r.width as u64),
        c.u("depth", &|r| r.depth as u64),
        c.u("params", &|r| r.params as u64),
        c.u("state_bytes", &|r| r.state_bytes as u64),
        c.s("status", &|r| r.status.to_string()),
        c.s("failure", &|r| r.failure.clone().unwrap_or_default()),
        c.f("latency_s", &|r| r.latency_s),
        c.f("latency_ref", &|r| r.latency_ref),
        c.f("latency_cv", &|r| r.latency_cv),
        c.s("latency_source", &|r| r.latency_source.to_string()),
        c.f("val_loss", &|r| r.proxy.val_loss),
        c.f("accuracy", &|r| r.proxy.accuracy),
        c.u("steps", &|r| r.proxy.steps as u64),
        c.f("train_s", &train_s),
        c.f("eval_s", &|r| Some(r.eval_seconds)),
    ];
    for &step in &ladder {
        let at = |r: &crate::Record| r.proxy.rungs.iter().find(|g| g.step == step).cloned();
        columns.push(c.f(&format!("val_loss@{step}"), &|r| at(r).map(|g| g.val_loss)));
        columns.push(c.f(&format!("train_s@{step}"), &|r| {
            at(r).map(|g| g.train_seconds)
        }));
    }
    let mut df = DataFrame::new(rs.len(), columns)
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
