//! The latency predictor end to end on tiny models: `flashnas latency-model build` and `check`,
//! then a campaign with `source = "predicted"` that measures exactly the candidates the
//! predictor is unsure of and keeps its prediction beside the measurement.

mod common;
use common::{bin, campaign_toml, ok, search};
use flashnas_search::journal::Journal;
use flashnas_search::task::LatencyOrigin;

fn config(extra_latency: &str) -> String {
    campaign_toml("predicted", 3, 8, 2, "").replace(
        "[latency]\nsource = \"analytic\"\nroofline = \"cpu-2core\"\nprompt = 8\ngenerate = 8\nbudget_s = 0.004\n",
        &format!(
            "[latency]\nprompt = 8\ngenerate = 8\nrepeats = 3\nbudget_ref = 1.5\nreference = [\"a\", \"f\"]\n{extra_latency}\n"
        ),
    )
}

#[test]
fn build_check_and_search_with_a_predictor() {
    let tmp = tempfile::tempdir().unwrap();
    let build_cfg = tmp.path().join("build.toml");
    let text = config("source = \"measured\"");
    assert!(
        text.contains("budget_ref = 1.5"),
        "the template changed: {text}"
    );
    std::fs::write(&build_cfg, &text).unwrap();
    let model = tmp.path().join("model.json");
    let out = ok(bin()
        .args(["latency-model", "build", "--config"])
        .arg(&build_cfg)
        .arg("--out")
        .arg(&model)
        .args(["--probes", "4", "--rounds", "2"]));
    assert!(
        out.contains("interactions:") && out.contains("round 2"),
        "{out}"
    );
    let m = flashnas_latency::predictor::LatencyModel::load(&model).unwrap();
    assert_eq!(m.reference, "a f w16");
    assert!(
        m.coef.iter().take(20).all(|c| *c >= 0.0),
        "per-operator costs are non-negative"
    );

    let out = ok(bin()
        .args(["latency-model", "check", "--model"])
        .arg(&model)
        .arg("--config")
        .arg(&build_cfg)
        .args(["--n", "6"]));
    for method in ["predictor", "lut", "roofline"] {
        assert!(out.contains(method), "{out}");
    }

    // A campaign on the predictor: every latency is predicted or, where the predictor was
    // unsure (interval holding the budget, or wider than 3 % here), measured with the
    // prediction kept.
    let search_cfg = tmp.path().join("search.toml");
    std::fs::write(
        &search_cfg,
        // A looser budget than the build's: most random genomes fit, so that the 8 evaluations
        // are not spent mostly on proposals priced over the budget.
        config(&format!(
            "source = \"predicted\"\nmodel_file = \"{}\"\npredict_max_uncertainty_pct = 3.0",
            model.display()
        ))
        .replace("budget_ref = 1.5", "budget_ref = 3.0"),
    )
    .unwrap();
    let dir = tmp.path().join("run");
    ok(&mut search(&search_cfg, &dir));
    let records = Journal::new(&dir).read().unwrap().records;
    assert_eq!(
        records.iter().filter(|r| r.counts_as_evaluation()).count(),
        8
    );
    let budget: f64 = {
        let cfg = flashnas_search::CampaignConfig::from_file(&dir.join("config.toml")).unwrap();
        cfg.latency.budget_seconds().unwrap()
    };
    for r in &records {
        let predicted = r.latency.predicted_s.expect("the prediction is journaled");
        match &r.latency.source {
            LatencyOrigin::Predicted => assert_eq!(r.latency.seconds, Some(predicted)),
            LatencyOrigin::MeasuredPredictionUncertain => {
                assert!(r.latency.seconds.is_some());
            }
            other => panic!("#{}: latency source {other}", r.id),
        }
        assert_eq!(
            r.feasible,
            r.latency.seconds.unwrap() <= budget && r.status == "ok"
        );
    }
    let status = ok(bin().arg("status").arg(&dir));
    assert!(status.contains("predictor"), "{status}");
}
