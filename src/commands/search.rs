//! `flashnas search`: a campaign from a config file, end to end.

use super::audit::{audit, AuditArgs};
use super::executor_args::ExecArgs;
use super::progress::run_campaign;
use super::status::{status, StatusArgs};
use flashnas_search::campaign::Outcome;
use flashnas_search::run_dir::{campaign_copy, default_dir, ConfigValue};
use flashnas_search::{Campaign, CampaignConfig};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    /// Campaign config (TOML), e.g. configs/quickstart.toml.
    #[arg(long)]
    config: PathBuf,
    /// Campaign directory (default: results/<name>-<timestamp>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Override the config's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the evaluation budget.
    #[arg(long)]
    budget: Option<usize>,
    #[command(flatten)]
    exec: ExecArgs,
}

pub fn search(a: SearchArgs) -> anyhow::Result<()> {
    let mut overrides = Vec::new();
    if let Some(s) = a.seed {
        overrides.push(("", "seed", ConfigValue::from(s as i64)));
    }
    if let Some(b) = a.budget {
        overrides.push(("", "evaluations", ConfigValue::from(b as i64)));
    }
    let (cfg, copy) = campaign_copy(&a.config, &overrides, &|e, c| a.exec.apply(e, c), "search")?;
    let dir = a.out.unwrap_or_else(|| default_dir(&cfg));
    println!("campaign {} → {}", cfg.name, dir.display());
    let outcome = run_campaign(|ev| {
        let mut c = Campaign::create(&dir, cfg.clone(), &copy, ev)?;
        c.report.page = Some(flashnas_search::report::write);
        c.run()
    })?;
    summary(&dir)?;
    report_fresh(&dir, &outcome)
}

/// The run finished, but its report.html could not be written last time: say so, and fail,
/// so that scripts notice (every evaluation is in the journal).
pub(crate) fn report_fresh(dir: &std::path::Path, outcome: &Outcome) -> anyhow::Result<()> {
    match &outcome.report_stale {
        None => Ok(()),
        Some(why) => anyhow::bail!(
            "the campaign finished and its journal is whole, but report.html is stale ({why}); \
             free space and run `flashnas report {}`",
            dir.display()
        ),
    }
}

/// After a run: the audit when the config asks for one and it is not done yet, then the status.
pub(crate) fn summary(dir: &std::path::Path) -> anyhow::Result<()> {
    let cfg = CampaignConfig::from_file(&dir.join("config.toml"))?;
    if cfg.audit.enabled
        && flashnas_search::audit::load_report(dir)
            .is_none_or(|r| r.sample != cfg.audit.sample || r.factor != cfg.audit.factor)
    {
        println!(
            "audit: retraining {} candidates with {}× the proxy budget ([audit] of the config)",
            cfg.audit.sample, cfg.audit.factor
        );
        audit(AuditArgs {
            dir: dir.to_path_buf(),
            sample: cfg.audit.sample,
            factor: cfg.audit.factor,
            min_spearman: Some(cfg.audit.min_spearman),
            exec: ExecArgs {
                executor: None,
                workers: None,
            },
        })?;
        println!();
    }
    status(StatusArgs {
        dir: dir.to_path_buf(),
    })
}
