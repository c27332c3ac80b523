//! `flashnas tabulate`: a benchmark table of a search space — every genome (or a seeded
//! sample) trained once with validation checkpoints at the fidelity ladder, and timed — so
//! strategies can be compared against it in seconds (`--executor table:PATH`,
//! `flashnas bench strategies`). The evaluation is a campaign with `strategy = "all"`, so it
//! runs on any executor and resumes like any campaign.

use super::executor_args::ExecArgs;
use super::progress::run_campaign;
use super::search::summary;
use flashnas_search::config::StrategyKind;
use flashnas_search::run_dir::{campaign_copy, default_dir, ConfigText};
use flashnas_search::{Campaign, CampaignConfig, Genome};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A campaign config with `strategy = "all"`; `evaluations` caps the genomes (a larger
    /// space is sampled, seeded), `train.rungs` is the fidelity ladder. Not needed to resume.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The table to write (Parquet; the config it was built under goes beside it as .toml).
    #[arg(long)]
    out: PathBuf,
    /// The campaign folder (default: results/<name>-<timestamp>); one holding a campaign is
    /// resumed.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print how many genomes the space holds and exit.
    #[arg(long)]
    count: bool,
    /// Train every genome with this many seeds: replicate k > 0 is a campaign of the same
    /// proposals trained with another seed, in DIR-rep<k>; the table holds the mean loss and
    /// its standard deviation, and the median of the replicates' latency sweeps.
    #[arg(long, default_value_t = 1)]
    replicates: u64,
    /// Tabulate the feasible region only: genomes priced over the config's latency budget are
    /// journaled untrained and do not count, and `evaluations` genomes within it are trained
    /// (drawn from an order 100× as long). Where a space is mostly infeasible, this puts the
    /// table's compute where a search under that budget looks.
    #[arg(long)]
    within_budget: bool,
    #[command(flatten)]
    exec: ExecArgs,
}

/// The folder of replicate `k` of the tabulation in `dir`.
fn replicate_dir(dir: &std::path::Path, k: u64) -> PathBuf {
    match k {
        0 => dir.to_path_buf(),
        k => PathBuf::from(format!("{}-rep{k}", dir.display())),
    }
}

/// Runs (or resumes) replicate `k` of the tabulation whose replicate 0 is `dir`.
fn run_replicate(dir: &std::path::Path, k: u64, a: &Args) -> anyhow::Result<()> {
    let rep = replicate_dir(dir, k);
    let resume = |d: &std::path::Path| -> anyhow::Result<()> {
        println!("resuming {}", d.display());
        run_campaign(|ev| {
            let mut c = Campaign::resume(d, ev)?;
            c.report.page = Some(flashnas_search::report::write);
            if a.exec.executor.is_some() || a.exec.workers.is_some() {
                c.set_executor(&|e| a.exec.apply_to(e))?;
            }
            c.run()
        })?;
        Ok(())
    };
    if rep.join("config.toml").exists() {
        return resume(&rep);
    }
    // Replicate 0's config with `replicate = k`: the same proposals, another training seed.
    let text = std::fs::read_to_string(dir.join("config.toml"))?;
    let mut value = ConfigText::parse(&text, &dir.join("config.toml"))?;
    value.set("", "replicate", k as i64)?;
    let copy = format!(
        "# replicate {k} of {} (flashnas tabulate --replicates)\n{}",
        dir.display(),
        value.text()
    );
    let cfg = CampaignConfig::from_toml(&copy, &rep.display().to_string())?;
    println!("tabulating replicate {k} → {}", rep.display());
    run_campaign(|ev| {
        let mut c = Campaign::create(&rep, cfg.clone(), &copy, ev)?;
        c.report.page = Some(flashnas_search::report::write);
        c.run()
    })?;
    Ok(())
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let resuming = a
        .dir
        .as_ref()
        .is_some_and(|d| d.join("config.toml").exists());
    let dir = if resuming {
        let dir = a.dir.clone().expect("dir");
        println!("resuming {}", dir.display());
        run_campaign(|ev| {
            let mut c = Campaign::resume(&dir, ev)?;
            c.report.page = Some(flashnas_search::report::write);
            if a.exec.executor.is_some() || a.exec.workers.is_some() {
                c.set_executor(&|e| a.exec.apply_to(e))?;
            }
            c.run()
        })?;
        dir
    } else {
        let Some(config) = &a.config else {
            anyhow::bail!(
                "--config: name the table's campaign config (or --dir a tabulation to resume)"
            );
        };
        let user = CampaignConfig::from_file(config)?;
        if user.strategy != StrategyKind::All {
            anyhow::bail!(
                "{}: strategy: tabulate evaluates every genome; set strategy = \"all\"",
                config.display()
            );
        }
        let space = Genome::enumerate(&user.space, 1_000_000);
        // Widths fitted to the budget: one row per layer list, at its fitted width.
        let fitted = user.space.width == flashnas_search::genome::WidthRule::FitBudget;
        let n = space.as_ref().map(Vec::len);
        match n {
            Some(n) if fitted => {
                let lists = n / user.space.widths.len().max(1);
                println!(
                    "the space holds {n} genomes, {lists} layer lists; the table will hold {} (space.width = \"fit_budget\": each at the width fitted to the budget)",
                    lists.min(user.evaluations)
                )
            }
            Some(n) => println!(
                "the space holds {n} genomes; the table will hold {}",
                n.min(user.evaluations)
            ),
            None => println!(
                "the space holds more than a million genomes; the table will hold a seeded sample of {}",
                user.evaluations
            ),
        }
        if a.count {
            return Ok(());
        }
        // A table holds every genome's figures, whatever the budget a later campaign sets: every
        // genome at every width (widths are genes) — or, under `width = "fit_budget"`, every
        // layer list at the width fitted to the whole budget, as the benchmark's runs will fit
        // it — no family grid, no racing (replicates are `--replicates`).
        let mut overrides = vec![
            ("latency", "train_over_budget", (!a.within_budget).into()),
            ("family_seeds", "enabled", false.into()),
            ("racing", "enabled", false.into()),
        ];
        let has_budget = user.latency.budget_s.is_some() || user.latency.budget_ref.is_some();
        if fitted {
            anyhow::ensure!(
                has_budget,
                "{}: space.width = \"fit_budget\" needs a latency budget (budget_s or budget_ref) to fit widths to",
                config.display()
            );
            overrides.push((
                "racing",
                "budgets",
                flashnas_search::run_dir::ConfigArray::from_iter([1.0f64]).into(),
            ));
        } else {
            overrides.push(("space", "width", "gene".into()));
        }
        if a.within_budget {
            anyhow::ensure!(
                has_budget,
                "{}: latency: --within-budget needs a budget (budget_s or budget_ref)",
                config.display()
            );
            let proposals = user.evaluations.saturating_mul(100) as i64;
            overrides.push(("all", "proposals", proposals.into()));
        }
        let (cfg, copy) =
            campaign_copy(config, &overrides, &|e, c| a.exec.apply(e, c), "tabulate")?;
        if cfg.train.rungs.is_empty() {
            println!("note: train.rungs is empty: the table has the full run's loss only (no fidelity ladder)");
        }
        let dir = a.dir.clone().unwrap_or_else(|| default_dir(&cfg));
        println!("tabulating {} → {}", cfg.name, dir.display());
        run_campaign(|ev| {
            let mut c = Campaign::create(&dir, cfg.clone(), &copy, ev)?;
            c.report.page = Some(flashnas_search::report::write);
            c.run()
        })?;
        dir
    };
    summary(&dir)?;
    anyhow::ensure!(a.replicates >= 1, "--replicates: at least 1");
    for k in 1..a.replicates {
        run_replicate(&dir, k, &a)?;
    }
    let dirs: Vec<PathBuf> = (0..a.replicates).map(|k| replicate_dir(&dir, k)).collect();
    let refs: Vec<&std::path::Path> = dirs.iter().map(|d| d.as_path()).collect();
    let rows = flashnas_search::export::write_table(&refs, &a.out)?;
    println!(
        "wrote {rows} rows to {} (config: {})",
        a.out.display(),
        flashnas_search::table::config_path(&a.out).display()
    );
    Ok(())
}
