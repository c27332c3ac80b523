//! `flashnas bench …`: benchmarks that print figures (never timed tests).

use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Int, Tensor, TensorData};
use flashnas_model::backend::{backend_name, device, sync, Train};
use flashnas_model::kind::{section, Sizing};
use flashnas_model::{ArchSpec, HybridLm, LayerEntry, LayerKind};
use std::time::Instant;

mod calibration;
mod decode;
mod prefill;
mod recall;
mod strategies;

#[derive(clap::Subcommand, Debug)]
pub enum Bench {
    /// Decode ms/token of each mixer kind (4×[kind, ffn]) and a mixed model at several
    /// generation lengths, the growth with length, and the ratio to a memory-bound estimate
    /// (bytes read per step at this machine's measured copy bandwidth).
    Decode(decode::DecodeArgs),
    /// The latency protocol's prefill of a long prompt (batch 1, chunked) per mixer kind and
    /// width, heads of a fixed size: milliseconds and milliseconds per head.
    Prefill(prefill::PrefillArgs),
    /// Spread of raw vs calibrated (reference-relative) latency of the same candidates measured
    /// in separate processes, as separate campaigns would.
    Calibration(calibration::CalibrationArgs),
    /// Forward+backward time per training step of a reference arch of each kind
    /// (d=128 unless --width, batch 8, T=256 and T=1024), and the T=1024/T=256 ratio.
    /// On the active backend's device (cuda:0 in a --features cuda build).
    Model(ModelArgs),
    /// Repeatability of the CPU decode measurement (CV over 10 runs of a fixed arch) and the
    /// lookup table's prediction error on 5 mixed archs.
    Latency(LatencyArgs),
    /// Tokens/second of forward+backward+optimizer (the proxy's training step) for a reference
    /// arch (d=128 unless --width, 8 sublayers: attention, mamba2, deltanet, ffn; T=256,
    /// batch 16) and peak RSS, on the active backend's device.
    Train(TrainArgs),
    /// Every strategy over many seeds against a benchmark table (`flashnas tabulate`):
    /// hypervolume per evaluation and per simulated training second, mean ± 95 % CI, the
    /// fraction of seeds reaching 95 % of the table's hypervolume, rank tests, plots.
    Strategies(strategies::StrategiesArgs),
    /// The recall probe's accuracy after each of several step counts, per architecture and
    /// seed, under a campaign config's `[train.recall]` (or overrides): its calibration.
    Recall(recall::RecallArgs),
}

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    #[arg(long, default_value_t = 10)]
    steps: usize,
    #[arg(long, default_value_t = 16)]
    batch: usize,
    #[arg(long, default_value_t = 256)]
    seq_len: usize,
    /// Model widths (d_model, multiples of 64; heads of 32, half as many KV heads), each
    /// run in turn: e.g. `--widths 64,128` (a CPU campaign's) or `--widths 256,512`.
    #[arg(long = "widths", alias = "width", value_delimiter = ',', default_value = "128", value_parser = width)]
    widths: Vec<usize>,
}

/// Parses `--width`: the bench archs need whole heads of 32 and whole KV-head pairs.
fn width(s: &str) -> Result<usize, String> {
    let d: usize = s.parse().map_err(|e| format!("{s}: {e}"))?;
    if d == 0 || !d.is_multiple_of(64) {
        return Err(format!(
            "{d}: the width must be a positive multiple of 64 (heads of 32, KV heads half of them)"
        ));
    }
    Ok(d)
}

#[derive(clap::Args, Debug)]
pub struct LatencyArgs {
    #[arg(long, default_value_t = 64)]
    prompt: usize,
    #[arg(long, default_value_t = 128)]
    generate: usize,
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Also write the figures as JSON.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// Kinds to measure (default: all).
    #[arg(long, value_delimiter = ',')]
    kinds: Vec<String>,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    #[arg(long, value_delimiter = ',', default_values_t = vec![256usize, 1024])]
    lengths: Vec<usize>,
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Model width (d_model, a multiple of 64): heads of 32, half as many KV heads.
    #[arg(long, default_value_t = 128, value_parser = width)]
    width: usize,
    /// Also write the table as JSON.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

pub fn run(b: Bench) -> anyhow::Result<()> {
    match b {
        Bench::Model(a) => model(a),
        Bench::Latency(a) => latency(a),
        Bench::Train(a) => train_bench(a),
        Bench::Decode(a) => decode::run(a),
        Bench::Prefill(a) => prefill::run(a),
        Bench::Calibration(a) => calibration::run(a),
        Bench::Strategies(a) => strategies::run_bench(a),
        Bench::Recall(a) => recall::run(a),
    }
}

/// The reference arch of one kind: `[kind, ffn, kind, ffn]` at width `d` (128 in the README's
/// tables), heads of 32, byte vocabulary.
pub fn reference_arch(kind: &str, d: usize) -> anyhow::Result<ArchSpec> {
    let layer = match kind {
        "swa" => r#"{"kind": "swa", "window": 128}"#.to_string(),
        k => format!("\"{k}\""),
    };
    bench_arch(d, &format!("[{layer}, \"ffn\", {layer}, \"ffn\"]"))
}

/// A bench architecture at width `d` (a multiple of 64): heads of 32, half as many KV heads,
/// chunks of 64, every registered kind sized alike ([`ArchSpec::sized`], so any kind can be
/// benched), except Gated DeltaNet's value heads, which keep their default of twice the
/// key size (docs/OPERATORS.md §11), as the README's tables were measured.
pub fn bench_arch(d: usize, layers: &str) -> anyhow::Result<ArchSpec> {
    let sizing = Sizing {
        d_model: d,
        head_dim: 32,
        kv_heads: Some(d / 64),
        ssm_state: 16,
        ssm_head_dim: 32,
        chunk_size: 64,
        ffn_ratio: 3.0,
        ffn_multiple_of: 8,
    };
    let layers: Vec<LayerEntry> = serde_json::from_str(layers)?;
    let mut spec = ArchSpec::sized(256, &sizing, layers);
    spec.set_section(
        LayerKind::GatedDeltaNet,
        section([
            ("n_heads", sizing.heads().into()),
            ("chunk_size", 64.into()),
        ]),
    );
    spec.validate()?;
    Ok(spec)
}

fn step_seconds(model: &HybridLm<Train>, batch: usize, t: usize, repeats: usize) -> Vec<f64> {
    let dev = device();
    let v = model.spec().vocab_size;
    let data: Vec<i32> = (0..batch * (t + 1))
        .map(|i| ((i * 7919) % v) as i32)
        .collect();
    let all = Tensor::<Train, 2, Int>::from_data(TensorData::new(data, [batch, t + 1]), &dev);
    let input = all.clone().narrow(1, 0, t);
    let target = all.narrow(1, 1, t).reshape([batch * t]);
    let loss_fn = CrossEntropyLossConfig::new().init(&dev);
    let mut times = Vec::new();
    for r in 0..repeats + 1 {
        sync(&dev);
        let start = Instant::now();
        let logits = model.forward(input.clone()).reshape([batch * t, v]);
        let loss = loss_fn.forward(logits, target.clone());
        let grads = loss.backward();
        drop(grads);
        sync(&dev);
        if r > 0 {
            times.push(start.elapsed().as_secs_f64()); // the first run is warm-up
        }
    }
    times
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn model(a: ModelArgs) -> anyhow::Result<()> {
    let kinds: Vec<String> = if a.kinds.is_empty() {
        flashnas_model::LayerKind::MIXERS
            .iter()
            .map(|k| k.name().to_string())
            .collect()
    } else {
        a.kinds.clone()
    };
    println!(
        "backend {} | d={} | batch {} | fwd+bwd (cross-entropy) per step, median of {} after 1 warm-up",
        backend_name(),
        a.width,
        a.batch,
        a.repeats
    );
    print!("{:<16}{:>10}", "kind", "params");
    for t in &a.lengths {
        print!("{:>14}", format!("T={t} (ms)"));
    }
    if a.lengths.len() >= 2 {
        print!("{:>12}", "ratio");
    }
    println!();
    let mut rows = Vec::new();
    for kind in &kinds {
        let spec = reference_arch(kind, a.width)?;
        let model = HybridLm::<Train>::init(&spec, 0, &device());
        print!(
            "{:<16}{:>10}",
            kind,
            flashnas_model::accounting::param_count(&spec)
        );
        let mut ms = Vec::new();
        for &t in &a.lengths {
            let mut s = step_seconds(&model, a.batch, t, a.repeats);
            let m = median(&mut s) * 1e3;
            print!("{:>14.1}", m);
            use std::io::Write;
            std::io::stdout().flush().ok();
            ms.push(m);
        }
        let ratio = (ms.len() >= 2).then(|| ms[ms.len() - 1] / ms[0]);
        if let Some(r) = ratio {
            print!("{:>12.2}", r);
        }
        println!();
        let _ = model.valid();
        rows.push(
            serde_json::json!({"kind": kind, "ms": ms, "lengths": a.lengths, "ratio": ratio}),
        );
    }
    if let Some(p) = a.json {
        let out = serde_json::json!({"backend": backend_name(), "width": a.width, "batch": a.batch, "rows": rows});
        std::fs::write(&p, serde_json::to_string_pretty(&out)?)?;
    }
    Ok(())
}

/// Five mixed archs at d = 128 (the LUT validation set of `bench latency`).
pub fn mixed_archs() -> Vec<ArchSpec> {
    let layers = [
        r#"["a", "f", "m2", "f", "deltanet", "f"]"#,
        r#"["m2", "f", "m2", "f", "a", "f", "m2", "f"]"#,
        r#"["deltanet", "f", "deltanet", "f", {"kind": "swa", "window": 64}, "f"]"#,
        r#"["gdn", "f", "a", "f", "gdn", "f"]"#,
        r#"["m2", "m2", "a", "f", "deltanet", "f", "f"]"#,
    ];
    layers
        .iter()
        .map(|l| bench_arch(128, l).expect("valid bench arch"))
        .collect()
}

fn latency(a: LatencyArgs) -> anyhow::Result<()> {
    use flashnas_latency::lut::{LatencyTable, LutProtocol};
    use flashnas_latency::profile::decode_seconds;
    use flashnas_model::backend::Compute;
    let dev = device();
    let s = || sync(&device());
    let archs = mixed_archs();
    println!(
        "backend {} | decode batch 1, prompt {} + {} generated tokens",
        backend_name(),
        a.prompt,
        a.generate
    );
    let stats = decode_seconds::<Compute>(&archs[0], a.prompt, a.generate, 1, 2, a.runs, &dev, &s);
    println!(
        "repeatability ({}): median {:.4} s, min {:.4}, max {:.4}, CV {:.2}% over {} runs",
        archs[0].layer_string(),
        stats.median,
        stats.min,
        stats.max,
        stats.cv * 100.0,
        a.runs
    );
    let mut table = LatencyTable::new(
        &flashnas_latency::profile::device_name(),
        LutProtocol {
            prompt: a.prompt,
            generate: a.generate,
            batch: 1,
            warmup: 1,
            repeats: 5,
        },
    );
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    table.add::<Compute>(&archs, &dev, &s, &mut |sig| {
        bar.set_message(format!("measuring {}", &sig[..sig.len().min(60)]))
    });
    bar.set_message("validating on the 5 archs");
    let rows = table.validate::<Compute>(&archs, &dev, &s);
    bar.finish_and_clear();
    println!("lookup table: {} distinct sublayers", table.entries.len());
    println!(
        "{:<40} {:>12} {:>12} {:>9}",
        "arch", "measured s", "predicted s", "error %"
    );
    for r in &rows {
        println!(
            "{:<40} {:>12.4} {:>12.4} {:>9.1}",
            r.layers, r.measured_s, r.predicted_s, r.error_pct
        );
    }
    let mean = rows.iter().map(|r| r.error_pct).sum::<f64>() / rows.len() as f64;
    println!(
        "LUT error: mean {:.1}%, max {:.1}%",
        mean,
        table.max_error_pct().unwrap_or(f64::NAN)
    );
    let roof = flashnas_latency::DeviceModel::preset("cpu-2core")?;
    let roof_err: Vec<f64> = rows
        .iter()
        .zip(&archs)
        .map(|(r, spec)| {
            100.0 * (roof.decode_seconds(spec, a.prompt, a.generate, 1) - r.measured_s).abs()
                / r.measured_s
        })
        .collect();
    println!(
        "roofline (cpu-2core) error: mean {:.1}%, max {:.1}%",
        roof_err.iter().sum::<f64>() / roof_err.len() as f64,
        roof_err.iter().cloned().fold(0.0, f64::max)
    );
    if let Some(p) = a.json {
        let out = serde_json::json!({"backend": backend_name(), "repeatability": stats, "lut": table, "roofline_error_pct": roof_err});
        std::fs::write(&p, serde_json::to_string_pretty(&out)?)?;
    }
    Ok(())
}

/// Peak resident set size of this process (Linux `VmHWM`), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The widest SIMD class this CPU offers to the kernels, as `lscpu` would name it, and the
/// threads they run on.
pub fn simd_class() -> String {
    #[cfg(target_arch = "x86_64")]
    let class = {
        let f = |b: bool, n: &'static str| b.then_some(n);
        [
            f(std::arch::is_x86_feature_detected!("avx512f"), "avx512f"),
            f(
                std::arch::is_x86_feature_detected!("avx512bf16"),
                "avx512_bf16",
            ),
            f(std::arch::is_x86_feature_detected!("avx2"), "avx2"),
            f(std::arch::is_x86_feature_detected!("fma"), "fma"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("+")
    };
    #[cfg(target_arch = "aarch64")]
    let class = String::from("neon");
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let class = String::from("scalar");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "{} ({threads} threads)",
        if class.is_empty() { "sse2" } else { &class }
    )
}

fn train_bench(a: TrainArgs) -> anyhow::Result<()> {
    println!("cpu SIMD: {}", simd_class());
    for &width in &a.widths {
        train_bench_at(&a, width)?;
    }
    Ok(())
}

fn train_bench_at(a: &TrainArgs, width: usize) -> anyhow::Result<()> {
    use flashnas_training::{train, Dataset, TrainConfig};
    let spec = bench_arch(
        width,
        r#"["a", "f", "m2", "f", "deltanet", "f", "m2", "f"]"#,
    )?;
    let cfg = TrainConfig::from_toml(
        &format!(
            "steps = {}\nseq_len = {}\nbatch_size = {}\nlog_every = 1",
            a.steps, a.seq_len, a.batch
        ),
        "bench",
    )?;
    let data = Dataset::load(&cfg.data, cfg.seq_len, std::path::Path::new("."))?;
    let mut step_times = Vec::new();
    let mut last = Instant::now();
    let (r, _) = train::<Train>(&spec, &cfg, &data, &device(), &mut |_| {
        step_times.push(last.elapsed().as_secs_f64());
        last = Instant::now();
    });
    anyhow::ensure!(
        r.status.is_ok(),
        "bench run failed: {}",
        r.status.describe()
    );
    // The first step includes allocation warm-up; report the rest.
    let steady: f64 = step_times[1..].iter().sum::<f64>() / (step_times.len() - 1).max(1) as f64;
    println!(
        "backend {} | arch {} (d={}, {} params) | T={} batch {}",
        backend_name(),
        spec.layer_string(),
        width,
        r.params,
        a.seq_len,
        a.batch
    );
    println!("fwd+bwd+AdamW+weight-norm: {:.0} tokens/s steady ({:.1} ms/step; whole run incl. eval {:.0} tokens/s) on {}", (a.batch * a.seq_len) as f64 / steady, steady * 1e3, r.tokens_per_second, simd_class());
    println!("peak RSS {:.0} MiB", peak_rss_mib().unwrap_or(f64::NAN));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bench architectures as they were written out before kinds were sized through
    /// their descriptors: the README's figures were measured on these.
    fn written(d: usize, layers: &str) -> ArchSpec {
        let (h, kv) = (d / 32, d / 64);
        ArchSpec::from_json(&format!(
            r#"{{"vocab_size": 256, "d_model": {d},
                "attention": {{"n_heads": {h}, "n_kv_heads": {kv}}},
                "mamba2": {{"d_state": 16, "head_dim": 32, "chunk_size": 64}},
                "deltanet": {{"n_heads": {h}, "chunk_size": 64}},
                "gated_deltanet": {{"n_heads": {h}, "chunk_size": 64}},
                "ffn": {{"ratio": 3.0, "multiple_of": 8}},
                "layers": {layers}}}"#
        ))
        .unwrap()
    }

    fn written_decode(d: usize, layers: &str) -> ArchSpec {
        let heads = (d / 64).max(1);
        ArchSpec::from_json(&format!(
            r#"{{"vocab_size": 256, "d_model": {d},
                "attention": {{"n_heads": {heads}, "n_kv_heads": {kv}, "head_dim": 64}},
                "mamba2": {{"d_state": 64, "head_dim": 64}},
                "deltanet": {{"n_heads": {heads}}},
                "gated_deltanet": {{"n_heads": {heads}}},
                "ffn": {{"ratio": 3.0, "multiple_of": 8}},
                "layers": {layers}}}"#,
            kv = heads.min(2),
        ))
        .unwrap()
    }

    #[test]
    fn sized_bench_architectures_resolve_as_the_written_ones() {
        let layers =
            r#"["a", "f", "m2", "f", "deltanet", "f", "gdn", {"kind": "swa", "window": 64}]"#;
        let mixed =
            r#"["m2", "f", "a", "f", "deltanet", "f", {"kind": "swa", "window": 128}, "f"]"#;
        for d in [64, 128, 256, 512] {
            assert_eq!(
                bench_arch(d, layers).unwrap().resolve().unwrap(),
                written(d, layers).resolve().unwrap(),
                "bench d {d}"
            );
            assert_eq!(
                decode::decode_arch("mixed", d).unwrap().resolve().unwrap(),
                written_decode(d, mixed).resolve().unwrap(),
                "decode mixed d {d}"
            );
            for kind in ["attention", "mamba2", "deltanet", "gated_deltanet"] {
                let l = format!(r#"["{kind}", "f", "{kind}", "f", "{kind}", "f", "{kind}", "f"]"#);
                assert_eq!(
                    decode::decode_arch(kind, d).unwrap().resolve().unwrap(),
                    written_decode(d, &l).resolve().unwrap(),
                    "decode {kind} d {d}"
                );
            }
        }
    }
}
