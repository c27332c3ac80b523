//! `flashnas bench calibration`: the same candidates measured in separate processes (as
//! separate campaigns would), raw seconds against seconds relative to a reference model timed
//! interleaved with them.

use flashnas_latency::calibrate::WallClock;
use flashnas_latency::profile::calibrated_decode;
use flashnas_model::backend::{backend_name, device, sync, Compute};
use flashnas_model::ArchSpec;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct CalibrationArgs {
    /// Separate measurement processes.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Interleaved rounds per candidate (A B A B … A).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    #[arg(long, default_value_t = 32)]
    prompt: usize,
    #[arg(long, default_value_t = 64)]
    generate: usize,
    /// Background load during run i: `none`, or `ramp` (run i has i threads streaming memory
    /// copies beside it), standing in for the other jobs of a shared machine.
    #[arg(long, default_value = "ramp")]
    load: String,
    /// Internal: measure once in this process and write JSON here.
    #[arg(long, hide = true)]
    child: Option<std::path::PathBuf>,
    /// Internal: background threads for this child.
    #[arg(long, hide = true, default_value_t = 0)]
    hogs: usize,
}

/// The reference model: `a f a f` at d = 128.
pub fn reference_arch() -> anyhow::Result<ArchSpec> {
    Ok(ArchSpec::from_json(
        r#"{"vocab_size": 256, "d_model": 128, "attention": {"n_heads": 4, "n_kv_heads": 2},
            "ffn": {"ratio": 3.0, "multiple_of": 8}, "layers": ["a", "f", "a", "f"]}"#,
    )?)
}

fn child(a: &CalibrationArgs, out: &std::path::Path) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let hogs: Vec<_> = (0..a.hogs)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let src = vec![1u8; 64 << 20];
                let mut dst = vec![0u8; 64 << 20];
                while !stop.load(Ordering::Relaxed) {
                    dst.copy_from_slice(std::hint::black_box(&src));
                }
            })
        })
        .collect();
    let reference = reference_arch()?;
    let dev = device();
    let s = || sync(&device());
    let mut rows = Vec::new();
    for spec in super::mixed_archs().iter().take(3) {
        let c = calibrated_decode::<Compute>(
            spec,
            &reference,
            a.prompt,
            a.generate,
            a.rounds,
            &dev,
            &s,
            &mut WallClock::default(),
        );
        rows.push(
            serde_json::json!({"layers": spec.layer_string(), "raw_s": c.raw_s,
            "reference_s": c.reference_s, "ratio": c.ratio}),
        );
    }
    stop.store(true, Ordering::Relaxed);
    for h in hogs {
        let _ = h.join();
    }
    std::fs::write(out, serde_json::to_string(&rows)?)?;
    Ok(())
}

/// Half the range as a percentage of the mean: the "± x %" of a set of measurements.
fn spread_pct(v: &[f64]) -> f64 {
    let (lo, hi) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
            (l.min(*x), h.max(*x))
        });
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    50.0 * (hi - lo) / mean
}

pub fn run(a: CalibrationArgs) -> anyhow::Result<()> {
    if let Some(out) = &a.child {
        return child(&a, out);
    }
    anyhow::ensure!(
        a.load == "none" || a.load == "ramp",
        "--load: expected 'none' or 'ramp', got '{}'",
        a.load
    );
    let exe = std::env::current_exe()?;
    let dir = tempfile::tempdir()?;
    let dir = dir.path();
    let mut runs: Vec<Vec<serde_json::Value>> = Vec::new();
    println!(
        "backend {} | 3 candidates × {} runs (separate processes), decode prompt {} + {} tokens, {} rounds A-B-A-B against {}",
        backend_name(),
        a.runs,
        a.prompt,
        a.generate,
        a.rounds,
        reference_arch()?.layer_string()
    );
    for i in 0..a.runs {
        let hogs = if a.load == "ramp" { i } else { 0 };
        let out = dir.join(format!("run-{i}.json"));
        let status = std::process::Command::new(&exe)
            .args(["bench", "calibration", "--child"])
            .arg(&out)
            .args([
                "--hogs",
                &hogs.to_string(),
                "--rounds",
                &a.rounds.to_string(),
                "--prompt",
                &a.prompt.to_string(),
                "--generate",
                &a.generate.to_string(),
            ])
            .status()?;
        anyhow::ensure!(status.success(), "measurement run {i} failed: {status}");
        runs.push(serde_json::from_str(&std::fs::read_to_string(&out)?)?);
        println!("run {i}: done ({hogs} background copy threads)");
    }
    println!(
        "{:<36} {:>28} {:>10} {:>28} {:>10}",
        "candidate", "raw ms per run", "raw ±%", "× reference per run", "calib ±%"
    );
    let mut worst = (0.0f64, 0.0f64);
    for c in 0..runs[0].len() {
        let raw: Vec<f64> = runs
            .iter()
            .map(|r| r[c]["raw_s"].as_f64().unwrap())
            .collect();
        let ratio: Vec<f64> = runs
            .iter()
            .map(|r| r[c]["ratio"].as_f64().unwrap())
            .collect();
        let (sr, sc) = (spread_pct(&raw), spread_pct(&ratio));
        worst = (worst.0.max(sr), worst.1.max(sc));
        println!(
            "{:<36} {:>28} {:>10.1} {:>28} {:>10.1}",
            runs[0][c]["layers"].as_str().unwrap_or("?"),
            raw.iter()
                .map(|x| format!("{:.1}", x * 1e3))
                .collect::<Vec<_>>()
                .join(" "),
            sr,
            ratio
                .iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(" "),
            sc
        );
    }
    println!(
        "worst spread: raw ±{:.1} %, calibrated ±{:.1} %",
        worst.0, worst.1
    );
    Ok(())
}
