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
    /// The training data could not be loaded.
    #[error("train.data: {0}")]
    Data(String),
    /// The executor could not be set up, or could not start a candidate.
    #[error("{0}")]
    Executor(String),
    /// The reference model's latency could not be measured.
    #[error("{0}")]
    Latency(String),
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

pub type Result<T, E = Error> = std::result::Result<T, E>;
