//! `flashnas validate DIR`: the campaign's picks against hand-designed baselines at equal
//! latency, after F× longer training with S seeds (resumable: run it again to continue).

use super::executor_args::ExecArgs;
use super::progress::TaskBars;
use flashnas_search::validate::{analysis, Family, Overrides, Validation};
use flashnas_search::Event;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A finished campaign directory; the validation goes into DIR/validate/.
    dir: PathBuf,
    /// Latency budgets as fractions of the campaign's budget (default: [validate] of the
    /// config, else 1,0.75,0.5).
    #[arg(long, value_delimiter = ',')]
    budgets: Option<Vec<f64>>,
    /// Validate these campaign records instead, each at its own latency.
    #[arg(long, value_delimiter = ',', conflicts_with = "budgets")]
    ids: Option<Vec<usize>>,
    /// A baseline family NAME=KIND,KIND,… (repeat the flag; replaces the default four).
    #[arg(long = "family")]
    families: Vec<String>,
    /// F: the long runs train F× the proxy's tokens.
    #[arg(long)]
    factor: Option<f64>,
    /// S: seeds per long run.
    #[arg(long)]
    seeds: Option<usize>,
    /// Timing rounds of the latency re-check.
    #[arg(long)]
    recheck_rounds: Option<usize>,
    #[command(flatten)]
    exec: ExecArgs,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let families = match a.families.is_empty() {
        true => None,
        false => Some(
            a.families
                .iter()
                .map(|f| Family::parse(f))
                .collect::<Result<Vec<_>, _>>()
                .map_err(anyhow::Error::msg)?,
        ),
    };
    let overrides = Overrides {
        budgets: a.budgets.clone(),
        ids: a.ids.clone(),
        families,
        factor: a.factor,
        seeds: a.seeds,
        recheck_rounds: a.recheck_rounds,
    };
    let (campaign, _, _) = flashnas_search::store::load_records(&a.dir)?;
    let mut exec = campaign.executor.clone();
    a.exec.apply_to(&mut exec);
    if a.exec.workers.is_some() {
        exec.in_flight = None;
    }
    let bars = TaskBars::new("validate", "trained", 0, |n| {
        n.starts_with("baseline [") || n.starts_with("long [")
    });
    let started = std::time::Instant::now();
    let mut on_event = |e: Event| bars.handle(e);
    let report = {
        let mut v = Validation::open(&a.dir, &overrides, Some(exec), &mut on_event)?;
        v.run()?
    };
    bars.finish();
    // The campaign's page gets its validation section.
    let (cfg, records, _) = flashnas_search::store::load_records(&a.dir)?;
    if let Err(e) = flashnas_search::report::write(&a.dir, &cfg, &records) {
        println!("note: {e}; report.html lacks the validation (run `flashnas report` later)");
    }
    println!();
    print(&report);
    println!(
        "wall {:.1} s this run; wrote {d}/validate.json, {d}/validate.csv, {d}/validate.svg (and .png)",
        started.elapsed().as_secs_f64(),
        d = flashnas_search::validate::validate_dir(&a.dir).display()
    );
    Ok(())
}

/// The answer as a table per budget, then the rank agreement and the costs.
pub(crate) fn print(r: &analysis::ValidationReport) {
    println!(
        "validation   {}: picks vs baselines after {}× the proxy ({} → {} steps), {} seeds",
        r.campaign,
        r.factor,
        r.proxy_steps,
        r.long_steps,
        r.seeds.len()
    );
    for t in &r.targets {
        println!();
        println!("budget {} = {:.4} ms", t.label, t.budget_s * 1e3);
        println!(
            "  {:<24} {:<34} {:>5} {:>5} {:>9} {:>18} {:>8} {:>17}",
            "model",
            "layers",
            "width",
            "depth",
            "params",
            "latency ms (re)",
            "proxy",
            "long (95 % CI)"
        );
        let mut rows = vec![("pick".to_string(), Some(&t.pick))];
        rows.extend(t.baselines.iter().map(|(f, k)| (f.clone(), k.as_ref())));
        for (label, key) in rows {
            let Some(key) = key else {
                println!("  {label:<24} none of its shapes fits this budget");
                continue;
            };
            let m = r.model(key);
            let name = match m.id {
                Some(id) => format!("{label} #{id}"),
                None if t.best_baseline.as_ref() == Some(key) => format!("{label} (best)"),
                None => label,
            };
            let re = match (m.recheck.median_s, m.recheck.min_s, m.recheck.max_s) {
                (Some(x), Some(lo), Some(hi)) if m.recheck.rounds > 1 => {
                    format!(
                        "{:.4} ({:.4}±{:.4})",
                        m.latency_s * 1e3,
                        x * 1e3,
                        (hi - lo) * 5e2
                    )
                }
                (Some(x), _, _) => format!("{:.4} ({:.4})", m.latency_s * 1e3, x * 1e3),
                _ => format!("{:.4} (–)", m.latency_s * 1e3),
            };
            let flag = if t.over_budget_on_recheck.contains(key) {
                " OVER"
            } else {
                ""
            };
            let long = match (m.long_mean, m.long_ci95) {
                (Some(x), Some(h)) => format!("{x:.4} ± {h:.4}"),
                _ => "failed".into(),
            };
            println!(
                "  {:<24} {:<34} {:>5} {:>5} {:>9} {:>18} {:>8} {:>17}{flag}",
                name,
                m.layers,
                m.width,
                m.depth,
                m.params,
                re,
                m.proxy_loss
                    .map(|l| format!("{l:.4}"))
                    .unwrap_or_else(|| "–".into()),
                long
            );
        }
        match &t.gap {
            Some(g) => println!(
                "  verdict: {} — pick − best baseline = {:+.4}{}",
                g.verdict.to_string().to_uppercase(),
                g.mean,
                match (g.low, g.high) {
                    (Some(l), Some(h)) => format!(" [{l:+.4}, {h:+.4}] (95 %, Welch)"),
                    _ => " (too few seeds for an interval)".into(),
                }
            ),
            None => println!("  verdict: none (no baseline finished within this budget)"),
        }
    }
    println!();
    match r.spearman {
        Some(s) => println!(
            "proxy vs long run: Spearman {s:.3} over {} models (does the proxy rank like the long run?)",
            r.spearman_n
        ),
        None => println!(
            "proxy vs long run: {} models with both losses, too few for a rank correlation",
            r.spearman_n
        ),
    }
    let c = &r.cost;
    println!(
        "cost: campaign trained {} candidates ({:.0} s); baselines priced {} shapes, trained {} ({:.0} s); long runs {} ({:.0} s)",
        c.campaign_trained,
        c.campaign_eval_s,
        c.baseline_shapes_priced,
        c.baseline_shapes_trained,
        c.baseline_eval_s,
        c.long_runs,
        c.long_eval_s
    );
}
