//! `flashnas latency-model build | check`: a learned decode-latency predictor for a campaign's
//! space and latency protocol, and its accuracy on architectures it never saw, side by side
//! with the lookup table and the roofline.

use flashnas_latency::predictor::LatencyModel;
use flashnas_search::latency_model::{build, check, BuildOptions, Setup};
use indicatif::{ProgressBar, ProgressStyle};
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
    let s = Setup::new(&a.config)?;
    let started = std::time::Instant::now();
    let progress = bar(0, "measured");
    let (model, report) = build(
        &s,
        BuildOptions {
            probes: a.probes,
            rounds: a.rounds,
            target_pct: a.target,
            seed: a.seed,
        },
        &mut |what| {
            progress.inc(1);
            progress.set_message(what.to_string());
        },
    )?;
    progress.finish_and_clear();
    model.save(&a.out)?;
    println!(
        "latency model for {} ({} samples, {:.0} s to build) → {}",
        model.key(),
        model.samples,
        started.elapsed().as_secs_f64(),
        a.out.display()
    );
    println!("reference {} = {:.6} s", model.reference, model.reference_s);
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
    for (pair, before, after) in &report.selected {
        println!(
            "interaction added after the rounds: {pair} (cross-validated error {:.1} % → {:.1} %)",
            100.0 * before,
            100.0 * after
        );
    }
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

fn check_cmd(a: CheckArgs) -> anyhow::Result<()> {
    let s = Setup::new(&a.config)?;
    let model = LatencyModel::load(&a.model)?;
    let progress = bar(a.sweeps as usize * a.n, "measured");
    let lut_bar = bar(0, "lut");
    let o = check(
        &s,
        &model,
        a.n,
        a.seed,
        a.sweeps as usize,
        &mut |what| {
            progress.inc(1);
            progress.set_message(what.to_string());
        },
        &mut |sig| {
            if !progress.is_finished() {
                progress.finish_and_clear();
            }
            lut_bar.inc(1);
            lut_bar.set_message(sig.chars().take(40).collect::<String>());
        },
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", a.model.display()))?;
    progress.finish_and_clear();
    lut_bar.finish_and_clear();
    println!(
        "{} unseen architectures ({} at the space's widths {:?}, {} at widths the \
         model never measured {:?}; it measured {:?}), ground truth: decode time ÷ the \
         reference's, timed interleaved ({} rounds), median of {} sweeps",
        o.archs.len(),
        o.in_grid,
        o.grid,
        o.archs.len() - o.in_grid,
        o.unseen,
        model.widths,
        s.rounds,
        a.sweeps
    );
    println!(
        "{:<10} {:>9} {:>9} {:>10} {:>10} {:>9}",
        "method", "±5 %", "±10 %", "mean err", "worst", "Spearman"
    );
    for r in &o.results {
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
        "predictor's 95 % interval holds the measurement for {} of {}",
        o.covered,
        o.archs.len()
    );
    let repeat = &o.repeatability;
    println!(
        "the ground truth's own repeatability (second sweep vs first): {:.0} % within ±5 %, {:.0} % within ±10 %, mean {:.1} %, worst {:.1} %",
        100.0 * repeat.within_5,
        100.0 * repeat.within_10,
        repeat.mean_error_pct,
        repeat.worst_error_pct
    );
    if let Some(p) = &a.json {
        let rows: Vec<serde_json::Value> = (0..o.archs.len())
            .map(|i| {
                serde_json::json!({"arch": o.archs[i], "measured": o.measured[i],
                    "predicted": o.predicted[i], "lut": o.lut[i], "roofline": o.roofline[i]})
            })
            .collect();
        std::fs::write(
            p,
            serde_json::to_string_pretty(
                &serde_json::json!({"summary": o.results, "repeatability": repeat, "rows": rows}),
            )?,
        )?;
    }
    Ok(())
}
