//! Durable file writes shared by every crate: atomic replacement (temp file, fsync, rename,
//! fsync of the folder) that leaves no temp file behind when it fails, durable appends that
//! cut a torn tail back off, and the words a user needs when the disk is full.
//!
//! Fault injection for tests: `FLASHNAS_FAIL_WRITE=name[,name…]` makes every write through
//! this module to a file of that name (e.g. `journal.jsonl`, `result.json`, `report.html`)
//! fail as a full disk would (ENOSPC), after creating its temp file, so the clean-up path runs.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// `ENOSPC` on Linux and macOS.
const ENOSPC: i32 = 28;

/// The disk (or the user's quota) has no room left.
pub fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || e.raw_os_error() == Some(ENOSPC)
}

/// The OS reason of a failed write, led by "disk full" when that is what it is.
pub fn reason(e: &io::Error) -> String {
    if is_disk_full(e) {
        format!("disk full ({e})")
    } else {
        e.to_string()
    }
}

/// The injected failure for a write to `path`, if `FLASHNAS_FAIL_WRITE` names its file.
pub fn injected_fault(path: &Path) -> io::Result<()> {
    let Ok(list) = std::env::var("FLASHNAS_FAIL_WRITE") else {
        return Ok(());
    };
    let name = path.file_name().map(|n| n.to_string_lossy().to_string());
    match name {
        Some(n) if list.split(',').any(|f| f.trim() == n) => {
            Err(io::Error::from_raw_os_error(ENOSPC))
        }
        _ => Ok(()),
    }
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `data` to `path` atomically: a temp file beside it, fsync, rename, fsync the folder.
/// On failure the temp file is removed and `path` is as it was.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |f| f.write_all(data))
}

/// [`write_atomic`] with the content written by `fill` (a CSV or Parquet writer, say).
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = parent_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = File::create(&tmp)?;
        fill(&mut f)?;
        injected_fault(path)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        // Never leave a temp file behind: it holds space the user needs back.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename is durable only once the folder is.
    File::open(&dir)?.sync_all()
}

/// Appends `bytes` to `path` (created if absent) and fsyncs. When the write fails part-way
/// the file is cut back to its length before the append, so it never ends in a torn line;
/// if even that fails, the torn tail stays for the next reader's repair (the journal's).
pub fn append_durable(path: &Path, bytes: &[u8]) -> io::Result<()> {
    append_with(path, bytes, &injected_fault)
}

/// [`append_durable`] with the fault source given (tests inject one without the environment).
fn append_with(
    path: &Path,
    bytes: &[u8],
    fault: &dyn Fn(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let before = f.metadata()?.len();
    let written = (|| {
        // An injected fault tears the line, as a full disk does after its last free block.
        if let Err(e) = fault(path) {
            f.write_all(&bytes[..bytes.len() / 2])?;
            return Err(e);
        }
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = f.set_len(before).and_then(|_| f.sync_all());
        return Err(e);
    }
    Ok(())
}

/// Resolves a possibly relative path: as given if it exists from the current directory,
/// else relative to `base` (the config file's directory).
pub fn resolve_path(p: &str, base: &Path) -> PathBuf {
    let path = PathBuf::from(p);
    if path.is_absolute() || path.exists() {
        return path;
    }
    let alt = base.join(&path);
    if alt.exists() {
        alt
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    }

    /// A failing fill leaves the old file and no temp file.
    #[test]
    fn a_failed_atomic_write_leaves_the_old_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"old").unwrap();
        let err = write_atomic_with(&p, |f| {
            f.write_all(b"half")?;
            Err(io::Error::from_raw_os_error(ENOSPC))
        })
        .unwrap_err();
        assert!(is_disk_full(&err), "{err}");
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(names(dir.path()), vec!["a.json".to_string()]);
    }

    /// An append that fails part-way is cut back to the previous end; the next one lands
    /// right after the last whole line.
    #[test]
    fn a_failed_append_is_cut_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log.jsonl");
        append_durable(&p, b"one\n").unwrap();
        let full = |_: &Path| Err(io::Error::from_raw_os_error(ENOSPC));
        let err = append_with(&p, b"two two two\n", &full).unwrap_err();
        assert!(is_disk_full(&err));
        assert_eq!(std::fs::read(&p).unwrap(), b"one\n");
        append_durable(&p, b"two\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"one\ntwo\n");
    }
}
