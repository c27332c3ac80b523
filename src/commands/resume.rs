//! `flashnas resume DIR`: continue a campaign from its journal.

use super::executor_args::ExecArgs;
use super::progress::run_campaign;
use super::search::{report_fresh, summary};
use flashnas_search::Campaign;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ResumeArgs {
    /// The campaign directory; everything needed is in it.
    dir: PathBuf,
    /// Raise the evaluation budget (extends a finished campaign; its first evaluations are
    /// replayed unchanged).
    #[arg(long)]
    budget: Option<usize>,
    #[command(flatten)]
    exec: ExecArgs,
}

pub fn resume(a: ResumeArgs) -> anyhow::Result<()> {
    println!("resuming {}", a.dir.display());
    let outcome = run_campaign(|ev| {
        let mut c = Campaign::resume(&a.dir, ev)?;
        c.report.page = Some(flashnas_search::report::write);
        if let Some(n) = a.budget {
            c.extend_budget(n)?;
        }
        if a.exec.executor.is_some() || a.exec.workers.is_some() {
            c.set_executor(&|e| a.exec.apply_to(e))?;
        }
        c.run()
    })?;
    summary(&a.dir)?;
    report_fresh(&a.dir, &outcome)
}
