//! Proxy fidelity audit: does the short training run rank candidates like a longer one?
//!
//! K candidates of a finished campaign, spread over its observed loss range, are retrained
//! with F× the proxy's token budget (same data, same seed rule, same schedule shape) through
//! the campaign's executor; Spearman's ρ and Kendall's τ-b between short and long validation
//! loss come with percentile-bootstrap 90 % intervals. Results go into the campaign
//! directory: `audit.jsonl` (one line per retrained candidate; a resume skips those),
//! `audit.json` (the summary) and `audit.svg` (short vs long loss).

/// `[audit]`, kept with the campaign's config (the core reads it; the audit reads it too).
pub use crate::config::audit as config;

pub use config::AuditConfig;

use crate::error::{Error, Result};
use crate::executor::ExecutorConfig;
use crate::journal::{Entry, Record, RecordStatus};
use crate::plot::{chart, Series};
use crate::rank::{average_ranks, bootstrap, kendall_tau_b, spearman, Interval};
use crate::rows::Rows;
use crate::store::load_records;
use crate::task::Task;
use crate::Event;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One retrained candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    /// Position in the audit (0..K).
    pub index: usize,
    /// Campaign record id.
    pub id: usize,
    pub layers: String,
    pub width: usize,
    pub factor: f64,
    pub short_loss: f64,
    /// `None` when the long run failed (with `failure`).
    pub long_loss: Option<f64>,
    pub short_steps: usize,
    pub long_steps: usize,
    pub failure: Option<String>,
    pub eval_seconds: f64,
}

impl Entry for AuditRow {
    fn index(&self) -> usize {
        self.index
    }
}

/// A candidate whose rank changed between the short and the long run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankMove {
    pub id: usize,
    pub layers: String,
    pub width: usize,
    pub short_rank: f64,
    pub long_rank: f64,
}

/// `audit.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    pub sample: usize,
    pub factor: f64,
    pub seed: u64,
    pub selected: Vec<usize>,
    /// Pairs with both losses (long runs that failed are left out).
    pub pairs: usize,
    pub spearman: Interval,
    pub kendall: Interval,
    /// Largest |rank change| first.
    pub moved: Vec<RankMove>,
    /// Wall seconds of the audit's retraining (this run plus resumed rows).
    pub train_seconds: f64,
    pub min_spearman: Option<f64>,
    /// Set when Spearman's lower bound is under `min_spearman`.
    pub warning: Option<String>,
}

/// Picks `k` candidates spread over the observed loss range: successful records sorted by
/// loss, cut into `k` equal-count strata, one drawn per stratum (seeded).
pub fn select(records: &[Record], k: usize, seed: u64) -> Vec<usize> {
    let mut ok: Vec<&Record> = records
        .iter()
        .filter(|r| r.status == RecordStatus::Ok && r.proxy.val_loss.is_some())
        .collect();
    ok.sort_by(|a, b| {
        a.loss()
            .partial_cmp(&b.loss())
            .expect("finite")
            .then(a.id.cmp(&b.id))
    });
    if ok.len() <= k {
        return ok.iter().map(|r| r.id).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xa0d1_7000);
    (0..k)
        .map(|s| {
            let (lo, hi) = (s * ok.len() / k, (s + 1) * ok.len() / k);
            ok[rng.gen_range(lo..hi)].id
        })
        .collect()
}

pub fn audit_paths(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join("audit.jsonl"),
        dir.join("audit.json"),
        dir.join("audit.svg"),
    )
}

/// Runs (or resumes) the audit of the campaign in `dir`.
pub fn run_audit(
    dir: &Path,
    sample: usize,
    factor: f64,
    min_spearman: Option<f64>,
    executor: Option<ExecutorConfig>,
    on_event: &mut dyn FnMut(Event),
) -> Result<AuditReport> {
    AuditConfig {
        enabled: true,
        sample,
        factor,
        min_spearman: min_spearman.unwrap_or(0.0),
    }
    .validate()
    .map_err(|e| Error::Config(format!("audit {e}")))?;
    let (cfg, records, problems) = load_records(dir)?;
    for p in problems {
        on_event(Event::Note(p));
    }
    let selected = select(&records, sample, cfg.seed);
    if selected.len() < 3 {
        return Err(Error::Analysis(format!(
            "{}: only {} successful candidates; an audit needs at least 3",
            dir.display(),
            selected.len()
        )));
    }
    let (jsonl, json, svg) = audit_paths(dir);
    // The audit drives its own journal: one audit per folder at a time.
    let _lock = crate::lock::FolderLock::acquire(dir, "audit", "audit")?;
    let resume = format!(
        "flashnas audit {} --sample {sample} --factor {factor}",
        dir.display()
    );
    let mut rows = Rows::open(jsonl.clone(), resume, on_event, |_, r: &AuditRow| {
        (r.factor != factor || selected.get(r.index) != Some(&r.id)).then(|| {
            format!(
                "holds an audit with factor {} of other candidates (row {} is candidate {}); \
                 move it aside to run an audit with --sample {sample} --factor {factor}",
                r.factor, r.index, r.id
            )
        })
    })?;
    let mut train = cfg.train.clone();
    train.seed = cfg.seed;
    let short_steps = train.total_steps();
    train.recall.enabled = false;
    match (train.steps, train.tokens) {
        (Some(s), _) => train.steps = Some((s as f64 * factor).round() as usize),
        (None, Some(t)) => train.tokens = Some((t as f64 * factor).round() as usize),
        _ => {}
    }
    if let Some(w) = train.optimizer.warmup_steps {
        // Same schedule shape at the longer budget.
        train.optimizer.warmup_steps = Some((w as f64 * factor).round() as usize);
    }
    let long_steps = train.total_steps();
    let tag = format!("audit-x{factor}");
    let tasks: Vec<Task> = selected
        .iter()
        .skip(rows.len())
        .map(|&id| {
            let r = &records[id];
            Task {
                name: format!("{tag}-{id}"),
                proposal_key: format!("{tag}|{}", r.key),
                spec: r.spec.spec(),
                train: train.clone(),
                latency: None,
                known_latency: None,
                base_dir: dir.to_path_buf(),
                reference: None,
                serve: None,
            }
        })
        .collect();
    let exec_cfg = executor.unwrap_or_else(|| cfg.executor.clone());
    exec_cfg
        .validate()
        .map_err(|e| Error::Config(format!("executor.{e}")))?;
    let total = selected.len();
    rows.run(
        dir,
        &exec_cfg,
        tasks,
        on_event,
        &mut |_task, r, index| {
            let id = selected[index];
            let rec = &records[id];
            let ok = r.proxy.status.is_ok() && r.proxy.val_loss.is_some();
            AuditRow {
                index,
                id,
                layers: rec.layers.clone(),
                width: rec.width,
                factor,
                short_loss: rec.loss(),
                long_loss: r.proxy.val_loss.filter(|_| ok),
                short_steps,
                long_steps,
                failure: (!ok).then(|| r.proxy.status.describe()),
                eval_seconds: r.eval_seconds,
            }
        },
        &mut |row| {
            format!(
                "audit [{}/{total}] #{} {} w{}: short {:.4} ({short_steps} steps) → long {} ({long_steps} steps)",
                row.index + 1,
                row.id,
                row.layers,
                row.width,
                row.short_loss,
                row.long_loss
                    .map(|l| format!("{l:.4}"))
                    .unwrap_or_else(|| row.failure.clone().unwrap_or_default())
            )
        },
    )?;
    let rows = rows.into_rows();
    let report = summarize(&rows, sample, factor, cfg.seed, &selected, min_spearman);
    flashnas_model::fsio::write_atomic(
        &json,
        serde_json::to_string_pretty(&report)
            .expect("json")
            .as_bytes(),
    )
    .map_err(|e| Error::file(&json, flashnas_model::fsio::reason(&e)))?;
    let pairs: Vec<&AuditRow> = rows.iter().filter(|r| r.long_loss.is_some()).collect();
    let plot = chart(
        &format!(
            "proxy audit: short vs {factor}× longer training (Spearman {:.3}, Kendall {:.3})",
            report.spearman.value, report.kendall.value
        ),
        &format!("proxy loss ({short_steps} steps)"),
        &format!("long-run loss ({long_steps} steps)"),
        &[Series {
            name: "candidates".into(),
            points: pairs
                .iter()
                .map(|r| (r.short_loss, r.long_loss.expect("pair")))
                .collect(),
            labels: pairs.iter().map(|r| format!("#{}", r.id)).collect(),
            line: false,
            dots: true,
            dashed: false,
            group: 0,
        }],
        &[],
        false,
    );
    flashnas_model::fsio::write_atomic(&svg, plot.as_bytes())
        .map_err(|e| Error::file(&svg, flashnas_model::fsio::reason(&e)))?;
    Ok(report)
}

/// Correlations, intervals and rank moves of audit rows.
pub fn summarize(
    rows: &[AuditRow],
    sample: usize,
    factor: f64,
    seed: u64,
    selected: &[usize],
    min_spearman: Option<f64>,
) -> AuditReport {
    let pairs: Vec<&AuditRow> = rows.iter().filter(|r| r.long_loss.is_some()).collect();
    let x: Vec<f64> = pairs.iter().map(|r| r.short_loss).collect();
    let y: Vec<f64> = pairs.iter().map(|r| r.long_loss.expect("pair")).collect();
    let spearman_ci = bootstrap(&x, &y, spearman, 2000, 0.9, seed ^ 0x5eed_0001);
    let kendall_ci = bootstrap(&x, &y, kendall_tau_b, 2000, 0.9, seed ^ 0x5eed_0002);
    let (rx, ry) = (average_ranks(&x), average_ranks(&y));
    let mut moved: Vec<RankMove> = pairs
        .iter()
        .enumerate()
        .map(|(i, r)| RankMove {
            id: r.id,
            layers: r.layers.clone(),
            width: r.width,
            short_rank: rx[i],
            long_rank: ry[i],
        })
        .collect();
    moved.sort_by(|a, b| {
        (b.long_rank - b.short_rank)
            .abs()
            .partial_cmp(&(a.long_rank - a.short_rank).abs())
            .expect("finite")
            .then(a.id.cmp(&b.id))
    });
    let warning = min_spearman.and_then(|m| {
        (spearman_ci.lower.is_nan() || spearman_ci.lower < m).then(|| {
            format!(
                "the proxy's ranking is not trustworthy at this budget: Spearman {:.3}, 90 % interval [{:.3}, {:.3}], lower bound below {m}; \
                 lengthen [train] (more steps or tokens) or audit more candidates",
                spearman_ci.value, spearman_ci.lower, spearman_ci.upper
            )
        })
    });
    AuditReport {
        sample,
        factor,
        seed,
        selected: selected.to_vec(),
        pairs: pairs.len(),
        spearman: spearman_ci,
        kendall: kendall_ci,
        moved,
        train_seconds: rows.iter().map(|r| r.eval_seconds).sum(),
        min_spearman,
        warning,
    }
}

/// The audit summary of a campaign directory, when there is one.
pub fn load_report(dir: &Path) -> Option<AuditReport> {
    let text = std::fs::read_to_string(audit_paths(dir).1).ok()?;
    serde_json::from_str(&text).ok()
}
