//! What a depth–width study writes: its table, charts and report page data.

use super::*;

pub(super) fn table_for_choice(
    rows: &[ShapeRow],
    law: &ScalingLaw,
) -> Vec<(Option<f64>, Option<f64>, Option<f64>)> {
    rows.iter()
        .map(|r| {
            (
                r.latency.seconds,
                r.loss(),
                // Predicted for every shape that ran (a failed run still has a latency
                // only if it trained, so failures drop out of both choices).
                r.loss()
                    .map(|_| law.predict(r.depth as f64, r.width as f64)),
            )
        })
        .collect()
}

fn shape_name(r: &ShapeRow) -> String {
    format!("D{} W{}", r.depth, r.width)
}

/// `shapes.csv`, `fit.json`, `budgets.csv`, `loss_vs_depth.svg`, `frontier.svg`.
pub fn write_outputs(
    dir: &Path,
    cfg: &DepthWidthConfig,
    rows: &[ShapeRow],
    report: &StudyReport,
) -> Result<Vec<PathBuf>> {
    let law = report.fit.law;
    let held: Vec<usize> = report
        .holdout
        .as_ref()
        .map(|h| h.predictions.iter().map(|p| p.0).collect())
        .unwrap_or_default();
    let c = crate::export::Cols(rows);
    let shapes = vec![
        c.u("id", &|r| r.id as u64),
        c.u("depth", &|r| r.depth as u64),
        c.u("width", &|r| r.width as u64),
        c.s("layers", &|r| r.layers.clone()),
        c.u("params", &|r| r.params as u64),
        c.s("status", &|r| match r.loss() {
            Some(_) => "ok".into(),
            None => r.proxy.status.describe(),
        }),
        c.f("proxy_loss", &|r| r.loss()),
        c.f("perplexity", &|r| r.proxy.perplexity),
        c.f("accuracy", &|r| r.proxy.accuracy),
        c.f("latency_s", &|r| r.latency.seconds),
        c.s("latency_source", &|r| r.latency.source.to_string()),
        c.f("predicted_loss", &|r| {
            Some(law.predict(r.depth as f64, r.width as f64))
        }),
        c.b("held_out", &|r| held.contains(&r.id)),
    ];
    let measured = |b: &BudgetChoice| b.best_measured.map(|i| &rows[i]);
    let predicted = |b: &BudgetChoice| b.best_predicted.map(|i| &rows[i]);
    let name = |r: Option<&ShapeRow>| r.map(shape_name).unwrap_or_else(|| "none".into());
    let c = crate::export::Cols(&report.budgets);
    let budgets = vec![
        c.f("budget_s", &|b| Some(b.budget_s)),
        c.s("best_measured", &|b| name(measured(b))),
        c.f("measured_loss", &|b| measured(b).and_then(|r| r.loss())),
        c.f("measured_latency_s", &|b| {
            measured(b).and_then(|r| r.latency.seconds)
        }),
        c.s("best_predicted", &|b| name(predicted(b))),
        c.f("predicted_loss", &|b| {
            predicted(b).map(|r| law.predict(r.depth as f64, r.width as f64))
        }),
        c.f("predicted_shape_measured_loss", &|b| {
            predicted(b).and_then(|r| r.loss())
        }),
    ];
    let mut written = Vec::new();
    for (name, columns, n) in [
        ("shapes.csv", shapes, rows.len()),
        ("budgets.csv", budgets, report.budgets.len()),
    ] {
        let p = dir.join(name);
        crate::export::write_csv(&p, n, columns)?;
        written.push(p);
    }
    let mut put = |name: &str, text: &str| -> Result<()> {
        let p = dir.join(name);
        flashnas_model::fsio::write_atomic(&p, text.as_bytes())
            .map_err(|e| Error::file(&p, flashnas_model::fsio::reason(&e)))?;
        written.push(p);
        Ok(())
    };
    put(
        "fit.json",
        &serde_json::to_string_pretty(report).expect("json"),
    )?;
    // Loss vs depth, one measured series and one fitted curve per width.
    let mut series = Vec::new();
    for (g, &w) in cfg.widths.iter().enumerate() {
        let pts: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.width == w)
            .filter_map(|r| r.loss().map(|l| (r.depth as f64, l)))
            .collect();
        series.push(Series {
            name: format!("W{w} measured"),
            points: pts,
            labels: Vec::new(),
            line: false,
            dots: true,
            dashed: false,
            group: g,
        });
        let (d0, d1) = (
            *cfg.depths.iter().min().expect("depths") as f64,
            *cfg.depths.iter().max().expect("depths") as f64,
        );
        series.push(Series {
            name: String::new(),
            points: (0..=40)
                .map(|k| {
                    let d = d0 + (d1 - d0) * k as f64 / 40.0;
                    (d, law.predict(d, w as f64))
                })
                .collect(),
            labels: Vec::new(),
            line: true,
            dots: false,
            dashed: true,
            group: g,
        });
    }
    put(
        "loss_vs_depth.svg",
        &chart(
            &format!(
                "{}: proxy loss vs depth (dashed: L0 + a·D^-α + b·W^-β)",
                cfg.name
            ),
            "depth D (pattern repeats)",
            "validation loss (nats/token)",
            &series,
            &[],
            false,
        ),
    )?;
    let ok: Vec<&ShapeRow> = rows
        .iter()
        .filter(|r| r.loss().is_some() && r.latency.seconds.is_some())
        .collect();
    put(
        "frontier.svg",
        &chart(
            &format!("{}: proxy loss vs decode latency", cfg.name),
            "decode latency (s)",
            "validation loss (nats/token)",
            &[Series {
                name: "shapes".into(),
                points: ok
                    .iter()
                    .map(|r| (r.latency.seconds.expect("ok"), r.loss().expect("ok")))
                    .collect(),
                labels: ok.iter().map(|r| shape_name(r)).collect(),
                line: false,
                dots: true,
                dashed: false,
                group: 0,
            }],
            &cfg.budgets_s
                .iter()
                .map(|b| (*b, format!("{b} s")))
                .collect::<Vec<_>>(),
            false,
        ),
    )?;
    Ok(written)
}

/// The data of a study's `report.html` (the campaign report's page): one row per shape, the
/// frontier over (loss, latency), the largest budget as the budget line.
pub fn report_data(dir: &Path) -> Result<serde_json::Value> {
    let cfg = DepthWidthConfig::from_file(&dir.join("config.toml"))?;
    let rows = Journal::<ShapeRow>::at(dir.join("journal.jsonl"))
        .read()
        .map_err(|e| Error::file(&dir.join("journal.jsonl"), e))?
        .records;
    let budget = cfg.budgets_s.iter().copied().fold(f64::NAN, f64::max);
    let pts: Vec<crate::pareto::Point> = rows
        .iter()
        .map(|r| crate::pareto::Point {
            objectives: vec![
                r.loss().unwrap_or(f64::INFINITY),
                r.latency.seconds.unwrap_or(f64::INFINITY),
            ],
            violation: if r.loss().is_some() && r.latency.seconds.is_some() {
                0.0
            } else {
                f64::INFINITY
            },
        })
        .collect();
    let front = crate::pareto::frontier(&pts);
    let records: Vec<serde_json::Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut row = serde_json::json!({
                "id": r.id,
                "origin": "grid",
                "layers": r.layers,
                "structure": format!("D{} W{}", r.depth, r.width),
                "stages": 1,
                "width": r.width,
                "depth": r.depth,
                "params": r.params,
                "loss": r.loss(),
                "latency_ms": r.latency.seconds.map(|s| s * 1e3),
                "status": if r.loss().is_some() { "ok" } else { "failed" },
                "failure": (!r.proxy.status.is_ok()).then(|| r.proxy.status.describe()),
                "feasible": r.latency.seconds.is_some_and(|s| budget.is_nan() || s <= budget),
                "frontier": front.contains(&i),
                "hypervolume": 0.0,
                "rung": null,
                "eval_s": r.eval_seconds,
            });
            // By kind, parsed from the layer string (the rows use the short spellings).
            let kinds = r.layers.split_whitespace().filter_map(LayerKind::parse);
            crate::report::add_family_counts(&mut row, kinds);
            row
        })
        .collect();
    Ok(serde_json::json!({
        "kind": "study",
        "families": crate::report::families(),
        "name": cfg.name,
        "budget_evaluations": cfg.shapes().len(),
        "budget_ms": budget.is_finite().then_some(budget * 1e3),
        "live": false,
        "audit": null,
        "records": records,
    }))
}
