//! The tabular benchmark end to end on a tiny space: `flashnas tabulate` evaluates every genome
//! (table == journal), a campaign on `--executor table:PATH` gets exactly the table's figures
//! (full runs and multi-fidelity rungs), and `flashnas bench strategies` compares strategies.

mod common;
use common::{bin, ok};
use flashnas_search::journal::{Journal, Origin, RecordStatus};
use flashnas_search::table::{config_path, key_of, Table};
use std::path::Path;

/// 24 genomes: one or two stages of attention / mamba2 blocks (×1 or ×2, depth ≤ 3), widths 16
/// and 32; 8 training steps with checkpoints after 2 and 4.
fn table_toml(strategy: &str, evaluations: usize) -> String {
    format!(
        r#"
name = "tiny-table"
seed = 5
strategy = "{strategy}"
evaluations = {evaluations}
[space]
width = "gene"
stages = 2
mixers = ["attention", "mamba2"]
ratios = ["0:1"]
ffns = [0]
max_repeats = 2
depth_cap = 3
widths = [16, 32]
head_dim = 8
mamba_d_state = 4
chunk_size = 8
[aging]
population = 3
sample = 2
[nsga2]
population = 3
[multi_fidelity]
rungs = [0.25, 0.5]
eta = 2
[latency]
source = "analytic"
roofline = "cpu-2core"
prompt = 8
generate = 8
budget_s = 0.0018
[family_seeds]
enabled = false
[racing]
enabled = false
[objectives]
reference_point = {{ loss = 6.0, latency_s = 0.005 }}
[train]
seq_len = 16
batch_size = 4
steps = 8
rungs = [0.25, 0.5]
[train.data]
val_windows = 2
"#
    )
}

fn records(dir: &Path) -> Vec<flashnas_search::Record> {
    Journal::new(dir).read().unwrap().records
}

/// `flashnas tabulate` of `config` with two seeds into `table` (replicate 0 in `run`, 1 in
/// `run-rep1`); what it prints.
fn tabulate_twice(config: &Path, table: &Path, run: &Path) -> String {
    ok(bin()
        .args(["tabulate", "--config"])
        .arg(config)
        .arg("--out")
        .arg(table)
        .arg("--dir")
        .arg(run)
        .args(["--replicates", "2"]))
}

/// `flashnas bench strategies --table <table> <args> --out <out>`, which must fail; its stderr.
fn bench_refused(table: &Path, args: &[&str], out: &Path) -> String {
    let o = bin()
        .args(["bench", "strategies", "--table"])
        .arg(table)
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "not refused: {args:?}: {err}");
    err
}

/// A campaign of `toml` (written to `<dir>/<name>.toml`) answered by the table executor from
/// `table`, in `<dir>/<name>`; its records.
fn search_on_table(
    dir: &Path,
    name: &str,
    toml: &str,
    table: &Path,
) -> Vec<flashnas_search::Record> {
    let c = dir.join(format!("{name}.toml"));
    std::fs::write(&c, toml).unwrap();
    let out = dir.join(name);
    ok(bin()
        .args(["search", "--config"])
        .arg(&c)
        .arg("--out")
        .arg(&out)
        .arg("--executor")
        .arg(format!("table:{}", table.display())));
    records(&out)
}

#[test]
fn tabulate_then_replay_strategies_against_the_table() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("t.toml");
    std::fs::write(&cfg, table_toml("all", 1000)).unwrap();
    let table_path = tmp.path().join("t.parquet");
    let run = tmp.path().join("run");
    let out = tabulate_twice(&cfg, &table_path, &run);
    assert!(out.contains("the space holds 24 genomes"), "{out}");
    let rep1 = tmp.path().join("run-rep1");
    // The user's config is left alone; the table's own goes beside the table.
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        table_toml("all", 1000)
    );
    assert!(config_path(&table_path).exists());

    // Table == journals: every genome once, with the mean of its two seeds' losses at every
    // rung and their standard deviation, and the median of the two latency sweeps.
    let journal = records(&run);
    let twins = records(&rep1);
    assert_eq!(journal.len(), 24);
    assert_eq!(twins.len(), 24);
    let table = Table::load(&table_path).unwrap();
    assert_eq!(table.rows.len(), 24);
    let mut differ = 0;
    for (r, t) in journal.iter().zip(&twins) {
        assert_eq!(r.key, t.key, "a replicate tabulates the same proposals");
        let row = table
            .get(&key_of(&r.layers, r.width))
            .expect("in the table");
        assert_eq!(row.status, r.status);
        assert_eq!(row.replicates, 2);
        let (a, b) = (r.proxy.val_loss.unwrap(), t.proxy.val_loss.unwrap());
        differ += (a != b) as usize;
        assert!((row.val_loss.unwrap() - (a + b) / 2.0).abs() < 1e-12);
        let sd = row.val_loss_std.unwrap();
        assert!(
            (sd - (a - b).abs() / std::f64::consts::SQRT_2).abs() < 1e-9,
            "{sd}"
        );
        assert_eq!(
            row.latency_s.unwrap(),
            (r.latency.seconds.unwrap() + t.latency.seconds.unwrap()) / 2.0
        );
        assert!(row.timing_s >= 0.0 && row.val_s >= 0.0);
        assert_eq!(
            row.rungs.iter().map(|g| (g.0, g.1)).collect::<Vec<_>>(),
            r.proxy
                .rungs
                .iter()
                .zip(&t.proxy.rungs)
                .map(|(g, h)| (g.step, (g.val_loss + h.val_loss) / 2.0))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            row.rungs.iter().map(|g| g.0).collect::<Vec<_>>(),
            vec![2, 4]
        );
        // Every genome is trained, whatever its latency: a table is the whole landscape.
        assert_eq!(r.status, RecordStatus::Ok);
    }
    assert!(
        differ > 12,
        "the seeds must train differently ({differ} of 24 differ)"
    );
    let over = journal
        .iter()
        .filter(|r| r.latency.seconds.unwrap() > 0.0018)
        .count();
    assert!(
        over > 0 && over < 24,
        "the budget splits the table ({over} over)"
    );

    // A campaign on the table executor sees the table's figures as one training run would:
    // a replicated row's loss is its mean plus one run's seed noise (its replicate SD times a
    // draw per training seed and genome, the same at every rung); over-budget candidates are
    // answered untrained and charged nothing (pricing is counted); trained ones their
    // training to the rung and one validation (the tabulation's timing is free).
    for strategy in ["random", "asha"] {
        let rs = search_on_table(tmp.path(), strategy, &table_toml(strategy, 12), &table_path);
        let mut noisy = 0;
        // 12 evaluations = 12 candidates trained; over-budget answers come on top.
        assert_eq!(rs.iter().filter(|r| r.counts_as_evaluation()).count(), 12);
        assert!(rs.len() > 12, "{} records", rs.len());
        for r in &rs {
            let row = table.get(&key_of(&r.layers, r.width)).unwrap();
            assert_eq!(r.latency.seconds, row.latency_s);
            match r.status {
                RecordStatus::OverBudget => {
                    assert!(row.latency_s.unwrap() > 0.0018);
                    assert_eq!(r.eval_seconds, 0.0, "pricing is counted, not charged");
                }
                RecordStatus::Ok => {
                    let (mean, seconds) = row.at(r.proxy.steps).unwrap();
                    let sd = row
                        .val_loss_std
                        .filter(|_| row.replicates > 1)
                        .unwrap_or(0.0);
                    let z = flashnas_search::surrogate::Surrogate::noise_draw(
                        r.seed,
                        &key_of(&r.layers, r.width),
                    );
                    let loss = r.proxy.val_loss.unwrap();
                    assert!(
                        (loss - (mean + z * sd)).abs() < 1e-12,
                        "{loss} {mean} {z} {sd}"
                    );
                    noisy += usize::from(loss != mean);
                    // The tabulation's timing is not a cost the strategy causes.
                    assert_eq!(r.eval_seconds, seconds + row.val_s);
                    assert_eq!(r.eval_seconds, row.cost(Some(r.proxy.steps)));
                    assert_eq!(r.proxy.steps == 8, r.rung.is_none());
                }
                RecordStatus::Failed => panic!("{:?}", r.failure),
            }
        }
        assert!(noisy > 0, "the replicated rows answer with seed noise");
        if strategy == "asha" {
            assert!(rs.iter().any(|r| r.origin == Origin::Promotion));
            assert!(rs.iter().any(|r| r.rung == Some(0) && r.proxy.steps == 2));
        }
    }

    // The strategy benchmark over a few seeds, at equal compute.
    let bench = tmp.path().join("bench");
    let out = ok(bin()
        .args(["bench", "strategies", "--table"])
        .arg(&table_path)
        .args([
            "--seeds",
            "4",
            "--seed-offset",
            "100",
            "--budget",
            "10",
            "--threads",
            "2",
            "--out",
        ])
        .arg(&bench));
    assert!(
        out.contains("rank tests") && out.contains("discriminates"),
        "{out}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bench.join("summary.json")).unwrap())
            .unwrap();
    let table_hv = summary["table_hypervolume"].as_f64().unwrap();
    let compute = summary["compute_s"].as_f64().unwrap();
    assert!(table_hv > 0.0 && compute > 0.0);
    assert!(summary["seed_noise"].as_f64().unwrap() > 0.0);
    assert_eq!(summary["summaries"].as_array().unwrap().len(), 4);
    for s in summary["summaries"].as_array().unwrap() {
        assert_eq!(s["seeds"], 4);
        let by = s["by_compute"].as_array().unwrap();
        let (c, last) = (
            by.last().unwrap()[0].as_f64().unwrap(),
            by.last().unwrap()[1]["mean"].as_f64().unwrap(),
        );
        assert!(
            (c - compute).abs() < 1e-9,
            "every figure at the compute budget"
        );
        assert!(last <= table_hv + 1e-12, "{s}");
        if s["strategy"] == "random" {
            assert!(last > 0.0, "{s}");
            assert_eq!(s["rung"], 0.0, "random search trains no rungs");
        }
        if s["strategy"] == "asha" {
            assert!(s["rung"].as_f64().unwrap() > 0.0, "{s}");
        }
    }
    // Raw trajectories: seeds 100..104; each run's charges sum to its compute, and no run
    // admits a record after its budget was spent (one may overshoot it by its last answer).
    let csv = std::fs::read_to_string(bench.join("trajectories.csv")).unwrap();
    let mut runs: std::collections::BTreeMap<(String, u64), Vec<(f64, f64)>> = Default::default();
    for l in csv.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let seed: u64 = f[1].parse().unwrap();
        assert!((100..104).contains(&seed), "{l}");
        assert!(
            ["full", "rung", "over_budget", "failed"].contains(&f[3]),
            "{l}"
        );
        runs.entry((f[0].to_string(), seed))
            .or_default()
            .push((f[4].parse().unwrap(), f[5].parse().unwrap()));
    }
    assert_eq!(runs.len(), 16);
    for (run, rs) in &runs {
        let mut sum = 0.0;
        for (k, (cost, cum)) in rs.iter().enumerate() {
            sum += cost;
            assert!((sum - cum).abs() < 1e-6 * cum.max(1.0), "{run:?}");
            if k + 1 < rs.len() {
                assert!(*cum < compute, "{run:?} went on after its budget");
            }
        }
    }
    assert!(bench.join("hv_per_compute.svg").exists());

    // A surrogate of the table answers the space; a genome outside it is refused.
    let surrogate = tmp.path().join("s.json");
    let out = ok(bin()
        .args(["surrogate", "fit", "--table"])
        .arg(&table_path)
        .arg("--out")
        .arg(&surrogate)
        .args(["--holdout", "0"]));
    assert!(out.contains("fitted on 24 rows"), "{out}");
    let c = tmp.path().join("wide.toml");
    std::fs::write(
        &c,
        table_toml("random", 10).replace("widths = [16, 32]", "widths = [16, 32, 48]"),
    )
    .unwrap();
    let dir = tmp.path().join("on-surrogate");
    ok(bin()
        .args(["search", "--config"])
        .arg(&c)
        .arg("--out")
        .arg(&dir)
        .arg("--executor")
        .arg(format!("surrogate:{}", surrogate.display())));
    let rs = records(&dir);
    assert_eq!(rs.iter().filter(|r| r.counts_as_evaluation()).count(), 10);
    for r in &rs {
        if r.width == 48 {
            let why = r.failure.clone().unwrap_or_default();
            assert!(
                why.contains("outside the surrogate's space") && why.contains("width 48"),
                "{why}"
            );
        } else {
            assert!(r.latency.seconds.is_some(), "{:?}", r.failure);
        }
    }
    assert!(rs.iter().any(|r| r.width == 48) && rs.iter().any(|r| r.width != 48));

    // The benchmark on the surrogate scores on its noise-free means; a surrogate of another
    // table, and requests that would run nothing, are refused naming what is wrong.
    let out = ok(bin()
        .args(["bench", "strategies", "--table"])
        .arg(&table_path)
        .arg("--surrogate")
        .arg(&surrogate)
        .args([
            "--seeds",
            "2",
            "--budget",
            "6",
            "--strategies",
            "random,aging",
            "--out",
        ])
        .arg(tmp.path().join("bench-surrogate")));
    assert!(
        out.contains("the surrogate's noise-free mean") && out.contains("luck"),
        "{out}"
    );
    let other = tmp.path().join("other.json");
    let mut fitted: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&surrogate).unwrap()).unwrap();
    fitted["table_fingerprint"] = serde_json::json!("0000000000000000");
    std::fs::write(&other, fitted.to_string()).unwrap();
    for (args, want) in [
        (vec!["--surrogate", other.to_str().unwrap()], "refit it"),
        (vec!["--seeds", "0"], "--seeds 0"),
        (vec!["--budget", "0"], "--budget 0"),
        (vec!["--strategies", ""], "--strategies"),
    ] {
        let err = bench_refused(&table_path, &args, &tmp.path().join("refused"));
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert!(!tmp.path().join("refused").join("report.txt").exists());
}

/// A table whose trained row lacks a cost is refused at load, naming the row and column.
#[test]
fn a_table_without_costs_is_refused() {
    use polars::prelude::*;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("t.parquet");
    let mut df = df!(
        "key" => ["a | w16", "m2 | w16"],
        "layers" => ["a", "m2"],
        "width" => [16u64, 16],
        "params" => [100u64, 100],
        "status" => ["ok", "ok"],
        "failure" => ["", ""],
        "latency_s" => [0.001, 0.002],
        "latency_ref" => [None::<f64>, None],
        "latency_source" => ["analytic", "analytic"],
        "val_loss" => [3.0, 2.9],
        "steps" => [8u64, 8],
        "train_s" => [Some(0.1), None],
        "eval_s" => [0.2, 0.2],
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    let e = Table::load(&path).err().expect("refused").to_string();
    assert!(
        e.contains("row 1 (m2 | w16)") && e.contains("train_s"),
        "{e}"
    );
}

/// `--within-budget` tabulates the feasible region: `evaluations` genomes within the budget
/// trained, every genome priced over it journaled untrained (not counted), and the order walks
/// past the infeasible ones (it is longer than `evaluations`).
#[test]
fn tabulating_within_the_budget_trains_only_feasible_genomes() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("t.toml");
    std::fs::write(&cfg, table_toml("all", 6)).unwrap();
    let run = tmp.path().join("run");
    ok(bin()
        .args(["tabulate", "--within-budget", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(tmp.path().join("t.parquet"))
        .arg("--dir")
        .arg(&run));
    let journal = records(&run);
    let trained: Vec<_> = journal
        .iter()
        .filter(|r| r.status == RecordStatus::Ok)
        .collect();
    let over: Vec<_> = journal
        .iter()
        .filter(|r| r.status == RecordStatus::OverBudget)
        .collect();
    assert_eq!(trained.len(), 6, "{} records", journal.len());
    assert!(trained.iter().all(|r| r.feasible && r.latency() <= 0.0018));
    assert!(!over.is_empty(), "the tiny space has genomes over 1.8 ms");
    assert!(over
        .iter()
        .all(|r| r.latency() > 0.0018 && r.proxy.val_loss.is_none()));
    assert_eq!(trained.len() + over.len(), journal.len());
}

/// The recall setting's table: tabulated with widths fitted to the budget and the recall
/// probe on, the table holds each layer list once (at its fitted width) with the mean and
/// spread of its seeds' recall and the probe's seconds; a campaign on the table executor gets
/// the recall figure and pays for the probe at the full run only (a multi-fidelity rung is
/// screened on its loss: no recall figure, no probe paid, not judged by `recall_min`), and a
/// full run below `recall_min` is infeasible; the strategy benchmark fits the same widths in its
/// runs (no genome is missing from the table), and a surrogate (it predicts the loss only) is
/// refused.
#[test]
fn a_recall_table_with_fitted_widths_answers_recall_and_constrains_by_it() {
    let toml = |strategy: &str, evaluations: usize| {
        table_toml(strategy, evaluations)
            .replace("width = \"gene\"", "width = \"fit_budget\"")
            .replace("enabled = false\n[objectives]", "enabled = false\nbudgets = [1.0]\n[objectives]")
            .replace(
                "[objectives]\n",
                "[objectives]\nrecall_min = 0.1\n",
            )
            + "[train.recall]\nenabled = true\npairs = 2\nqueries = 2\ngap = 2\nkeys = 4\nvalues = 4\nsteps = 6\nbatch_size = 4\neval_sequences = 8\n"
    };
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("t.toml");
    std::fs::write(&cfg, toml("all", 1000)).unwrap();
    let table_path = tmp.path().join("t.parquet");
    let run = tmp.path().join("run");
    tabulate_twice(&cfg, &table_path, &run);
    let table = Table::load(&table_path).unwrap();
    let journal = records(&run);
    let twins = records(&tmp.path().join("run-rep1"));
    // One row per layer list: the widths were fitted, not enumerated.
    let mut lists: Vec<&str> = table.rows.iter().map(|r| r.layers.as_str()).collect();
    lists.sort_unstable();
    let n = lists.len();
    lists.dedup();
    assert_eq!(lists.len(), n, "a layer list at two widths");
    let mut trained = 0;
    for r in journal.iter().filter(|r| r.status == RecordStatus::Ok) {
        let t = twins.iter().find(|t| t.key == r.key).unwrap();
        let row = table.get(&key_of(&r.layers, r.width)).unwrap();
        let (a, b) = (
            r.proxy.recall_accuracy.unwrap(),
            t.proxy.recall_accuracy.unwrap(),
        );
        assert!((row.recall.unwrap() - (a + b) / 2.0).abs() < 1e-12);
        assert!((row.recall_std.unwrap() - (a - b).abs() / std::f64::consts::SQRT_2).abs() < 1e-9);
        let probe = (r.proxy.recall_seconds.unwrap() + t.proxy.recall_seconds.unwrap()) / 2.0;
        assert!(probe > 0.0 && (row.recall_s - probe).abs() < 1e-9);
        trained += 1;
    }
    assert!(trained > 3, "{trained} trained");

    let (mut rungs, mut fulls) = (0, 0);
    for strategy in ["random", "asha"] {
        for r in search_on_table(tmp.path(), strategy, &toml(strategy, 6), &table_path) {
            let row = table
                .get(&key_of(&r.layers, r.width))
                .unwrap_or_else(|| panic!("{} w{} is not in the table", r.layers, r.width));
            if r.status != RecordStatus::Ok {
                continue;
            }
            assert_eq!(r.eval_seconds, row.cost(Some(r.proxy.steps)));
            if r.rung.is_some() {
                rungs += 1;
                assert_eq!(r.proxy.recall_accuracy, None, "a rung has no recall figure");
                let trained = row.at(r.proxy.steps).unwrap().1;
                assert!(
                    (r.eval_seconds - (trained + row.val_s)).abs() < 1e-12,
                    "a rung pays its training and validation, not the probe"
                );
                assert!(r.feasible, "a rung is not judged by recall_min");
            } else {
                fulls += 1;
                assert_eq!(r.proxy.recall_accuracy, row.recall);
                assert!(
                    r.eval_seconds >= row.recall_s,
                    "the full run pays the probe"
                );
                assert_eq!(r.feasible, row.recall.unwrap() >= 0.1);
            }
        }
    }
    assert!(rungs > 0 && fulls > 0, "{rungs} rungs, {fulls} full runs");

    let out = ok(bin()
        .args(["bench", "strategies", "--table"])
        .arg(&table_path)
        .args([
            "--seeds",
            "2",
            "--budget",
            "4",
            "--strategies",
            "random,aging",
            "--out",
        ])
        .arg(tmp.path().join("bench")));
    assert!(out.contains("rank tests"), "{out}");
    let csv = std::fs::read_to_string(tmp.path().join("bench").join("trajectories.csv")).unwrap();
    assert!(
        !csv.contains("failed"),
        "every proposal was in the table:\n{csv}"
    );

    // (Refused before the surrogate is read: any file will do.)
    let err = bench_refused(
        &table_path,
        &["--surrogate", cfg.to_str().unwrap()],
        &tmp.path().join("refused"),
    );
    assert!(err.contains("recall_min"), "{err}");

    // A table whose campaign made recall an objective is refused, naming the key: the
    // benchmark's hypervolume is loss × latency and would leave recall out.
    let both = tmp.path().join("both.parquet");
    std::fs::copy(&table_path, &both).unwrap();
    let text = std::fs::read_to_string(tmp.path().join("t.table.toml")).unwrap();
    assert!(text.contains("[objectives]\n"), "{text}");
    std::fs::write(
        tmp.path().join("both.table.toml"),
        text.replace("[objectives]\n", "[objectives]\nquality = \"both\"\n"),
    )
    .unwrap();
    let err = bench_refused(&both, &[], &tmp.path().join("refused-both"));
    assert!(
        err.contains("objectives.quality") && err.contains("both.table.toml"),
        "{err}"
    );
}
