//! `flashnas bench prefill`: what the latency protocol's prefill of a long prompt costs (batch
//! 1, chunks of `PREFILL_CHUNK` tokens continuing the caches), per mixer kind and width, with
//! heads of a fixed size so that the head count follows the width (a CPU campaign's heads of
//! 16: 2 at width 32, 3 at 48, 4 at 64). The time per head shows whether a head count that
//! does not divide among the threads costs what the next even count does.

use flashnas_latency::profile::prefill_protocol;
use flashnas_model::backend::{backend_name, device, sync, Compute};
use flashnas_model::{ArchSpec, HybridLm};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct PrefillArgs {
    /// Model widths (d_model), multiples of `--head-dim`.
    #[arg(long, value_delimiter = ',', default_values_t = vec![32usize, 48, 64, 80, 96])]
    widths: Vec<usize>,
    /// Prompt tokens prefilled.
    #[arg(long, default_value_t = 4096)]
    prompt: usize,
    /// Head size of attention (and of the delta rules' keys and values).
    #[arg(long, default_value_t = 16)]
    head_dim: usize,
    /// Kinds, each as `[kind, ffn]` (default: attention, mamba2, deltanet).
    #[arg(long, value_delimiter = ',', default_values_t = vec!["attention".to_string(), "mamba2".into(), "deltanet".into()])]
    kinds: Vec<String>,
    /// Prefills timed per model (median, after one warm-up).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Also write the figures as JSON.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// `[kind, ffn]` at width `d` with heads of `dh` (as many KV heads as heads).
fn arch(kind: &str, d: usize, dh: usize) -> anyhow::Result<ArchSpec> {
    let h = d / dh;
    let spec = ArchSpec::from_json(&format!(
        r#"{{"vocab_size": 256, "d_model": {d}, "n_meta": 2,
            "attention": {{"head_dim": {dh}, "n_heads": {h}, "n_kv_heads": {h}}},
            "mamba2": {{"head_dim": {dh}, "d_state": 8, "chunk_size": 32}},
            "deltanet": {{"n_heads": {h}, "head_k_dim": {dh}, "head_v_dim": {dh}, "chunk_size": 32}},
            "gated_deltanet": {{"n_heads": {h}, "head_k_dim": {dh}, "head_v_dim": {dh}, "chunk_size": 32}},
            "ffn": {{"ratio": 2.0, "multiple_of": 8}},
            "layers": [{{"kind": "{kind}"}}, {{"kind": "ffn"}}]}}"#
    ))?;
    spec.validate()?;
    Ok(spec)
}

pub fn run(a: PrefillArgs) -> anyhow::Result<()> {
    if a.widths.is_empty() || a.kinds.is_empty() || a.prompt == 0 || a.repeats == 0 {
        anyhow::bail!("--widths, --kinds, --prompt and --repeats must not be empty or 0");
    }
    if let Some(w) = a
        .widths
        .iter()
        .find(|w| **w == 0 || !w.is_multiple_of(a.head_dim))
    {
        anyhow::bail!(
            "--widths: {w} is not a positive multiple of --head-dim {}",
            a.head_dim
        );
    }
    let dev = device();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "backend {} | batch 1, prompt {} in chunks of {} | heads of {} | {} threads | median of {} prefills",
        backend_name(),
        a.prompt,
        flashnas_latency::profile::PREFILL_CHUNK,
        a.head_dim,
        threads,
        a.repeats
    );
    println!(
        "{:<12} {:>5} {:>5} {:>12} {:>14}",
        "kind", "d", "heads", "prefill ms", "ms per head"
    );
    let mut rows = Vec::new();
    for kind in &a.kinds {
        for &d in &a.widths {
            let spec = arch(kind, d, a.head_dim)?;
            let model = HybridLm::<Compute>::init(&spec, 0, &dev);
            let data: Vec<i32> = (0..a.prompt).map(|i| ((i * 7919) % 256) as i32).collect();
            let tokens = burn::tensor::Tensor::<Compute, 2, burn::tensor::Int>::from_data(
                burn::tensor::TensorData::new(data, [1, a.prompt]),
                &dev,
            );
            let mut times: Vec<f64> = (0..a.repeats + 1)
                .map(|_| {
                    sync(&dev);
                    let t = Instant::now();
                    let out = prefill_protocol(&model, tokens.clone(), a.prompt + 1);
                    sync(&dev);
                    drop(out);
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            times.remove(0); // warm-up
            let ms = super::median(&mut times);
            let heads = d / a.head_dim;
            println!(
                "{kind:<12} {d:>5} {heads:>5} {ms:>12.2} {:>14.2}",
                ms / heads as f64
            );
            rows.push(
                serde_json::json!({"kind": kind, "d_model": d, "heads": heads, "prefill_ms": ms}),
            );
        }
    }
    if let Some(p) = a.json {
        let doc = serde_json::json!({
            "backend": backend_name(), "prompt": a.prompt, "head_dim": a.head_dim,
            "threads": threads, "rows": rows,
        });
        std::fs::write(&p, serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(())
}
