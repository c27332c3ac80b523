//! A validation's outputs: the text report, the table, the charts, and what `status` and
//! `report.html` read back.

use super::*;

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
pub(crate) fn write_outputs(dir: &Path, report: &ValidationReport) -> Result<()> {
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
        if let Some((id, re)) = t.replaced {
            let _ = writeln!(
                o,
                "  (chosen by the re-check, the rule the baselines are chosen by: the first of the campaign's band, and of the candidates it timed just over this budget, that the re-check holds within it; the campaign's own pick #{id} re-checked at {:.4} ms, {:+.1} % against this budget)",
                re * 1e3,
                100.0 * (re / t.budget_s - 1.0)
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
                if let (Some(campaign_s), Some(b)) = (t.priced_over, &t.best_baseline) {
                    let re = r.model(b).recheck.median_s.unwrap_or(f64::NAN);
                    let _ = writeln!(
                        o,
                        "  (the campaign priced the best baseline's shape at {:.4} ms — {:.1} % over this budget — so it did not seed or train it here; the re-check timed it at {:.4} ms: the verdict turns on a latency at the budget's edge; more timing rounds (latency.repeats) or a budget with room would decide it)",
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
    let p = crate::validate::validate_dir(campaign).join("validate.json");
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
