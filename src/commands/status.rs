//! `flashnas status DIR`: a campaign's progress, best candidate and frontier (read-only).

use super::audit::print_audit;
use flashnas_search::status::CampaignStatus;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    pub(crate) dir: PathBuf,
}

pub fn status(a: StatusArgs) -> anyhow::Result<()> {
    let s = CampaignStatus::load(&a.dir)?;
    let cfg = &s.cfg;
    for n in &s.notes {
        println!("note: {n}");
    }
    println!(
        "campaign     {} ({:?}, seed {})",
        cfg.name, cfg.strategy, cfg.seed
    );
    println!(
        "progress     {}/{} evaluations{}, {} failed, {} over budget (not trained)",
        s.records.len(),
        cfg.evaluations,
        if s.finished { " (finished)" } else { "" },
        s.failed,
        s.over_budget
    );
    let budget = match (cfg.latency.budget_ref, cfg.latency.budget_seconds()) {
        (Some(r), Some(sec)) => format!("{sec:.6} s (= {r} × the reference)"),
        (Some(r), None) => format!("{r} × the reference (not measured yet)"),
        (None, sec) => format!("{} s", sec.unwrap_or(f64::NAN)),
    };
    println!(
        "budget       decode latency ≤ {} ({} source, prompt {} + {} tokens)",
        budget,
        format!("{:?}", cfg.latency.source).to_lowercase(),
        cfg.latency.prompt,
        cfg.latency.generate
    );
    let p = &s.predictor;
    if p.used() {
        println!(
            "predictor    {} latencies predicted, {} measured where it was unsure{}",
            p.predicted,
            p.errors_pct.len(),
            match (p.mean_error_pct(), p.worst_error_pct()) {
                (Some(mean), Some(worst)) =>
                    format!(" (its error there: mean {mean:.1} %, worst {worst:.1} %)"),
                _ => String::new(),
            }
        );
    }
    match s.best.map(|i| &s.records[i]) {
        Some(b) => println!(
            "best         #{} {} loss {:.4} (ppl {:.2}) latency {:.4} s, {} params",
            b.id,
            b.genome.describe(),
            b.loss(),
            b.loss().exp(),
            b.latency(),
            b.params
        ),
        None => println!("best         none within the budget yet"),
    }
    println!(
        "frontier     {} candidates, hypervolume {:.5} (reference loss {}, latency {} s)",
        s.frontier.len(),
        s.hypervolume,
        cfg.objectives.reference_point.loss,
        cfg.objectives.reference_point.latency_s
    );
    if let Some(r) = flashnas_search::audit::load_report(&a.dir) {
        print_audit(&r);
    }
    if let Some(r) = flashnas_search::validate::analysis::load_report(&a.dir) {
        let lines = flashnas_search::validate::analysis::summary_lines(&r);
        println!(
            "validation   {}× longer training, {} seeds (flashnas validate; validate/validate.csv):",
            r.factor,
            r.seeds.len()
        );
        for l in lines {
            println!("             {l}");
        }
    }
    println!();
    println!(
        "{:>4}  {:<40} {:>7} {:>9} {:>10} {:>9}",
        "id", "frontier genome", "width", "params", "loss", "latency s"
    );
    for r in s.frontier.iter().map(|&i| &s.records[i]) {
        println!(
            "{:>4}  {:<40} {:>7} {:>9} {:>10.4} {:>9.4}",
            r.id,
            r.layers,
            r.width,
            r.params,
            r.loss(),
            r.latency()
        );
    }
    Ok(())
}
