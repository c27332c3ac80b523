//! The `flashnas` binary from outside: numerics commands, campaign kill -9 and resume,
//! export, error messages.

mod common;

use common::{bin, campaign_toml, comparable, ok, search};
use std::path::Path;
use std::process::Stdio;

fn npy_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
    assert!(header.contains("'<f4'"), "{header}");
    bytes[10 + hlen..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn init_logits_full_equals_decode_and_arch_reports() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let arch = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hybrid-tiny.json");
    let w = d.join("w.safetensors");
    ok(bin()
        .args(["init", "--arch", arch, "--seed", "7", "--out"])
        .arg(&w));
    std::fs::write(d.join("t.json"), "[[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40], [40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]").unwrap();
    for mode in ["full", "decode"] {
        ok(bin()
            .args(["logits", "--arch", arch, "--weights"])
            .arg(&w)
            .arg("--tokens")
            .arg(d.join("t.json"))
            .arg("--out")
            .arg(d.join(format!("{mode}.npy")))
            .args(["--mode", mode]));
    }
    let full = npy_f32(&d.join("full.npy"));
    let dec = npy_f32(&d.join("decode.npy"));
    assert_eq!(full.len(), 2 * 40 * 256);
    let scale = full.iter().fold(0f32, |m, x| m.max(x.abs()));
    let diff = full
        .iter()
        .zip(&dec)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff <= 1e-4 * scale,
        "full vs decode: {diff} (scale {scale})"
    );
    // Same seed, same weights.
    let w2 = d.join("w2.safetensors");
    ok(bin()
        .args(["init", "--arch", arch, "--seed", "7", "--out"])
        .arg(&w2));
    assert_eq!(std::fs::read(&w).unwrap(), std::fs::read(&w2).unwrap());

    let out = ok(bin().args(["arch", "--arch", arch]));
    assert!(
        out.contains("parameters") && out.contains("d f m2 f a f swa f"),
        "{out}"
    );

    // A token outside the vocabulary is refused with the position named.
    std::fs::write(d.join("bad.json"), "[[1, 300]]").unwrap();
    let o = bin()
        .args(["logits", "--arch", arch, "--weights"])
        .arg(&w)
        .arg("--tokens")
        .arg(d.join("bad.json"))
        .arg("--out")
        .arg(d.join("x.npy"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("token [0][1] = 300"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn invalid_arch_and_config_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("bad.json");
    std::fs::write(&a, r#"{"vocab_size": 10, "d_model": 48, "attention": {"n_heads": 4, "n_kv_heads": 4}, "layers": ["a", {"kind": "attention", "n_heads": 6}]}"#).unwrap();
    let o = bin().args(["arch", "--arch"]).arg(&a).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success()
            && err.contains("bad.json")
            && err.contains("layers[1] (attention): n_heads 6 is not a multiple of n_kv_heads 4"),
        "{err}"
    );
    let c = dir.path().join("c.toml");
    std::fs::write(
        &c,
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/configs/quickstart.toml"
        ))
        .unwrap()
        .replacen("[space]", "populaton = 3\n[space]", 1),
    )
    .unwrap();
    let o = bin()
        .args(["search", "--config"])
        .arg(&c)
        .arg("--out")
        .arg(dir.path().join("r"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("c.toml") && err.contains("populaton"),
        "{err}"
    );
    assert!(
        !dir.path().join("r").exists(),
        "no work before the config is valid"
    );
}

fn campaign_config(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("kill.toml");
    std::fs::write(&p, campaign_toml("kill", 5, 8, 30, "")).unwrap();
    p
}

#[test]
fn campaign_killed_with_sigkill_resumes_to_the_same_journal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = campaign_config(dir.path());
    let full = dir.path().join("full");
    ok(&mut search(&cfg, &full));
    let reference = comparable(&full);
    assert_eq!(reference.len(), 8);

    for kill_after in [2usize, 5] {
        let run = dir.path().join(format!("killed{kill_after}"));
        let mut child = search(&cfg, &run)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until `kill_after` evaluations are journaled, then kill -9 mid-run.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let n = std::fs::read_to_string(run.join("journal.jsonl"))
                .map(|t| t.lines().count())
                .unwrap_or(0);
            if n >= kill_after || std::time::Instant::now() > deadline {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let partial = std::fs::read_to_string(run.join("journal.jsonl"))
            .unwrap()
            .lines()
            .count();
        assert!(partial < 8, "killed before the end ({partial} records)");
        let out = ok(bin().arg("resume").arg(&run));
        assert!(out.contains("(from journal)") || partial == 0, "{out}");
        assert_eq!(comparable(&run), reference, "killed after {kill_after}");
    }

    // status, export and plot on the finished campaign.
    let out = ok(bin().arg("status").arg(&full));
    assert!(out.contains("8/8 evaluations (finished)"), "{out}");
    let csv = dir.path().join("all.csv");
    ok(bin()
        .arg("export")
        .arg(&full)
        .args(["--what", "all", "--format", "csv", "--out"])
        .arg(&csv));
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 9);
    ok(bin().arg("plot").arg(&full));
    assert!(full.join("frontier.svg").exists() && full.join("hypervolume.svg").exists());
}

/// The fused CPU kernels split work over threads but never a sum: training gives the same
/// bits with one thread or two (what resume and determinism rest on).
#[test]
fn training_is_bit_identical_across_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("t.toml");
    std::fs::write(
        &cfg,
        "steps = 6\nseq_len = 32\nbatch_size = 4\nlog_every = 2\n",
    )
    .unwrap();
    let arch = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hybrid-tiny.json");
    let runs: Vec<serde_json::Value> = ["1", "2"]
        .iter()
        .map(|threads| {
            let out = dir.path().join(format!("r{threads}.json"));
            ok(bin()
                .env("RAYON_NUM_THREADS", threads)
                .args(["train", "--arch", arch, "--config"])
                .arg(&cfg)
                .arg("--out")
                .arg(&out));
            serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
        })
        .collect();
    assert_eq!(runs[0]["val_loss"], runs[1]["val_loss"]);
    assert_eq!(runs[0]["loss_curve"], runs[1]["loss_curve"]);
    assert!(runs[0]["val_loss"].as_f64().unwrap().is_finite());
}
