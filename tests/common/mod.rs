//! Helpers shared by the CLI integration tests (`tests/*.rs`): running the binary, a small
//! real campaign config, and journals read back without their wall-clock fields.

// Each test binary uses its own subset.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flashnas"))
}

/// Runs `cmd`, fails the test with its output unless it succeeds; returns stdout.
pub fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{:?} failed:\n{}\n{}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A small aging campaign with a deterministic (analytic) latency source; `extra` is
/// appended (more tables, e.g. `[executor]` or `[[seeds]]`).
pub fn campaign_toml(
    name: &str,
    seed: u64,
    evaluations: usize,
    steps: usize,
    extra: &str,
) -> String {
    format!(
        r#"
name = "{name}"
seed = {seed}
strategy = "aging"
evaluations = {evaluations}
[space]
width = "gene"
stages = 2
mixers = ["attention", "mamba2", "deltanet"]
ffns = [0, 1]
max_repeats = 2
depth_cap = 6
widths = [16, 32]
head_dim = 8
ffn_ratio = 2.0
mamba_d_state = 4
chunk_size = 8
[aging]
population = 3
sample = 2
[latency]
source = "analytic"
roofline = "cpu-2core"
prompt = 8
generate = 8
budget_s = 0.004
[family_seeds]
enabled = false
[racing]
enabled = false
[objectives]
reference_point = {{ loss = 6.0, latency_s = 0.01 }}
[train]
seq_len = 16
batch_size = 4
steps = {steps}
[train.data]
val_windows = 2
{extra}"#
    )
}

/// The journal's records without wall-clock fields.
pub fn comparable(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("journal.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let mut r = v["record"].take();
            r["eval_seconds"] = 0.into();
            r["proxy"]["wall_seconds"] = 0.into();
            r["proxy"]["tokens_per_second"] = 0.into();
            r
        })
        .collect()
}

/// Lines in the journal so far (0 before it exists).
pub fn journal_len(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("journal.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// `flashnas search --config CFG --out OUT`, ready for more arguments or redirections.
pub fn search(cfg: impl AsRef<Path>, out: impl AsRef<Path>) -> Command {
    let mut cmd = bin();
    cmd.args(["search", "--config"])
        .arg(cfg.as_ref())
        .arg("--out")
        .arg(out.as_ref());
    cmd
}
