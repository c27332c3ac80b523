//! Export of a campaign's frontier or all candidates, one row per candidate, with polars.

use crate::error::{Error, Result};
use crate::store::{load_records, pareto_flags};
use polars::prelude::*;
use std::path::Path;

/// The table of a campaign: id, cycle, genome string, every objective, params, width, depth,
/// status, is_pareto.
pub fn table(dir: &Path, frontier_only: bool) -> Result<DataFrame> {
    let (cfg, records, _) = load_records(dir)?;
    let flags = pareto_flags(&cfg, &records);
    let keep: Vec<usize> = (0..records.len())
        .filter(|&i| !frontier_only || flags[i])
        .collect();
    let rs: Vec<_> = keep.iter().map(|&i| &records[i]).collect();
    let col_u = |name: &str, f: &dyn Fn(&crate::Record) -> u64| {
        Column::new(name.into(), rs.iter().map(|r| f(r)).collect::<Vec<u64>>())
    };
    let col_f = |name: &str, f: &dyn Fn(&crate::Record) -> Option<f64>| {
        Column::new(
            name.into(),
            rs.iter().map(|r| f(r)).collect::<Vec<Option<f64>>>(),
        )
    };
    let col_s = |name: &str, f: &dyn Fn(&crate::Record) -> String| {
        Column::new(
            name.into(),
            rs.iter().map(|r| f(r)).collect::<Vec<String>>(),
        )
    };
    let columns = vec![
        col_u("id", &|r| r.id as u64),
        col_u("cycle", &|r| r.cycle as u64),
        col_f("parent", &|r| r.parent.map(|p| p as f64)),
        col_s("origin", &|r| r.origin.to_string()),
        col_s("genome", &|r| r.layers.clone()),
        col_s("structure", &|r| r.genome.describe()),
        col_u("width", &|r| r.width as u64),
        col_u("depth", &|r| r.depth as u64),
        col_u("params", &|r| r.params as u64),
        col_u("state_bytes", &|r| r.state_bytes as u64),
        col_f("val_loss", &|r| r.proxy.val_loss),
        col_f("perplexity", &|r| r.proxy.perplexity),
        col_f("accuracy", &|r| r.proxy.accuracy),
        col_f("recall_accuracy", &|r| r.proxy.recall_accuracy),
        col_f("latency_s", &|r| r.latency_s),
        col_s("latency_source", &|r| r.latency_source.to_string()),
        col_s("status", &|r| r.status.to_string()),
        col_s("failure", &|r| r.failure.clone().unwrap_or_default()),
        Column::new(
            "feasible".into(),
            rs.iter().map(|r| r.feasible).collect::<Vec<bool>>(),
        ),
        Column::new(
            "is_pareto".into(),
            keep.iter().map(|&i| flags[i]).collect::<Vec<bool>>(),
        ),
        col_f("hypervolume_after", &|r| Some(r.hypervolume)),
    ];
    DataFrame::new(rs.len(), columns)
        .map_err(|e| Error::Analysis(format!("building the table: {e}")))
}

/// Writes the table as CSV or Parquet.
pub fn export(dir: &Path, frontier_only: bool, parquet: bool, out: &Path) -> Result<usize> {
    let mut df = table(dir, frontier_only)?;
    let tmp = out.with_extension("tmp-export");
    let file =
        std::fs::File::create(&tmp).map_err(|e| Error::file(out, format!("cannot create: {e}")))?;
    let res = if parquet {
        ParquetWriter::new(file).finish(&mut df).map(|_| ())
    } else {
        CsvWriter::new(file).include_header(true).finish(&mut df)
    };
    res.map_err(|e| Error::file(out, format!("cannot write: {e}")))?;
    std::fs::rename(&tmp, out).map_err(|e| Error::file(out, e))?;
    Ok(df.height())
}

/// Writes a finished `flashnas tabulate` campaign as a benchmark table (`crate::table` says
/// the columns) at `out`, and its config beside it ([`crate::table::config_path`]): the space, training
/// ladder and latency protocol it was built under, read by `flashnas bench strategies`.
pub fn write_table(dir: &Path, out: &Path) -> Result<usize> {
    let (cfg, records, _) = load_records(dir)?;
    let rs: Vec<&crate::Record> = records.iter().filter(|r| r.rung.is_none()).collect();
    let ladder = cfg.train.rung_steps();
    let col_u = |name: &str, f: &dyn Fn(&crate::Record) -> u64| {
        Column::new(name.into(), rs.iter().map(|r| f(r)).collect::<Vec<u64>>())
    };
    let col_f = |name: &str, f: &dyn Fn(&crate::Record) -> Option<f64>| {
        Column::new(
            name.into(),
            rs.iter().map(|r| f(r)).collect::<Vec<Option<f64>>>(),
        )
    };
    let col_s = |name: &str, f: &dyn Fn(&crate::Record) -> String| {
        Column::new(
            name.into(),
            rs.iter().map(|r| f(r)).collect::<Vec<String>>(),
        )
    };
    // Training seconds of the full run, validation excluded.
    let train_s = |r: &crate::Record| {
        (r.proxy.tokens_per_second > 0.0)
            .then(|| r.proxy.tokens_seen as f64 / r.proxy.tokens_per_second)
    };
    let mut columns = vec![
        col_s("key", &|r| crate::table::key_of(&r.layers, r.width)),
        col_s("layers", &|r| r.layers.clone()),
        col_s("structure", &|r| r.genome.describe()),
        col_u("width", &|r| r.width as u64),
        col_u("depth", &|r| r.depth as u64),
        col_u("params", &|r| r.params as u64),
        col_u("state_bytes", &|r| r.state_bytes as u64),
        col_s("status", &|r| r.status.to_string()),
        col_s("failure", &|r| r.failure.clone().unwrap_or_default()),
        col_f("latency_s", &|r| r.latency_s),
        col_f("latency_ref", &|r| r.latency_ref),
        col_f("latency_cv", &|r| r.latency_cv),
        col_s("latency_source", &|r| r.latency_source.to_string()),
        col_f("val_loss", &|r| r.proxy.val_loss),
        col_f("accuracy", &|r| r.proxy.accuracy),
        col_u("steps", &|r| r.proxy.steps as u64),
        col_f("train_s", &train_s),
        col_f("eval_s", &|r| Some(r.eval_seconds)),
    ];
    for &step in &ladder {
        let at = |r: &crate::Record| r.proxy.rungs.iter().find(|g| g.step == step).cloned();
        columns.push(col_f(&format!("val_loss@{step}"), &|r| {
            at(r).map(|g| g.val_loss)
        }));
        columns.push(col_f(&format!("train_s@{step}"), &|r| {
            at(r).map(|g| g.train_seconds)
        }));
    }
    let mut df = DataFrame::new(rs.len(), columns)
        .map_err(|e| Error::Analysis(format!("building the table: {e}")))?;
    let tmp = out.with_extension("tmp-table");
    let file =
        std::fs::File::create(&tmp).map_err(|e| Error::file(out, format!("cannot create: {e}")))?;
    ParquetWriter::new(file)
        .finish(&mut df)
        .map_err(|e| Error::file(out, format!("cannot write: {e}")))?;
    std::fs::rename(&tmp, out).map_err(|e| Error::file(out, e))?;
    let config = std::fs::read_to_string(dir.join("config.toml"))
        .map_err(|e| Error::file(&dir.join("config.toml"), e))?;
    let sidecar = crate::table::config_path(out);
    flashnas_model::weights::write_atomic(&sidecar, config.as_bytes())
        .map_err(|e| Error::file(&sidecar, e))?;
    Ok(df.height())
}
