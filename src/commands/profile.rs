//! `flashnas profile`: measured decode / prefill / throughput of an architecture on a device.

use anyhow::Context;
use flashnas_latency::profile::{profile, ProfileConfig};
use flashnas_latency::DeviceModel;
use flashnas_model::backend::{default_device_name, parse_device, sync, Compute};
use flashnas_model::fsio::write_atomic;
use flashnas_model::ArchSpec;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long)]
    arch: PathBuf,
    /// `cpu`, `cuda` / `cuda:N` (a build with --features cuda) or `wgpu` / `wgpu:N` (--features
    /// wgpu). Default: the build's own device (cpu, cuda:0 or the default wgpu adapter).
    #[arg(long)]
    device: Option<String>,
    /// Prompt tokens prefilled before decoding (batch 1).
    #[arg(long, default_value_t = 64)]
    prompt: usize,
    /// Tokens generated one decode step at a time.
    #[arg(long, default_value_t = 256)]
    generate: usize,
    /// Decode throughput batch (0: no throughput run, e.g. for a long batch-1 profile).
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Prefill measurement length (batch 1).
    #[arg(long, default_value_t = 512)]
    prefill_len: usize,
    /// Memory budget in MiB: measure throughput at the largest batch that fits (overrides --batch).
    #[arg(long)]
    memory_mib: Option<u64>,
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Roofline preset to compare against (cpu-2core, a100, h100, h200).
    #[arg(long)]
    roofline: Option<String>,
    /// Also write the figures as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let device_name = a
        .device
        .clone()
        .unwrap_or_else(|| default_device_name().to_string());
    let device = parse_device(&device_name)?;
    let spec = ArchSpec::from_file(&a.arch)?;
    let roofline = a.roofline.as_deref().map(DeviceModel::preset).transpose()?;
    let cfg = ProfileConfig {
        prompt: a.prompt,
        generate: a.generate,
        prefill_batch: 1,
        prefill_len: a.prefill_len,
        throughput_batch: (a.memory_mib.is_none() && a.batch > 0).then_some(a.batch),
        memory_budget: a.memory_mib.map(|m| m * 1024 * 1024),
        warmup: a.warmup,
        repeats: a.repeats,
        seed: 0,
    };
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message(format!(
        "profiling {} on {} ({} repeats)…",
        spec.layer_string(),
        device_name,
        a.repeats
    ));
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    #[allow(clippy::clone_on_copy)] // CudaDevice is not Copy
    let sync_dev = device.clone();
    let p = profile::<Compute>(&spec, &cfg, &device, &move || sync(&sync_dev))?;
    spinner.finish_and_clear();

    println!("device       {} ({})", p.device, p.backend);
    println!("arch         {} | {} params", p.layers, p.params);
    let d = &p.decode;
    println!(
        "decode       P={} G={} batch 1: total {:.4} s (min {:.4}, max {:.4}, CV {:.1}%), {:.3} ms/token (CV {:.1}%)",
        d.prompt, d.generate, d.total.median, d.total.min, d.total.max, d.total.cv * 100.0, d.per_token_ms.median, d.per_token_ms.cv * 100.0
    );
    let pf = &p.prefill;
    println!(
        "prefill      batch {} × {} tokens: {:.4} s (min {:.4}, max {:.4}, CV {:.1}%)",
        pf.batch,
        pf.len,
        pf.seconds.median,
        pf.seconds.min,
        pf.seconds.max,
        pf.seconds.cv * 100.0
    );
    if let Some(t) = &p.throughput {
        println!(
            "throughput   batch {}: {:.0} tokens/s (CV {:.1}%)",
            t.batch,
            t.tokens_per_second,
            t.seconds.cv * 100.0
        );
    }
    println!(
        "memory       weights {:.2} MiB, decode state {:.3} MiB/sequence at {} tokens, allocator peak {}",
        p.memory.param_bytes as f64 / 1048576.0,
        p.memory.state_bytes_end as f64 / 1048576.0,
        d.prompt + d.generate,
        p.memory.peak_bytes.map(|b| format!("{b} B")).unwrap_or_else(|| "not exposed by burn 0.21".into())
    );
    let mut extra = serde_json::Map::new();
    if let Some(dev) = &roofline {
        let pred = dev.decode_seconds(&spec, d.prompt, d.generate, 1);
        let err = 100.0 * (pred - d.total.median) / d.total.median;
        println!(
            "roofline     {}: predicted decode {:.4} s ({:+.1}% vs measured)",
            dev.name, pred, err
        );
        extra.insert(
            "roofline".into(),
            serde_json::json!({"device": dev, "predicted_decode_s": pred, "error_pct": err}),
        );
    }
    if let Some(path) = &a.json {
        let mut v = serde_json::to_value(&p)?;
        if let Some(o) = v.as_object_mut() {
            o.extend(extra);
        }
        write_atomic(path, serde_json::to_string_pretty(&v)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
