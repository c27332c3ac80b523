//! Measured latency of a whole model on the active device: batch-1 decode of a long
//! generation, prefill, decode throughput at a batch (or the largest batch that fits a memory
//! budget), and memory.

use crate::stats::{measure, Stats};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use flashnas_model::accounting::{accounting, param_count};
use flashnas_model::kernels::Kernels;
use flashnas_model::{ArchSpec, HybridLm};
use serde::{Deserialize, Serialize};

/// What to measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// Prompt length P of the decode measurement (prefilled, batch 1).
    pub prompt: usize,
    /// Tokens G generated one `decode_step` at a time.
    pub generate: usize,
    /// Prefill measurement: batch and length.
    pub prefill_batch: usize,
    pub prefill_len: usize,
    /// Decode throughput batch; `None` with a memory budget means the largest batch that fits.
    pub throughput_batch: Option<usize>,
    /// Memory budget in bytes for the throughput batch (analytic: weights + states + activations).
    pub memory_budget: Option<u64>,
    pub warmup: usize,
    pub repeats: usize,
    pub seed: u64,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        Self {
            prompt: 64,
            generate: 128,
            prefill_batch: 1,
            prefill_len: 256,
            throughput_batch: Some(8),
            memory_budget: None,
            warmup: 1,
            repeats: 5,
            seed: 0,
        }
    }
}

/// Batch-1 decoding: prefill of P tokens, then G steps with greedy feedback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodeLatency {
    pub prompt: usize,
    pub generate: usize,
    /// Seconds for prefill + G steps.
    pub total: Stats,
    /// Milliseconds per generated token (the G steps only), per repeat.
    pub per_token_ms: Stats,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrefillLatency {
    pub batch: usize,
    pub len: usize,
    pub seconds: Stats,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub batch: usize,
    /// Generated tokens per second over all sequences of the batch (median repeat).
    pub tokens_per_second: f64,
    pub seconds: Stats,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub param_bytes: u64,
    /// Decode-state bytes per sequence at the end of the generation (analytic).
    pub state_bytes_end: u64,
    /// The allocator's peak, where the backend exposes it (burn 0.21 does not: `None`).
    pub peak_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub device: String,
    pub backend: String,
    pub layers: String,
    pub params: usize,
    pub decode: DecodeLatency,
    pub prefill: PrefillLatency,
    pub throughput: Option<Throughput>,
    pub memory: Memory,
}

/// The model of the default device (see [`device_name_of`]).
pub fn device_name() -> String {
    device_name_of(flashnas_model::backend::default_device_name())
}

/// The model of a device, what latency tables are keyed by: the CPU model and thread count,
/// or the GPU's name and memory as its driver reports them (`nvidia-smi`), so that tables of
/// different GPU models never share a key.
pub fn device_name_of(device: &str) -> String {
    if device == "wgpu" || device.starts_with("wgpu:") {
        return match flashnas_model::backend::wgpu_adapter_name(device) {
            Some(Ok(name)) => format!("wgpu: {name}"),
            Some(Err(e)) => format!("{device} (adapter unknown: {e})"),
            None => format!("{device} (this build has no wgpu)"),
        };
    }
    if let Some(rest) = device.strip_prefix("cuda") {
        let index: usize = rest.trim_start_matches(':').parse().unwrap_or(0);
        let query = std::process::Command::new("nvidia-smi")
            .args([
                "--query-gpu=name,memory.total",
                "--format=csv,noheader",
                "-i",
                &index.to_string(),
            ])
            .output();
        return match query {
            Ok(o) if o.status.success() && !o.stdout.is_empty() => {
                format!("cuda: {}", String::from_utf8_lossy(&o.stdout).trim())
            }
            _ => format!("cuda:{index} (GPU model unknown: nvidia-smi did not answer)"),
        };
    }
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("cpu: {model} ({cores} threads)")
}

/// Analytic bytes needed to decode `batch` sequences to `context` tokens: weights, states,
/// and one step's activations and logits.
pub fn decode_memory_bytes(spec: &ArchSpec, context: usize, batch: usize) -> u64 {
    let acc = accounting(spec, context);
    let act = 4 * (8 * spec.d_model + 2 * spec.vocab_size) as u64;
    4 * acc.params as u64 + batch as u64 * (acc.state_bytes as u64 + act)
}

/// The largest batch whose decode fits `budget` bytes; an error when not even one fits.
pub fn max_batch_for_memory(
    spec: &ArchSpec,
    context: usize,
    budget: u64,
) -> Result<usize, crate::Error> {
    let one = decode_memory_bytes(spec, context, 1);
    if one > budget {
        return Err(crate::Error::Memory(format!(
            "the architecture does not fit the memory budget: decoding one sequence to {context} tokens needs {one} bytes \
             ({} of weights + {} of state and activations), the budget is {budget} bytes",
            4 * param_count(spec),
            one - 4 * param_count(spec) as u64
        )));
    }
    let per = decode_memory_bytes(spec, context, 2) - one;
    Ok(1 + ((budget - one) / per.max(1)) as usize)
}

fn tokens<B: Backend>(b: usize, t: usize, vocab: usize, device: &B::Device) -> Tensor<B, 2, Int> {
    let data: Vec<i32> = (0..b * t)
        .map(|i| ((i * 2654435761usize) % vocab) as i32)
        .collect();
    Tensor::from_data(TensorData::new(data, [b, t]), device)
}

/// Prompt tokens the decode protocol's prefill feeds at a time: a prompt of 1k–8k tokens
/// costs, beyond its KV caches and states, one chunk's activations (and the last position's
/// logits), not the prompt's.
pub const PREFILL_CHUNK: usize = 256;

/// The decode protocol's prefill: the prompt in chunks of [`PREFILL_CHUNK`] with caches
/// allocated for `max_tokens` (prompt + generation). Returns the last position's logits
/// `[B, V]` and the state to decode from.
pub fn prefill_protocol<B: Kernels>(
    model: &HybridLm<B>,
    prompt: Tensor<B, 2, Int>,
    max_tokens: usize,
) -> (Tensor<B, 2>, flashnas_model::ModelState<B>) {
    model.prefill_chunked(prompt, max_tokens, PREFILL_CHUNK)
}

/// Decode throughput of `spec` at `batch` sequences that each hold `context` tokens: the
/// generated tokens per second of `steps` decode steps (one token per sequence each), timed
/// `repeats` times after a warm-up. One sequence is prefilled (`context − steps` tokens,
/// chunked) and its state repeated to the batch, so the figure costs one prefill however large
/// the batch: a step reads the batch's caches and states whatever tokens they hold.
#[allow(clippy::too_many_arguments)]
pub fn decode_throughput<B: Kernels>(
    spec: &ArchSpec,
    batch: usize,
    context: usize,
    steps: usize,
    repeats: usize,
    device: &B::Device,
    sync: &dyn Fn(),
) -> Stats {
    let model = HybridLm::<B>::init(spec, 0, device);
    let steps = steps.max(1);
    let prompt = tokens::<B>(
        1,
        context.saturating_sub(steps).max(1),
        spec.vocab_size,
        device,
    );
    let (_, one) = prefill_protocol(&model, prompt, context.max(steps + 1));
    let start_state = one.repeat_batch(batch);
    let first = tokens::<B>(batch, 1, spec.vocab_size, device).reshape([batch]);
    // Each timing starts from a fresh copy of the state (copied outside the clock).
    let time = || {
        let mut state = start_state.clone();
        sync();
        timed_steps(&model, &mut state, first.clone(), steps, sync)
    };
    time();
    Stats::from_samples(
        (0..repeats.max(1))
            .map(|_| (batch * steps) as f64 / time())
            .collect(),
    )
}

/// Greedy generation of `g` tokens after a prefill; returns the seconds spent in the steps.
fn generate<B: Kernels>(
    model: &HybridLm<B>,
    prompt: Tensor<B, 2, Int>,
    g: usize,
    sync: &dyn Fn(),
) -> f64 {
    let [b, _] = prompt.dims();
    let p = prompt.dims()[1];
    let (logits, mut state) = prefill_protocol(model, prompt, p + g);
    let next = logits.argmax(1).reshape([b]);
    sync();
    timed_steps(model, &mut state, next, g, sync)
}

/// Seconds of `g` greedy decode steps from `state`, `next` the tokens of the first (the
/// device idle when called).
fn timed_steps<B: Kernels>(
    model: &HybridLm<B>,
    state: &mut flashnas_model::ModelState<B>,
    mut next: Tensor<B, 1, Int>,
    g: usize,
    sync: &dyn Fn(),
) -> f64 {
    let [b] = next.dims();
    let start = std::time::Instant::now();
    for _ in 0..g {
        let l = model.decode_step(next, state);
        next = l.argmax(1).reshape([b]);
    }
    sync();
    start.elapsed().as_secs_f64()
}

/// Measures decode latency, prefill latency, throughput and memory of `spec` (random
/// weights) on `device`. `sync` must block until the device is idle.
pub fn profile<B: Kernels>(
    spec: &ArchSpec,
    cfg: &ProfileConfig,
    device: &B::Device,
    sync: &dyn Fn(),
) -> Result<Profile, crate::Error> {
    use crate::Error;
    spec.validate().map_err(|e| Error::Config(e.to_string()))?;
    if cfg.prompt == 0 || cfg.prefill_len == 0 || cfg.prefill_batch == 0 {
        return Err(Error::Config(
            "prompt, prefill_len and prefill_batch must be at least 1".into(),
        ));
    }
    let context = cfg.prompt + cfg.generate;
    let throughput_batch = match (cfg.throughput_batch, cfg.memory_budget) {
        (Some(b), Some(budget)) => {
            let max = max_batch_for_memory(spec, context, budget)?;
            if b > max {
                return Err(Error::Memory(format!("throughput batch {b} does not fit the memory budget of {budget} bytes (at most {max})")));
            }
            Some(b)
        }
        (Some(b), None) => Some(b),
        (None, Some(budget)) => Some(max_batch_for_memory(spec, context, budget)?),
        (None, None) => None,
    };
    let model = HybridLm::<B>::init(spec, cfg.seed, device);
    let v = spec.vocab_size;

    // Batch-1 decode: total (prefill + steps) and per generated token.
    let prompt = tokens::<B>(1, cfg.prompt, v, device);
    let mut per_token = Vec::new();
    let total = measure(cfg.warmup, cfg.repeats, sync, &mut || {
        let s = generate(&model, prompt.clone(), cfg.generate, sync);
        per_token.push(s * 1e3 / cfg.generate.max(1) as f64);
    });
    let per_token_ms = Stats::from_samples(per_token.split_off(cfg.warmup.min(per_token.len())));

    let prefill_tokens = tokens::<B>(cfg.prefill_batch, cfg.prefill_len, v, device);
    let prefill = measure(cfg.warmup, cfg.repeats, sync, &mut || {
        let (logits, _state) = model.prefill(prefill_tokens.clone());
        let _ = logits;
    });

    let throughput = match throughput_batch {
        Some(b) if cfg.generate > 0 => {
            let prompt = tokens::<B>(b, cfg.prompt, v, device);
            let mut step_secs = Vec::new();
            let _ = measure(cfg.warmup, cfg.repeats, sync, &mut || {
                step_secs.push(generate(&model, prompt.clone(), cfg.generate, sync))
            });
            let seconds = Stats::from_samples(step_secs.split_off(cfg.warmup.min(step_secs.len())));
            Some(Throughput {
                batch: b,
                tokens_per_second: (b * cfg.generate) as f64 / seconds.median,
                seconds,
            })
        }
        _ => None,
    };

    Ok(Profile {
        device: device_name(),
        backend: flashnas_model::backend::backend_name().into(),
        layers: spec.layer_string(),
        params: param_count(spec),
        decode: DecodeLatency {
            prompt: cfg.prompt,
            generate: cfg.generate,
            total,
            per_token_ms,
        },
        prefill: PrefillLatency {
            batch: cfg.prefill_batch,
            len: cfg.prefill_len,
            seconds: prefill,
        },
        throughput,
        memory: Memory {
            param_bytes: 4 * param_count(spec) as u64,
            state_bytes_end: accounting(spec, context).state_bytes as u64,
            peak_bytes: None,
        },
    })
}

#[allow(clippy::too_many_arguments)]
/// Median seconds of batch-1 decoding (prefill of `prompt` + `generate` steps): the figure
/// the search and the lookup table use.
pub fn decode_seconds<B: Kernels>(
    spec: &ArchSpec,
    prompt: usize,
    generate_n: usize,
    batch: usize,
    warmup: usize,
    repeats: usize,
    device: &B::Device,
    sync: &dyn Fn(),
) -> Stats {
    let model = HybridLm::<B>::init(spec, 0, device);
    let p = tokens::<B>(batch, prompt, spec.vocab_size, device);
    measure(warmup, repeats, sync, &mut || {
        generate(&model, p.clone(), generate_n, sync);
    })
}

/// Batch-1 decoding of `spec` timed interleaved with `reference` (see [`crate::calibrate`]):
/// raw seconds of both and the candidate's ratio to the reference.
#[allow(clippy::too_many_arguments)]
pub fn calibrated_decode<B: Kernels>(
    spec: &ArchSpec,
    reference: &ArchSpec,
    prompt: usize,
    generate_n: usize,
    rounds: usize,
    device: &B::Device,
    sync: &dyn Fn(),
    clock: &mut dyn crate::calibrate::Clock,
) -> crate::calibrate::Calibrated {
    let cand = HybridLm::<B>::init(spec, 0, device);
    let refm = HybridLm::<B>::init(reference, 0, device);
    let pc = tokens::<B>(1, prompt, spec.vocab_size, device);
    let pr = tokens::<B>(1, prompt, reference.vocab_size, device);
    crate::calibrate::calibrated(
        rounds,
        1,
        &mut || {
            generate(&cand, pc.clone(), generate_n, sync);
        },
        &mut || {
            generate(&refm, pr.clone(), generate_n, sync);
        },
        sync,
        clock,
    )
}
