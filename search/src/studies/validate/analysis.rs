//! The answer of a validation: per budget, each model's figures and the pick's gap to the best
//! baseline with a verdict at seed noise; the proxy's rank agreement with the long runs; the
//! cost of the baselines' own search beside the campaign's. Written as `validate.json`,
//! `validate.csv` and `validate.{svg,png}`; read back by `status` and `report.html`.

use super::{LongRow, Model, PriceRow, ProxyRow, RecheckRow, Role, Validation};
use crate::error::{Error, Result};
use crate::journal::RecordStatus;
use crate::plot::{Chart, ErrorBar, Series};
use crate::rank::{mean_ci95, median, spearman};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The pick against the best baseline, at seed noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The pick's long-run loss is lower: the (1 − α) interval of the gap is below zero.
    Better,
    /// The pick's loss is higher: the interval is above zero.
    Worse,
    /// Neither, and the gap is within the margin: both one-sided tests (TOST) reject a gap of
    /// ±margin, i.e. the (1 − 2α) interval lies inside (−margin, +margin).
    Equivalent,
    /// The seeds cannot tell (one seed, or an interval that holds zero and reaches past the
    /// margin); `seeds_needed` says how many the observed spread would take.
    #[serde(alias = "tie")]
    Inconclusive,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Better => "better",
            Self::Worse => "worse",
            Self::Equivalent => "equivalent",
            Self::Inconclusive => "inconclusive",
        })
    }
}

/// `pick − best baseline` in long-run loss (negative: the pick is better).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    pub mean: f64,
    /// The two-sided (1 − α) interval; `None` with fewer than two seeds.
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// From the per-seed differences over the seeds both share (the pick and the baseline
    /// train with the same seeds), or Welch's unpaired interval when they share fewer than two.
    #[serde(default)]
    pub paired: bool,
    /// Seeds the gap is computed over (pairs when paired).
    #[serde(default)]
    pub seeds: usize,
    /// The equivalence margin (nats) and the (1 − 2α) interval the two one-sided tests use.
    #[serde(default)]
    pub margin: f64,
    #[serde(default)]
    pub tost_low: Option<f64>,
    #[serde(default)]
    pub tost_high: Option<f64>,
    /// The two-sided error rate of this look (α, after the correction for repeated looks).
    #[serde(default)]
    pub alpha: f64,
    /// Inconclusive: the seeds per model that the observed spread says a decision (better,
    /// worse or equivalent) would need; `None` when it cannot say (one seed).
    #[serde(default)]
    pub seeds_needed: Option<usize>,
    pub verdict: Verdict,
}

/// The verdict on the long-run losses of the pick's seeds against the baseline's, each a
/// (seed, loss) list: paired over the shared seeds (per-seed differences, t-interval with n − 1
/// degrees of freedom), else Welch's; better / worse when the two-sided (1 − α) interval
/// excludes zero, equivalent when the (1 − 2α) interval lies within ±margin, else inconclusive.
pub fn verdict(pick: &[(u64, f64)], baseline: &[(u64, f64)], margin: f64, alpha: f64) -> Gap {
    let mean = |v: &[(u64, f64)]| v.iter().map(|x| x.1).sum::<f64>() / v.len() as f64;
    let (a, b): (Vec<f64>, Vec<f64>) = pick
        .iter()
        .filter_map(|&(s, x)| baseline.iter().find(|q| q.0 == s).map(|q| (x, q.1)))
        .unzip();
    let mut gap = Gap {
        mean: mean(pick) - mean(baseline),
        low: None,
        high: None,
        paired: false,
        seeds: pick.len().min(baseline.len()),
        margin,
        tost_low: None,
        tost_high: None,
        alpha,
        seeds_needed: None,
        verdict: Verdict::Inconclusive,
    };
    // (mean difference, SD of a per-seed difference, seeds, degrees of freedom)
    let stats = match crate::rank::paired(&a, &b) {
        Some((m, sd, n)) => {
            gap.paired = true;
            gap.seeds = n;
            gap.mean = m;
            Some((m, sd, n, (n - 1) as f64))
        }
        None if pick.len() >= 2 && baseline.len() >= 2 => {
            let var = |v: &[(u64, f64)]| {
                let m = mean(v);
                v.iter().map(|x| (x.1 - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
            };
            let (na, nb) = (pick.len() as f64, baseline.len() as f64);
            let (sa, sb) = (var(pick) / na, var(baseline) / nb);
            let df = match sa + sb {
                0.0 => na + nb - 2.0,
                t => t * t / (sa * sa / (na - 1.0) + sb * sb / (nb - 1.0)),
            };
            // As a per-pair SD over the smaller count, so that the sample-size estimate reads
            // the same way as the paired one.
            let n = pick.len().min(baseline.len());
            Some((gap.mean, (sa + sb).sqrt() * (n as f64).sqrt(), n, df))
        }
        None => None,
    };
    let Some((m, sd, n, df)) = stats else {
        return gap;
    };
    let se = sd / (n as f64).sqrt();
    let t2 = crate::rank::t_quantile(1.0 - alpha / 2.0, df);
    let t1 = crate::rank::t_quantile(1.0 - alpha, df);
    gap.low = Some(m - t2 * se);
    gap.high = Some(m + t2 * se);
    gap.tost_low = Some(m - t1 * se);
    gap.tost_high = Some(m + t1 * se);
    gap.verdict = if m + t2 * se < 0.0 {
        Verdict::Better
    } else if m - t2 * se > 0.0 {
        Verdict::Worse
    } else if m - t1 * se > -margin && m + t1 * se < margin {
        Verdict::Equivalent
    } else {
        Verdict::Inconclusive
    };
    if gap.verdict == Verdict::Inconclusive && sd > 0.0 {
        gap.seeds_needed = (n + 1..=1000).find(|&k| {
            let se = sd / (k as f64).sqrt();
            let d = (k - 1) as f64;
            let differs = crate::rank::t_quantile(1.0 - alpha / 2.0, d) * se < m.abs();
            let within =
                m.abs() < margin && crate::rank::t_quantile(1.0 - alpha, d) * se < margin - m.abs();
            differs || within
        });
    }
    gap
}

/// A model's re-measured latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recheck {
    pub median_s: Option<f64>,
    pub min_s: Option<f64>,
    pub max_s: Option<f64>,
    pub rounds: usize,
    pub source: String,
}

/// One validated model and its figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    pub key: String,
    /// `pick` or `baseline`.
    pub role: String,
    /// `search` for a pick, else the family.
    pub family: String,
    /// The campaign record of a pick.
    pub id: Option<usize>,
    pub layers: String,
    pub width: usize,
    pub depth: usize,
    pub params: usize,
    /// The latency it was picked or priced at (the campaign's source).
    pub latency_s: f64,
    pub recheck: Recheck,
    pub proxy_loss: Option<f64>,
    /// Long-run validation loss per seed (successful runs), and those seeds.
    pub long_losses: Vec<f64>,
    #[serde(default)]
    pub long_seeds: Vec<u64>,
    pub long_mean: Option<f64>,
    /// Half-width of the 95 % t-interval of the mean over seeds.
    pub long_ci95: Option<f64>,
    /// Long runs that failed, with the reason.
    pub failures: Vec<String>,
    /// The long runs' training loss: (step, mean, min, max) over the seeds that logged it.
    #[serde(default)]
    pub curve: Vec<(usize, f64, f64, f64)>,
    /// The recall probe's accuracy per successful seed, when the campaign ranks or
    /// constrains recall (the probe as configured, run beside each long run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recall: Vec<f64>,
}

impl ModelResult {
    /// Mean recall accuracy over the seeds, when measured.
    pub fn recall_mean(&self) -> Option<f64> {
        (!self.recall.is_empty()).then(|| crate::racing::mean(&self.recall))
    }
}

/// One budget: its pick, each family's baseline, and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetResult {
    pub label: String,
    pub budget_s: f64,
    /// Model keys: the pick first, then the baselines (family, key or none within the budget).
    pub pick: String,
    pub baselines: Vec<(String, Option<String>)>,
    /// The baseline with the lowest long-run mean.
    pub best_baseline: Option<String>,
    pub gap: Option<Gap>,
    /// Models of this budget whose re-measured median is over it.
    pub over_budget_on_recheck: Vec<String>,
    /// When the best baseline's shape is a campaign candidate that the campaign measured over
    /// this budget (so it could not be the pick here) while the re-check holds it within: that
    /// candidate's id and its campaign latency. The verdict then turns on a latency measured
    /// at the budget's edge, and the report says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<(usize, f64)>,
}

/// What the validation cost, beside what the campaign spent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub campaign_trained: usize,
    pub campaign_eval_s: f64,
    pub baseline_shapes_priced: usize,
    pub baseline_shapes_trained: usize,
    pub baseline_eval_s: f64,
    pub long_runs: usize,
    pub long_eval_s: f64,
    /// Models timed again in the one re-check run.
    #[serde(default)]
    pub rechecked: usize,
}

/// `validate/validate.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    pub campaign: String,
    pub factor: f64,
    pub seeds: Vec<u64>,
    pub proxy_steps: usize,
    pub long_steps: usize,
    pub targets: Vec<TargetResult>,
    pub models: Vec<ModelResult>,
    /// Spearman of proxy loss vs long-run mean over the models with both (and how many).
    pub spearman: Option<f64>,
    pub spearman_n: usize,
    pub cost: Cost,
    /// The equivalence margin (nats), the error rate of each look and how many looks.
    #[serde(default)]
    pub margin: f64,
    #[serde(default)]
    pub alpha: f64,
    #[serde(default)]
    pub looks: usize,
}

impl ValidationReport {
    pub fn model(&self, key: &str) -> &ModelResult {
        self.models
            .iter()
            .find(|m| m.key == key)
            .expect("a model of the report")
    }
}

pub(super) fn analyze(
    v: &Validation,
    priced: &[PriceRow],
    trained: &[ProxyRow],
    candidates: &[Model],
    rechecks: &[RecheckRow],
    models: &[Model],
    long: &[LongRow],
) -> ValidationReport {
    let settings = &v.plan.settings;
    let results: Vec<ModelResult> = models
        .iter()
        .map(|m| {
            let rc = rechecks.iter().find(|r| r.model == m.key);
            let samples: &[f64] = rc.map_or(&[], |r| r.samples.as_slice());
            let mut runs: Vec<&LongRow> = long.iter().filter(|r| r.model == m.key).collect();
            runs.sort_by_key(|r| v.seed_index(r.seed).unwrap_or(usize::MAX));
            let ok: Vec<(u64, f64)> = runs
                .iter()
                .filter_map(|r| r.loss().map(|l| (r.seed, l)))
                .collect();
            let losses: Vec<f64> = ok.iter().map(|x| x.1).collect();
            let (mean, ci) = match losses.is_empty() {
                true => (None, None),
                false => {
                    let (mean, h) = mean_ci95(&losses);
                    (Some(mean), Some(h))
                }
            };
            let (role, family, id) = match &m.role {
                Role::Pick { id } => ("pick", "search".to_string(), Some(*id)),
                Role::Baseline { family, .. } => ("baseline", family.clone(), None),
            };
            ModelResult {
                key: m.key.clone(),
                role: role.into(),
                family,
                id,
                layers: m.layers.clone(),
                width: m.width,
                depth: m.depth,
                params: m.params,
                latency_s: m.latency_s,
                recheck: Recheck {
                    median_s: median(samples),
                    min_s: samples.iter().copied().reduce(f64::min),
                    max_s: samples.iter().copied().reduce(f64::max),
                    rounds: samples.len(),
                    source: rc.map(|r| r.source.clone()).unwrap_or_default(),
                },
                proxy_loss: m.proxy_loss,
                long_losses: losses,
                long_seeds: ok.iter().map(|x| x.0).collect(),
                long_mean: mean,
                long_ci95: ci,
                failures: runs
                    .iter()
                    .filter(|r| r.loss().is_none())
                    .map(|r| format!("seed {}: {}", r.seed, r.proxy.status.describe()))
                    .collect(),
                curve: seed_band(
                    runs.iter()
                        .filter(|r| r.loss().is_some())
                        .map(|r| &r.proxy.loss_curve),
                ),
                recall: runs
                    .iter()
                    .filter(|r| r.loss().is_some())
                    .filter_map(|r| r.proxy.recall_accuracy)
                    .collect(),
            }
        })
        .collect();
    let result = |k: &str| results.iter().find(|r| r.key == k).expect("model");
    let latency = super::eligibility(candidates, rechecks);
    let of_row = |r: &ProxyRow| {
        latency
            .get(&super::model_key(&r.layers, r.width))
            .copied()
            .unwrap_or(r.latency_s)
    };
    let (margin, alpha) = (settings.margin, settings.alpha());
    let mut targets: Vec<TargetResult> = Vec::new();
    for t in &v.plan.targets {
        let r = &v.records[t.pick];
        let pick = super::model_key(&r.layers, r.width);
        let baselines: Vec<(String, Option<String>)> = settings
            .families
            .iter()
            .map(|f| {
                let key = super::baseline_within(trained, &f.name, t.budget_s, &of_row)
                    .map(|i| super::model_key(&trained[i].layers, trained[i].width));
                (f.name.clone(), key)
            })
            .collect();
        let best_baseline = baselines
            .iter()
            .filter_map(|(_, k)| k.as_ref())
            .filter_map(|k| result(k).long_mean.map(|m| (m, k.clone())))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| k);
        let runs = |k: &str| {
            let m = result(k);
            m.long_seeds
                .iter()
                .copied()
                .zip(m.long_losses.iter().copied())
                .collect::<Vec<(u64, f64)>>()
        };
        let gap = best_baseline.as_ref().and_then(|b| {
            let (p, q) = (runs(&pick), runs(b));
            (!p.is_empty() && !q.is_empty()).then(|| verdict(&p, &q, margin, alpha))
        });
        let over_budget_on_recheck = std::iter::once(&pick)
            .chain(baselines.iter().filter_map(|(_, k)| k.as_ref()))
            .filter(|k| {
                result(k)
                    .recheck
                    .median_s
                    .is_some_and(|s| s > t.budget_s * (1.0 + 1e-9))
            })
            .cloned()
            .collect();
        let edge = best_baseline
            .as_ref()
            .and_then(|b| timed_over(&v.records, b, t.budget_s));
        let target = TargetResult {
            label: t.label.clone(),
            budget_s: t.budget_s,
            pick,
            baselines,
            best_baseline,
            gap,
            over_budget_on_recheck,
            edge,
        };
        // Budgets that select the same models with the same flags are one comparison.
        match targets.iter_mut().find(|u| {
            (&u.pick, &u.baselines, &u.over_budget_on_recheck)
                == (
                    &target.pick,
                    &target.baselines,
                    &target.over_budget_on_recheck,
                )
        }) {
            Some(u) => u.label = format!("{}, {}", u.label, target.label),
            None => targets.push(target),
        }
    }
    let pairs: Vec<(f64, f64)> = results
        .iter()
        .filter_map(|m| Some((m.proxy_loss?, m.long_mean?)))
        .collect();
    let spearman_value = (pairs.len() >= 3).then(|| {
        let (x, y): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
        spearman(&x, &y)
    });
    let trained_records: Vec<&crate::Record> = v
        .records
        .iter()
        .filter(|r| r.status != RecordStatus::OverBudget)
        .collect();
    let mut seeds: Vec<u64> = long.iter().map(|r| r.seed).collect();
    seeds.sort_by_key(|&s| v.seed_index(s).unwrap_or(usize::MAX));
    seeds.dedup();
    ValidationReport {
        campaign: v.cfg.name.clone(),
        factor: settings.factor,
        seeds,
        proxy_steps: v.proxy_train().total_steps(),
        long_steps: v.long_train(v.long_seed(0)).total_steps(),
        targets,
        models: results,
        spearman: spearman_value,
        spearman_n: pairs.len(),
        cost: Cost {
            campaign_trained: trained_records.len(),
            campaign_eval_s: trained_records.iter().map(|r| r.eval_seconds).sum(),
            baseline_shapes_priced: priced.len(),
            baseline_shapes_trained: trained.len(),
            baseline_eval_s: trained.iter().map(|r| r.eval_seconds).sum(),
            long_runs: long.len(),
            long_eval_s: long.iter().map(|r| r.eval_seconds).sum(),
            rechecked: rechecks.len(),
        },
        margin,
        alpha,
        looks: settings.looks(),
    }
}

/// The campaign's trained candidate of shape `key` (`layers | width` as `model_key` spells
/// it) that the campaign timed over `budget_s`, and its latency: a baseline of that shape that
/// is eligible on re-check won on a measurement at the budget's edge.
fn timed_over(records: &[crate::Record], key: &str, budget_s: f64) -> Option<(usize, f64)> {
    records
        .iter()
        .filter(|c| {
            c.status == RecordStatus::Ok
                && c.is_candidate()
                && super::model_key(&c.layers, c.width) == key
                && c.latency() > budget_s * (1.0 + 1e-9)
        })
        .map(|c| (c.id, c.latency()))
        .next()
}

/// A learning curve's point over seeds: (step, mean, lowest, highest).
type BandPoint = (usize, f64, f64, f64);

/// (step, mean, min, max) of several runs' curves at the steps all of them logged.
fn seed_band<'a>(
    curves: impl Iterator<Item = &'a Vec<(usize, f64)>>,
) -> Vec<(usize, f64, f64, f64)> {
    let curves: Vec<&Vec<(usize, f64)>> = curves.collect();
    let Some(first) = curves.first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter_map(|&(step, _)| {
            let at: Vec<f64> = curves
                .iter()
                .filter_map(|c| c.iter().find(|p| p.0 == step).map(|p| p.1))
                .collect();
            (at.len() == curves.len()).then(|| {
                let mean = at.iter().sum::<f64>() / at.len() as f64;
                let lo = at.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = at.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                (step, mean, lo, hi)
            })
        })
        .collect()
}

/// The long runs' learning curves: each model's training loss, the mean over its seeds (solid)
/// and the band of its seeds (dashed: lowest and highest), picks and baselines alike.
pub fn with_curves<R>(report: &ValidationReport, draw: impl FnOnce(&Chart) -> R) -> R {
    let mut series = Vec::new();
    for (g, m) in report
        .models
        .iter()
        .filter(|m| !m.curve.is_empty())
        .enumerate()
    {
        let name = match m.id {
            Some(id) => format!("pick #{id} {} w{}", m.layers, m.width),
            None => format!("{} {} w{}", m.family, m.layers, m.width),
        };
        // From the second logged step: the first (the untrained model's loss) would set the
        // scale and flatten the part where the models differ.
        let shown = &m.curve[1.min(m.curve.len())..];
        let line = |name: String, f: &dyn Fn(&BandPoint) -> f64, dashed: bool| Series {
            name,
            points: shown.iter().map(|c| (c.0 as f64, f(c))).collect(),
            labels: Vec::new(),
            line: true,
            dots: false,
            dashed,
            group: g,
        };
        series.push(line(name, &|c| c.1, false));
        series.push(line(String::new(), &|c| c.2, true));
        series.push(line(String::new(), &|c| c.3, true));
    }
    let title = format!(
        "{}: training loss of the long runs ({} seeds; solid mean, dashed lowest and highest seed)",
        report.campaign,
        report.seeds.len()
    );
    draw(&Chart {
        title: &title,
        xlabel: "training step",
        ylabel: "training loss (nats/token)",
        series: &series,
        vlines: &[],
        diagonal: false,
        integer_x: true,
        error_bars: &[],
    })
}

/// `validate.json`, `validate.csv` and `validate.{svg,png}` in the validation's folder.
pub(super) fn write_outputs(dir: &Path, report: &ValidationReport) -> Result<()> {
    let json = dir.join("validate.json");
    flashnas_model::fsio::write_atomic(
        &json,
        serde_json::to_string_pretty(report)
            .expect("json")
            .as_bytes(),
    )
    .map_err(|e| Error::file(&json, flashnas_model::fsio::reason(&e)))?;
    let mut df = table(report)?;
    crate::export::write_frame(&dir.join("validate.csv"), &mut df, false)?;
    let txt = dir.join("validate.txt");
    flashnas_model::fsio::write_atomic(&txt, text(report).as_bytes())
        .map_err(|e| Error::file(&txt, flashnas_model::fsio::reason(&e)))?;
    with_chart(report, |c| c.write(dir, "validate"))?;
    if report.models.iter().any(|m| !m.curve.is_empty()) {
        with_curves(report, |c| c.write(dir, "validate-curves"))?;
    }
    Ok(())
}

/// One row per (budget, model of that budget): what `validate.csv` holds.
pub fn table(report: &ValidationReport) -> Result<DataFrame> {
    struct Row<'a> {
        t: &'a TargetResult,
        m: &'a ModelResult,
        role: String,
    }
    let mut rows = Vec::new();
    for t in &report.targets {
        rows.push(Row {
            t,
            m: report.model(&t.pick),
            role: "pick".into(),
        });
        for (family, key) in &t.baselines {
            if let Some(k) = key {
                rows.push(Row {
                    t,
                    m: report.model(k),
                    role: format!("baseline {family}"),
                });
            }
        }
    }
    let s = |f: &dyn Fn(&Row) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let u = |f: &dyn Fn(&Row) -> u64| rows.iter().map(f).collect::<Vec<u64>>();
    let x = |f: &dyn Fn(&Row) -> Option<f64>| rows.iter().map(f).collect::<Vec<Option<f64>>>();
    fn gap<'a>(r: &Row<'a>) -> Option<&'a Gap> {
        r.t.gap.as_ref().filter(|_| r.role == "pick")
    }
    let columns = vec![
        Column::new("budget".into(), s(&|r| r.t.label.clone())),
        Column::new("budget_s".into(), x(&|r| Some(r.t.budget_s))),
        Column::new("role".into(), s(&|r| r.role.clone())),
        Column::new(
            "id".into(),
            rows.iter()
                .map(|r| r.m.id.map(|i| i as u64))
                .collect::<Vec<Option<u64>>>(),
        ),
        Column::new("layers".into(), s(&|r| r.m.layers.clone())),
        Column::new("width".into(), u(&|r| r.m.width as u64)),
        Column::new("depth".into(), u(&|r| r.m.depth as u64)),
        Column::new("params".into(), u(&|r| r.m.params as u64)),
        Column::new("latency_s".into(), x(&|r| Some(r.m.latency_s))),
        Column::new("recheck_median_s".into(), x(&|r| r.m.recheck.median_s)),
        Column::new("recheck_min_s".into(), x(&|r| r.m.recheck.min_s)),
        Column::new("recheck_max_s".into(), x(&|r| r.m.recheck.max_s)),
        Column::new(
            "over_budget_on_recheck".into(),
            rows.iter()
                .map(|r| r.t.over_budget_on_recheck.contains(&r.m.key))
                .collect::<Vec<bool>>(),
        ),
        Column::new("proxy_loss".into(), x(&|r| r.m.proxy_loss)),
        Column::new("long_loss_mean".into(), x(&|r| r.m.long_mean)),
        Column::new("long_loss_ci95".into(), x(&|r| r.m.long_ci95)),
        Column::new("seeds_ok".into(), u(&|r| r.m.long_losses.len() as u64)),
        Column::new("recall_mean".into(), x(&|r| r.m.recall_mean())),
        Column::new(
            "best_baseline".into(),
            rows.iter()
                .map(|r| r.t.best_baseline.as_ref() == Some(&r.m.key))
                .collect::<Vec<bool>>(),
        ),
        Column::new(
            "gap_to_best_baseline".into(),
            x(&|r| gap(r).map(|g| g.mean)),
        ),
        Column::new("gap_low".into(), x(&|r| gap(r).and_then(|g| g.low))),
        Column::new("gap_high".into(), x(&|r| gap(r).and_then(|g| g.high))),
        Column::new(
            "gap_paired".into(),
            rows.iter()
                .map(|r| gap(r).map(|g| g.paired))
                .collect::<Vec<Option<bool>>>(),
        ),
        Column::new(
            "gap_seeds".into(),
            rows.iter()
                .map(|r| gap(r).map(|g| g.seeds as u64))
                .collect::<Vec<Option<u64>>>(),
        ),
        Column::new("gap_alpha".into(), x(&|r| gap(r).map(|g| g.alpha))),
        Column::new("tost_low".into(), x(&|r| gap(r).and_then(|g| g.tost_low))),
        Column::new("tost_high".into(), x(&|r| gap(r).and_then(|g| g.tost_high))),
        Column::new("margin".into(), x(&|r| gap(r).map(|g| g.margin))),
        Column::new(
            "seeds_needed".into(),
            rows.iter()
                .map(|r| gap(r).and_then(|g| g.seeds_needed).map(|n| n as u64))
                .collect::<Vec<Option<u64>>>(),
        ),
        Column::new(
            "verdict".into(),
            s(&|r| gap(r).map(|g| g.verdict.to_string()).unwrap_or_default()),
        ),
    ];
    DataFrame::new(rows.len(), columns)
        .map_err(|e| Error::Analysis(format!("building validate.csv: {e}")))
}

/// Long-run loss against latency (ms), with the 95 % intervals over seeds: the picks and
/// each family's baselines, the budgets dashed. `draw` gets the chart.
pub fn with_chart<R>(report: &ValidationReport, draw: impl FnOnce(&Chart) -> R) -> R {
    let mut families: Vec<String> = vec!["search".into()];
    for m in &report.models {
        if !families.contains(&m.family) {
            families.push(m.family.clone());
        }
    }
    let mut series = Vec::new();
    let mut bars = Vec::new();
    for (g, f) in families.iter().enumerate() {
        let ms: Vec<&ModelResult> = report
            .models
            .iter()
            .filter(|m| &m.family == f && m.long_mean.is_some())
            .collect();
        series.push(Series {
            name: if f == "search" {
                "search picks".into()
            } else {
                f.clone()
            },
            points: ms
                .iter()
                .map(|m| (m.latency_s * 1e3, m.long_mean.expect("filtered")))
                .collect(),
            labels: ms
                .iter()
                .map(|m| m.id.map(|i| format!("#{i}")).unwrap_or_default())
                .collect(),
            line: false,
            dots: true,
            dashed: false,
            group: g,
        });
        for m in ms {
            let y = m.long_mean.expect("filtered");
            let h = m.long_ci95.unwrap_or(0.0);
            bars.push(ErrorBar {
                x: m.latency_s * 1e3,
                low: y - h,
                high: y + h,
                group: g,
            });
        }
    }
    let vlines: Vec<(f64, String)> = report
        .targets
        .iter()
        .map(|t| (t.budget_s * 1e3, t.label.clone()))
        .collect();
    let title = format!(
        "{}: {}× longer training, {} seeds (95 % intervals)",
        report.campaign,
        report.factor,
        report.seeds.len()
    );
    draw(&Chart {
        title: &title,
        xlabel: "decode latency (ms, the campaign's source)",
        ylabel: "long-run validation loss (nats/token)",
        series: &series,
        vlines: &vlines,
        diagonal: false,
        integer_x: false,
        error_bars: &bars,
    })
}

/// How a gap reads: the verdict, the gap and its interval with what it is, and for an
/// inconclusive one the seeds a decision would need.
pub fn gap_text(g: &Gap) -> String {
    // 95, or 98.33 after a correction for repeated looks.
    let level = (10_000.0 * (1.0 - g.alpha)).round() / 100.0;
    let mut t = format!(
        "{} — pick − best baseline = {:+.4}",
        g.verdict.to_string().to_uppercase(),
        g.mean
    );
    match (g.low, g.high) {
        (Some(l), Some(h)) => {
            t += &format!(
                " [{l:+.4}, {h:+.4}] ({level} % CI, {} over {} seeds; equivalence margin ±{})",
                if g.paired {
                    "paired"
                } else {
                    "Welch, unpaired"
                },
                g.seeds,
                g.margin
            );
        }
        _ => t += &format!(" (one seed: no interval; equivalence margin ±{})", g.margin),
    }
    if g.verdict == Verdict::Inconclusive {
        t += &match g.seeds_needed {
            Some(n) => format!("; ~{n} seeds per model would decide at the spread seen"),
            None => "; at least 2 seeds are needed for an interval".into(),
        };
    }
    t
}

/// The answer as text: a table per budget (re-check latency as median and min–max of its
/// rounds, long-run loss as mean ± 95 % CI half-width over seeds), the verdict, the rank
/// agreement and the costs. The CLI prints it and `validate.txt` holds it.
pub fn text(r: &ValidationReport) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "validation   {}: picks vs baselines after {}× the proxy ({} → {} steps), {} seeds{}",
        r.campaign,
        r.factor,
        r.proxy_steps,
        r.long_steps,
        r.seeds.len(),
        if r.looks > 1 {
            format!(
                " (added until decided: {} looks, α = {:.4} each, Bonferroni)",
                r.looks, r.alpha
            )
        } else {
            String::new()
        }
    );
    for t in &r.targets {
        let _ = writeln!(o);
        let _ = writeln!(o, "budget {} = {:.4} ms", t.label, t.budget_s * 1e3);
        let _ = writeln!(
            o,
            "  {:<24} {:<34} {:>5} {:>5} {:>9} {:>9} {:>24} {:>8} {:>6} {:>17}",
            "model",
            "layers",
            "width",
            "depth",
            "params",
            "campaign",
            "re-check median (min–max)",
            "proxy",
            "seeds",
            "long (mean ± CI95)"
        );
        let mut rows = vec![("pick".to_string(), Some(&t.pick))];
        rows.extend(t.baselines.iter().map(|(f, k)| (f.clone(), k.as_ref())));
        for (label, key) in rows {
            let Some(key) = key else {
                let _ = writeln!(o, "  {label:<24} none of its shapes fits this budget");
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
                    format!("{:.4} ({:.4}–{:.4}) ms", x * 1e3, lo * 1e3, hi * 1e3)
                }
                (Some(x), _, _) => format!("{:.4} ms", x * 1e3),
                _ => "–".into(),
            };
            let flag = if t.over_budget_on_recheck.contains(key) {
                " OVER on re-check"
            } else {
                ""
            };
            let long = match (m.long_mean, m.long_ci95) {
                (Some(x), Some(h)) => format!("{x:.4} ± {h:.4}"),
                _ => "failed".into(),
            };
            let flag = match m.recall_mean() {
                Some(a) => format!("   recall {:.1} %{flag}", a * 100.0),
                None => flag.to_string(),
            };
            let _ = writeln!(
                o,
                "  {:<24} {:<34} {:>5} {:>5} {:>9} {:>6.4} ms {:>24} {:>8} {:>6} {:>17}{flag}",
                name,
                m.layers,
                m.width,
                m.depth,
                m.params,
                m.latency_s * 1e3,
                re,
                m.proxy_loss
                    .map(|l| format!("{l:.4}"))
                    .unwrap_or_else(|| "–".into()),
                m.long_losses.len(),
                long
            );
        }
        let recall: Vec<String> = std::iter::once(("pick".to_string(), Some(&t.pick)))
            .chain(t.baselines.iter().map(|(f, k)| (f.clone(), k.as_ref())))
            .filter_map(|(label, key)| {
                let a = r.model(key?).recall_mean()?;
                Some(format!("{label} {:.1} %", a * 100.0))
            })
            .collect();
        if !recall.is_empty() {
            let _ = writeln!(
                o,
                "  recall (probe accuracy, mean over seeds): {}",
                recall.join(", ")
            );
        }
        match &t.gap {
            Some(g) => {
                let _ = writeln!(o, "  verdict: {}", gap_text(g));
                if t.best_baseline.as_ref() == Some(&t.pick) {
                    let _ = writeln!(
                        o,
                        "  (the pick is the best baseline's own shape: within this budget the search found nothing the proxy could tell from it)"
                    );
                }
                if let (Some((id, campaign_s)), Some(b)) = (t.edge, &t.best_baseline) {
                    let re = r.model(b).recheck.median_s.unwrap_or(f64::NAN);
                    let _ = writeln!(
                        o,
                        "  (the best baseline is the campaign's own #{id}, which the campaign timed at {:.4} ms — {:.1} % over this budget — and the re-check at {:.4} ms: the verdict turns on a latency at the budget's edge, not on a design the search missed; more timing rounds (latency.repeats) or a budget with room would decide it)",
                        campaign_s * 1e3,
                        100.0 * (campaign_s / t.budget_s - 1.0),
                        re * 1e3
                    );
                }
            }
            None => {
                let _ = writeln!(
                    o,
                    "  verdict: none (no baseline finished within this budget)"
                );
            }
        }
    }
    let _ = writeln!(o);
    let _ = match r.spearman {
        Some(s) => writeln!(
            o,
            "proxy vs long run: Spearman {s:.3} over {} models (does the proxy rank like the long run?)",
            r.spearman_n
        ),
        None => writeln!(
            o,
            "proxy vs long run: {} models with both losses, too few for a rank correlation",
            r.spearman_n
        ),
    };
    let c = &r.cost;
    let _ = writeln!(
        o,
        "cost: campaign trained {} candidates ({:.0} s); baselines priced {} shapes, trained {} ({:.0} s); {} models re-timed in one run; long runs {} ({:.0} s)",
        c.campaign_trained,
        c.campaign_eval_s,
        c.baseline_shapes_priced,
        c.baseline_shapes_trained,
        c.baseline_eval_s,
        c.rechecked,
        c.long_runs,
        c.long_eval_s
    );
    o
}

/// `validate/validate.json` of the campaign in `dir`, when a validation finished.
pub fn load_report(campaign: &Path) -> Option<ValidationReport> {
    let p = super::validate_dir(campaign).join("validate.json");
    serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
}

/// One line per budget, for `flashnas status` and the CLI.
pub fn summary_lines(r: &ValidationReport) -> Vec<String> {
    let fig = |m: &ModelResult| match (m.long_mean, m.long_ci95) {
        (Some(x), Some(h)) => format!("{x:.4} ± {h:.4} (mean ± CI95)"),
        _ => "–".into(),
    };
    r.targets
        .iter()
        .map(|t| {
            let p = r.model(&t.pick);
            let mut line = format!(
                "{:<6} ({:.3} ms): pick #{} {} w{} long {}",
                t.label,
                t.budget_s * 1e3,
                p.id.unwrap_or_default(),
                p.layers,
                p.width,
                fig(p)
            );
            match (&t.best_baseline, &t.gap) {
                (Some(b), Some(g)) => {
                    let b = r.model(b);
                    line += &format!(
                        " vs {} {} w{} {} → {}",
                        b.family,
                        b.layers,
                        b.width,
                        fig(b),
                        gap_text(g)
                    )
                }
                _ => line += " (no baseline within the budget)",
            }
            if !t.over_budget_on_recheck.is_empty() {
                line += &format!(
                    "; OVER BUDGET on re-measurement: {}",
                    t.over_budget_on_recheck.join(", ")
                );
            }
            line
        })
        .collect()
}

/// The validation section of `report.html`: the per-budget lines, the table and the chart.
pub fn report_data(campaign: &Path) -> Option<serde_json::Value> {
    let r = load_report(campaign)?;
    let rows: Vec<serde_json::Value> = r
        .targets
        .iter()
        .flat_map(|t| {
            let mut v = vec![(t, "pick".to_string(), t.pick.clone())];
            v.extend(
                t.baselines
                    .iter()
                    .filter_map(|(f, k)| k.clone().map(|k| (t, f.clone(), k))),
            );
            v.into_iter().map(|(t, role, k)| {
                let m = r.model(&k);
                let gap = t.gap.as_ref().filter(|_| role == "pick");
                serde_json::json!({
                    "budget": t.label, "budget_ms": t.budget_s * 1e3, "role": role,
                    "id": m.id, "layers": m.layers, "width": m.width, "depth": m.depth,
                    "params": m.params, "latency_ms": m.latency_s * 1e3,
                    "recheck_ms": m.recheck.median_s.map(|s| s * 1e3),
                    "recheck_spread_ms": m.recheck.min_s.zip(m.recheck.max_s).map(|(a, b)| (b - a) * 1e3),
                    "over": t.over_budget_on_recheck.contains(&k),
                    "proxy": m.proxy_loss, "long": m.long_mean, "ci": m.long_ci95,
                    "best": t.best_baseline.as_ref() == Some(&k),
                    "verdict": gap.map(|g| g.verdict.to_string()),
                    "gap": gap.map(|g| g.mean), "gap_low": gap.and_then(|g| g.low),
                    "gap_high": gap.and_then(|g| g.high),
                })
            })
        })
        .collect();
    Some(serde_json::json!({
        "lines": summary_lines(&r),
        "factor": r.factor,
        "seeds": r.seeds.len(),
        "spearman": r.spearman,
        "spearman_n": r.spearman_n,
        "cost": r.cost,
        "rows": rows,
        "svg": with_chart(&r, |c| c.svg()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded(v: &[f64], from: u64) -> Vec<(u64, f64)> {
        v.iter()
            .enumerate()
            .map(|(i, &x)| (from + i as u64, x))
            .collect()
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    /// Reference values from scipy 1.17 (stats.t.ppf on the per-seed differences, written
    /// here): the paired interval, the TOST interval, the verdict, and the seeds a decision
    /// would need.
    #[test]
    fn paired_gaps_and_the_four_verdicts_match_reference_values() {
        // Paired win that Welch would call a tie: the seeds move both models alike.
        let base = [3.00, 3.05, 2.95];
        let pick = [2.969, 3.021, 2.920];
        let g = verdict(&seeded(&pick, 1), &seeded(&base, 1), 0.02, 0.05);
        assert!(g.paired && g.seeds == 3);
        assert_eq!(g.verdict, Verdict::Better);
        assert!((g.mean + 0.03).abs() < 1e-12);
        assert!(
            close(g.low, -0.032_484_137_711_750_71) && close(g.high, -0.027_515_862_288_249_49)
        );
        assert!(close(g.tost_low, -0.031_685_854_460_847_34));
        // Unpaired, the same numbers span zero (scipy Welch: [−0.1439, +0.0839]).
        let welch = crate::rank::welch_diff_ci95(&pick, &base).unwrap();
        assert!((welch.1 + 0.143_929_085_128_396).abs() < 1e-9 && welch.2 > 0.0);

        // Equivalent: the 90 % interval inside ±0.02.
        let d = [0.002, -0.003, 0.001, 0.0, -0.001];
        let b5 = [2.0; 5];
        let p5: Vec<f64> = d.iter().map(|x| 2.0 + x).collect();
        let g = verdict(&seeded(&p5, 0), &seeded(&b5, 0), 0.02, 0.05);
        assert_eq!(g.verdict, Verdict::Equivalent);
        assert!(close(g.low, -0.002_588_388_388_099_98) && close(g.high, 0.002_188_388_388_099_98));
        assert!(
            close(g.tost_low, -0.002_033_883_947_548_136)
                && close(g.tost_high, 0.001_633_883_947_548_136)
        );
        assert_eq!(g.seeds_needed, None, "decided");

        // Inconclusive: holds zero and reaches past the margin; 16 seeds would decide.
        let p3 = [2.03, 1.96, 2.02];
        let g = verdict(&seeded(&p3, 0), &seeded(&[2.0; 3], 0), 0.02, 0.05);
        assert_eq!(g.verdict, Verdict::Inconclusive);
        assert!(close(g.low, -0.090_714_602_555_840_98) && close(g.high, 0.097_381_269_222_507_63));
        assert_eq!(g.seeds_needed, Some(16));

        // A clear loss.
        let g = verdict(
            &seeded(&[3.2, 3.21, 3.19], 0),
            &seeded(&base, 0),
            0.02,
            0.05,
        );
        assert_eq!(g.verdict, Verdict::Worse);

        // One seed: inconclusive, no interval, no estimate.
        let g = verdict(&seeded(&[2.0], 0), &seeded(&base, 0), 0.02, 0.05);
        assert_eq!(
            (g.verdict, g.low, g.seeds_needed),
            (Verdict::Inconclusive, None, None)
        );

        // No shared seeds: Welch's interval (scipy: [−0.28659, −0.06341]).
        let g = verdict(
            &seeded(&[2.0, 2.1, 2.05], 0),
            &seeded(&[2.2, 2.3, 2.25, 2.15], 10),
            0.02,
            0.05,
        );
        assert!(!g.paired);
        assert!(
            close(g.low, -0.286_585_574_066_939_63) && close(g.high, -0.063_414_425_933_060_88)
        );
        assert_eq!(g.verdict, Verdict::Better);

        // A stricter α (Bonferroni over looks) widens the interval.
        let strict = verdict(&seeded(&p3, 0), &seeded(&[2.0; 3], 0), 0.02, 0.01);
        assert!(strict.high.unwrap() > 0.0973);
    }

    /// A baseline's shape that the campaign trained but timed over the budget is found (the
    /// verdict then turns on an edge measurement); one the campaign timed within it, or never
    /// trained, is not.
    #[test]
    fn a_baseline_the_campaign_timed_over_the_budget_is_an_edge() {
        let line = include_str!("../../../tests/fixtures/aging-seed3.jsonl")
            .lines()
            .next()
            .unwrap();
        let mut r: crate::Record = serde_json::from_str(line).unwrap();
        r.status = RecordStatus::Ok;
        r.rung = None;
        r.replicate = None;
        r.latency.seconds = Some(0.0026);
        let key = super::super::model_key(&r.layers, r.width);
        assert_eq!(
            timed_over(&[r.clone()], &key, 0.00256),
            Some((r.id, 0.0026))
        );
        assert_eq!(timed_over(&[r.clone()], &key, 0.0027), None, "timed within");
        assert_eq!(
            timed_over(&[r.clone()], "x | w1", 0.00256),
            None,
            "another shape"
        );
        r.status = RecordStatus::OverBudget;
        assert_eq!(timed_over(&[r], &key, 0.00256), None, "never trained");
    }
}
