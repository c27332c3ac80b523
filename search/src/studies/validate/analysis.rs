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

mod render;

pub(super) use render::write_outputs;
pub use render::{
    gap_text, load_report, report_data, summary_lines, table, text, with_chart, with_curves,
};

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
    /// The same when the campaign only priced that shape (its family grid) over this budget
    /// and so never trained it here: the latency it was priced at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priced_over: Option<f64>,
    /// The campaign's pick when the re-check chose another candidate (see
    /// [`super::Target::alternates`]): its id and re-checked seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<(usize, f64)>,
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
    let grid = crate::family::FamilyGrid::load(&v.campaign).ok().flatten();
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
        let priced_over = match (&edge, &best_baseline, &grid) {
            (None, Some(b), Some(g)) => priced_over(g, b, t.budget_s),
            _ => None,
        };
        let replaced = t.replaced.map(|id| {
            let r = &v.records[id];
            let key = super::model_key(&r.layers, r.width);
            (id, latency.get(&key).copied().unwrap_or(r.latency()))
        });
        let target = TargetResult {
            label: t.label.clone(),
            budget_s: t.budget_s,
            pick,
            baselines,
            best_baseline,
            gap,
            over_budget_on_recheck,
            edge,
            priced_over,
            replaced,
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

/// The latency at which the campaign's family grid priced the shape `key` over `budget_s`
/// (the shape then could not be seeded at this budget).
fn priced_over(grid: &crate::family::FamilyGrid, key: &str, budget_s: f64) -> Option<f64> {
    grid.priced
        .iter()
        .filter(|p| super::model_key(&p.layers, p.width) == key)
        .filter_map(|p| p.latency.seconds)
        .find(|&s| s > budget_s * (1.0 + 1e-9))
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

    /// A baseline's shape the family grid priced over the budget is found; one priced within
    /// it, or never priced, is not.
    #[test]
    fn a_baseline_shape_the_family_grid_priced_over_the_budget_is_an_edge() {
        let shape = |width: usize, seconds: f64| crate::family::PricedShape {
            family: "mamba2".into(),
            repeats: 1,
            width,
            layers: "m2 f".into(),
            latency: crate::task::Latency {
                seconds: Some(seconds),
                ..Default::default()
            },
        };
        let grid = crate::family::FamilyGrid {
            priced: vec![shape(32, 0.0026), shape(48, 0.0030)],
            seeds: vec![],
            unspellable: vec![],
        };
        let key = super::super::model_key("m2 f", 32);
        assert_eq!(priced_over(&grid, &key, 0.00256), Some(0.0026));
        assert_eq!(priced_over(&grid, &key, 0.0027), None, "priced within");
        let other = super::super::model_key("m2 f", 64);
        assert_eq!(priced_over(&grid, &other, 0.00256), None, "never priced");
    }
}
