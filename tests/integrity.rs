//! A campaign folder stays whole under concurrent readers, a second driver, and a kill in
//! the middle of a journal rewrite.

mod common;

use common::{bin, campaign_toml, comparable, journal_len, ok, search};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A small analytic-latency campaign; `seeds` puts two fixed designs first.
fn config(dir: &Path, name: &str, evaluations: usize, steps: usize, seeds: bool) -> PathBuf {
    let seeds = if seeds {
        "[[seeds]]\nlayer_types = [\"a\", \"f\"]\nwidth = 16\n[[seeds]]\nlayer_types = [\"m2\", \"f\"]\nwidth = 32\n"
    } else {
        ""
    };
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, campaign_toml(name, 5, evaluations, steps, seeds)).unwrap();
    p
}

fn spawn_search(cfg: &Path, out: &Path) -> Child {
    search(cfg, out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for_records(dir: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while journal_len(dir) < n {
        assert!(Instant::now() < deadline, "no {n} records in time");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn readers_hammering_a_live_campaign_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "readers", 8, 30, false);
    let quiet = dir.path().join("quiet");
    ok(&mut search(&cfg, &quiet));
    let reference = comparable(&quiet);
    assert_eq!(reference.len(), 8);

    // A reader seeing a half-written last line leaves the file alone and says so.
    let torn = std::fs::read(quiet.join("journal.jsonl")).unwrap();
    let mut half = torn.clone();
    half.extend_from_slice(&torn[..torn.len() / 16]);
    std::fs::write(quiet.join("journal.jsonl"), &half).unwrap();
    let out = ok(bin().arg("status").arg(&quiet));
    assert!(out.contains("line 9") && out.contains("ignored"), "{out}");
    assert_eq!(std::fs::read(quiet.join("journal.jsonl")).unwrap(), half);
    assert!(!quiet.join("journal.jsonl.corrupt-0").exists());

    let live = dir.path().join("live");
    let mut driver = spawn_search(&cfg, &live);
    let csv = dir.path().join("live.csv");
    let mut reads = 0;
    while driver.try_wait().unwrap().is_none() {
        if live.join("config.toml").exists() {
            for args in [
                vec!["status".to_string()],
                vec![
                    "export".into(),
                    "--what".into(),
                    "all".into(),
                    "--format".into(),
                    "csv".into(),
                    "--out".into(),
                    csv.display().to_string(),
                ],
            ] {
                let _ = bin()
                    .arg(&args[0])
                    .arg(&live)
                    .args(&args[1..])
                    .output()
                    .unwrap();
                reads += 1;
            }
        }
    }
    assert!(driver.wait().unwrap().success());
    assert!(
        reads > 4,
        "the readers ran while the campaign did ({reads})"
    );
    assert_eq!(comparable(&live), reference);
    let stray: Vec<_> = std::fs::read_dir(&live)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
        .collect();
    assert!(stray.is_empty(), "a reader cut the journal: {stray:?}");
}

#[test]
fn a_second_driver_is_refused_until_the_first_dies() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "drivers", 8, 60, false);
    let quiet = dir.path().join("quiet");
    ok(&mut search(&cfg, &quiet));
    let reference = comparable(&quiet);

    let run = dir.path().join("run");
    let mut first = spawn_search(&cfg, &run);
    wait_for_records(&run, 1);
    for second in [
        bin().arg("resume").arg(&run).output().unwrap(),
        search(&cfg, &run).output().unwrap(),
    ] {
        let err = String::from_utf8_lossy(&second.stderr);
        assert!(!second.status.success(), "a second driver ran");
        assert!(
            err.contains(&format!("pid {}", first.id())) && err.contains("another"),
            "{err}"
        );
    }
    first.kill().unwrap(); // SIGKILL: the lock goes with the process
    first.wait().unwrap();
    assert!(journal_len(&run) < 8, "killed before the end");
    ok(bin().arg("resume").arg(&run));
    assert_eq!(comparable(&run), reference);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// Every journal line of a file, as (id, proposal_key).
fn lines_of(path: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("whole JSON lines only");
            (
                v["record"]["id"].as_u64().unwrap(),
                v["record"]["proposal_key"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_kill_inside_the_mismatch_rewrite_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "rewrite", 5, 10, true);
    let base = dir.path().join("base");
    ok(&mut search(&cfg, &base));
    let original = lines_of(&base.join("journal.jsonl"));
    assert_eq!(original.len(), 5);

    for point in [
        "journal-rewrite:replaced-written",
        "journal-rewrite:temp-written",
        "journal-rewrite:done",
    ] {
        let run = dir.path().join(point.replace(':', "-"));
        copy_dir(&base, &run);
        // Another seed: the two seeded designs still come first, the rest no longer matches.
        let text = std::fs::read_to_string(run.join("config.toml")).unwrap();
        std::fs::write(
            run.join("config.toml"),
            text.replace("seed = 5", "seed = 6"),
        )
        .unwrap();
        let died = bin()
            .arg("resume")
            .arg(&run)
            .env("FLASHNAS_FAULT", point)
            .output()
            .unwrap();
        assert!(!died.status.success(), "{point}: the fault did not fire");
        // Whatever the moment: the journal is whole lines, and every original record is in
        // the journal or set aside.
        let journal = lines_of(&run.join("journal.jsonl"));
        let aside = lines_of(&run.join("journal.jsonl.replaced"));
        for r in &original {
            assert!(
                journal.contains(r) || aside.contains(r),
                "{point}: record {r:?} lost"
            );
        }
        ok(bin().arg("resume").arg(&run));
        let after = lines_of(&run.join("journal.jsonl"));
        assert_eq!(after.len(), 5, "{point}");
        assert_eq!(
            after[..2],
            original[..2],
            "{point}: the seeded designs are kept"
        );
        assert_eq!(
            lines_of(&run.join("journal.jsonl.replaced")),
            original[2..],
            "{point}"
        );
    }
}

/// Relative paths of a config mean "from where the config is": the run's copy holds them
/// absolute, so the driver (from any folder), local workers and Slurm jobs read the same files.
#[test]
fn relative_paths_are_absolute_in_the_run_copy() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(
        conf.join("seed.json"),
        r#"{"vocab_size": 256, "d_model": 16, "attention": {"n_heads": 2}, "ffn": {"hidden": 32}, "layers": ["a", "f"]}"#,
    )
    .unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/data/tinyshakespeare.txt"),
        conf.join("corpus.txt"),
    )
    .unwrap();
    // A predictor file (not read with an analytic source; its path must still travel).
    std::fs::create_dir_all(conf.join("models")).unwrap();
    std::fs::write(conf.join("models/m.json"), "{}").unwrap();
    let text = std::fs::read_to_string(config(&conf, "paths", 2, 5, false))
        .unwrap()
        .replace("[train.data]\n", "[train.data]\npath = \"corpus.txt\"\n")
        .replace(
            "budget_s = 0.004",
            "budget_s = 0.004\nlut_file = \"tables/lut.json\"\nmodel_file = \"models/m.json\"",
        )
        + "[[seeds]]\narch = \"seed.json\"\n";
    std::fs::write(conf.join("paths.toml"), text).unwrap();
    let run = dir.path().join("run");
    ok(bin()
        .current_dir(&elsewhere)
        .args(["search", "--config", "../conf/paths.toml", "--out"])
        .arg(&run));
    let copy: toml::Value =
        toml::from_str(&std::fs::read_to_string(run.join("config.toml")).unwrap()).unwrap();
    let conf = std::fs::canonicalize(&conf).unwrap();
    assert_eq!(
        copy["train"]["data"]["path"].as_str().unwrap(),
        conf.join("corpus.txt").display().to_string()
    );
    assert_eq!(
        copy["seeds"][0]["arch"].as_str().unwrap(),
        conf.join("seed.json").display().to_string()
    );
    assert_eq!(
        copy["latency"]["lut_file"].as_str().unwrap(),
        conf.join("tables/lut.json").display().to_string()
    );
    assert_eq!(
        copy["latency"]["model_file"].as_str().unwrap(),
        conf.join("models/m.json").display().to_string()
    );
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(run.join("journal.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["record"]["layers"], "a f");
}
