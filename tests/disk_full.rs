//! No write error is swallowed: a campaign on a disk that fills up stops with an error naming
//! the file and "disk full", leaves whole journal lines and no temp files, and a resume once
//! there is room finishes with the records of an undisturbed run. Every other write path is
//! checked with injected failures (`FLASHNAS_FAIL_WRITE=<file name>` fails writes to that file
//! as ENOSPC would).

mod common;

use common::{bin, campaign_toml, comparable, ok, search};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn config(dir: &Path, name: &str, evaluations: usize, extra: &str) -> PathBuf {
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, campaign_toml(name, 7, evaluations, 20, extra)).unwrap();
    p
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `cmd`, which must fail; returns its stdout and stderr.
fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(!out.status.success(), "{cmd:?} succeeded:\n{}", text(&out));
    text(&out)
}

/// Every file under `dir`, recursively (relative names).
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn assert_no_temp_files(dir: &Path) {
    let stray: Vec<String> = files(dir)
        .into_iter()
        .filter(|f| f.contains(".tmp") || f.contains("tmp-"))
        .collect();
    assert!(stray.is_empty(), "temp files left behind: {stray:?}");
}

/// Every line of the journal is a whole record.
fn assert_whole_lines(dir: &Path) -> usize {
    let Ok(bytes) = std::fs::read(dir.join("journal.jsonl")) else {
        return 0;
    };
    assert!(
        bytes.is_empty() || bytes.ends_with(b"\n"),
        "the journal ends in a torn line"
    );
    let text = String::from_utf8(bytes).expect("UTF-8");
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("a whole JSON line");
        assert!(v["record"]["id"].is_u64(), "{l}");
    }
    text.lines().count()
}

/// A tmpfs of `bytes` mounted at a fresh folder, unmounted on drop; `None` (with a message)
/// where this process may not mount (not root, or a sandbox without the capability).
struct Tmpfs {
    at: PathBuf,
    _holder: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(bytes: u64) -> Option<Self> {
        // SAFETY: getuid has no preconditions.
        if unsafe { libc::getuid() } != 0 {
            eprintln!("skipped: mounting a small tmpfs needs root (CI runs the tests as root)");
            return None;
        }
        let holder = tempfile::tempdir().unwrap();
        let at = holder.path().join("disk");
        std::fs::create_dir(&at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&at)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "skipped: cannot mount a tmpfs here ({})",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Self {
            at,
            _holder: holder,
        })
    }

    /// More room, as a user freeing space would make.
    fn grow(&self, bytes: u64) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={bytes}")])
            .arg(&self.at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

/// Bytes a tmpfs needs to hold `dir` (whole pages per file).
fn tmpfs_bytes(dir: &Path) -> u64 {
    files(dir)
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).unwrap().len().div_ceil(4096) * 4096)
        .sum()
}

#[test]
fn a_disk_that_fills_up_stops_the_campaign_and_resume_finishes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), "full", 10, "");
    let quiet = tmp.path().join("quiet");
    ok(&mut search(&cfg, &quiet));
    let reference = comparable(&quiet);
    let needed = tmpfs_bytes(&quiet);

    let Some(disk) = Tmpfs::mount(needed / 2) else {
        return;
    };
    let run = disk.at.join("run");
    let err = fails(&mut search(&cfg, &run));
    assert!(
        err.contains("disk full") && err.contains(&format!("flashnas resume {}", run.display())),
        "{err}"
    );
    assert!(
        err.contains("journal.jsonl")
            || err.contains("checkpoint.json")
            || err.contains("task.json")
            || err.contains("report.html"),
        "the error names the file: {err}"
    );
    let kept = assert_whole_lines(&run);
    assert!(
        kept < reference.len(),
        "the disk never filled ({kept} records)"
    );
    assert_no_temp_files(&run);

    disk.grow(needed * 4);
    ok(bin().arg("resume").arg(&run));
    assert_eq!(comparable(&run), reference);
    assert_no_temp_files(&run);
}

/// A journal, checkpoint or task that cannot be written stops the driver at once, with the
/// file and the way on in its message; nothing it wrote is torn, and a resume without the
/// fault finishes with the undisturbed records.
#[test]
fn journal_checkpoint_task_and_config_write_failures_stop_the_driver() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), "inject", 5, "");
    let quiet = tmp.path().join("quiet");
    ok(&mut search(&cfg, &quiet));
    let reference = comparable(&quiet);

    for file in ["journal.jsonl", "checkpoint.json", "task.json"] {
        let run = tmp.path().join(format!("run-{file}"));
        let err = fails(search(&cfg, &run).env("FLASHNAS_FAIL_WRITE", file));
        assert!(
            err.contains(file) && err.contains("disk full") && err.contains("flashnas resume"),
            "{file}: {err}"
        );
        assert_eq!(assert_whole_lines(&run), 0, "{file}: nothing was recorded");
        assert_no_temp_files(&run);
        ok(bin().arg("resume").arg(&run));
        assert_eq!(comparable(&run), reference, "{file}");
    }

    // The config copy is written before any work: nothing to resume, and nothing left.
    let run = tmp.path().join("run-config");
    let err = fails(search(&cfg, &run).env("FLASHNAS_FAIL_WRITE", "config.toml"));
    assert!(
        err.contains("config.toml") && err.contains("disk full"),
        "{err}"
    );
    assert!(!run.join("journal.jsonl").exists());
    assert_no_temp_files(&run);
}

/// A report that cannot be written does not stop the evaluations, but the run ends with a
/// failing status that says the report is stale; `flashnas report` brings it up to date.
#[test]
fn a_stale_report_is_said_and_fails_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), "stale", 5, "");
    let quiet = tmp.path().join("quiet");
    ok(&mut search(&cfg, &quiet));
    let run = tmp.path().join("run");
    let err = fails(search(&cfg, &run).env("FLASHNAS_FAIL_WRITE", "report.html"));
    assert!(
        err.contains("report.html is stale") && err.contains("flashnas report"),
        "{err}"
    );
    assert_eq!(comparable(&run), comparable(&quiet));
    assert!(!run.join("report.html").exists());
    assert_no_temp_files(&run);
    ok(bin().arg("report").arg(&run));
    assert!(run.join("report.html").exists());
}

/// A worker whose result cannot be written is a failed evaluation the driver records with
/// the reason, not a silent loss; its temp file is gone.
#[test]
fn a_worker_that_cannot_write_its_result_is_a_failed_evaluation() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        tmp.path(),
        "worker",
        3,
        "[executor]\nkind = \"local\"\nworkers = 1\nmax_attempts = 2\n",
    );
    let run = tmp.path().join("run");
    ok(search(&cfg, &run).env("FLASHNAS_FAIL_WRITE", "result.json"));
    let records = comparable(&run);
    assert_eq!(records.len(), 3);
    for r in &records {
        let why = r["failure"].as_str().unwrap_or_default();
        assert_eq!(r["status"], "failed", "{r}");
        assert!(
            why.contains("result.json") && why.contains("disk full") && why.contains("2 attempts"),
            "{why}"
        );
    }
    assert_no_temp_files(&run);
}

/// Exports, plots and the study and audit journals fail loudly and leave no temp files.
#[test]
fn exports_plots_studies_and_audits_fail_loudly() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), "outputs", 5, "");
    let run = tmp.path().join("run");
    ok(&mut search(&cfg, &run));
    let before = files(&run);

    let csv = tmp.path().join("front.csv");
    let err = fails(
        bin()
            .arg("export")
            .arg(&run)
            .args(["--what", "all", "--out"])
            .arg(&csv)
            .env("FLASHNAS_FAIL_WRITE", "front.csv"),
    );
    assert!(
        err.contains("front.csv") && err.contains("disk full"),
        "{err}"
    );
    assert!(!csv.exists());

    let plots = tmp.path().join("plots");
    for file in ["frontier.svg", "frontier.png"] {
        let err = fails(
            bin()
                .arg("plot")
                .arg(&run)
                .arg("--out")
                .arg(&plots)
                .env("FLASHNAS_FAIL_WRITE", file),
        );
        assert!(err.contains(file) && err.contains("disk full"), "{err}");
        assert!(!plots.join(file).exists(), "{file}");
        assert_no_temp_files(&plots);
    }

    let err = fails(
        bin()
            .arg("audit")
            .arg(&run)
            .args(["--sample", "3", "--factor", "2"])
            .env("FLASHNAS_FAIL_WRITE", "audit.jsonl"),
    );
    assert!(
        err.contains("audit.jsonl")
            && err.contains("disk full")
            && err.contains(&format!("flashnas audit {}", run.display())),
        "{err}"
    );
    ok(bin()
        .arg("audit")
        .arg(&run)
        .args(["--sample", "3", "--factor", "2"]));
    let after: Vec<String> = files(&run)
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    assert!(after.iter().all(|f| !f.contains("tmp")), "{after:?}");

    let study_cfg = tmp.path().join("dw.toml");
    std::fs::write(
        &study_cfg,
        r#"
name = "dw-full"
seed = 1
pattern = ["a", "f"]
depths = [1, 2, 3]
widths = [16, 32]
budgets_s = [0.01]
holdout = 1
[model]
head_dim = 8
[latency]
source = "analytic"
roofline = "cpu-2core"
prompt = 8
generate = 8
[train]
seq_len = 16
batch_size = 4
steps = 10
[train.data]
val_windows = 2
"#,
    )
    .unwrap();
    let study = tmp.path().join("study");
    let err = fails(
        bin()
            .arg("depth-width")
            .arg("--config")
            .arg(&study_cfg)
            .arg("--out")
            .arg(&study)
            .env("FLASHNAS_FAIL_WRITE", "journal.jsonl"),
    );
    assert!(
        err.contains("journal.jsonl")
            && err.contains("disk full")
            && err.contains("flashnas depth-width --resume"),
        "{err}"
    );
    assert_no_temp_files(&study);
}
