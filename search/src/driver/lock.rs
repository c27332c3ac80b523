//! One driver per folder: an exclusive `flock` on `DIR/<name>.lock`, held for the driver's
//! life and released by the OS when the process ends, however it ends (a `kill -9`'d driver
//! leaves no stale lock). The holder writes its pid and command line into the file, so a
//! refused second driver can say who holds it.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Name of the lock a campaign, study or validation driver holds on its folder.
pub const DRIVER_LOCK: &str = "driver";

#[derive(Debug)]
pub struct FolderLock {
    _file: File,
    path: PathBuf,
}

impl FolderLock {
    /// Takes `DIR/<name>.lock` or fails with a message naming the holder. `what` names the
    /// kind of driver for the message (`campaign driver`, `audit`, …).
    pub fn acquire(dir: &Path, name: &str, what: &str) -> Result<Self> {
        let path = dir.join(format!("{name}.lock"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::file(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::Busy {
                    dir: dir.to_path_buf(),
                    what: what.to_string(),
                    holder: if holder.is_empty() {
                        "its pid is not written yet".to_string()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(TryLockError::Error(e)) => {
                return Err(Error::file(&path, format!("cannot lock: {e}")))
            }
        }
        let me = format!(
            "pid {} on {}: {}",
            std::process::id(),
            crate::task::host_name(),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        let written = file
            .set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(me.as_bytes()))
            .and_then(|_| file.sync_all());
        written.map_err(|e| Error::file(&path, e))?;
        Ok(Self { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Fault injection for tests: with `FLASHNAS_FAULT=<point>` the process dies on reaching
/// `point` (abort: no destructor, no flush), as a `kill -9` at that instant would.
pub fn fault_point(point: &str) {
    if std::env::var("FLASHNAS_FAULT").is_ok_and(|v| v == point) {
        eprintln!("FLASHNAS_FAULT: dying at {point}");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let first = FolderLock::acquire(dir.path(), "driver", "campaign driver").unwrap();
        let err = FolderLock::acquire(dir.path(), "driver", "campaign driver").unwrap_err();
        assert!(matches!(err, Error::Busy { .. }), "{err:?}");
        let err = err.to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id()))
                && err.contains("another campaign driver"),
            "{err}"
        );
        // Another name is another lock.
        FolderLock::acquire(dir.path(), "audit", "audit").unwrap();
        drop(first);
        FolderLock::acquire(dir.path(), "driver", "campaign driver").unwrap();
    }
}
