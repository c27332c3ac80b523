//! `flashnas validate` end to end on a tiny campaign: the picks and baselines are the ones the
//! rules say (checked against the journals, values not timings), the table and the summary
//! agree with them, seeds give different runs, a validation killed with -9 and run again
//! equals an uninterrupted one, and bad requests fail before anything is written.

mod common;

use common::{bin, campaign_toml, ok, search};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A finished tiny campaign (analytic latency: deterministic end to end).
fn campaign(dir: &Path, name: &str) -> PathBuf {
    let cfg = dir.join(format!("{name}.toml"));
    // Validation defaults kept small: two families, factor 3, 2 seeds.
    let extra = r#"
[validate]
budgets = [1.0, 0.6]
factor = 3
seeds = 2
families = [
  { name = "transformer", pattern = ["a", "f"] },
  { name = "mamba2", pattern = ["m2", "f"] },
]
"#;
    std::fs::write(&cfg, campaign_toml(name, 11, 8, 20, extra)).unwrap();
    let run = dir.join(name);
    ok(&mut search(&cfg, &run));
    run
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["record"].clone())
        .collect()
}

/// A stage journal without its wall-clock fields.
fn comparable(path: &Path) -> Vec<serde_json::Value> {
    lines(path)
        .into_iter()
        .map(|mut r| {
            if r.get("eval_seconds").is_some() {
                r["eval_seconds"] = 0.into();
            }
            if r.get("proxy").is_some() {
                r["proxy"]["wall_seconds"] = 0.into();
                r["proxy"]["tokens_per_second"] = 0.into();
            }
            r
        })
        .collect()
}

const STAGES: [&str; 4] = ["price.jsonl", "proxy.jsonl", "recheck.jsonl", "long.jsonl"];

#[test]
fn validate_picks_by_the_rules_and_reports_what_its_journals_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let run = campaign(tmp.path(), "val");
    let out = ok(bin().arg("validate").arg(&run));
    let v = run.join("validate");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(v.join("validate.json")).unwrap()).unwrap();

    // The picks: the best feasible record within each fraction of the budget.
    let records = lines(&run.join("journal.jsonl"));
    let budget = 0.004;
    let targets = report["targets"].as_array().unwrap();
    // Budgets that select the same models are one comparison, labelled with both.
    let labels: Vec<&str> = targets
        .iter()
        .flat_map(|t| t["label"].as_str().unwrap().split(", "))
        .collect();
    assert_eq!(labels, vec!["1×", "0.6×"]);
    for t in targets {
        for label in t["label"].as_str().unwrap().split(", ") {
            let frac: f64 = label.trim_end_matches('×').parse().unwrap();
            let within = |r: &&serde_json::Value| {
                r["feasible"] == true
                    && r["status"] == "ok"
                    && r["latency_s"].as_f64().unwrap() <= frac * budget
            };
            let best = records
                .iter()
                .filter(within)
                .min_by(|a, b| {
                    let l = |r: &serde_json::Value| r["proxy"]["val_loss"].as_f64().unwrap();
                    l(a).total_cmp(&l(b))
                })
                .unwrap();
            let key = format!("{}|w{}", best["layers"].as_str().unwrap(), best["width"]);
            assert_eq!(t["pick"], key.as_str(), "{frac}");
        }
        let first: f64 = t["label"]
            .as_str()
            .unwrap()
            .split(", ")
            .next()
            .unwrap()
            .trim_end_matches('×')
            .parse()
            .unwrap();
        assert!((t["budget_s"].as_f64().unwrap() - first * budget).abs() < 1e-12);
    }

    // The baselines: the lowest proxy loss of each family within the budget, from proxy.jsonl.
    let proxy = lines(&v.join("proxy.jsonl"));
    let priced = lines(&v.join("price.jsonl"));
    assert!(!proxy.is_empty() && proxy.len() <= priced.len());
    for t in targets {
        let b = t["budget_s"].as_f64().unwrap();
        for pair in t["baselines"].as_array().unwrap() {
            let family = pair[0].as_str().unwrap();
            let best = proxy
                .iter()
                .filter(|r| r["family"] == family && r["latency_s"].as_f64().unwrap() <= b)
                .filter_map(|r| Some((r["proxy"]["val_loss"].as_f64()?, r)))
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, r)| format!("{}|w{}", r["layers"].as_str().unwrap(), r["width"]));
            assert_eq!(
                pair[1].as_str().map(str::to_string),
                best,
                "{family} at {b}"
            );
        }
        // The gap is the pick's mean minus the best baseline's, and its verdict follows the
        // interval.
        if let (Some(best), Some(gap)) = (t["best_baseline"].as_str(), t.get("gap")) {
            let mean = |k: &str| {
                report["models"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| m["key"] == k)
                    .unwrap()["long_mean"]
                    .as_f64()
                    .unwrap()
            };
            let d = mean(t["pick"].as_str().unwrap()) - mean(best);
            assert!((gap["mean"].as_f64().unwrap() - d).abs() < 1e-12);
            let (lo, hi) = (gap["low"].as_f64().unwrap(), gap["high"].as_f64().unwrap());
            let (tlo, thi) = (
                gap["tost_low"].as_f64().unwrap(),
                gap["tost_high"].as_f64().unwrap(),
            );
            let m = gap["margin"].as_f64().unwrap();
            assert_eq!(m, 0.02, "the default margin");
            assert_eq!(gap["paired"], true, "pick and baseline share their seeds");
            let want = if hi < 0.0 {
                "better"
            } else if lo > 0.0 {
                "worse"
            } else if tlo > -m && thi < m {
                "equivalent"
            } else {
                "inconclusive"
            };
            assert_eq!(gap["verdict"], want);
        }
    }

    // Every model trained at both seeds; the seeds give different runs.
    let long = lines(&v.join("long.jsonl"));
    let models = report["models"].as_array().unwrap();
    assert_eq!(long.len(), models.len() * 2);
    for m in models {
        let runs: Vec<&serde_json::Value> =
            long.iter().filter(|r| r["model"] == m["key"]).collect();
        assert_eq!(runs.len(), 2);
        assert_ne!(runs[0]["seed"], runs[1]["seed"]);
        assert_ne!(
            runs[0]["proxy"]["loss_curve"], runs[1]["proxy"]["loss_curve"],
            "seeds must change init and data order"
        );
        // 3× the proxy's 20 steps.
        assert_eq!(runs[0]["proxy"]["steps"], 60);
    }

    // The CSV holds the same figures as the JSON, one row per (budget, model).
    let csv = std::fs::read_to_string(v.join("validate.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let expected: usize = targets
        .iter()
        .map(|t| {
            1 + t["baselines"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| !p[1].is_null())
                .count()
        })
        .sum();
    assert_eq!(rows.len(), expected);
    assert!(csv.lines().next().unwrap().contains("gap_to_best_baseline"));
    for m in models {
        if let Some(x) = m["long_mean"].as_f64() {
            assert!(csv.contains(&format!("{x}")), "{x} not in the CSV");
        }
    }
    assert!(
        out.contains("verdict:") && out.contains("Spearman"),
        "{out}"
    );

    // status and the report show it; a second run only reads the journals back.
    let status = ok(bin().arg("status").arg(&run));
    assert!(
        status.contains("validation") && status.contains("pick #"),
        "{status}"
    );
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        page.contains("\"validation\":{"),
        "report.html lacks the validation"
    );
    let before: Vec<Vec<serde_json::Value>> =
        STAGES.iter().map(|s| comparable(&v.join(s))).collect();
    ok(bin().arg("validate").arg(&run));
    let after: Vec<Vec<serde_json::Value>> =
        STAGES.iter().map(|s| comparable(&v.join(s))).collect();
    assert_eq!(before, after);
}

#[test]
fn a_validation_killed_and_run_again_equals_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let quiet = campaign(tmp.path(), "quiet");
    let cut = tmp.path().join("cut");
    // The same finished campaign, copied: each gets its own validation.
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(&quiet)
        .arg(&cut)
        .status()
        .unwrap();
    assert!(status.success());
    ok(bin().arg("validate").arg(&quiet));

    let mut child = bin()
        .arg("validate")
        .arg(&cut)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let long = cut.join("validate/long.jsonl");
    let deadline = Instant::now() + Duration::from_secs(300);
    while lines(&long).len() < 3 {
        assert!(Instant::now() < deadline, "no long runs in time");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let total = lines(&quiet.join("validate/long.jsonl")).len();
    assert!(
        lines(&long).len() < total,
        "the kill came after the last long run"
    );
    ok(bin().arg("validate").arg(&cut));

    // And a crash at a fixed instant of each stage (abort: no destructor, no flush).
    let crashed = tmp.path().join("crashed");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(&quiet)
        .arg(&crashed)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_dir_all(crashed.join("validate")).unwrap();
    for point in ["validate:price-2", "validate:long-1"] {
        let out = bin()
            .arg("validate")
            .arg(&crashed)
            .env("FLASHNAS_FAULT", point)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: no crash");
    }
    ok(bin().arg("validate").arg(&crashed));

    for s in STAGES {
        for other in [&cut, &crashed] {
            assert_eq!(
                comparable(&other.join("validate").join(s)),
                comparable(&quiet.join("validate").join(s)),
                "{s}"
            );
        }
    }
    for other in [&cut, &crashed] {
        assert_eq!(
            std::fs::read_to_string(other.join("validate/validate.csv")).unwrap(),
            std::fs::read_to_string(quiet.join("validate/validate.csv")).unwrap()
        );
    }
}

#[test]
fn bad_requests_fail_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let run = campaign(tmp.path(), "bad");
    let fails = |args: &[&str]| {
        let out = bin().arg("validate").arg(&run).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(!run.join("validate").exists(), "{args:?} wrote validate/");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = fails(&["--budgets", "1,0.01"]);
    assert!(
        e.contains("validate.budgets[1] = 0.01") && e.contains("no feasible candidate"),
        "{e}"
    );
    let e = fails(&["--family", "rnn=lstm,f"]);
    assert!(
        e.contains("validate.families[0].pattern[0]: unknown kind 'lstm'"),
        "{e}"
    );
    let e = fails(&["--ids", "999"]);
    assert!(e.contains("validate.ids[0]"), "{e}");

    // A campaign whose every candidate is over the budget stops (exit 1, what to change) with
    // an empty frontier.
    let cfg = tmp.path().join("none.toml");
    let text = campaign_toml("none", 3, 3, 5, "")
        .replace("budget_s = 0.004", "budget_s = 0.0001")
        .replacen("[space]", "pricing_attempts = 6\n[space]", 1);
    std::fs::write(&cfg, text).unwrap();
    let none = tmp.path().join("none");
    let out = search(&cfg, &none).output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("no candidate within the latency budget"),
        "{e}"
    );
    let out = bin().arg("validate").arg(&none).output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("frontier is empty"),
        "{e}"
    );
    assert!(!none.join("validate").exists());
}

fn copy(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// `--seeds 4` on a finished 2-seed validation trains only the new seeds' runs, and ends where a
/// validation with 4 seeds from the start ends; a kill in the middle of adding them resumes to
/// the same journal.
#[test]
fn seeds_added_to_a_finished_validation_train_only_the_new_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let two = campaign(tmp.path(), "two");
    let four = tmp.path().join("four");
    let killed = tmp.path().join("killed");
    copy(&two, &four);
    copy(&two, &killed);
    let long = |d: &Path| d.join("validate/long.jsonl");

    ok(bin().arg("validate").arg(&two));
    let before = comparable(&long(&two));
    let models = before.len() / 2;
    assert!(models >= 2);
    let out = ok(bin().arg("validate").arg(&two).args(["--seeds", "4"]));
    assert!(out.contains("4 seeds"), "{out}");
    let after = comparable(&long(&two));
    assert_eq!(after.len(), models * 4);
    assert_eq!(after[..before.len()], before[..], "nothing retrained");

    ok(bin().arg("validate").arg(&four).args(["--seeds", "4"]));
    assert_eq!(
        comparable(&long(&four)),
        after,
        "equals 4 seeds from the start"
    );
    let report = |d: &Path| -> serde_json::Value {
        let mut v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(d.join("validate/validate.json")).unwrap(),
        )
        .unwrap();
        v["cost"] = serde_json::Value::Null;
        v
    };
    assert_eq!(report(&two)["targets"], report(&four)["targets"]);

    // Killed while adding seeds: the run of the first new seed's second model dies.
    ok(bin().arg("validate").arg(&killed));
    let died = bin()
        .arg("validate")
        .arg(&killed)
        .args(["--seeds", "4"])
        .env(
            "FLASHNAS_FAULT",
            format!("validate:long-{}", 2 * models + 1),
        )
        .output()
        .unwrap();
    assert!(!died.status.success(), "no crash");
    assert_eq!(comparable(&long(&killed)).len(), 2 * models + 2);
    ok(bin().arg("validate").arg(&killed));
    assert_eq!(comparable(&long(&killed)), after);

    // Another budget is another validation: refused, with what to do.
    let out = bin()
        .arg("validate")
        .arg(&two)
        .args(["--factor", "5"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("--seeds"), "{e}");
}

/// Default budget levels without a feasible pick are skipped with a note; a level the user
/// asks for must have one (the error names it) and nothing is written.
#[test]
fn default_budgets_without_a_pick_are_skipped_and_explicit_ones_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("lv.toml");
    std::fs::write(&cfg, campaign_toml("lv", 11, 8, 20, "")).unwrap();
    let run = tmp.path().join("lv");
    ok(&mut search(&cfg, &run));
    // Re-budget the finished campaign: 1.5 × its fastest feasible candidate, so that 0.5× of
    // it holds none.
    let fastest = lines(&run.join("journal.jsonl"))
        .iter()
        .filter(|r| r["feasible"] == true && r["status"] == "ok")
        .map(|r| r["latency_s"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    let text = std::fs::read_to_string(run.join("config.toml")).unwrap();
    std::fs::write(
        run.join("config.toml"),
        text.replace("budget_s = 0.004", &format!("budget_s = {}", 1.5 * fastest)),
    )
    .unwrap();
    let out = bin()
        .arg("validate")
        .arg(&run)
        .args([
            "--budgets",
            "1,0.5",
            "--family",
            "t=a,f",
            "--factor",
            "1",
            "--seeds",
            "2",
        ])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("validate.budgets[1] = 0.5"),
        "{e}"
    );
    assert!(!run.join("validate").exists());
    let out = ok(bin()
        .arg("validate")
        .arg(&run)
        .args(["--family", "t=a,f", "--factor", "1", "--seeds", "2"]));
    assert!(
        out.contains("budget 0.5×") && out.contains("skipped"),
        "{out}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("validate/validate.json")).unwrap())
            .unwrap();
    let labels: Vec<String> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["label"].as_str().unwrap().to_string())
        .collect();
    assert!(labels.join(", ") == "1×, 0.75×", "{labels:?}");
    assert!(std::fs::read_to_string(run.join("validate/validate.txt"))
        .unwrap()
        .contains("verdict:"));
}

/// `--until-decided --max-seeds 4`: seeds are added one at a time, only to the models of the
/// budgets still inconclusive, until each verdict is decided or has 4 seeds; every look is at
/// α = 0.05 / 3 (three looks: 2, 3 and 4 seeds).
#[test]
fn until_decided_adds_seeds_only_where_the_verdict_is_open() {
    let tmp = tempfile::tempdir().unwrap();
    let run = campaign(tmp.path(), "ud");
    ok(bin()
        .arg("validate")
        .arg(&run)
        .args(["--until-decided", "--max-seeds", "4"]));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("validate/validate.json")).unwrap())
            .unwrap();
    assert_eq!(report["looks"], 3);
    assert!((report["alpha"].as_f64().unwrap() - 0.05 / 3.0).abs() < 1e-12);
    let models = report["models"].as_array().unwrap();
    let seeds_of = |k: &str| {
        models.iter().find(|m| m["key"] == k).unwrap()["long_losses"]
            .as_array()
            .unwrap()
            .len()
    };
    let mut open_models = std::collections::HashSet::new();
    for t in report["targets"].as_array().unwrap() {
        let Some(gap) = t.get("gap").filter(|g| !g.is_null()) else {
            continue;
        };
        let keys: Vec<String> = std::iter::once(t["pick"].as_str().unwrap().to_string())
            .chain(
                t["baselines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|p| p[1].as_str().map(str::to_string)),
            )
            .collect();
        if gap["verdict"] == "inconclusive" {
            for k in &keys {
                assert_eq!(seeds_of(k), 4, "{k}: an open verdict runs to max_seeds");
            }
        }
        if seeds_of(t["pick"].as_str().unwrap()) > 2 {
            open_models.extend(keys);
        }
    }
    // A model of no budget that needed more seeds kept its 2.
    for m in models {
        let k = m["key"].as_str().unwrap();
        if !open_models.contains(k) {
            assert_eq!(seeds_of(k), 2, "{k}");
        }
    }
}
