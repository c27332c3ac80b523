//! The depth–width study end to end on a tiny grid: resume after a cut journal equals the
//! uninterrupted study, outputs agree with the journal, config errors name the key.

use flashnas_search::depth_width::{DepthWidthConfig, ShapeRow, Study};
use flashnas_search::journal::Journal;
use flashnas_search::Event;

fn config() -> String {
    r#"
name = "dw-test"
seed = 2
pattern = ["m2", "f"]
depths = [1, 2, 3]
widths = [16, 32]
budgets_s = [0.001, 0.003, 1.0]
holdout = 1
[model]
head_dim = 8
mamba_d_state = 4
chunk_size = 8
[latency]
source = "analytic"
roofline = "cpu-2core"
prompt = 8
generate = 8
[train]
seq_len = 16
batch_size = 2
steps = 4
[train.data]
val_windows = 2
"#
    .into()
}

fn comparable(rows: &[ShapeRow]) -> Vec<serde_json::Value> {
    rows.iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap();
            v["eval_seconds"] = 0.into();
            v["proxy"]["wall_seconds"] = 0.into();
            v["proxy"]["tokens_per_second"] = 0.into();
            v
        })
        .collect()
}

#[test]
fn resumed_study_equals_uninterrupted_study_and_outputs_match() {
    let text = config();
    let cfg = DepthWidthConfig::from_toml(&text, "dw.toml").unwrap();
    let base = tempfile::tempdir().unwrap();
    let full_dir = base.path().join("full");
    let mut ev = |_e: Event| {};
    let (full, report) = {
        let mut s = Study::create(&full_dir, cfg.clone(), &text, &mut ev).unwrap();
        let report = s.run().unwrap();
        (s.rows.rows().to_vec(), report)
    };
    assert_eq!(full.len(), 6);
    assert_eq!(
        full.iter().map(|r| (r.depth, r.width)).collect::<Vec<_>>(),
        vec![(1, 16), (1, 32), (2, 16), (2, 32), (3, 16), (3, 32)]
    );
    assert_eq!(full[3].layers, "m2 f m2 f");
    // The table has every shape with its predicted loss; budgets pick shapes within them.
    let csv = std::fs::read_to_string(full_dir.join("shapes.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7);
    for (line, r) in csv.lines().skip(1).zip(&full) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[1].parse::<usize>().unwrap(), r.depth);
        assert_eq!(f[2].parse::<usize>().unwrap(), r.width);
        assert_eq!(f[6].parse::<f64>().unwrap(), r.loss().unwrap());
        let predicted = report.fit.law.predict(r.depth as f64, r.width as f64);
        assert_eq!(f[11].parse::<f64>().unwrap(), predicted);
    }
    for b in &report.budgets {
        for i in [b.best_measured, b.best_predicted].into_iter().flatten() {
            assert!(full[i].latency.seconds.unwrap() <= b.budget_s);
        }
    }
    let fastest = full
        .iter()
        .map(|r| r.latency.seconds.unwrap())
        .fold(f64::INFINITY, f64::min);
    assert!(report.budgets[0].budget_s < fastest && report.budgets[0].best_measured.is_none());
    assert!(report.budgets[2].best_measured.is_some());
    assert_eq!(report.holdout.as_ref().unwrap().predictions.len(), 1);
    for f in [
        "fit.json",
        "budgets.csv",
        "loss_vs_depth.svg",
        "frontier.svg",
    ] {
        assert!(full_dir.join(f).exists(), "{f}");
    }

    for cut in [0usize, 3] {
        let dir = base.path().join(format!("cut{cut}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), &text).unwrap();
        let src = std::fs::read_to_string(full_dir.join("journal.jsonl")).unwrap();
        let lines: Vec<&str> = src.lines().collect();
        let mut kept: String = lines[..cut].iter().map(|l| format!("{l}\n")).collect();
        kept.push_str(&lines[cut][..lines[cut].len() / 3]); // a half-written line
        std::fs::write(dir.join("journal.jsonl"), kept).unwrap();
        let mut ev = |_e: Event| {};
        let mut s = Study::resume(&dir, &mut ev).unwrap();
        let r2 = s.run().unwrap();
        assert_eq!(comparable(s.rows.rows()), comparable(&full), "cut {cut}");
        assert_eq!(r2.fit.law, report.fit.law, "cut {cut}");
        let on_disk = Journal::<ShapeRow>::at(dir.join("journal.jsonl"))
            .read()
            .unwrap();
        assert!(on_disk.problems.is_empty());
        assert_eq!(comparable(&on_disk.records), comparable(&full));
    }
}

#[test]
fn study_config_errors_name_the_key() {
    let good = config();
    for (bad, key) in [
        (
            good.replace("depths = [1, 2, 3]", "depths = [1, 0, 3]"),
            "depths",
        ),
        (good.replace("widths = [16, 32]", "widths = [16]"), "shapes"),
        (good.replace("holdout = 1", "holdout = 3"), "holdout"),
        (
            good.replace(r#"pattern = ["m2", "f"]"#, r#"pattern = ["m3"]"#),
            "pattern",
        ),
        (
            good.replace("budgets_s = [0.001", "budgets_s = [-1.0"),
            "budgets_s",
        ),
        (
            good.replace("[model]", "[model]\nhead_dims = 8"),
            "head_dims",
        ),
    ] {
        let e = DepthWidthConfig::from_toml(&bad, "dw.toml").unwrap_err();
        assert!(matches!(e, flashnas_search::Error::Config(_)), "{e:?}");
        let e = e.to_string();
        assert!(e.contains(key) && e.contains("dw.toml"), "{key}: {e}");
    }
}

/// The study's report counts each mixer kind whatever spelling the rows carry: a DeltaNet
/// study's rows say `d` (the short spelling) and its report used to show no DeltaNet layer.
#[test]
fn the_report_counts_every_kind_of_layer() {
    let text = config().replace(
        r#"pattern = ["m2", "f"]"#,
        r#"pattern = ["deltanet", "a", "f"]"#,
    );
    let cfg = DepthWidthConfig::from_toml(&text, "dw.toml").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut ev = |_e: Event| {};
    let rows = {
        let mut s = Study::create(dir.path(), cfg, &text, &mut ev).unwrap();
        s.run().unwrap();
        s.rows.rows().to_vec()
    };
    let data = flashnas_search::depth_width::report_data(dir.path()).unwrap();
    let records = data["records"].as_array().unwrap();
    assert_eq!(records.len(), rows.len());
    for (r, row) in records.iter().zip(&rows) {
        assert_eq!(row.layers.split_whitespace().next(), Some("d"));
        assert_eq!(r["deltanet"], row.depth, "{r}");
        assert_eq!(r["attention"], row.depth, "{r}");
        assert_eq!(r["ffn"], row.depth, "{r}");
        assert_eq!(r["mamba2"], 0, "{r}");
    }
}
