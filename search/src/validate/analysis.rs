//! The answer of a validation: per budget, each model's figures and the pick's gap to the best
//! baseline with a verdict at seed noise; the proxy's rank agreement with the long runs; the
//! cost of the baselines' own search beside the campaign's. Written as `validate.json`,
//! `validate.csv` and `validate.{svg,png}`; read back by `status` and `report.html`.

use super::{LongRow, Model, PriceRow, ProxyRow, RecheckRow, Role, Validation};
use crate::error::{Error, Result};
use crate::journal::RecordStatus;
use crate::plot::{Chart, ErrorBar, Series};
use crate::rank::{mean_ci95, median, spearman, welch_diff_ci95};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The pick against the best baseline at seed noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The pick's long-run loss is lower and the 95 % interval of the gap excludes zero.
    Better,
    /// The interval holds zero (or there are too few seeds to tell).
    Tie,
    /// The pick's loss is higher, the interval excluding zero.
    Worse,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Better => "better",
            Self::Tie => "tie",
            Self::Worse => "worse",
        })
    }
}

/// `pick − best baseline` in long-run loss (negative: the pick is better).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    pub mean: f64,
    /// The 95 % interval (Welch); `None` with fewer than two seeds on a side.
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub verdict: Verdict,
}

/// The verdict on the long-run losses of the pick's seeds against the baseline's.
pub fn verdict(pick: &[f64], baseline: &[f64]) -> Gap {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let d = mean(pick) - mean(baseline);
    match welch_diff_ci95(pick, baseline) {
        Some((_, low, high)) => Gap {
            mean: d,
            low: Some(low),
            high: Some(high),
            verdict: if high < 0.0 {
                Verdict::Better
            } else if low > 0.0 {
                Verdict::Worse
            } else {
                Verdict::Tie
            },
        },
        None => Gap {
            mean: d,
            low: None,
            high: None,
            verdict: Verdict::Tie,
        },
    }
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
    /// Long-run validation loss per seed (successful runs).
    pub long_losses: Vec<f64>,
    pub long_mean: Option<f64>,
    /// Half-width of the 95 % t-interval of the mean over seeds.
    pub long_ci95: Option<f64>,
    /// Long runs that failed, with the reason.
    pub failures: Vec<String>,
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
    models: &[Model],
    rechecks: &[RecheckRow],
    long: &[LongRow],
) -> ValidationReport {
    let results: Vec<ModelResult> = models
        .iter()
        .zip(rechecks)
        .map(|(m, rc)| {
            let runs: Vec<&LongRow> = long.iter().filter(|r| r.model == m.key).collect();
            let losses: Vec<f64> = runs.iter().filter_map(|r| r.loss()).collect();
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
                    median_s: median(&rc.samples),
                    min_s: rc.samples.iter().copied().reduce(f64::min),
                    max_s: rc.samples.iter().copied().reduce(f64::max),
                    rounds: rc.samples.len(),
                    source: rc.source.clone(),
                },
                proxy_loss: m.proxy_loss,
                long_losses: losses,
                long_mean: mean,
                long_ci95: ci,
                failures: runs
                    .iter()
                    .filter(|r| r.loss().is_none())
                    .map(|r| format!("seed {}: {}", r.seed, r.proxy.status.describe()))
                    .collect(),
            }
        })
        .collect();
    let result = |k: &str| results.iter().find(|r| r.key == k).expect("model");
    let targets = v
        .plan
        .targets
        .iter()
        .map(|t| {
            let r = &v.records[t.pick];
            let pick = super::model_key(&r.layers, r.width);
            let baselines: Vec<(String, Option<String>)> = v
                .plan
                .settings
                .families
                .iter()
                .map(|f| {
                    let key = super::baseline_within(trained, &f.name, t.budget_s)
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
            let gap = best_baseline.as_ref().and_then(|b| {
                let (p, q) = (&result(&pick).long_losses, &result(b).long_losses);
                (!p.is_empty() && !q.is_empty()).then(|| verdict(p, q))
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
            TargetResult {
                label: t.label.clone(),
                budget_s: t.budget_s,
                pick,
                baselines,
                best_baseline,
                gap,
                over_budget_on_recheck,
            }
        })
        .collect();
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
    ValidationReport {
        campaign: v.cfg.name.clone(),
        factor: v.plan.settings.factor,
        seeds: (0..v.plan.settings.seeds).map(|s| v.long_seed(s)).collect(),
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
        },
    }
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
    with_chart(report, |c| c.write(dir, "validate"))?;
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

/// `validate/validate.json` of the campaign in `dir`, when a validation finished.
pub fn load_report(campaign: &Path) -> Option<ValidationReport> {
    let p = super::validate_dir(campaign).join("validate.json");
    serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
}

/// One line per budget, for `flashnas status` and the CLI.
pub fn summary_lines(r: &ValidationReport) -> Vec<String> {
    let fig = |m: &ModelResult| match (m.long_mean, m.long_ci95) {
        (Some(x), Some(h)) => format!("{x:.4} ± {h:.4}"),
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
                        " vs {} {} w{} {} → {} (gap {:+.4}{})",
                        b.family,
                        b.layers,
                        b.width,
                        fig(b),
                        g.verdict,
                        g.mean,
                        match (g.low, g.high) {
                            (Some(l), Some(h)) => format!(" [{l:+.4}, {h:+.4}]"),
                            _ => ", too few seeds for an interval".into(),
                        }
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

    /// A clear win, a tie inside the seed noise, a clear loss, and too few seeds.
    #[test]
    fn the_verdict_follows_the_interval_of_the_gap() {
        let base = [3.00, 3.01, 2.99];
        let g = verdict(&[2.80, 2.81, 2.79], &base);
        assert_eq!(g.verdict, Verdict::Better);
        assert!((g.mean + 0.2).abs() < 1e-9 && g.high.unwrap() < 0.0);
        let g = verdict(&[2.99, 3.02, 3.005], &base);
        assert_eq!(g.verdict, Verdict::Tie);
        assert!(g.low.unwrap() < 0.0 && g.high.unwrap() > 0.0);
        assert_eq!(verdict(&[3.2, 3.21, 3.19], &base).verdict, Verdict::Worse);
        // Noisy seeds: a 0.05 lower mean is not a win when the seeds spread by 0.2.
        let g = verdict(&[2.75, 2.95, 3.15], &[2.8, 3.0, 3.2]);
        assert_eq!(g.verdict, Verdict::Tie);
        let g = verdict(&[2.0], &base);
        assert_eq!((g.verdict, g.low), (Verdict::Tie, None));
    }
}
