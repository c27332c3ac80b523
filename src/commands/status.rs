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
        "progress     {}/{} evaluations{}, {} failed, {} proposals over budget (priced, not trained, not counted)",
        s.evaluations,
        cfg.evaluations,
        if s.finished { " (finished)" } else { "" },
        s.failed,
        s.over_budget
    );
    println!("compute      {}", s.compute.line());
    if let Some(g) = &s.family {
        println!(
            "family seeds {} shapes seeded from {} priced{}",
            g.seeds.len(),
            g.priced.len(),
            match g.unspellable.len() {
                0 => String::new(),
                n => format!(" ({n} the space cannot spell)"),
            }
        );
    }
    let budget = match (cfg.latency.budget_ref, cfg.latency.budget_seconds()) {
        (Some(r), Some(sec)) => format!("{sec:.6} s (= {r} × the reference)"),
        (Some(r), None) => format!("{r} × the reference (not measured yet)"),
        (None, sec) => format!("{} s", sec.unwrap_or(f64::NAN)),
    };
    println!(
        "budget       decode latency ≤ {} ({} source, prompt {} + {} tokens)",
        budget,
        cfg.latency.source.name(),
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
    let recall = |r: &flashnas_search::journal::Record| {
        r.recall()
            .map(|a| format!(" recall {:.1} %", a * 100.0))
            .unwrap_or_default()
    };
    let served =
        |r: &flashnas_search::journal::Record| match (r.throughput_tokens_s, r.throughput_batch) {
            (Some(t), Some(b)) => format!(", {t:.0} tokens/s at batch {b}"),
            _ => String::new(),
        };
    match s.best.map(|i| &s.records[i]) {
        Some(b) => println!(
            "best         #{} {} loss {:.4} (ppl {:.2}{}){} latency {:.4} s{}, {} params, from {}",
            b.id,
            b.genome.describe(),
            s.mean_loss[b.id],
            s.mean_loss[b.id].exp(),
            match s.seeds[b.id] {
                1 => String::new(),
                n => format!("; mean of {n} seeds"),
            },
            recall(b),
            b.latency(),
            served(b),
            b.params,
            origin(&s, b.id)
        ),
        None => println!("best         none within the budget yet"),
    }
    if let Some(r) = &s.racing {
        match r.sigma {
            Some((sigma, df)) => println!(
                "seed noise   σ = {sigma:.4} nats (pooled over {df} degrees of freedom); close calls raced to {} seeds at z = {}",
                cfg.racing.max_seeds, cfg.racing.z
            ),
            None => println!("seed noise   not measured yet"),
        }
        for l in &r.levels {
            let (Some(b), Some(p)) = (l.best, l.pick) else {
                continue;
            };
            let fig = |c: usize| {
                format!(
                    "#{c} {:.4} ({} seeds, {} params)",
                    s.mean_loss[c], s.seeds[c], s.records[c].params
                )
            };
            println!(
                "  {:>5}×     best {}{}",
                l.level,
                fig(b),
                match l.contenders.len() {
                    0 => " — separated from every other candidate within the level".to_string(),
                    _ => format!(
                        " — not separable from {} (a band, not an order); pick #{p}, the band's largest",
                        l.contenders
                            .iter()
                            .map(|&c| fig(c))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            );
        }
    }
    let objectives = cfg.objectives.frontier();
    let names: Vec<String> = objectives
        .iter()
        .zip(cfg.objectives.reference())
        .map(|(o, r)| format!("{o} {r}"))
        .collect();
    println!(
        "frontier     {} candidates over {}, hypervolume {:.5} (reference {})",
        s.frontier.len(),
        cfg.objectives.frontier_names(),
        s.hypervolume,
        names.join(", ")
    );
    if let Some(min) = cfg.objectives.recall_min {
        let short = s
            .records
            .iter()
            .filter(|r| r.recall_shortfall > 0.0)
            .count();
        println!(
            "recall       at least {:.0} % required: {short} trained candidates fell short (infeasible)",
            min * 100.0
        );
    }
    let with_recall = s.records.iter().any(|r| r.recall().is_some());
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
        "{:>4}  {:<40} {:>7} {:>9} {:>10} {:>5}{} {:>9}  from",
        "id",
        "frontier genome",
        "width",
        "params",
        "loss",
        "seeds",
        if with_recall { "   recall" } else { "" },
        "latency s"
    );
    for r in s.frontier.iter().map(|&i| &s.records[i]) {
        println!(
            "{:>4}  {:<40} {:>7} {:>9} {:>10.4} {:>5}{} {:>9.4}  {}",
            r.id,
            r.layers,
            r.width,
            r.params,
            s.mean_loss[r.id],
            s.seeds[r.id],
            match (with_recall, r.recall()) {
                (false, _) => String::new(),
                (true, Some(a)) => format!(" {:>7.1} %", a * 100.0),
                (true, None) => format!(" {:>9}", "–"),
            },
            r.latency(),
            origin(&s, r.id)
        );
    }
    Ok(())
}

/// Where a candidate came from: its origin, and for a child the origin of its line's first
/// design (a family shape, a seed, a random genome).
fn origin(s: &flashnas_search::status::CampaignStatus, id: usize) -> String {
    let r = &s.records[id];
    let mut root = r;
    let mut steps = 0;
    while let Some(p) = root.parent {
        root = &s.records[p];
        steps += 1;
    }
    match steps {
        0 => r.origin.to_string(),
        n => format!(
            "{} ({n} generations from {} #{})",
            r.origin, root.origin, root.id
        ),
    }
}
