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

/// `--executor`: an executor's name, or `name:ARG` for one that takes an argument
/// (`table:PATH`, `surrogate:PATH`).
#[derive(Debug, Clone)]
pub struct ExecutorChoice {
    kind: ExecutorKind,
    /// The value `name:ARG` sets in its section (checked and resolved when parsed).
    argument: Option<String>,
}

impl std::str::FromStr for ExecutorChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some((name, arg)) => {
                let kind = ExecutorKind::ALL
                    .iter()
                    .copied()
                    .find(|k| k.name() == name)
                    .ok_or_else(|| s.parse::<ExecutorKind>().unwrap_err())?;
                // Resolved now (a relative path against this directory), so that a resume
                // from elsewhere finds the same file.
                kind.resolve_argument(arg).map(|value| Self {
                    kind,
                    argument: Some(value),
                })
            }
            None => Ok(Self {
                kind: s.parse()?,
                argument: None,
            }),
        }
    }
}

impl ExecArgs {
    /// Applies `--executor` / `--workers` to an executor config.
    pub(crate) fn apply_to(&self, executor: &mut ExecutorConfig) {
        if let Some(c) = &self.executor {
            executor.kind = c.kind;
            if let Some(a) = &c.argument {
                c.kind
                    .set_argument(a, executor)
                    .expect("checked when parsed");
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
            copy.set("executor", "kind", c.kind.name())?;
            if let Some(a) = &c.argument {
                let key = c
                    .kind
                    .set_argument(a, &mut ExecutorConfig::default())
                    .expect("checked when parsed");
                copy.set("executor", key, a.as_str())?;
            }
        }
        if let Some(w) = self.workers {
            copy.set("executor", "workers", w as i64)?;
        }
        Ok(())
    }
}
