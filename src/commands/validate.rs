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
    /// Equivalence margin in nats (default 0.02): a gap whose interval lies within ±margin is
    /// "equivalent".
    #[arg(long)]
    margin: Option<f64>,
    /// Add seeds one at a time to the budgets whose verdict is inconclusive, until decided or
    /// --max-seeds (the error rate kept by Bonferroni over the looks).
    #[arg(long)]
    until_decided: bool,
    /// Most seeds per model with --until-decided (default 12).
    #[arg(long)]
    max_seeds: Option<usize>,
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
        margin: a.margin,
        until_decided: a.until_decided,
        max_seeds: a.max_seeds,
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
        "wall {:.1} s this run; wrote {d}/validate.txt, {d}/validate.json, {d}/validate.csv, {d}/validate.svg (and .png), {d}/validate-curves.svg (and .png)",
        started.elapsed().as_secs_f64(),
        d = flashnas_search::validate::validate_dir(&a.dir).display()
    );
    Ok(())
}

/// The answer as a table per budget, then the rank agreement and the costs (what
/// `validate.txt` holds).
pub(crate) fn print(r: &analysis::ValidationReport) {
    print!("{}", analysis::text(r));
}
