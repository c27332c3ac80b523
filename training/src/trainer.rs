//! The short training run: AdamW, warmup + cosine, global-norm clipping, optional weight
//! normalization, divergence detection, then evaluation on the fixed validation windows.
//!
//! Nothing in here panics the process: a panic inside the backend (out of memory, a shape
//! the kernels reject) is caught and returned as `Status::Error` with its message.

use crate::config::TrainConfig;
use crate::data::Dataset;
use crate::loss::{cross_entropy, nll_and_correct};
use crate::recall::mqar_batch;
use crate::result::{ProxyResult, RungLoss, Status};
use crate::schedule::lr_at;
use crate::weight_norm::normalize_weights;
use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use flashnas_model::kernels::{AutodiffKernels, Kernels};
use flashnas_model::{accounting, ArchSpec, HybridLm};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// What the trainer reports after every step (for progress bars).
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub step: usize,
    pub total: usize,
    pub loss: f64,
    pub tokens_per_second: f64,
    /// `"train"` or `"recall"`.
    pub phase: &'static str,
}

/// Squared global gradient norm, summed on the device and read once.
struct GradSquares<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    acc: Option<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradSquares<'_, B> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(p.id) {
            let s = g.powi_scalar(2).sum();
            self.acc = Some(match self.acc.take() {
                Some(a) => a + s,
                None => s,
            });
        }
    }
}

struct GradScale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradScale<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(p.id) {
            self.grads
                .register::<B::InnerBackend, D>(p.id, g.mul_scalar(self.factor));
        }
    }
}

/// Clips the gradients to a global L2 norm of `max_norm`; returns the norm before clipping.
fn clip_global_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    max_norm: Option<f64>,
) -> f64 {
    let mut sq = GradSquares::<B> { grads, acc: None };
    model.visit(&mut sq);
    let norm = sq
        .acc
        .map(|a| a.into_scalar().elem::<f64>().sqrt())
        .unwrap_or(0.0);
    if let Some(max) = max_norm.filter(|m| *m > 0.0) {
        if norm.is_finite() && norm > max {
            model.visit(&mut GradScale {
                grads,
                factor: max / (norm + 1e-6),
            });
        }
    }
    norm
}

fn int_tensor<B: Backend>(
    data: Vec<i32>,
    b: usize,
    t: usize,
    device: &B::Device,
) -> Tensor<B, 2, Int> {
    Tensor::from_data(TensorData::new(data, [b, t]), device)
}

/// A batch source: `rng -> (inputs, targets, optional loss mask, batch, seq_len)`.
type BatchFn<'a> =
    dyn FnMut(&mut ChaCha8Rng) -> (Vec<i32>, Vec<i32>, Option<Vec<f32>>, usize, usize) + 'a;

/// One optimization phase (LM or recall) over `steps` batches of a schedule of
/// `schedule_steps` (more when the run stops early: `stop_at`).
struct Loop<'a> {
    cfg: &'a TrainConfig,
    steps: usize,
    schedule_steps: usize,
    phase: &'static str,
}

/// Called after each of these steps with the model and the training seconds so far.
type Checkpoints<'a, B> = (&'a [usize], &'a mut dyn FnMut(usize, &HybridLm<B>, f64));

struct LoopOutcome<B: AutodiffKernels> {
    model: HybridLm<B>,
    curve: Vec<(usize, f64)>,
    tokens: usize,
    failure: Option<Status>,
    /// Training seconds (checkpoint work excluded).
    seconds: f64,
}

impl Loop<'_> {
    /// `batch(rng) -> (inputs, targets, mask, b, t)`.
    fn run<B: AutodiffKernels>(
        &self,
        mut model: HybridLm<B>,
        device: &B::Device,
        rng: &mut ChaCha8Rng,
        batch: &mut BatchFn,
        progress: &mut dyn FnMut(Progress),
        checkpoints: Option<Checkpoints<B>>,
    ) -> LoopOutcome<B> {
        let (at, mut on_checkpoint) = match checkpoints {
            Some((at, f)) => (at, Some(f)),
            None => (&[][..], None),
        };
        let mut paused = std::time::Duration::ZERO;
        let o = &self.cfg.optimizer;
        let mut optim = AdamWConfig::new()
            .with_beta_1(o.beta1 as f32)
            .with_beta_2(o.beta2 as f32)
            .with_epsilon(o.eps as f32)
            .with_weight_decay(o.weight_decay as f32)
            .init::<B, HybridLm<B>>();
        let warmup = self.cfg.warmup_steps().min(self.schedule_steps);
        let mut curve = Vec::new();
        let mut tokens = 0usize;
        let start = Instant::now();
        for step in 0..self.steps {
            let (x, y, mask, b, t) = batch(rng);
            let x = int_tensor::<B>(x, b, t, device);
            let y = int_tensor::<B>(y, b, t, device);
            let mask = mask.map(|m| Tensor::<B, 2>::from_data(TensorData::new(m, [b, t]), device));
            let loss = cross_entropy(model.forward(x), y, mask);
            let loss_value: f64 = loss.clone().into_scalar().elem();
            tokens += b * t;
            if !loss_value.is_finite() || loss_value > self.cfg.max_loss {
                let reason = if loss_value.is_finite() {
                    format!(
                        "training loss {loss_value:.3} exceeds max_loss {}",
                        self.cfg.max_loss
                    )
                } else {
                    format!("training loss is {loss_value}")
                };
                let failure = Some(Status::Diverged { step, reason });
                return LoopOutcome {
                    model,
                    curve,
                    tokens,
                    failure,
                    seconds: (start.elapsed() - paused).as_secs_f64(),
                };
            }
            if step % self.cfg.log_every == 0 || step + 1 == self.steps {
                curve.push((step, loss_value));
            }
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            let norm = clip_global_norm::<B, _>(&model, &mut grads, o.grad_clip);
            if !norm.is_finite() {
                let failure = Some(Status::Diverged {
                    step,
                    reason: format!("gradient norm is {norm}"),
                });
                return LoopOutcome {
                    model,
                    curve,
                    tokens,
                    failure,
                    seconds: (start.elapsed() - paused).as_secs_f64(),
                };
            }
            let lr = lr_at(step, self.schedule_steps, warmup, o.lr, o.min_lr_ratio);
            model = optim.step(lr, model, grads);
            if self.cfg.weight_norm {
                model = normalize_weights(model);
            }
            if let Some(f) = on_checkpoint.as_mut().filter(|_| at.contains(&(step + 1))) {
                let trained = (start.elapsed() - paused).as_secs_f64();
                let t0 = Instant::now();
                f(step + 1, &model, trained);
                paused += t0.elapsed();
            }
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            progress(Progress {
                step: step + 1,
                total: self.steps,
                loss: loss_value,
                tokens_per_second: tokens as f64 / secs,
                phase: self.phase,
            });
        }
        LoopOutcome {
            model,
            curve,
            tokens,
            failure: None,
            seconds: (start.elapsed() - paused).as_secs_f64(),
        }
    }
}

/// Mean NLL and accuracy over the fixed validation windows.
fn evaluate<B: Kernels>(
    model: &HybridLm<B>,
    data: &Dataset,
    batch: usize,
    device: &B::Device,
) -> (f64, f64) {
    let (mut nll, mut correct, mut count) = (0.0, 0usize, 0usize);
    let mut first = 0;
    while first < data.val_starts.len() {
        let (x, y, n) = data.val_batch(first, batch);
        let t = data.seq_len;
        let logits = model.forward(int_tensor::<B>(x, n, t, device));
        let (s, c, k) = nll_and_correct(logits, int_tensor::<B>(y, n, t, device), None);
        nll += s;
        correct += c;
        count += k;
        first += n;
    }
    (nll / count as f64, correct as f64 / count as f64)
}

/// Recall accuracy after `step` steps of the recall run, and the training seconds so far.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RecallPoint {
    pub step: usize,
    pub accuracy: f64,
    pub seconds: f64,
}

/// MQAR accuracy after a short run on synthetic recall data (fresh init of the same arch).
fn recall_accuracy<B: AutodiffKernels>(
    spec: &ArchSpec,
    cfg: &TrainConfig,
    device: &B::Device,
    progress: &mut dyn FnMut(Progress),
) -> Result<f64, Status> {
    let curve = recall_curve::<B>(spec, cfg, &[], device, progress)?;
    Ok(curve
        .last()
        .expect("the final step is always scored")
        .accuracy)
}

/// The recall run of `cfg.recall` (a fresh init of `spec`), scored on held-out sequences
/// after each step of `at` below `recall.steps` and after the last: one run gives the
/// accuracy-vs-steps curve (the learning-rate schedule is the whole run's throughout).
pub fn recall_curve<B: AutodiffKernels>(
    spec: &ArchSpec,
    cfg: &TrainConfig,
    at: &[usize],
    device: &B::Device,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<RecallPoint>, Status> {
    let r = &cfg.recall;
    let vocab = spec.vocab_size;
    let (keys, values) = r.vocabularies(vocab);
    let filler = if r.gap > 0 { crate::recall::FILLER } else { 0 };
    if keys < r.pairs || values == 0 || keys + values + filler > vocab {
        return Err(Status::Error {
            reason: format!(
                "recall: {keys} keys, {values} values and {filler} filler tokens ({} distinct keys per sequence) do not fit vocab_size {vocab}",
                r.pairs
            ),
        });
    }
    let t = r.seq_len();
    // The recall run's own learning rate, and a schedule of its own length.
    let mut run_cfg = cfg.clone();
    run_cfg.optimizer.lr = r.lr.unwrap_or(cfg.optimizer.lr);
    run_cfg.steps = Some(r.steps);
    run_cfg.tokens = None;
    run_cfg.stop_at = None;
    let model = HybridLm::<B>::init(spec, cfg.seed ^ 0x007e_c011, device);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x007e_c011);
    let mut batch = |rng: &mut ChaCha8Rng| {
        let (x, y, m) = mqar_batch(rng, r.batch_size, r.pairs, r.queries, keys, values, r.gap);
        (x, y, Some(m), r.batch_size, t)
    };
    // The held-out sequences, the same at every checkpoint.
    let mut eval_rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xe7a1);
    let held_out = mqar_batch(
        &mut eval_rng,
        r.eval_sequences,
        r.pairs,
        r.queries,
        keys,
        values,
        r.gap,
    );
    let score = |model: &HybridLm<B>| -> f64 {
        let model = model.valid();
        let (x, y, m) = held_out.clone();
        let n = r.eval_sequences;
        let logits = model.forward(int_tensor::<B::InnerBackend>(x, n, t, device));
        let mask = Tensor::<B::InnerBackend, 2>::from_data(TensorData::new(m, [n, t]), device);
        let (_, correct, count) = nll_and_correct(
            logits,
            int_tensor::<B::InnerBackend>(y, n, t, device),
            Some(mask),
        );
        correct as f64 / count as f64
    };
    let mut at: Vec<usize> = at
        .iter()
        .copied()
        .filter(|&s| s > 0 && s < r.steps)
        .collect();
    at.sort_unstable();
    at.dedup();
    let mut curve = Vec::new();
    let mut on_checkpoint = |step: usize, model: &HybridLm<B>, seconds: f64| {
        curve.push(RecallPoint {
            step,
            accuracy: score(model),
            seconds,
        });
    };
    let out = Loop {
        cfg: &run_cfg,
        steps: r.steps,
        schedule_steps: r.steps,
        phase: "recall",
    }
    .run(
        model,
        device,
        &mut rng,
        &mut batch,
        progress,
        Some((&at, &mut on_checkpoint)),
    );
    if let Some(f) = out.failure {
        return Err(f);
    }
    let last = RecallPoint {
        step: r.steps,
        accuracy: score(&out.model),
        seconds: out.seconds,
    };
    curve.push(last);
    Ok(curve)
}

fn panic_message(e: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = e.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".into()
    }
}

/// Trains `spec` on `data` under `cfg` and evaluates it. Returns the result and, when the run
/// completed, the trained model.
pub fn train<B: AutodiffKernels>(
    spec: &ArchSpec,
    cfg: &TrainConfig,
    data: &Dataset,
    device: &B::Device,
    progress: &mut dyn FnMut(Progress),
) -> (ProxyResult, Option<HybridLm<B>>) {
    let params = accounting::param_count(spec);
    if let Err(e) = spec.validate() {
        return (
            ProxyResult::failed(
                Status::Error {
                    reason: e.to_string(),
                },
                params,
            ),
            None,
        );
    }
    if let Err(e) = data.check_vocab(spec.vocab_size) {
        return (
            ProxyResult::failed(
                Status::Error {
                    reason: e.to_string(),
                },
                params,
            ),
            None,
        );
    }
    if data.seq_len != cfg.seq_len {
        let reason = format!(
            "dataset windows are {} tokens, the config asks for seq_len {}",
            data.seq_len, cfg.seq_len
        );
        return (ProxyResult::failed(Status::Error { reason }, params), None);
    }
    let start = Instant::now();
    let run = catch_unwind(AssertUnwindSafe(|| {
        B::seed(device, cfg.seed);
        let model = HybridLm::<B>::init(spec, cfg.seed, device);
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xba7c);
        let (bsz, t) = (cfg.batch_size, cfg.seq_len);
        let mut batch = |rng: &mut ChaCha8Rng| {
            let (x, y) = data.train_batch(rng, bsz);
            (x, y, None, bsz, t)
        };
        let steps = cfg.run_steps();
        let rung_steps: Vec<usize> = cfg
            .rung_steps()
            .into_iter()
            .filter(|&s| s < steps)
            .collect();
        let mut rungs = Vec::new();
        let mut at_rung = |step: usize, model: &HybridLm<B>, seconds: f64| {
            let (val_loss, _) = evaluate(&model.valid(), data, cfg.batch_size, device);
            rungs.push(RungLoss {
                step,
                val_loss,
                train_seconds: seconds,
            });
        };
        let out = Loop {
            cfg,
            steps,
            schedule_steps: cfg.total_steps(),
            phase: "train",
        }
        .run(
            model,
            device,
            &mut rng,
            &mut batch,
            progress,
            Some((&rung_steps, &mut at_rung)),
        );
        let train_secs = out.seconds;
        let mut result = ProxyResult::failed(Status::Ok, params);
        result.rungs = rungs;
        result.steps = out.curve.last().map(|c| c.0 + 1).unwrap_or(0);
        result.tokens_seen = out.tokens;
        result.loss_curve = out.curve;
        result.tokens_per_second = out.tokens as f64 / train_secs.max(1e-9);
        if let Some(f) = out.failure {
            result.status = f;
            return (result, None);
        }
        result.steps = steps;
        let trained = out.model;
        let (val_loss, acc) = evaluate(&trained.valid(), data, cfg.batch_size, device);
        if !val_loss.is_finite() {
            result.status = Status::Diverged {
                step: steps,
                reason: format!("validation loss is {val_loss}"),
            };
            return (result, None);
        }
        result.val_loss = Some(val_loss);
        result.perplexity = Some(val_loss.exp());
        result.accuracy = Some(acc);
        // The recall probe answers a full run only: a multi-fidelity rung (`stop_at` below the
        // total) is screened on its loss, and the probe — its own fresh run, several times
        // the language model's training here — would otherwise cost every rung nearly what a
        // full evaluation costs. The campaign judges `recall_min` at the full run.
        if cfg.recall.enabled && cfg.run_steps() == cfg.total_steps() {
            let probe = Instant::now();
            match recall_accuracy::<B>(spec, cfg, device, progress) {
                Ok(a) => result.recall_accuracy = Some(a),
                Err(s) => result.status = s,
            }
            result.recall_seconds = Some(probe.elapsed().as_secs_f64());
        }
        (result, Some(trained))
    }));
    match run {
        Ok((mut r, m)) => {
            r.wall_seconds = start.elapsed().as_secs_f64();
            (r, m)
        }
        Err(e) => {
            let mut r = ProxyResult::failed(
                Status::Error {
                    reason: format!("the backend panicked: {}", panic_message(e)),
                },
                params,
            );
            r.wall_seconds = start.elapsed().as_secs_f64();
            (r, None)
        }
    }
}
