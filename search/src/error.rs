//! The search library's errors. Each says what went wrong and where (file, key, folder) in a
//! sentence the CLI prints as it is; callers that act on the kind (the CLI, a notebook, a
//! service) match on the variant.

use std::fmt::Display;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config (file, section or key) is invalid, or a request contradicts it.
    #[error("{0}")]
    Config(String),
    /// The folder holds no campaign or study.
    #[error("{}: no {what} here (no config.toml)", dir.display())]
    NotFound { dir: PathBuf, what: &'static str },
    /// A new run was pointed at a folder that already holds one.
    #[error("{}: {hint}", dir.display())]
    AlreadyExists { dir: PathBuf, hint: String },
    /// Another driver holds the folder.
    #[error("{}: another {what} is running on this folder ({holder}); wait for it to finish or stop it first", dir.display())]
    Busy {
        dir: PathBuf,
        what: String,
        holder: String,
    },
    /// A file could not be read, parsed, written or locked.
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    /// A file of a run could not be written (a full disk, say): the driver stopped; what it
    /// had recorded before is whole, and `resume` (the command named) goes on from there.
    #[error("{}: {}", path.display(), write_reason(cause, *disk_full, resume))]
    Write {
        path: PathBuf,
        /// The OS error.
        cause: String,
        disk_full: bool,
        /// The command that continues the run.
        resume: String,
    },
    /// The training data could not be loaded.
    #[error("train.data: {0}")]
    Data(String),
    /// The executor could not be set up, or could not start a candidate.
    #[error("{0}")]
    Executor(String),
    /// The reference model's latency could not be measured.
    #[error("{0}")]
    Latency(String),
    /// A campaign found no candidate within its latency budget (it says what to change).
    #[error("{0}")]
    NoFeasible(String),
    /// An analysis (a scaling-law fit, an export table) could not be computed.
    #[error("{0}")]
    Analysis(String),
}

impl Error {
    /// A file error: `path: reason`.
    pub fn file(path: &Path, reason: impl Display) -> Self {
        Self::File {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}

impl Error {
    /// A failed write of a run's file; `resume` is the command that continues the run.
    pub fn write(path: &Path, e: &std::io::Error, resume: &str) -> Self {
        Self::Write {
            path: path.to_path_buf(),
            cause: e.to_string(),
            disk_full: flashnas_model::fsio::is_disk_full(e),
            resume: resume.to_string(),
        }
    }

    /// The same error, naming `resume` as the command that continues the run (a write error
    /// of a study or an audit, whose tasks are written by shared code).
    pub fn with_resume(self, command: &str) -> Self {
        match self {
            Self::Write {
                path,
                cause,
                disk_full,
                ..
            } => Self::Write {
                path,
                cause,
                disk_full,
                resume: command.to_string(),
            },
            other => other,
        }
    }
}

fn write_reason(cause: &str, disk_full: bool, resume: &str) -> String {
    if disk_full {
        format!("disk full ({cause}): free space and run `{resume}`")
    } else {
        format!("cannot write ({cause}); fix the cause and run `{resume}`")
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
