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

#[test]
fn tabulate_then_replay_strategies_against_the_table() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("t.toml");
    std::fs::write(&cfg, table_toml("all", 1000)).unwrap();
    let table_path = tmp.path().join("t.parquet");
    let run = tmp.path().join("run");
    let out = ok(bin()
        .args(["tabulate", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&table_path)
        .arg("--dir")
        .arg(&run));
    assert!(out.contains("the space holds 24 genomes"), "{out}");
    // The user's config is left alone; the table's own goes beside the table.
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        table_toml("all", 1000)
    );
    assert!(config_path(&table_path).exists());

    // Table == journal: every genome once, with its latency and its loss at every rung.
    let journal = records(&run);
    assert_eq!(journal.len(), 24);
    let table = Table::load(&table_path).unwrap();
    assert_eq!(table.rows.len(), 24);
    for r in &journal {
        let row = table
            .get(&key_of(&r.layers, r.width))
            .expect("in the table");
        assert_eq!(row.status, r.status);
        assert_eq!(row.val_loss, r.proxy.val_loss);
        assert_eq!(row.latency_s, r.latency_s);
        assert_eq!(
            row.rungs.iter().map(|g| (g.0, g.1)).collect::<Vec<_>>(),
            r.proxy
                .rungs
                .iter()
                .map(|g| (g.step, g.val_loss))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            row.rungs.iter().map(|g| g.0).collect::<Vec<_>>(),
            vec![2, 4]
        );
        // Every genome is trained, whatever its latency: a table is the whole landscape.
        assert_eq!(r.status, RecordStatus::Ok);
    }
    let over = journal
        .iter()
        .filter(|r| r.latency_s.unwrap() > 0.0018)
        .count();
    assert!(
        over > 0 && over < 24,
        "the budget splits the table ({over} over)"
    );

    // A campaign on the table executor sees exactly the table's figures; over-budget
    // candidates are answered untrained, at no compute.
    for strategy in ["random", "asha"] {
        let c = tmp.path().join(format!("{strategy}.toml"));
        std::fs::write(&c, table_toml(strategy, 12)).unwrap();
        let dir = tmp.path().join(strategy);
        ok(bin()
            .args(["search", "--config"])
            .arg(&c)
            .arg("--out")
            .arg(&dir)
            .arg("--executor")
            .arg(format!("table:{}", table_path.display())));
        let rs = records(&dir);
        assert_eq!(rs.len(), 12);
        for r in &rs {
            let row = table.get(&key_of(&r.layers, r.width)).unwrap();
            assert_eq!(r.latency_s, row.latency_s);
            match r.status {
                RecordStatus::OverBudget => {
                    assert!(row.latency_s.unwrap() > 0.0018);
                    assert_eq!(r.eval_seconds, 0.0);
                }
                RecordStatus::Ok => {
                    let (loss, seconds) = row.at(r.proxy.steps).unwrap();
                    assert_eq!(r.proxy.val_loss, Some(loss));
                    assert_eq!(r.eval_seconds, seconds);
                    assert_eq!(r.proxy.steps == 8, r.rung.is_none());
                }
                RecordStatus::Failed => panic!("{:?}", r.failure),
            }
        }
        if strategy == "asha" {
            assert!(rs.iter().any(|r| r.origin == Origin::Promotion));
            assert!(rs.iter().any(|r| r.rung == Some(0) && r.proxy.steps == 2));
        }
    }

    // The strategy benchmark over a few seeds.
    let bench = tmp.path().join("bench");
    let out = ok(bin()
        .args(["bench", "strategies", "--table"])
        .arg(&table_path)
        .args(["--seeds", "4", "--budget", "10", "--threads", "2", "--out"])
        .arg(&bench));
    assert!(out.contains("rank tests"), "{out}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bench.join("summary.json")).unwrap())
            .unwrap();
    let table_hv = summary["table_hypervolume"].as_f64().unwrap();
    assert!(table_hv > 0.0);
    assert_eq!(summary["summaries"].as_array().unwrap().len(), 4);
    for s in summary["summaries"].as_array().unwrap() {
        assert_eq!(s["seeds"], 4);
        let last = s["by_evaluations"].as_array().unwrap().last().unwrap()[1]["mean"]
            .as_f64()
            .unwrap();
        assert!(last <= table_hv + 1e-12, "{s}");
        if s["strategy"] == "random" {
            assert!(last > 0.0, "{s}");
        }
    }
    let csv = std::fs::read_to_string(bench.join("trajectories.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4 * 4 * 10);
    assert!(bench.join("hv_per_evaluation.svg").exists());
}
