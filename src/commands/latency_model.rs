//! `flashnas latency-model build | check`: a learned decode-latency predictor for a campaign's
//! space and latency protocol, and its accuracy on architectures it never saw, side by side
//! with the lookup table and the roofline.

use anyhow::Context;
use burn::tensor::Device;
use flashnas_latency::calibrate::{Calibrated, WallClock};
use flashnas_latency::lut::{LatencyTable, LutProtocol};
use flashnas_latency::predictor::build::{build, Plan};
use flashnas_latency::predictor::{LatencyModel, ModelIdentity};
use flashnas_latency::profile::{calibrated_decode, device_name_of};
use flashnas_latency::DeviceModel;
use flashnas_model::backend::{parse_device, sync, Compute};
use flashnas_model::spec::LayerKind;
use flashnas_model::ArchSpec;
use flashnas_search::rank::spearman;
use flashnas_search::{CampaignConfig, Genome};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum LatencyModelCmd {
    /// Profile the space's operators in context, test adjacent pairs for interaction, fit,
    /// and sample more where unseen probes miss (writes the model as JSON).
    Build(BuildArgs),
    /// Measure unseen architectures of the space (widths inside and outside the grid) and
    /// report the predictor's, the lookup table's and the roofline's errors side by side.
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// A campaign config: its [space] (kinds, widths) and [latency] protocol, device and
    /// reference model.
    #[arg(long)]
    config: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// Probe architectures per adaptive round.
    #[arg(long, default_value_t = 20)]
    probes: usize,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Relative error (%) above which a probe draws more samples.
    #[arg(long, default_value_t = 10.0)]
    target: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the build report (pairs, rounds) as JSON.
    #[arg(long)]
    report: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    config: PathBuf,
    /// Unseen architectures to measure.
    #[arg(long, default_value_t = 40)]
    n: usize,
    /// Seed of the unseen architectures (use another than the build's).
    #[arg(long, default_value_t = 1000)]
    seed: u64,
    /// Sweeps over all architectures, one after another; the ground truth is each one's median
    /// over the sweeps (at least 2: the second against the first is the truth's repeatability).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(2..))]
    sweeps: u64,
    /// Also write the rows and the summary as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(c: LatencyModelCmd) -> anyhow::Result<()> {
    match c {
        LatencyModelCmd::Build(a) => build_cmd(a),
        LatencyModelCmd::Check(a) => check_cmd(a),
    }
}

/// What both commands read from the campaign config.
struct Setup {
    cfg: CampaignConfig,
    vocab: usize,
    reference: ArchSpec,
    protocol: LutProtocol,
    /// Interleaved rounds per measurement (the config's repeats, at least 5).
    rounds: usize,
}

fn setup(config: &std::path::Path) -> anyhow::Result<Setup> {
    let cfg = CampaignConfig::from_file(config)?;
    let base = config.parent().unwrap_or(std::path::Path::new("."));
    let vocab =
        flashnas_training::Dataset::probe(&cfg.train.data, cfg.train.seq_len, base)?.vocab_size;
    let mut with_ref = cfg.clone();
    with_ref.latency.calibrate = true;
    let reference = with_ref
        .reference_spec(vocab)
        .context("latency.reference: the predictor works in units of the reference model")?;
    let protocol = cfg.latency.lut_protocol();
    Ok(Setup {
        rounds: cfg.latency.repeats.max(5),
        cfg,
        vocab,
        reference,
        protocol,
    })
}

impl Setup {
    /// `spec`'s batch-1 decode under the config's protocol, timed interleaved with the
    /// reference model for `rounds` rounds.
    fn calibrated(&self, spec: &ArchSpec, dev: &Device<Compute>, sync: &dyn Fn()) -> Calibrated {
        let l = &self.cfg.latency;
        calibrated_decode::<Compute>(
            spec,
            &self.reference,
            l.prompt,
            l.generate,
            self.rounds,
            dev,
            sync,
            &mut WallClock::default(),
        )
    }
}

fn describe(s: &ArchSpec) -> String {
    format!("{} w{}", s.layer_string(), s.d_model)
}

/// Whether every kind of the space (and the FFN) makes a valid layer at width `w` (a width
/// beyond the space's can fail a rule the space's own widths meet, e.g. an FFN hidden size
/// rounded down to 0).
fn valid_width(s: &Setup, w: usize) -> bool {
    let mut kinds = s.cfg.space.mixer_kinds();
    kinds.push(LayerKind::Ffn);
    s.cfg.space.arch_for(&kinds, w, s.vocab).validate().is_ok()
}

/// The valid widths beyond `from`, whole heads at a time, upwards or downwards (at most 16
/// heads away: grouped KV heads can make only every k-th head count valid).
fn widths_beyond(s: &Setup, from: usize, up: bool) -> impl Iterator<Item = usize> + '_ {
    let step = s.cfg.space.head_dim;
    (1..=16usize)
        .filter_map(move |k| {
            if up {
                Some(from + k * step)
            } else {
                from.checked_sub(k * step).filter(|&w| w > 0)
            }
        })
        .filter(move |&w| valid_width(s, w))
}

/// The widths the build measures every kind at: the space's, and the nearest valid width
/// beyond each end, so that a campaign's widths sit inside the fitted range rather than at
/// its edges.
fn design_widths(s: &Setup) -> Vec<usize> {
    let grid = &s.cfg.space.widths;
    let min = *grid.iter().min().expect("widths");
    let max = *grid.iter().max().expect("widths");
    let mut widths = grid.to_vec();
    widths.extend(widths_beyond(s, min, false).next());
    widths.extend(widths_beyond(s, max, true).next());
    widths.sort_unstable();
    widths.dedup();
    widths
}

/// Repeats of the deep stacks `[kind, ffn] × n`: doubling from 2 while `n` ≤ the depth cap,
/// so the deepest (2 × the cap sublayers at the widest design width) reads more per step
/// than any model of the space.
fn stack_depths(depth_cap: usize) -> Vec<usize> {
    std::iter::successors(Some(2), |n| Some(n * 2))
        .take_while(|&n| n <= depth_cap.max(2))
        .collect()
}

/// Random genomes of the space at the given widths.
fn random_archs(s: &Setup, n: usize, seed: u64, widths: &[usize]) -> Vec<ArchSpec> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let mut g = Genome::random(&s.cfg.space, &mut rng);
            g.width = widths[i % widths.len()];
            g.to_spec(&s.cfg.space, s.vocab)
        })
        .collect()
}

fn bar(n: usize, what: &str) -> ProgressBar {
    let b = ProgressBar::new(n as u64);
    b.set_style(
        ProgressStyle::with_template(&format!("{what} [{{bar:30}}] {{pos}}/{{len}} · {{msg}}"))
            .expect("template")
            .progress_chars("=> "),
    );
    b
}

fn build_cmd(a: BuildArgs) -> anyhow::Result<()> {
    let s = setup(&a.config)?;
    let l = &s.cfg.latency;
    let dev = parse_device(&l.device)?;
    #[allow(clippy::clone_on_copy)]
    let d2 = dev.clone();
    let sync_dev = move || sync(&d2);
    let started = std::time::Instant::now();
    let mut kinds = s.cfg.space.mixer_kinds();
    kinds.push(LayerKind::Ffn);
    let space = s.cfg.space.clone();
    let vocab = s.vocab;
    let arch = move |layers: &[LayerKind], w: usize| space.arch_for(layers, w, vocab);
    // Probes span every design width, the edges too: that is where a fit's curvature shows.
    let widths = design_widths(&s);
    let probes: Vec<Vec<ArchSpec>> = (0..a.rounds)
        .map(|r| random_archs(&s, a.probes, a.seed * 1000 + r as u64, &widths))
        .collect();
    let reference_s = s.calibrated(&s.reference, &dev, &sync_dev).reference_s;
    let id = ModelIdentity {
        device: device_name_of(&l.device),
        protocol: s.protocol.clone(),
        reference: describe(&s.reference),
        reference_s,
    };
    let plan = Plan {
        kinds,
        widths,
        depths: stack_depths(s.cfg.space.depth_cap),
        arch: &arch,
        probes,
        target_pct: a.target,
    };
    let progress = bar(0, "measured");
    let mut measure = |spec: &ArchSpec| s.calibrated(spec, &dev, &sync_dev).ratio;
    let (model, report) = build(&id, &plan, &mut measure, &mut |what| {
        progress.inc(1);
        progress.set_message(what.to_string());
    });
    progress.finish_and_clear();
    model.save(&a.out)?;
    println!(
        "latency model for {} ({} samples, {:.0} s to build) → {}",
        model.key(),
        model.samples,
        started.elapsed().as_secs_f64(),
        a.out.display()
    );
    println!("reference {} = {reference_s:.6} s", model.reference);
    let beyond = model.names.iter().position(|n| n == "bytes_beyond_cache");
    match beyond.map(|i| model.coef[i]) {
        Some(c) if c > 0.0 => println!(
            "working set: reads beyond {} per step cost {:.3} reference units per MB more",
            if model.cache_bytes < 1e6 {
                format!("{:.0} KiB", model.cache_bytes / 1024.0)
            } else {
                format!("{:.1} MB", model.cache_bytes / 1e6)
            },
            c * 1e6
        ),
        _ => println!("working set: no knee within the design's models"),
    }
    let kept: Vec<&String> = report.pairs.iter().filter(|p| p.3).map(|p| &p.0).collect();
    println!(
        "interactions: {} of {} adjacent pairs kept ({})",
        kept.len(),
        report.pairs.len(),
        kept.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (i, r) in report.rounds.iter().enumerate() {
        println!(
            "round {}: {} unseen probes (model fitted on {} samples): {:.0} % within ±{}%, mean error {:.1} %, worst {:.1} %",
            i + 1,
            r.probes,
            r.samples_before,
            100.0 * r.within_target,
            a.target,
            r.mean_error_pct,
            r.max_error_pct
        );
    }
    if let Some(p) = &a.report {
        std::fs::write(p, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}

/// Accuracy figures of one method over the checked architectures.
#[derive(serde::Serialize)]
struct Accuracy {
    method: &'static str,
    within_5: f64,
    within_10: f64,
    mean_error_pct: f64,
    worst_error_pct: f64,
    spearman: f64,
}

fn accuracy(method: &'static str, predicted: &[f64], measured: &[f64]) -> Accuracy {
    let errs: Vec<f64> = predicted
        .iter()
        .zip(measured)
        .map(|(p, m)| 100.0 * (p - m).abs() / m)
        .collect();
    let share = |b: f64| errs.iter().filter(|&&e| e <= b).count() as f64 / errs.len() as f64;
    Accuracy {
        method,
        within_5: share(5.0),
        within_10: share(10.0),
        mean_error_pct: errs.iter().sum::<f64>() / errs.len() as f64,
        worst_error_pct: errs.iter().copied().fold(0.0, f64::max),
        spearman: spearman(predicted, measured),
    }
}

fn check_cmd(a: CheckArgs) -> anyhow::Result<()> {
    let s = setup(&a.config)?;
    let model = LatencyModel::load(&a.model)?;
    let l = &s.cfg.latency;
    if model.reference != describe(&s.reference) || model.protocol.prompt != l.prompt {
        anyhow::bail!(
            "{}: built for {}, the config asks for reference {} and prompt {} + generate {}",
            a.model.display(),
            model.key(),
            describe(&s.reference),
            l.prompt,
            l.generate
        );
    }
    let dev = parse_device(&l.device)?;
    #[allow(clippy::clone_on_copy)]
    let d2 = dev.clone();
    let sync_dev = move || sync(&d2);
    // The space's widths, and widths the model never measured: the two nearest valid widths
    // beyond the largest it sampled, and the nearest below the smallest.
    let grid = s.cfg.space.widths.clone();
    let max = *model
        .widths
        .iter()
        .max()
        .context("the model lists no widths")?;
    let min = *model
        .widths
        .iter()
        .min()
        .context("the model lists no widths")?;
    let mut unseen: Vec<usize> = widths_beyond(&s, max, true).take(2).collect();
    unseen.extend(widths_beyond(&s, min, false).next());
    let widths: Vec<usize> = grid.iter().chain(&unseen).copied().collect();
    let archs = random_archs(&s, a.n, a.seed, &widths);
    // Sweeps over all archs, one after another: the ground truth is the median over sweeps (a
    // burst of load during one sweep does not move it), and how far the first two disagree
    // is the truth's own repeatability on this machine.
    let progress = bar(a.sweeps as usize * archs.len(), "measured");
    let mut sweeps: Vec<Vec<f64>> = vec![Vec::new(); a.sweeps as usize];
    for sweep in sweeps.iter_mut() {
        for spec in &archs {
            sweep.push(s.calibrated(spec, &dev, &sync_dev).ratio);
            progress.inc(1);
            progress.set_message(describe(spec));
        }
    }
    progress.finish_and_clear();
    let measured: Vec<f64> = (0..archs.len())
        .map(|i| {
            flashnas_latency::Stats::from_samples(sweeps.iter().map(|s| s[i]).collect()).median
        })
        .collect();
    let repeat = accuracy("repeat", &sweeps[1], &sweeps[0]);
    let predictions: Vec<_> = archs.iter().map(|x| model.predict(x)).collect();
    let predicted: Vec<f64> = predictions.iter().map(|p| p.ratio).collect();
    let covered = predictions
        .iter()
        .zip(&measured)
        .filter(|(p, m)| p.lower <= **m && **m <= p.upper)
        .count();
    // The lookup table, built now for these archs' sublayers, in units of the reference
    // timed just before and just after the build (the table's own seconds drift with the
    // machine's speed like any raw timing; this is the fairest unit it can have).
    let reference_now = || {
        flashnas_latency::profile::decode_seconds::<Compute>(
            &s.reference,
            l.prompt,
            l.generate,
            1,
            1,
            s.rounds,
            &dev,
            &sync_dev,
        )
        .median
    };
    let before = reference_now();
    let mut table = LatencyTable::new(&device_name_of(&l.device), s.protocol.clone());
    let lut_bar = bar(0, "lut");
    table.add::<Compute>(&archs, &dev, &sync_dev, &mut |sig| {
        lut_bar.inc(1);
        lut_bar.set_message(sig.chars().take(40).collect::<String>());
    });
    lut_bar.finish_and_clear();
    let lut_reference_s = 0.5 * (before + reference_now());
    let lut: Vec<f64> = archs
        .iter()
        .map(|x| table.predict(x).unwrap_or(f64::NAN) / lut_reference_s)
        .collect();
    let roof = s
        .cfg
        .roofline()
        .map_or_else(|| DeviceModel::preset("cpu-2core"), Ok)?;
    let roof_ref = roof.decode_seconds(&s.reference, l.prompt, l.generate, 1);
    let roofline: Vec<f64> = archs
        .iter()
        .map(|x| roof.decode_seconds(x, l.prompt, l.generate, 1) / roof_ref)
        .collect();
    let results = [
        accuracy("predictor", &predicted, &measured),
        accuracy("lut", &lut, &measured),
        accuracy("roofline", &roofline, &measured),
    ];
    let in_grid = archs.iter().filter(|x| grid.contains(&x.d_model)).count();
    println!(
        "{} unseen architectures ({in_grid} at the space's widths {grid:?}, {} at widths the \
         model never measured {unseen:?}; it measured {:?}), ground truth: decode time ÷ the \
         reference's, timed interleaved ({} rounds), median of {} sweeps",
        archs.len(),
        archs.len() - in_grid,
        model.widths,
        s.rounds,
        a.sweeps
    );
    println!(
        "{:<10} {:>9} {:>9} {:>10} {:>10} {:>9}",
        "method", "±5 %", "±10 %", "mean err", "worst", "Spearman"
    );
    for r in &results {
        println!(
            "{:<10} {:>8.0}% {:>8.0}% {:>9.1}% {:>9.1}% {:>9.3}",
            r.method,
            100.0 * r.within_5,
            100.0 * r.within_10,
            r.mean_error_pct,
            r.worst_error_pct,
            r.spearman
        );
    }
    println!(
        "predictor's 95 % interval holds the measurement for {covered} of {}",
        archs.len()
    );
    println!(
        "the ground truth's own repeatability (second sweep vs first): {:.0} % within ±5 %, {:.0} % within ±10 %, mean {:.1} %, worst {:.1} %",
        100.0 * repeat.within_5,
        100.0 * repeat.within_10,
        repeat.mean_error_pct,
        repeat.worst_error_pct
    );
    if let Some(p) = &a.json {
        let rows: Vec<serde_json::Value> = archs
            .iter()
            .enumerate()
            .map(|(i, x)| {
                serde_json::json!({"arch": describe(x), "measured": measured[i],
                    "predicted": predicted[i], "lut": lut[i], "roofline": roofline[i]})
            })
            .collect();
        std::fs::write(
            p,
            serde_json::to_string_pretty(
                &serde_json::json!({"summary": results, "repeatability": repeat, "rows": rows}),
            )?,
        )?;
    }
    Ok(())
}
