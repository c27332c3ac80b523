//! `flashnas bench decode`: what one decode step costs per mixer kind, against what it must
//! cost (the bytes it reads at the machine's copy bandwidth).

use flashnas_model::accounting::accounting;
use flashnas_model::backend::{backend_name, device, sync, Compute};
use flashnas_model::kind::{section, Sizing};
use flashnas_model::{ArchSpec, HybridLm, LayerEntry, LayerKind};
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct DecodeArgs {
    /// Model widths (d_model); heads of 64, 2 KV heads.
    #[arg(long, value_delimiter = ',', default_values_t = vec![256usize, 512])]
    widths: Vec<usize>,
    /// Generation lengths G (after the prompt).
    #[arg(long, value_delimiter = ',', default_values_t = vec![128usize, 512, 2048])]
    generate: Vec<usize>,
    #[arg(long, default_value_t = 32)]
    prompt: usize,
    /// Kinds to measure (default: attention, swa, mamba2, deltanet, gated_deltanet, mixed).
    #[arg(long, value_delimiter = ',')]
    kinds: Vec<String>,
    /// Generations timed per length (median).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Also write the figures as JSON.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// `4 × [kind, ffn]` at width `d`, or the mixed model `m2 f a f deltanet f swa f`.
pub fn decode_arch(kind: &str, d: usize) -> anyhow::Result<ArchSpec> {
    let swa = r#"{"kind": "swa", "window": 128}"#;
    let layers: Vec<String> = match kind {
        "mixed" => [
            "\"m2\"",
            "\"f\"",
            "\"a\"",
            "\"f\"",
            "\"deltanet\"",
            "\"f\"",
            swa,
            "\"f\"",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        k => {
            let l = if k == "swa" {
                swa.to_string()
            } else {
                format!("\"{k}\"")
            };
            (0..4).flat_map(|_| [l.clone(), "\"f\"".into()]).collect()
        }
    };
    // Heads of 64, 2 KV heads, every registered kind sized alike, except where the README's
    // figures were measured with a kind's defaults (docs/OPERATORS.md §11): Mamba2's chunks of
    // 256, Gated DeltaNet's value heads of twice the key size.
    let sizing = Sizing {
        d_model: d,
        head_dim: 64,
        kv_heads: Some(2),
        ssm_state: 64,
        ssm_head_dim: 64,
        chunk_size: 64,
        ffn_ratio: 3.0,
        ffn_multiple_of: 8,
    };
    let layers: Vec<LayerEntry> = serde_json::from_str(&format!("[{}]", layers.join(", ")))?;
    let mut spec = ArchSpec::sized(256, &sizing, layers);
    spec.set_section(
        LayerKind::Mamba2,
        section([("d_state", 64.into()), ("head_dim", 64.into())]),
    );
    spec.set_section(
        LayerKind::GatedDeltaNet,
        section([("n_heads", sizing.heads().into())]),
    );
    spec.validate()?;
    Ok(spec)
}

/// Single-thread memcpy bandwidth (bytes copied per second, best of 5) over buffers far larger
/// than the caches: what a memory-bound decode step can at best stream.
pub fn copy_bandwidth() -> f64 {
    let n = 256 << 20;
    let src = vec![1u8; n];
    let mut dst = vec![0u8; n];
    dst.copy_from_slice(&src); // fault the pages in
    (0..5)
        .map(|_| {
            let t = Instant::now();
            dst.copy_from_slice(std::hint::black_box(&src));
            std::hint::black_box(&dst);
            n as f64 / t.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

/// Median ms per generated token over `repeats` generations of `g` tokens after the prompt.
fn ms_per_token(model: &HybridLm<Compute>, prompt: usize, g: usize, repeats: usize) -> f64 {
    let dev = device();
    let v = model.spec().vocab_size;
    let data: Vec<i32> = (0..prompt).map(|i| ((i * 7919) % v) as i32).collect();
    let tokens = burn::tensor::Tensor::<Compute, 2, burn::tensor::Int>::from_data(
        burn::tensor::TensorData::new(data, [1, prompt]),
        &dev,
    );
    let mut times: Vec<f64> = (0..repeats.max(1) + 1)
        .map(|_| {
            let (logits, mut state) = model.prefill_with_capacity(tokens.clone(), prompt + g);
            let mut next = logits
                .narrow(1, prompt - 1, 1)
                .reshape([1, v])
                .argmax(1)
                .reshape([1]);
            sync(&dev);
            let start = Instant::now();
            for _ in 0..g {
                next = model.decode_step(next, &mut state).argmax(1).reshape([1]);
            }
            sync(&dev);
            start.elapsed().as_secs_f64() * 1e3 / g as f64
        })
        .collect();
    times.remove(0); // warm-up
    super::median(&mut times)
}

/// Bytes one step reads and writes (weights once, the state or cache it touches), averaged
/// over the generation's positions.
fn step_bytes(spec: &ArchSpec, prompt: usize, g: usize) -> f64 {
    let stride = (g / 64).max(1);
    let contexts: Vec<usize> = (0..g).step_by(stride).map(|i| prompt + i).collect();
    contexts
        .iter()
        .map(|&c| accounting(spec, c).bytes_per_token)
        .sum::<f64>()
        / contexts.len() as f64
}

pub fn run(a: DecodeArgs) -> anyhow::Result<()> {
    let kinds: Vec<String> = if a.kinds.is_empty() {
        flashnas_model::LayerKind::MIXERS
            .iter()
            .map(|k| k.name())
            .chain(["mixed"])
            .map(|s| s.to_string())
            .collect()
    } else {
        a.kinds.clone()
    };
    let bw = copy_bandwidth();
    println!(
        "backend {} | batch 1, prompt {} | copy bandwidth {:.1} GB/s (1 thread, 256 MiB) | median of {} generations",
        backend_name(),
        a.prompt,
        bw / 1e9,
        a.repeats
    );
    println!(
        "{:<16}{:>6}{:>10}  {:<30}{:>8}{:>8}  {:<30}{:>8}{:>8}",
        "kind",
        "d",
        "MB/step",
        format!("ms/token at G = {:?}", a.generate),
        "growth",
        "bytes",
        "memory-bound estimate (ms)",
        "× est",
        "Δ/Δest"
    );
    let mut rows = Vec::new();
    for &d in &a.widths {
        for kind in &kinds {
            let spec = decode_arch(kind, d)?;
            let model = HybridLm::<Compute>::init(&spec, 0, &device());
            let ms: Vec<f64> = a
                .generate
                .iter()
                .map(|&g| ms_per_token(&model, a.prompt, g, a.repeats))
                .collect();
            let bytes: Vec<f64> = a
                .generate
                .iter()
                .map(|&g| step_bytes(&spec, a.prompt, g))
                .collect();
            let est: Vec<f64> = bytes.iter().map(|b| b / bw * 1e3).collect();
            let growth = ms[ms.len() - 1] / ms[0];
            let bytes_growth = bytes[bytes.len() - 1] / bytes[0];
            // What the longest generation costs beyond the shortest, per what its extra bytes
            // cost at the copy bandwidth (only where the bytes grow by 5 % or more).
            let marginal = (bytes_growth >= 1.05)
                .then(|| (ms[ms.len() - 1] - ms[0]) / (est[est.len() - 1] - est[0]));
            let vs_est: Vec<f64> = ms.iter().zip(&est).map(|(m, e)| m / e).collect();
            let fmt = |v: &[f64]| {
                v.iter()
                    .map(|x| format!("{x:.3}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            println!(
                "{:<16}{:>6}{:>10.2}  {:<30}{:>8.2}{:>8.2}  {:<30}{:>8.2}{:>8}",
                kind,
                d,
                bytes[bytes.len() - 1] / 1e6,
                fmt(&ms),
                growth,
                bytes_growth,
                fmt(&est),
                vs_est.iter().cloned().fold(0.0, f64::max),
                marginal.map_or("–".to_string(), |m| format!("{m:.2}"))
            );
            rows.push(serde_json::json!({
                "kind": kind, "d_model": d, "layers": spec.layer_string(),
                "generate": a.generate, "ms_per_token": ms, "growth": growth,
                "bytes_per_step": bytes, "estimate_ms": est, "ratio_to_estimate": vs_est,
                "bytes_growth": bytes_growth, "marginal_to_estimate": marginal,
            }));
        }
    }
    println!(
        "growth: ms/token at the longest G over the shortest; bytes: the same for the bytes a step reads; \
         × est: measured / estimate, worst length; Δ/Δest: what the longest G costs beyond the shortest \
         over what its extra bytes cost at the copy bandwidth (– where the bytes are flat)"
    );
    if let Some(p) = a.json {
        let out = serde_json::json!({
            "backend": backend_name(), "prompt": a.prompt, "copy_bandwidth_bytes_per_s": bw,
            "rows": rows,
        });
        std::fs::write(&p, serde_json::to_string_pretty(&out)?)?;
    }
    Ok(())
}
