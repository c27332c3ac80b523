//! `flashnas audit DIR`: does the proxy rank like longer training? K candidates retrained.

use super::executor_args::ExecArgs;
use super::progress::TaskBars;
use flashnas_search::store::load_records;
use flashnas_search::Event;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// A finished campaign directory.
    pub(crate) dir: PathBuf,
    /// K: candidates to retrain, spread over the observed loss range.
    #[arg(long, default_value_t = 8)]
    pub(crate) sample: usize,
    /// F: multiple of the proxy's token budget for the long runs.
    #[arg(long, default_value_t = 4.0)]
    pub(crate) factor: f64,
    /// Warn when Spearman's 90 % lower bound is below this.
    #[arg(long)]
    pub(crate) min_spearman: Option<f64>,
    #[command(flatten)]
    pub(crate) exec: ExecArgs,
}

pub fn audit(a: AuditArgs) -> anyhow::Result<()> {
    let (cfg, _, _) = load_records(&a.dir)?;
    let mut exec = cfg.executor.clone();
    a.exec.apply_to(&mut exec);
    if a.exec.workers.is_some() {
        exec.in_flight = None;
    }
    let bars = TaskBars::new("audit", "retrained", a.sample, |n| n.starts_with("audit ["));
    let started = std::time::Instant::now();
    let mut on_event = |e: Event| bars.handle(e);
    let report = flashnas_search::audit::run_audit(
        &a.dir,
        a.sample,
        a.factor,
        a.min_spearman,
        Some(exec),
        &mut on_event,
    )?;
    bars.finish();
    print_audit(&report);
    println!(
        "wall {:.1} s this run; wrote {d}/audit.jsonl, {d}/audit.json, {d}/audit.svg",
        started.elapsed().as_secs_f64(),
        d = a.dir.display()
    );
    Ok(())
}

pub(crate) fn print_audit(r: &flashnas_search::audit::AuditReport) {
    println!(
        "audit        {} candidates retrained with {}× the proxy budget ({} pairs)",
        r.selected.len(),
        r.factor,
        r.pairs
    );
    println!(
        "             Spearman ρ {:.3} [{:.3}, {:.3}], Kendall τ-b {:.3} [{:.3}, {:.3}] (bootstrap {:.0} % intervals)",
        r.spearman.value,
        r.spearman.lower,
        r.spearman.upper,
        r.kendall.value,
        r.kendall.lower,
        r.kendall.upper,
        r.spearman.level * 100.0
    );
    let moved: Vec<String> = r
        .moved
        .iter()
        .take(3)
        .filter(|m| m.short_rank != m.long_rank)
        .map(|m| {
            format!(
                "#{} {} w{} rank {} → {}",
                m.id, m.layers, m.width, m.short_rank, m.long_rank
            )
        })
        .collect();
    if !moved.is_empty() {
        println!("             moved most: {}", moved.join("; "));
    }
    if let Some(w) = &r.warning {
        println!("WARNING      {w}");
    }
}
