//! `flashnas depth-width`: the depth–width study of Nemotron-Flash §3.1.

use super::executor_args::ExecArgs;
use super::progress::TaskBars;
use anyhow::Context;
use flashnas_search::depth_width::{DepthWidthConfig, ShapeRow, Study, StudyReport};
use flashnas_search::run_dir::ConfigText;
use flashnas_search::Event;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Study config (TOML), e.g. configs/depth-width-quick.toml.
    #[arg(long, required_unless_present = "resume")]
    config: Option<PathBuf>,
    /// Study directory (default: results/<name>-<timestamp>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue an interrupted study from its directory.
    #[arg(long, conflicts_with = "config")]
    resume: Option<PathBuf>,
    #[command(flatten)]
    exec: ExecArgs,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let bars = TaskBars::new("shapes", "trained", 0, |n| {
        n.starts_with('[') || n.contains(": from journal")
    });
    let mut on_event = |e: Event| bars.handle(e);
    let (dir, report, rows) = match (&a.config, &a.resume) {
        (_, Some(dir)) => {
            println!("resuming {}", dir.display());
            let mut study = Study::resume(dir, &mut on_event)?;
            // The grid fixes the order: any executor or worker count gives the same study.
            a.exec.apply_to(&mut study.cfg.executor);
            bars.set_len(study.cfg.shapes().len());
            let report = study.run()?;
            (dir.clone(), report, study.rows.rows().to_vec())
        }
        (Some(config), None) => {
            let text = std::fs::read_to_string(config)
                .with_context(|| format!("{}: cannot read", config.display()))?;
            let mut cfg = DepthWidthConfig::from_toml(&text, &config.display().to_string())?;
            let mut value = ConfigText::parse(&text, config)?;
            a.exec.apply(&mut cfg.executor, &mut value)?;
            cfg.validate()?;
            value.absolutize_paths()?;
            let copy = format!(
                "# copied from {} by flashnas depth-width\n{}",
                config.display(),
                value.text()
            );
            // The run uses exactly what a resume will read back: the copy.
            let cfg = DepthWidthConfig::from_toml(&copy, &config.display().to_string())?;
            let dir = a
                .out
                .clone()
                .unwrap_or_else(|| flashnas_search::run_dir::results_dir(&cfg.name));
            println!(
                "depth-width study {} ({} shapes) → {}",
                cfg.name,
                cfg.shapes().len(),
                dir.display()
            );
            bars.set_len(cfg.shapes().len());
            let mut study = Study::create(&dir, cfg, &copy, &mut on_event)?;
            let report = study.run()?;
            (dir, report, study.rows.rows().to_vec())
        }
        _ => unreachable!("clap requires one"),
    };
    bars.finish();
    print_report(&dir, &report, &rows);
    Ok(())
}

fn print_report(dir: &std::path::Path, r: &StudyReport, rows: &[ShapeRow]) {
    let l = r.fit.law;
    println!();
    println!(
        "fit          L(D, W) = {:.4} + {:.4}·D^-{:.3} + {:.4}·W^-{:.3}   (rmse {:.4}, max error {:.2} %, {} shapes)",
        l.l0, l.a, l.alpha, l.b, l.beta, r.fit.rmse, r.fit.max_rel_error_pct, r.fit.observations
    );
    if let Some(h) = &r.holdout {
        println!(
            "held out     fit on {} smaller shapes, predicted the {} largest: mean error {:.2} % (loss), {:.2} % (perplexity)",
            h.fit.observations,
            h.predictions.len(),
            h.mean_loss_error_pct,
            h.mean_ppl_error_pct
        );
        for (id, obs, pred, el, ep) in &h.predictions {
            let s = &rows[*id];
            println!(
                "             D{} W{}: observed {obs:.4}, predicted {pred:.4} ({el:.2} % loss, {ep:.2} % ppl)",
                s.depth, s.width
            );
        }
    }
    if !r.failed.is_empty() {
        println!("failed       {} shapes: {:?}", r.failed.len(), r.failed);
    }
    println!();
    println!(
        "{:>10}  {:<22} {:<22}",
        "budget s", "best measured", "best predicted"
    );
    let name = |i: Option<usize>| {
        i.map(|i| {
            let s = &rows[i];
            format!(
                "D{} W{} ({:.4})",
                s.depth,
                s.width,
                s.loss().unwrap_or(f64::NAN)
            )
        })
        .unwrap_or_else(|| "none fits".into())
    };
    for b in &r.budgets {
        println!(
            "{:>10}  {:<22} {:<22}",
            b.budget_s,
            name(b.best_measured),
            name(b.best_predicted)
        );
    }
    println!();
    println!(
        "wrote {0}/shapes.csv, {0}/fit.json, {0}/budgets.csv, {0}/loss_vs_depth.svg, {0}/frontier.svg",
        dir.display()
    );
}
