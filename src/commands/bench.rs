//! `flashnas bench …`: benchmarks that print figures (never timed tests).

use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Int, Tensor, TensorData};
use flashnas_model::backend::{backend_name, device, sync, Train};
use flashnas_model::{ArchSpec, HybridLm};
use std::time::Instant;

#[derive(clap::Subcommand, Debug)]
pub enum Bench {
    /// Forward+backward time per training step of a reference arch of each kind
    /// (d=128, batch 8, T=256 and T=1024), and the T=1024/T=256 ratio.
    Model(ModelArgs),
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
    /// Also write the table as JSON.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

pub fn run(b: Bench) -> anyhow::Result<()> {
    match b {
        Bench::Model(a) => model(a),
    }
}

/// The reference arch of one kind: `[kind, ffn, kind, ffn]`, d = 128, byte vocabulary.
pub fn reference_arch(kind: &str) -> anyhow::Result<ArchSpec> {
    let layer = match kind {
        "swa" => r#"{"kind": "swa", "window": 128}"#.to_string(),
        k => format!("\"{k}\""),
    };
    let json = format!(
        r#"{{"vocab_size": 256, "d_model": 128,
            "attention": {{"n_heads": 4, "n_kv_heads": 2}},
            "mamba2": {{"d_state": 16, "head_dim": 32, "chunk_size": 64}},
            "deltanet": {{"n_heads": 4, "chunk_size": 64}},
            "gated_deltanet": {{"n_heads": 4, "chunk_size": 64}},
            "ffn": {{"ratio": 3.0, "multiple_of": 8}},
            "layers": [{layer}, "ffn", {layer}, "ffn"]}}"#
    );
    Ok(ArchSpec::from_json(&json)?)
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
        ["attention", "swa", "mamba2", "deltanet", "gated_deltanet"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        a.kinds.clone()
    };
    println!(
        "backend {} | batch {} | fwd+bwd (cross-entropy) per step, median of {} after 1 warm-up",
        backend_name(),
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
        let spec = reference_arch(kind)?;
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
        let out = serde_json::json!({"backend": backend_name(), "batch": a.batch, "rows": rows});
        std::fs::write(&p, serde_json::to_string_pretty(&out)?)?;
    }
    Ok(())
}
