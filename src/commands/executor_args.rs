//! `--executor` / `--workers`: who evaluates the candidates, for every command that trains.

use flashnas_search::executor::{ExecutorConfig, ExecutorKind};
use flashnas_search::run_dir::ConfigText;

/// Who evaluates the candidates (overrides `[executor]` of the config).
#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// inline (this process), local (a pool of worker processes), slurm (sbatch jobs) or
    /// table:PATH (answers from a benchmark table of `flashnas tabulate`).
    #[arg(long)]
    pub(crate) executor: Option<ExecutorChoice>,
    /// Concurrent workers (local) or jobs in flight (slurm).
    #[arg(long)]
    pub(crate) workers: Option<usize>,
}

/// `--executor`: a kind, or `table:PATH`, or `surrogate:PATH`.
#[derive(Debug, Clone)]
pub struct ExecutorChoice {
    kind: ExecutorKind,
    /// The table's absolute path (`table:PATH`).
    table: Option<String>,
    /// The surrogate's absolute path (`surrogate:PATH`).
    surrogate: Option<String>,
}

impl std::str::FromStr for ExecutorChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(p) = s.strip_prefix("surrogate:") {
            let abs = std::fs::canonicalize(p).map_err(|e| {
                format!("surrogate '{p}': {e} (fit one with flashnas surrogate fit)")
            })?;
            return Ok(Self {
                kind: ExecutorKind::Surrogate,
                table: None,
                surrogate: Some(abs.display().to_string()),
            });
        }
        match s.strip_prefix("table:") {
            Some(p) => {
                let abs = std::fs::canonicalize(p)
                    .map_err(|e| format!("table '{p}': {e} (build one with flashnas tabulate)"))?;
                Ok(Self {
                    kind: ExecutorKind::Table,
                    table: Some(abs.display().to_string()),
                    surrogate: None,
                })
            }
            None => Ok(Self {
                kind: s.parse()?,
                table: None,
                surrogate: None,
            }),
        }
    }
}

impl ExecArgs {
    /// Applies `--executor` / `--workers` to an executor config.
    pub(crate) fn apply_to(&self, executor: &mut ExecutorConfig) {
        if let Some(c) = &self.executor {
            executor.kind = c.kind;
            if c.table.is_some() {
                executor.table = c.table.clone();
            }
            if c.surrogate.is_some() {
                executor.surrogate = c.surrogate.clone();
            }
        }
        if let Some(w) = self.workers {
            executor.workers = w;
        }
    }

    /// Applies `--executor` / `--workers` to a config and to the copy written beside the run.
    pub(crate) fn apply(
        &self,
        executor: &mut ExecutorConfig,
        copy: &mut ConfigText,
    ) -> flashnas_search::Result<()> {
        self.apply_to(executor);
        if let Some(c) = &self.executor {
            copy.set("executor", "kind", format!("{:?}", c.kind).to_lowercase())?;
            if let Some(t) = &c.table {
                copy.set("executor", "table", t.as_str())?;
            }
            if let Some(t) = &c.surrogate {
                copy.set("executor", "surrogate", t.as_str())?;
            }
        }
        if let Some(w) = self.workers {
            copy.set("executor", "workers", w as i64)?;
        }
        Ok(())
    }
}
