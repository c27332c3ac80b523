//! The learned decode-latency predictor of a campaign's space, built and checked
//! (`flashnas latency-model build | check`): the profiling plan and the check against unseen
//! architectures, side by side with the lookup table and the roofline. The CLI prints what
//! these return.

use crate::config::CampaignConfig;
use crate::error::{Error, Result};
use crate::genome::Genome;
use crate::rank::spearman;
use burn::tensor::Device;
use flashnas_latency::calibrate::{Calibrated, WallClock};
use flashnas_latency::lut::{LatencyTable, LutProtocol};
use flashnas_latency::predictor::build::{build as fit, Plan, Report};
use flashnas_latency::predictor::{LatencyModel, ModelIdentity};
use flashnas_latency::profile::{calibrated_decode, device_name_of};
use flashnas_latency::DeviceModel;
use flashnas_model::backend::{parse_device, sync, Compute};
use flashnas_model::spec::LayerKind;
use flashnas_model::ArchSpec;
use rand::SeedableRng;
use serde::Serialize;
use std::path::Path;

/// What both commands read from the campaign config.
pub struct Setup {
    pub cfg: CampaignConfig,
    pub vocab: usize,
    pub reference: ArchSpec,
    pub protocol: LutProtocol,
    /// Interleaved rounds per measurement (the config's repeats, at least 5).
    pub rounds: usize,
}

impl Setup {
    pub fn new(config: &Path) -> Result<Self> {
        let cfg = CampaignConfig::from_file(config)?;
        let base = config.parent().unwrap_or(Path::new("."));
        let vocab = flashnas_training::Dataset::probe(&cfg.train.data, cfg.train.seq_len, base)
            .map_err(|e| Error::Data(e.to_string()))?
            .vocab_size;
        let mut with_ref = cfg.clone();
        with_ref.latency.calibrate = true;
        let reference = with_ref.reference_spec(vocab).ok_or_else(|| {
            Error::Config(
                "latency.reference: the predictor works in units of the reference model".into(),
            )
        })?;
        let protocol = cfg.latency.lut_protocol();
        Ok(Setup {
            rounds: cfg.latency.repeats.max(5),
            cfg,
            vocab,
            reference,
            protocol,
        })
    }

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

    fn device(&self) -> Result<Device<Compute>> {
        parse_device(&self.cfg.latency.device).map_err(|e| Error::Latency(e.to_string()))
    }
}

pub fn describe(s: &ArchSpec) -> String {
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
pub fn random_archs(s: &Setup, n: usize, seed: u64, widths: &[usize]) -> Vec<ArchSpec> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let mut g = Genome::random(&s.cfg.space, &mut rng);
            g.width = widths[i % widths.len()];
            g.to_spec(&s.cfg.space, s.vocab)
        })
        .collect()
}

/// How `build` samples and refits.
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions {
    /// Probe architectures per adaptive round, and rounds.
    pub probes: usize,
    pub rounds: usize,
    /// Relative error (%) above which a probe draws more samples.
    pub target_pct: f64,
    pub seed: u64,
}

/// Profiles the space's operators in context, tests adjacent pairs for interaction, fits, and
/// samples more where unseen probes miss; `measured` hears each measurement.
pub fn build(
    s: &Setup,
    o: BuildOptions,
    measured: &mut dyn FnMut(&str),
) -> Result<(LatencyModel, Report)> {
    let l = &s.cfg.latency;
    let dev = s.device()?;
    #[allow(clippy::clone_on_copy)]
    let d2 = dev.clone();
    let sync_dev = move || sync(&d2);
    let mut kinds = s.cfg.space.mixer_kinds();
    kinds.push(LayerKind::Ffn);
    let space = s.cfg.space.clone();
    let vocab = s.vocab;
    let arch = move |layers: &[LayerKind], w: usize| space.arch_for(layers, w, vocab);
    // Probes span every design width, the edges too: that is where a fit's curvature shows.
    let widths = design_widths(s);
    let probes: Vec<Vec<ArchSpec>> = (0..o.rounds)
        .map(|r| random_archs(s, o.probes, o.seed * 1000 + r as u64, &widths))
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
        target_pct: o.target_pct,
    };
    let mut measure = |spec: &ArchSpec| s.calibrated(spec, &dev, &sync_dev).ratio;
    Ok(fit(&id, &plan, &mut measure, measured))
}

/// Accuracy figures of one method over the checked architectures.
#[derive(Debug, Clone, Serialize)]
pub struct Accuracy {
    pub method: &'static str,
    pub within_5: f64,
    pub within_10: f64,
    pub mean_error_pct: f64,
    pub worst_error_pct: f64,
    pub spearman: f64,
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

/// What a check found: per architecture the measured ratio (median over sweeps) and each
/// method's prediction; each method's accuracy; the truth's own repeatability.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutcome {
    pub archs: Vec<String>,
    /// The space's widths, and the widths the model never measured that were checked too.
    pub grid: Vec<usize>,
    pub unseen: Vec<usize>,
    pub in_grid: usize,
    pub measured: Vec<f64>,
    pub predicted: Vec<f64>,
    pub lut: Vec<f64>,
    pub roofline: Vec<f64>,
    /// Predictor, lookup table, roofline.
    pub results: [Accuracy; 3],
    /// The second sweep against the first.
    pub repeatability: Accuracy,
    /// Architectures whose measurement lies in the predictor's 95 % interval.
    pub covered: usize,
}

/// Measures `n` unseen architectures of the space (seed `seed`; the space's widths and widths
/// the model never measured) over `sweeps` sweeps and compares the predictor, a lookup table
/// built now for them, and the roofline. `measured` hears each measurement, `lut` each
/// table entry.
pub fn check(
    s: &Setup,
    model: &LatencyModel,
    n: usize,
    seed: u64,
    sweeps: usize,
    measured_one: &mut dyn FnMut(&str),
    lut_one: &mut dyn FnMut(&str),
) -> Result<CheckOutcome> {
    let l = &s.cfg.latency;
    if model.reference != describe(&s.reference) || model.protocol.prompt != l.prompt {
        return Err(Error::Config(format!(
            "built for {}, the config asks for reference {} and prompt {} + generate {}",
            model.key(),
            describe(&s.reference),
            l.prompt,
            l.generate
        )));
    }
    let dev = s.device()?;
    #[allow(clippy::clone_on_copy)]
    let d2 = dev.clone();
    let sync_dev = move || sync(&d2);
    // The space's widths, and widths the model never measured: the two nearest valid widths
    // beyond the largest it sampled, and the nearest below the smallest.
    let no_widths = || Error::Config("the model lists no widths".into());
    let grid = s.cfg.space.widths.clone();
    let max = *model.widths.iter().max().ok_or_else(no_widths)?;
    let min = *model.widths.iter().min().ok_or_else(no_widths)?;
    let mut unseen: Vec<usize> = widths_beyond(s, max, true).take(2).collect();
    unseen.extend(widths_beyond(s, min, false).next());
    let widths: Vec<usize> = grid.iter().chain(&unseen).copied().collect();
    let archs = random_archs(s, n, seed, &widths);
    // Sweeps over all archs, one after another: the ground truth is the median over sweeps (a
    // burst of load during one sweep does not move it), and how far the first two disagree
    // is the truth's own repeatability on this machine.
    let mut runs: Vec<Vec<f64>> = vec![Vec::new(); sweeps.max(2)];
    for sweep in runs.iter_mut() {
        for spec in &archs {
            sweep.push(s.calibrated(spec, &dev, &sync_dev).ratio);
            measured_one(&describe(spec));
        }
    }
    let measured: Vec<f64> = (0..archs.len())
        .map(|i| flashnas_latency::Stats::from_samples(runs.iter().map(|s| s[i]).collect()).median)
        .collect();
    let repeatability = accuracy("repeat", &runs[1], &runs[0]);
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
    table.add::<Compute>(&archs, &dev, &sync_dev, lut_one);
    let lut_reference_s = 0.5 * (before + reference_now());
    let lut: Vec<f64> = archs
        .iter()
        .map(|x| table.predict(x).unwrap_or(f64::NAN) / lut_reference_s)
        .collect();
    let roof = match s.cfg.roofline() {
        Some(r) => r,
        None => DeviceModel::preset("cpu-2core").map_err(|e| Error::Latency(e.to_string()))?,
    };
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
    Ok(CheckOutcome {
        archs: archs.iter().map(describe).collect(),
        grid,
        unseen,
        in_grid,
        measured,
        predicted,
        lut,
        roofline,
        results,
        repeatability,
        covered,
    })
}
