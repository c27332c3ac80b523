//! `flashnas search`, `resume`, `status`, `export`, `plot`: campaigns end to end.

use flashnas_search::campaign::Outcome;
use flashnas_search::executor::{ExecutorConfig, ExecutorKind};
use flashnas_search::journal::RecordStatus;
use flashnas_search::run_dir::{campaign_copy, default_dir, ConfigText, ConfigValue};
use flashnas_search::store::{count_status, load_records, pareto_flags};
use flashnas_search::{Campaign, CampaignConfig, Event};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
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

/// Who evaluates the candidates (overrides `[executor]` of the config).
#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// inline (this process), local (a pool of worker processes), slurm (sbatch jobs) or
    /// table:PATH (answers from a benchmark table of `flashnas tabulate`).
    #[arg(long)]
    pub(crate) executor: Option<ExecutorChoice>,
    /// Concurrent workers (local) or jobs in flight (slurm).
    #[arg(long)]
    pub(crate) workers: Option<usize>,
}

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

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// A finished campaign directory.
    dir: PathBuf,
    /// K: candidates to retrain, spread over the observed loss range.
    #[arg(long, default_value_t = 8)]
    sample: usize,
    /// F: multiple of the proxy's token budget for the long runs.
    #[arg(long, default_value_t = 4.0)]
    factor: f64,
    /// Warn when Spearman's 90 % lower bound is below this.
    #[arg(long)]
    min_spearman: Option<f64>,
    #[command(flatten)]
    exec: ExecArgs,
}

#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    /// Campaign (or study) directory holding candidates/<ID>/task.json.
    #[arg(long)]
    campaign: PathBuf,
    /// Candidate to evaluate (the folder name under candidates/).
    #[arg(long)]
    candidate: String,
    /// Attempt number, recorded with the result.
    #[arg(long, default_value_t = 1)]
    attempt: usize,
    /// Device to train and time on (e.g. cuda:1), instead of the config's.
    #[arg(long)]
    device: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    dir: PathBuf,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum What {
    Frontier,
    All,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum Format {
    Csv,
    Parquet,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    dir: PathBuf,
    #[arg(long, value_enum, default_value_t = What::Frontier)]
    what: What,
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct PlotArgs {
    dir: PathBuf,
    /// Folder for the SVG files (default: the campaign directory).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// A line above the bars, or plain stdout when the bars are hidden (not a terminal).
pub(crate) fn say(multi: &MultiProgress, line: String) {
    if multi.is_hidden() {
        println!("{line}");
    } else {
        let _ = multi.println(line);
    }
}

/// Runs a campaign with progress bars; returns its outcome.
pub(crate) fn run_campaign(
    mut make: impl FnMut(&mut dyn FnMut(Event)) -> flashnas_search::Result<Outcome>,
) -> anyhow::Result<Outcome> {
    let multi = MultiProgress::new();
    let campaign = multi.add(ProgressBar::new(0));
    campaign.set_style(
        ProgressStyle::with_template("campaign  [{bar:30}] {pos}/{len} evaluations · {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    let candidate = multi.add(ProgressBar::new(0));
    candidate.set_style(
        ProgressStyle::with_template("candidate [{bar:30}] {pos}/{len} {prefix} steps · {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    let mut on_event = |e: Event| match e {
        Event::Start { id, describe } => {
            candidate.set_position(0);
            candidate.set_message(format!("#{id} {describe}"));
        }
        Event::Step(p) => {
            candidate.set_length(p.total as u64);
            candidate.set_position(p.step as u64);
            candidate.set_prefix(p.phase);
        }
        Event::Done {
            record,
            replayed,
            evaluations,
            budget,
            best_loss,
        } => {
            campaign.set_length(budget as u64);
            campaign.set_position(evaluations as u64);
            campaign.set_message(format!(
                "best feasible loss {} · frontier {} · HV {:.4}",
                best_loss
                    .map(|l| format!("{l:.4}"))
                    .unwrap_or_else(|| "–".into()),
                record.frontier_size,
                record.hypervolume
            ));
            let lat = record
                .latency
                .seconds
                .map(|l| format!("{l:.4} s"))
                .unwrap_or_else(|| "–".into());
            let loss = record
                .proxy
                .val_loss
                .map(|l| format!("{l:.4}"))
                .unwrap_or_else(|| "–".into());
            let tag = if replayed { " (from journal)" } else { "" };
            let status = record.failure.clone().unwrap_or_else(|| {
                if record.feasible {
                    "ok".into()
                } else {
                    "over budget".into()
                }
            });
            say(
                &multi,
                format!(
                    "#{:<3} {:<44} loss {loss:<7} latency {lat:<10} {status}{tag}",
                    record.id,
                    record.genome.describe()
                ),
            );
        }
        Event::Note(n) => {
            say(&multi, format!("note: {n}"));
        }
    };
    let r = make(&mut on_event);
    candidate.finish_and_clear();
    campaign.finish();
    Ok(r?)
}

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

fn print_audit(r: &flashnas_search::audit::AuditReport) {
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

/// Progress of a fixed list of tasks (audit, depth–width study): one bar counting the notes
/// that report a finished task, one for the training steps of an in-process task.
pub(crate) struct TaskBars {
    multi: MultiProgress,
    tasks: ProgressBar,
    steps: ProgressBar,
    counts: fn(&str) -> bool,
}

impl TaskBars {
    pub(crate) fn new(label: &str, unit: &str, len: usize, counts: fn(&str) -> bool) -> Self {
        let multi = MultiProgress::new();
        let tasks = multi.add(ProgressBar::new(len as u64));
        tasks.set_style(
            ProgressStyle::with_template(&format!(
                "{label:<9} [{{bar:30}}] {{pos}}/{{len}} {unit} · {{msg}}"
            ))
            .expect("template")
            .progress_chars("=> "),
        );
        let steps = multi.add(ProgressBar::new(0));
        steps.set_style(
            ProgressStyle::with_template("training  [{bar:30}] {pos}/{len} steps · {msg}")
                .expect("template")
                .progress_chars("=> "),
        );
        Self {
            multi,
            tasks,
            steps,
            counts,
        }
    }

    pub(crate) fn set_len(&self, len: usize) {
        self.tasks.set_length(len as u64);
    }

    pub(crate) fn handle(&self, e: Event) {
        match e {
            Event::Note(n) => {
                if (self.counts)(&n) {
                    self.tasks.inc(1);
                }
                say(&self.multi, n);
            }
            Event::Start { describe, .. } => {
                self.steps.set_position(0);
                self.steps.set_message(describe.to_string());
            }
            Event::Step(p) => {
                self.steps.set_length(p.total as u64);
                self.steps.set_position(p.step as u64);
            }
            Event::Done { .. } => {}
        }
    }

    pub(crate) fn finish(&self) {
        self.steps.finish_and_clear();
        self.tasks.finish();
    }
}

/// `--executor`: a kind, or `table:PATH`, or `surrogate:PATH`.
#[derive(Debug, Clone)]
pub struct ExecutorChoice {
    kind: ExecutorKind,
    /// The table's absolute path (`table:PATH`).
    table: Option<String>,
    /// The surrogate's absolute path (`surrogate:PATH`).
    surrogate: Option<String>,
}

impl std::str::FromStr for ExecutorChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(p) = s.strip_prefix("surrogate:") {
            let abs = std::fs::canonicalize(p).map_err(|e| {
                format!("surrogate '{p}': {e} (fit one with flashnas surrogate fit)")
            })?;
            return Ok(Self {
                kind: ExecutorKind::Surrogate,
                table: None,
                surrogate: Some(abs.display().to_string()),
            });
        }
        match s.strip_prefix("table:") {
            Some(p) => {
                let abs = std::fs::canonicalize(p)
                    .map_err(|e| format!("table '{p}': {e} (build one with flashnas tabulate)"))?;
                Ok(Self {
                    kind: ExecutorKind::Table,
                    table: Some(abs.display().to_string()),
                    surrogate: None,
                })
            }
            None => Ok(Self {
                kind: s.parse()?,
                table: None,
                surrogate: None,
            }),
        }
    }
}

impl ExecArgs {
    /// Applies `--executor` / `--workers` to an executor config.
    pub(crate) fn apply_to(&self, executor: &mut ExecutorConfig) {
        if let Some(c) = &self.executor {
            executor.kind = c.kind;
            if c.table.is_some() {
                executor.table = c.table.clone();
            }
            if c.surrogate.is_some() {
                executor.surrogate = c.surrogate.clone();
            }
        }
        if let Some(w) = self.workers {
            executor.workers = w;
        }
    }

    /// Applies `--executor` / `--workers` to a config and to the copy written beside the run.
    pub(crate) fn apply(
        &self,
        executor: &mut ExecutorConfig,
        copy: &mut ConfigText,
    ) -> flashnas_search::Result<()> {
        self.apply_to(executor);
        if let Some(c) = &self.executor {
            copy.set("executor", "kind", format!("{:?}", c.kind).to_lowercase())?;
            if let Some(t) = &c.table {
                copy.set("executor", "table", t.as_str())?;
            }
            if let Some(t) = &c.surrogate {
                copy.set("executor", "surrogate", t.as_str())?;
            }
        }
        if let Some(w) = self.workers {
            copy.set("executor", "workers", w as i64)?;
        }
        Ok(())
    }
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

pub fn resume(a: ResumeArgs) -> anyhow::Result<()> {
    println!("resuming {}", a.dir.display());
    let outcome = run_campaign(|ev| {
        let mut c = Campaign::resume(&a.dir, ev)?;
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

pub fn status(a: StatusArgs) -> anyhow::Result<()> {
    let (cfg, records, problems) = load_records(&a.dir)?;
    for p in problems {
        println!("note: {p}");
    }
    let ck = flashnas_search::journal::Checkpoint::load(&a.dir)
        .ok()
        .flatten();
    let flags = pareto_flags(&cfg, &records);
    let over = count_status(&records, RecordStatus::OverBudget);
    let failed = count_status(&records, RecordStatus::Failed);
    println!(
        "campaign     {} ({:?}, seed {})",
        cfg.name, cfg.strategy, cfg.seed
    );
    println!(
        "progress     {}/{} evaluations{}, {} failed, {} over budget (not trained)",
        records.len(),
        cfg.evaluations,
        if ck.as_ref().is_some_and(|c| c.finished) {
            " (finished)"
        } else {
            ""
        },
        failed,
        over
    );
    let budget = match (cfg.latency.budget_ref, cfg.latency.budget_seconds()) {
        (Some(r), Some(s)) => format!("{s:.6} s (= {r} × the reference)"),
        (Some(r), None) => format!("{r} × the reference (not measured yet)"),
        (None, s) => format!("{} s", s.unwrap_or(f64::NAN)),
    };
    println!(
        "budget       decode latency ≤ {} ({} source, prompt {} + {} tokens)",
        budget,
        format!("{:?}", cfg.latency.source).to_lowercase(),
        cfg.latency.prompt,
        cfg.latency.generate
    );
    // The predictor's validation: candidates it was unsure of were measured too.
    let checked: Vec<f64> = records
        .iter()
        .filter_map(|r| {
            let measured = r.latency.seconds.filter(|_| {
                r.latency.source
                    == flashnas_search::task::LatencyOrigin::MeasuredPredictionUncertain
            })?;
            Some(100.0 * (r.latency.predicted_s? - measured).abs() / measured)
        })
        .collect();
    let predicted = records
        .iter()
        .filter(|r| r.latency.source == flashnas_search::task::LatencyOrigin::Predicted)
        .count();
    if predicted + checked.len() > 0 {
        println!(
            "predictor    {predicted} latencies predicted, {} measured where it was unsure{}",
            checked.len(),
            if checked.is_empty() {
                String::new()
            } else {
                format!(
                    " (its error there: mean {:.1} %, worst {:.1} %)",
                    checked.iter().sum::<f64>() / checked.len() as f64,
                    checked.iter().copied().fold(0.0, f64::max)
                )
            }
        );
    }
    let best = records
        .iter()
        .filter(|r| r.feasible && r.rung.is_none())
        .min_by(|a, b| a.loss().partial_cmp(&b.loss()).expect("finite"));
    match best {
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
    let hv = records.last().map(|r| r.hypervolume).unwrap_or(0.0);
    println!(
        "frontier     {} candidates, hypervolume {:.5} (reference loss {}, latency {} s)",
        flags.iter().filter(|f| **f).count(),
        hv,
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
    let mut front: Vec<&flashnas_search::Record> = records
        .iter()
        .zip(&flags)
        .filter(|(_, f)| **f)
        .map(|(r, _)| r)
        .collect();
    front.sort_by(|a, b| a.latency().partial_cmp(&b.latency()).expect("finite"));
    for r in front {
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

pub fn export(a: ExportArgs) -> anyhow::Result<()> {
    let n = flashnas_search::export::export(
        &a.dir,
        a.what == What::Frontier,
        a.format == Format::Parquet,
        &a.out,
    )?;
    println!("wrote {} rows to {}", n, a.out.display());
    Ok(())
}

pub fn plot(a: PlotArgs) -> anyhow::Result<()> {
    let out = a.out.unwrap_or_else(|| a.dir.clone());
    std::fs::create_dir_all(&out)?;
    for p in flashnas_search::plot::plot(&a.dir, &out)? {
        println!("wrote {}", p.display());
    }
    Ok(())
}

pub fn worker(a: WorkerArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let accepted = flashnas_search::task::run_worker(
        &a.campaign,
        &a.candidate,
        a.attempt,
        a.device.as_deref(),
        &mut |_| {},
    )?;
    println!(
        "candidate {} attempt {}: {} in {:.1} s",
        a.candidate,
        a.attempt,
        if accepted {
            "result published"
        } else {
            "a result was already accepted; this one is ignored (see ignored.log)"
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
