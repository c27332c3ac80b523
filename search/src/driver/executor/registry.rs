//! What each executor name builds: the one place an executor is registered (its variant of
//! [`ExecutorKind`], its spelling, what it checks in `[executor]`, how many candidates it runs
//! at once by default, and its constructor). A new executor is its module plus a variant and
//! its arms here.

use super::{
    Executor, ExecutorConfig, InlineExecutor, LocalExecutor, SlurmExecutor, SurrogateExecutor,
    TableExecutor,
};
use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    /// In the driver process, one candidate at a time.
    #[default]
    Inline,
    /// `workers` concurrent `flashnas worker` processes on this machine.
    Local,
    /// Slurm batch jobs.
    Slurm,
    /// Answers from a benchmark table (`table`), with simulated training time.
    Table,
    /// Answers any genome of a surrogate's space (`surrogate`), with simulated cost.
    Surrogate,
}

impl std::str::FromStr for ExecutorKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "inline" => Ok(Self::Inline),
            "local" => Ok(Self::Local),
            "slurm" => Ok(Self::Slurm),
            "table" => Err(
                "the table executor is spelled table:PATH (a table from flashnas tabulate)".into(),
            ),
            "surrogate" => Err(
                "the surrogate executor is spelled surrogate:PATH (from flashnas surrogate fit)"
                    .into(),
            ),
            _ => Err(format!(
                "unknown executor '{s}' (expected inline, local, slurm, table:PATH or surrogate:PATH)"
            )),
        }
    }
}

impl ExecutorKind {
    /// Checks what this kind needs of `[executor]` (the key and the reason).
    pub(crate) fn validate(self, c: &ExecutorConfig) -> std::result::Result<(), String> {
        match self {
            ExecutorKind::Table if c.table.is_none() => {
                Err("table: the table executor needs the table's path".into())
            }
            ExecutorKind::Surrogate if c.surrogate.is_none() => {
                Err("surrogate: the surrogate executor needs the surrogate's path".into())
            }
            // `[executor.slurm]` is checked whatever the kind: a typo there is an error now,
            // not when the campaign is later moved to the cluster.
            _ => c.slurm.validate(),
        }
    }

    /// Candidates in flight when `in_flight` is not set: one for the kinds that answer in the
    /// driver, one per worker for the pools.
    pub(crate) fn default_in_flight(self, c: &ExecutorConfig) -> usize {
        match self {
            ExecutorKind::Inline | ExecutorKind::Table | ExecutorKind::Surrogate => 1,
            ExecutorKind::Local | ExecutorKind::Slurm => c.workers,
        }
    }

    /// The executor `c` describes.
    pub(crate) fn build(self, c: &ExecutorConfig) -> Result<Box<dyn Executor>> {
        Ok(match self {
            ExecutorKind::Inline => Box::new(InlineExecutor),
            ExecutorKind::Local => Box::new(LocalExecutor::new(c.clone())?),
            ExecutorKind::Slurm => Box::new(SlurmExecutor::new(c.clone())?),
            ExecutorKind::Table => {
                let path = c.table.as_deref().unwrap_or_default();
                Box::new(TableExecutor::new(crate::table::Table::load(Path::new(
                    path,
                ))?))
            }
            ExecutorKind::Surrogate => {
                let path = c.surrogate.as_deref().unwrap_or_default();
                Box::new(SurrogateExecutor::new(crate::surrogate::Surrogate::load(
                    Path::new(path),
                )?))
            }
        })
    }
}
