//! Campaign properties: genomes, resume determinism, corrupt journals, export, config
//! errors, failed candidates.

use flashnas_search::config::CampaignConfig;
use flashnas_search::genome::{Factor, Genome};
use flashnas_search::journal::{Journal, Record};
use flashnas_search::{Campaign, Event};
use rand::SeedableRng;
use std::path::Path;

/// A small real campaign with a deterministic (analytic) latency source.
pub fn small_config(strategy: &str, evaluations: usize) -> String {
    format!(
        r#"
name = "test"
seed = 3
strategy = "{strategy}"
evaluations = {evaluations}
[space]
width = "gene"
stages = 2
mixers = ["attention", "mamba2", "deltanet", "gated_deltanet"]
ffns = [0, 1]
max_repeats = 2
depth_cap = 6
widths = [16, 32]
head_dim = 8
ffn_ratio = 2.0
mamba_d_state = 4
chunk_size = 8
[aging]
population = 3
sample = 2
[nsga2]
population = 3
[latency]
source = "analytic"
roofline = "cpu-2core"
prompt = 8
generate = 8
budget_s = 0.004
[family_seeds]
enabled = false
[racing]
enabled = false
[objectives]
reference_point = {{ loss = 6.0, latency_s = 0.01 }}
[train]
seq_len = 16
batch_size = 2
steps = 3
[train.data]
val_windows = 2
"#
    )
}

fn run(dir: &Path, text: &str) -> Vec<Record> {
    let cfg = CampaignConfig::from_toml(text, "test.toml").unwrap();
    let mut ev = |_e: Event| {};
    let mut c = Campaign::create(dir, cfg, text, &mut ev).unwrap();
    c.run().unwrap();
    c.records.clone()
}

fn resume(dir: &Path) -> Vec<Record> {
    let mut ev = |_e: Event| {};
    let mut c = Campaign::resume(dir, &mut ev).unwrap();
    c.run().unwrap();
    c.records.clone()
}

/// The journal without wall-clock fields.
pub fn comparable(records: &[Record]) -> Vec<serde_json::Value> {
    records
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap();
            v["eval_seconds"] = 0.into();
            v["proxy"]["wall_seconds"] = 0.into();
            v["proxy"]["tokens_per_second"] = 0.into();
            v
        })
        .collect()
}

fn space() -> flashnas_search::config::SpaceConfig {
    CampaignConfig::from_toml(&small_config("aging", 4), "t")
        .unwrap()
        .space
}

#[test]
fn random_and_mutated_genomes_are_valid_and_change_one_factor() {
    let space = space();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    for _ in 0..300 {
        let g = Genome::random(&space, &mut rng);
        assert!(g.is_valid(&space), "{g:?}");
        assert!(g.depth() <= space.depth_cap);
        let spec = g.to_spec(&space, 256);
        spec.validate().unwrap();
        assert_eq!(spec.depth(), g.depth());
        let (child, factor) = g.mutate(&space, &mut rng);
        assert!(child.is_valid(&space));
        assert_ne!(child, g);
        // Exactly one factor changed.
        match factor {
            Factor::Width => assert_eq!(child.stages, g.stages),
            Factor::BlockCounts => {
                assert_eq!(child.width, g.width);
            }
            Factor::Operator | Factor::Ratio | Factor::Ffns => {
                assert_eq!(child.width, g.width);
                // One block type changed; repair may then drop blocks from the end (never add).
                let differing = g
                    .stages
                    .iter()
                    .zip(&child.stages)
                    .filter(|(a, b)| a.block != b.block)
                    .count();
                assert!(
                    differing <= 1 && child.stages.len() <= g.stages.len(),
                    "{factor:?}: {g:?} → {child:?}"
                );
                for (a, b) in g.stages.iter().zip(&child.stages) {
                    assert!(b.repeats <= a.repeats);
                    if factor != Factor::Ffns {
                        // ffns untouched unless it was the factor
                        assert_eq!(a.block.ffns, b.block.ffns);
                    }
                }
            }
        }
    }
}

#[test]
fn repair_enforces_the_depth_cap_from_the_last_stage() {
    let space = space();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut g = Genome::random(&space, &mut rng);
    for s in &mut g.stages {
        s.repeats = 50;
    }
    let first = g.stages[0].clone();
    g.repair(space.depth_cap);
    assert!(g.depth() <= space.depth_cap);
    assert_eq!(g.stages[0].block, first.block);
    // NF layer_types round into a genome of the space.
    let layers = flashnas_search::genome::parse_layer_types(&[
        "m2".into(),
        "f".into(),
        "a".into(),
        "f".into(),
    ])
    .unwrap();
    let g = Genome::from_layers(&layers, 16, &space);
    assert_eq!(g.to_spec(&space, 256).layer_string(), "m2 f a f");
}

#[test]
fn resumed_campaign_equals_uninterrupted_campaign() {
    for strategy in ["aging", "nsga2", "random"] {
        let text = small_config(strategy, 7);
        let base = tempfile::tempdir().unwrap();
        let full = run(&base.path().join("full"), &text);
        assert_eq!(full.len(), 7, "{strategy}");
        assert!(full.iter().any(|r| r.cycle > 0) || strategy == "random");
        for cut in [0usize, 2, 5] {
            let dir = base.path().join(format!("cut{cut}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("config.toml"), &text).unwrap();
            // The journal as a crash after `cut` evaluations left it, with a half-written line.
            let src = std::fs::read_to_string(base.path().join("full/journal.jsonl")).unwrap();
            let lines: Vec<&str> = src.lines().collect();
            let mut kept: String = lines[..cut].iter().map(|l| format!("{l}\n")).collect();
            kept.push_str(&lines[cut][..lines[cut].len() / 2]);
            std::fs::write(dir.join("journal.jsonl"), kept).unwrap();
            let mut notes = Vec::new();
            let mut ev = |e: Event| {
                if let Event::Note(n) = e {
                    notes.push(n)
                }
            };
            {
                let mut c = Campaign::resume(&dir, &mut ev).unwrap();
                c.run().unwrap();
                assert_eq!(
                    comparable(&c.records),
                    comparable(&full),
                    "{strategy}, resumed after {cut}"
                );
            }
            assert!(
                notes
                    .iter()
                    .any(|n| n.contains("line") && n.contains("truncated")),
                "{notes:?}"
            );
            // The journal on disk is the full one again.
            let on_disk = Journal::new(&dir).read().unwrap();
            assert!(on_disk.problems.is_empty());
            assert_eq!(comparable(&on_disk.records), comparable(&full));
        }
        // Resuming a finished campaign changes nothing and evaluates nothing.
        let again = resume(&base.path().join("full"));
        assert_eq!(comparable(&again), comparable(&full));
    }
}

#[test]
fn export_rows_equal_the_journal() {
    let text = small_config("aging", 6);
    let dir = tempfile::tempdir().unwrap();
    let records = run(dir.path(), &text);
    let out = dir.path().join("all.csv");
    let n = flashnas_search::export::export(dir.path(), false, false, &out).unwrap();
    assert_eq!(n, records.len());
    let csv = std::fs::read_to_string(&out).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for (line, r) in lines.zip(&records) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[col("id")], r.id.to_string());
        assert_eq!(cells[col("genome")], r.layers);
        assert_eq!(cells[col("width")], r.width.to_string());
        assert_eq!(cells[col("params")], r.params.to_string());
        let loss: f64 = cells[col("val_loss")].parse().unwrap();
        assert!((loss - r.proxy.val_loss.unwrap()).abs() < 1e-9 * loss.abs().max(1.0));
        let lat: f64 = cells[col("latency_s")].parse().unwrap();
        assert!((lat - r.latency.seconds.unwrap()).abs() < 1e-9);
    }
    // The frontier export holds exactly the is_pareto rows.
    let fr = dir.path().join("f.parquet");
    let nf = flashnas_search::export::export(dir.path(), true, true, &fr).unwrap();
    let flags = flashnas_search::store::pareto_flags(
        &CampaignConfig::from_toml(&text, "t").unwrap(),
        &records,
    );
    assert_eq!(nf, flags.iter().filter(|f| **f).count());
    assert!(nf >= 1);
    let svgs = flashnas_search::plot::plot(dir.path(), dir.path()).unwrap();
    assert!(std::fs::read_to_string(&svgs[0])
        .unwrap()
        .contains("<circle"));
}

#[test]
fn failed_candidates_are_recorded_and_the_campaign_goes_on() {
    // max_loss far below any real loss: every candidate diverges at step 0.
    let text = small_config("aging", 5).replace("steps = 3", "steps = 3\nmax_loss = 0.01");
    let dir = tempfile::tempdir().unwrap();
    let records = run(dir.path(), &text);
    assert_eq!(records.len(), 5);
    for r in &records {
        assert_eq!(r.status, "failed");
        assert!(!r.feasible);
        assert!(
            r.failure.as_ref().unwrap().contains("diverged at step 0"),
            "{:?}",
            r.failure
        );
    }
}

#[test]
fn config_errors_name_the_key() {
    let good = small_config("aging", 4);
    let cases = [
        (
            good.replace("evaluations = 4", "evaluations = 4\nevalutions = 3"),
            "evalutions",
        ),
        (
            good.replace("strategy = \"aging\"", "strategy = \"greedy\""),
            "greedy",
        ),
        (good.replace("ffns = [0, 1]", "ffns = [0, 3]"), "space.ffns"),
        (
            good.replace("widths = [16, 32]", "widths = [16, 30]"),
            "space.widths: width 30",
        ),
        (
            good.replace("budget_s = 0.004", "budget_s = -1.0"),
            "latency.budget_s",
        ),
        (
            good.replace("roofline = \"cpu-2core\"", "roofline = \"tpu\""),
            "latency.roofline",
        ),
        (good.replace("sample = 2", "sample = 9"), "aging"),
        (
            good.replace("batch_size = 2", "batch_size = 0"),
            "train.batch_size",
        ),
        (
            good.replace("mixers = [", "mixers = [\"conv\", "),
            "space.mixers: 'conv'",
        ),
        (
            good.replace(
                "roofline = \"cpu-2core\"",
                "roofline_device = { name = \"mine\", peak_flops = 1e12, bandwidth = 0.0, launch_overhead = 0.0 }",
            ),
            "latency.roofline_device.bandwidth",
        ),
        (
            good.replace("budget_s = 0.004", "budget_s = 0.004\nbudget_ref = 1.2"),
            "exactly one of budget_s",
        ),
        (
            good.replace("budget_s = 0.004", "calibrate = true\nbudget_ref = 1.2"),
            "latency.calibrate",
        ),
        (
            good.replace(
                "budget_s = 0.004",
                "budget_ref = 1.2\nreference = [\"a\", \"q\"]",
            ),
            "latency.reference",
        ),
    ];
    for (text, want) in cases {
        let e = CampaignConfig::from_toml(&text, "c.toml").unwrap_err();
        assert!(matches!(e, flashnas_search::Error::Config(_)), "{e:?}");
        let e = e.to_string();
        assert!(
            e.contains("c.toml") && e.contains(want),
            "want '{want}' in: {e}"
        );
    }
}

#[test]
fn shipped_configs_are_valid() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/");
    CampaignConfig::from_file(&Path::new(root).join("quickstart.toml")).unwrap();
    let paper = Path::new(root).join("nemotron-flash-1b.toml");
    match CampaignConfig::from_file(&paper) {
        Ok(c) => {
            assert!(flashnas_model::backend::backend_name() == "cuda");
            assert_eq!((c.space.depth_cap, c.latency.generate), (30, 8192));
        }
        // Without CUDA the only complaint is the device.
        Err(e) => assert!(
            !cfg!(feature = "cuda")
                && e.to_string().contains("latency.device")
                && e.to_string().contains("--features cuda"),
            "{e}"
        ),
    }
    flashnas_training::TrainConfig::from_file(&Path::new(root).join("train-quick.toml")).unwrap();
    use flashnas_search::depth_width::DepthWidthConfig;
    let quick =
        DepthWidthConfig::from_file(&Path::new(root).join("depth-width-quick.toml")).unwrap();
    assert_eq!(quick.shapes().len(), 15);
    match DepthWidthConfig::from_file(&Path::new(root).join("depth-width-paper.toml")) {
        Ok(c) => {
            assert!(flashnas_model::backend::backend_name() == "cuda");
            assert_eq!(c.depths, vec![6, 12, 18, 24, 30]);
        }
        Err(e) => assert!(
            !cfg!(feature = "cuda") && e.to_string().contains("latency.device"),
            "{e}"
        ),
    }
}

/// A budget in reference units: the reference model is timed once when the campaign starts and
/// pinned in the run's config; with calibration every candidate is timed against it, and its
/// latency is `ratio × reference_s` with the raw seconds beside it.
#[test]
fn calibrated_campaign_records_raw_and_relative_latency() {
    let dir = tempfile::tempdir().unwrap();
    let text = small_config("random", 3).replace(
        "source = \"analytic\"\nroofline = \"cpu-2core\"\nprompt = 8\ngenerate = 8\nbudget_s = 0.004",
        "source = \"measured\"\ncalibrate = true\nreference = [\"a\", \"f\"]\nrepeats = 3\nprompt = 4\ngenerate = 4\nbudget_ref = 4.0",
    );
    assert!(text.contains("calibrate = true"));
    let records = run(dir.path(), &text);
    let pinned = CampaignConfig::from_file(&dir.path().join("config.toml")).unwrap();
    let unit = pinned.latency.reference_s.expect("reference_s pinned");
    assert!(unit > 0.0);
    assert_eq!(pinned.latency.budget_seconds(), Some(4.0 * unit));
    for r in records.iter().filter(|r| r.status == "ok") {
        let (s, raw, ratio) = (
            r.latency.seconds.unwrap(),
            r.latency.raw_s.unwrap(),
            r.latency.ratio.unwrap(),
        );
        assert_eq!(r.latency.source, "measured (calibrated)");
        assert!(raw > 0.0 && ratio > 0.0);
        assert!(
            (s - ratio * unit).abs() <= 1e-12 * s.max(1.0),
            "{s} vs {ratio} × {unit}"
        );
        assert_eq!(r.feasible, ratio <= 4.0);
    }
    // Resume keeps the pinned unit (it is not measured again).
    let again = resume(dir.path());
    assert_eq!(comparable(&again), comparable(&records));
    let after = CampaignConfig::from_file(&dir.path().join("config.toml")).unwrap();
    assert_eq!(after.latency.reference_s, Some(unit));
}

/// `small_config` at a tighter budget (0.003 s), where several candidates of each strategy
/// are over it.
fn over_budget_config(strategy: &str, extra_latency: &str) -> String {
    small_config(strategy, 10).replace(
        "budget_s = 0.004",
        &format!("budget_s = 0.003\n{extra_latency}"),
    )
}

/// Equal JSON, numbers within `rel` of each other (gemm picks its kernel by CPU, so another
/// CPU model may round the last bits differently).
fn assert_json_close(a: &serde_json::Value, b: &serde_json::Value, rel: f64, at: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                x == y || (x - y).abs() <= rel * x.abs().max(y.abs()),
                "{at}: {x} != {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: lengths");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                assert_json_close(x, y, rel, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            let keys = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(x), keys(y), "{at}: fields");
            for (k, v) in x {
                assert_json_close(v, &y[k], rel, &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

#[test]
fn train_over_budget_reproduces_the_journals_saved_before_latency_first() {
    // Fixtures: `flashnas search` on these configs at 8337f8c (before candidates were priced
    // first), wall-clock fields zeroed as `comparable` does. 4, 7 and 6 of the 10
    // candidates are over the budget.
    for strategy in ["aging", "nsga2", "random"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(format!("{strategy}-seed3.jsonl"));
        let saved: Vec<serde_json::Value> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let text = over_budget_config(strategy, "train_over_budget = true");
        let now = comparable(&run(dir.path(), &text));
        assert_eq!(now.len(), saved.len(), "{strategy}");
        for (i, (a, b)) in now.iter().zip(&saved).enumerate() {
            // 1e-5: this runner's CPU rounds the hypervolume of nsga2 record 6 to 1.05e-6 of
            // the recorded value (gemm picks its kernel by CPU model).
            assert_json_close(a, b, 1e-5, &format!("{strategy} record {i}"));
        }
    }
}

/// A proposal priced over the budget is journaled (untrained) but is not an evaluation: the
/// strategy proposes again until `evaluations` candidates were trained, none of them over the
/// budget; aging's population never holds one; the journal replays as it is.
#[test]
fn over_budget_proposals_do_not_consume_evaluations() {
    for strategy in ["aging", "nsga2", "random"] {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let trained = run(
            d1.path(),
            &over_budget_config(strategy, "train_over_budget = true"),
        );
        let priced = run(d2.path(), &over_budget_config(strategy, ""));
        let counted: Vec<&Record> = priced.iter().filter(|r| r.counts_as_evaluation()).collect();
        assert_eq!(
            counted.len(),
            10,
            "{strategy}: evaluations = candidates trained"
        );
        let over: Vec<&Record> = priced
            .iter()
            .filter(|r| r.status == "over_budget")
            .collect();
        assert!(over.len() >= 3, "{strategy}: {} over budget", over.len());
        assert_eq!(
            priced.len(),
            10 + over.len(),
            "{strategy}: re-proposed in their place"
        );
        for r in &over {
            assert_eq!((r.proxy.steps, r.proxy.val_loss), (0, None));
            assert!(r.failure.as_ref().unwrap().contains("over the budget"));
            assert!(r.latency.seconds.unwrap() > 0.003);
        }
        for r in &counted {
            assert!(
                r.feasible && r.latency.seconds.unwrap() <= 0.003,
                "{strategy} {}",
                r.key
            );
        }
        // Up to the first over-budget proposal both runs propose alike.
        let first = over[0].id;
        for i in 0..=first {
            assert_eq!(
                trained[i].proposal_key, priced[i].proposal_key,
                "{strategy} {i}"
            );
        }
        if strategy == "aging" {
            let ck = flashnas_search::journal::Checkpoint::load(d2.path())
                .unwrap()
                .unwrap();
            assert!(ck.population.iter().all(|&i| priced[i].status == "ok"));
        }
        // The journal of a priced campaign replays as it is.
        assert_eq!(comparable(&resume(d2.path())), comparable(&priced));
    }
}

/// A budget no candidate meets: the campaign stops after `pricing_attempts` proposals in a
/// row, with an error naming the budget, the fastest candidate seen and what to change;
/// the journal holds every proposal it priced.
#[test]
fn a_campaign_without_any_feasible_candidate_stops_with_what_to_change() {
    let text = small_config("aging", 10)
        .replace("budget_s = 0.004", "budget_s = 0.0000001")
        .replace(
            "evaluations = 10\n",
            "evaluations = 10\npricing_attempts = 12\n",
        );
    let cfg = CampaignConfig::from_toml(&text, "test.toml").unwrap();
    assert_eq!(cfg.pricing_attempts, 12);
    let dir = tempfile::tempdir().unwrap();
    let mut ev = |_e: Event| {};
    let mut c = Campaign::create(dir.path(), cfg, &text, &mut ev).unwrap();
    let err = c.run().err().expect("no feasible candidate");
    assert!(
        matches!(err, flashnas_search::Error::NoFeasible(_)),
        "{err:?}"
    );
    let msg = err.to_string();
    for want in [
        "no candidate within the latency budget",
        "fastest seen",
        "budget_s",
        "space.widths",
    ] {
        assert!(msg.contains(want), "{want}: {msg}");
    }
    assert_eq!(c.records.len(), 12);
    assert!(c.records.iter().all(|r| r.status == "over_budget"));
}

#[test]
fn extended_campaign_equals_a_campaign_run_with_the_larger_budget() {
    for strategy in ["aging", "nsga2", "random"] {
        let (short, long) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = run(short.path(), &small_config(strategy, 5));
        assert_eq!(first.len(), 5);
        let full = run(long.path(), &small_config(strategy, 9));
        let mut ev = |_e: Event| {};
        let mut c = Campaign::resume(short.path(), &mut ev).unwrap();
        let shrink = c.extend_budget(4).unwrap_err();
        assert!(matches!(shrink, flashnas_search::Error::Config(_)));
        let shrink = shrink.to_string();
        assert!(shrink.contains("can only grow"), "{shrink}");
        c.extend_budget(9).unwrap();
        c.run().unwrap();
        let extended = c.records.clone();
        drop(c);
        assert_eq!(comparable(&extended[..5]), comparable(&first), "{strategy}");
        assert_eq!(comparable(&extended), comparable(&full), "{strategy}");
        // The raised budget is pinned: a later resume replays the extended campaign as is.
        let cfg = CampaignConfig::from_file(&short.path().join("config.toml")).unwrap();
        assert_eq!(cfg.evaluations, 9);
        assert_eq!(comparable(&resume(short.path())), comparable(&full));
    }
}

#[test]
fn warm_start_seeds_from_earlier_campaigns_and_reuses_their_results() {
    let earlier = tempfile::tempdir().unwrap();
    let first = run(earlier.path(), &small_config("aging", 6));
    let mut best: Vec<&Record> = first
        .iter()
        .filter(|r| r.feasible && r.status == "ok")
        .collect();
    best.sort_by(|a, b| {
        a.loss()
            .partial_cmp(&b.loss())
            .unwrap()
            .then(a.id.cmp(&b.id))
    });
    assert!(best.len() >= 2);
    let warm = format!(
        "\n[warm_start]\nfrom = [\"{}\"]\ncount = 2\n",
        earlier.path().display()
    );
    let text = small_config("aging", 8) + &warm;

    // Same settings: the two best genomes come first and their results are reused.
    let dir = tempfile::tempdir().unwrap();
    let warmed = run(dir.path(), &text);
    for k in 0..2 {
        let (w, b) = (&warmed[k], best[k]);
        assert_eq!((w.origin.as_str(), &w.key), ("warm_start", &b.key));
        assert_eq!(w.proxy, b.proxy);
        assert_eq!(w.latency.seconds, b.latency.seconds);
        assert_eq!(w.eval_seconds, 0.0);
    }
    assert_ne!(warmed[2].origin, "warm_start");
    assert!(dir.path().join("warm_start.jsonl").exists());
    assert_eq!(comparable(&resume(dir.path())), comparable(&warmed));

    // Another seed trains differently: the same designs, evaluated again.
    let other = tempfile::tempdir().unwrap();
    let retrained = run(other.path(), &text.replace("seed = 3", "seed = 4"));
    for k in 0..2 {
        assert_eq!(retrained[k].key, best[k].key);
        assert!(retrained[k].eval_seconds > 0.0);
        assert_ne!(retrained[k].proxy.loss_curve, best[k].proxy.loss_curve);
    }

    // A folder that is not a campaign is named.
    let missing = small_config("aging", 8) + "\n[warm_start]\nfrom = [\"/nonexistent/campaign\"]\n";
    let cfg = CampaignConfig::from_toml(&missing, "test.toml").unwrap();
    let mut ev = |_e: Event| {};
    let err = Campaign::create(tempfile::tempdir().unwrap().path(), cfg, &missing, &mut ev)
        .err()
        .unwrap();
    assert!(matches!(err, flashnas_search::Error::Config(_)), "{err:?}");
    assert!(err.to_string().contains("warm_start.from[0]"), "{err}");
}

/// The enumeration of a space holds every genome random sampling and mutation reach, each key
/// once; a space larger than the cap is refused rather than truncated.
#[test]
fn enumeration_covers_what_sampling_and_mutation_reach() {
    let space = space();
    let all = Genome::enumerate(&space, 1_000_000).unwrap();
    let keys: std::collections::HashSet<String> = all.iter().map(|g| g.key()).collect();
    assert_eq!(keys.len(), all.len(), "duplicate keys");
    assert!(all.iter().all(|g| g.is_valid(&space)));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for _ in 0..2000 {
        let g = Genome::random(&space, &mut rng);
        assert!(keys.contains(&g.key()), "{} not enumerated", g.key());
        let (child, _) = g.mutate(&space, &mut rng);
        assert!(
            keys.contains(&child.key()),
            "{} not enumerated",
            child.key()
        );
    }
    assert!(Genome::enumerate(&space, all.len() - 1).is_none());
}

/// A campaign made before widths were fitted by default, family seeds and racing existed: its
/// config copy says none of them, and a resume keeps what it ran with (gene widths, no family
/// seeds, no racing: its journal replays as it is) and pins that in the copy; a new campaign's
/// copy says what it runs with.
#[test]
fn a_campaign_made_before_the_defaults_changed_resumes_as_it_ran() {
    let dir = tempfile::tempdir().unwrap();
    let first = run(dir.path(), &small_config("aging", 5));
    let copy = dir.path().join("config.toml");
    let text = std::fs::read_to_string(&copy).unwrap();
    for line in ["width = \"gene\"", "enabled = false"] {
        assert!(text.contains(line), "{line} pinned: {text}");
    }
    // As an earlier version wrote it: none of the three keys.
    let old: String = text
        .lines()
        .filter(|l| !l.starts_with("width = ") && !l.starts_with("enabled = "))
        .filter(|l| *l != "[family_seeds]" && *l != "[racing]")
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!old.contains("width =") && !old.contains("[racing]"));
    std::fs::write(&copy, &old).unwrap();
    let mut notes = Vec::new();
    let mut ev = |e: Event| {
        if let Event::Note(n) = e {
            notes.push(n)
        }
    };
    let mut c = Campaign::resume(dir.path(), &mut ev).unwrap();
    c.extend_budget(7).unwrap();
    c.run().unwrap();
    let resumed = c.records.clone();
    drop(c);
    assert_eq!(
        comparable(&resumed[..5]),
        comparable(&first),
        "replayed as it is"
    );
    assert!(
        notes.iter().any(|n| n.contains("space.width = gene")),
        "{notes:?}"
    );
    let pinned = CampaignConfig::from_file(&copy).unwrap();
    assert_eq!(pinned.space.width, flashnas_search::config::WidthRule::Gene);
    assert!(!pinned.family_seeds.enabled && !pinned.racing.enabled);
}

// Recall as a quality objective and as a constraint: `[objectives] quality = "both"` ranks
// (loss, latency, recall error) with NSGA-II and a 3-D hypervolume; `recall_min` makes a
// candidate infeasible the way a latency budget does.

use flashnas_search::journal::{Objective, RecordStatus};
use flashnas_search::pareto::{frontier, hypervolume, Point};
use flashnas_search::strategy::violation;

/// `small_config` with a tiny recall probe (two pairs over four keys and four values).
fn recall_config(strategy: &str, evaluations: usize, objectives: &str) -> String {
    small_config(strategy, evaluations)
        .replace(
            "[objectives]\n",
            &format!("[objectives]\n{objectives}\n"),
        )
        .replace(
            "[train.data]",
            "[train.recall]\nenabled = true\npairs = 2\nqueries = 2\nsteps = 4\nbatch_size = 4\neval_sequences = 16\nkeys = 4\nvalues = 4\nlr = 0.01\n[train.data]",
        )
}

#[test]
fn a_recall_constraint_makes_a_candidate_infeasible_like_a_latency_budget() {
    // First the recall each candidate reaches, unconstrained; then the median as the bar.
    let d0 = tempfile::tempdir().unwrap();
    let free = run(d0.path(), &recall_config("aging", 8, ""));
    let mut recalls: Vec<f64> = free.iter().filter_map(|r| r.recall()).collect();
    assert!(
        recalls.len() >= 6,
        "every trained candidate has a recall figure"
    );
    recalls.sort_by(f64::total_cmp);
    let bar = recalls[recalls.len() / 2];
    assert!(bar > 0.0 && bar < 1.0, "{recalls:?}");
    let text = recall_config("aging", 8, &format!("recall_min = {bar}")).replace(
        "[racing]\nenabled = false",
        "[racing]\nenabled = true\nsigma_sample = 2\nmax_seeds = 2",
    );
    let dir = tempfile::tempdir().unwrap();
    let records = run(dir.path(), &text);
    let cfg = CampaignConfig::from_toml(&text, "t").unwrap();
    let budget = cfg.latency.budget_seconds().unwrap();
    let short: Vec<&Record> = records
        .iter()
        .filter(|r| r.status == RecordStatus::Ok && r.replicate.is_none())
        .filter(|r| r.recall().unwrap() < bar)
        .collect();
    assert!(!short.is_empty(), "some candidate falls below the median");
    for r in &short {
        assert!(!r.feasible, "#{} recall {:?} < {bar}", r.id, r.recall());
        assert!((r.recall_shortfall - (bar - r.recall().unwrap())).abs() < 1e-12);
        // Ranked by how far short, in budgets, on top of any latency excess.
        let want = (r.latency() - budget).max(0.0) + r.recall_shortfall * budget;
        assert!((violation(r, budget) - want).abs() < 1e-15);
    }
    for r in records.iter().filter(|r| r.status == RecordStatus::Ok) {
        let ok = r.recall().unwrap() >= bar && r.latency() <= budget;
        assert_eq!(r.feasible, ok, "#{}", r.id);
    }
    // Never on the frontier, never the best, never raced.
    let flags = flashnas_search::store::pareto_flags(&cfg, &records);
    let best = flashnas_search::store::best_of(&records);
    for r in &short {
        assert!(!flags[r.id] && best != Some(r.id), "#{}", r.id);
    }
    let raced: Vec<usize> = records
        .iter()
        .filter(|r| r.replicate.is_some())
        .map(|r| r.parent.unwrap())
        .collect();
    assert!(!raced.is_empty(), "racing ran on the feasible candidates");
    for p in raced {
        assert!(records[p].feasible, "#{p} raced though infeasible");
    }
    // The journal replays as it is.
    let mut ev = |_e: Event| {};
    let mut c = Campaign::resume(dir.path(), &mut ev).unwrap();
    c.run().unwrap();
    assert_eq!(comparable(&c.records), comparable(&records));
}

#[test]
fn nsga2_ranks_loss_latency_and_recall_with_a_three_dimensional_hypervolume() {
    let text = recall_config(
        "nsga2",
        20,
        "quality = \"both\"\nreference_point = { loss = 6.0, latency_s = 0.01, recall_error = 1.0 }",
    )
    .replace("reference_point = { loss = 6.0, latency_s = 0.01 }\n", "");
    let dir = tempfile::tempdir().unwrap();
    let records = run(dir.path(), &text);
    let cfg = CampaignConfig::from_toml(&text, "t").unwrap();
    assert_eq!(
        cfg.objectives.frontier(),
        vec![Objective::Loss, Objective::Latency, Objective::RecallError]
    );
    let budget = cfg.latency.budget_seconds().unwrap();
    // The frontier and hypervolume recomputed here from the journal, all pairs.
    let cands: Vec<&Record> = records
        .iter()
        .filter(|r| r.status == RecordStatus::Ok && r.is_candidate() && r.latency() <= budget)
        .collect();
    let pts: Vec<Point> = cands
        .iter()
        .map(|r| Point {
            objectives: vec![r.loss(), r.latency(), 1.0 - r.recall().unwrap()],
            violation: 0.0,
        })
        .collect();
    let mut want: Vec<usize> = frontier(&pts).iter().map(|&i| cands[i].id).collect();
    want.sort_unstable();
    let flags = flashnas_search::store::pareto_flags(&cfg, &records);
    let got: Vec<usize> = (0..records.len()).filter(|&i| flags[i]).collect();
    assert_eq!(got, want);
    let front: Vec<Vec<f64>> = want
        .iter()
        .map(|&i| {
            let r = &records[i];
            vec![r.loss(), r.latency(), 1.0 - r.recall().unwrap()]
        })
        .collect();
    let hv = hypervolume(&front, &[6.0, 0.01, 1.0]);
    let last = records.last().unwrap();
    assert!(hv > 0.0);
    assert!(
        (last.hypervolume - hv).abs() < 1e-12 * hv.max(1.0),
        "{} vs {hv}",
        last.hypervolume
    );
    // Recall changes the answer: some member trades loss or latency for recall and is not
    // on the loss–latency front, which the 3-D front contains.
    let two: Vec<usize> = flashnas_search::store::frontier_of(&records, budget);
    assert!(want.iter().any(|i| !two.contains(i)), "{want:?} vs {two:?}");
    for i in &two {
        assert!(
            want.contains(i),
            "#{i} on the loss–latency front but not the 3-D one"
        );
    }
}

#[test]
fn recall_settings_are_checked_before_any_work() {
    let cases = [
        (
            small_config("nsga2", 4)
                .replace("[objectives]\n", "[objectives]\nquality = \"both\"\n"),
            "objectives.quality = \"both\" needs the recall probe",
        ),
        (
            small_config("aging", 4).replace("[objectives]\n", "[objectives]\nrecall_min = 0.5\n"),
            "objectives.recall_min needs the recall probe",
        ),
        (
            recall_config("aging", 4, "quality = \"recall\""),
            "aging evolution ranks one quality",
        ),
        (
            recall_config("aging", 4, "recall_min = 1.5"),
            "objectives.recall_min: 1.5",
        ),
        (
            recall_config("nsga2", 4, "quality = \"loss\"").replace("keys = 4", "keys = 1"),
            "recall.keys",
        ),
        (
            recall_config("nsga2", 4, "").replace("lr = 0.01", "lr = -1.0"),
            "recall.lr",
        ),
        (
            recall_config("nsga2", 4, "").replace(
                "[objectives]\n",
                "[objectives]\nextra = [\"recall_error\"]\n",
            ),
            "objectives.extra",
        ),
    ];
    for (text, want) in cases {
        let e = CampaignConfig::from_toml(&text, "c.toml")
            .err()
            .unwrap_or_else(|| panic!("accepted: {want}"))
            .to_string();
        assert!(e.contains(want), "{e} (wanted {want})");
    }
}

/// `[throughput]`: every candidate carries its large-batch throughput (the batch its memory
/// budget holds at the protocol's context, tokens/s by the roofline), NSGA-II can rank it,
/// and `min_tokens_s` makes a slower candidate infeasible, ranked by how far short.
#[test]
fn throughput_is_journaled_ranked_and_can_be_a_constraint() {
    let base = small_config("nsga2", 8).replace(
        "[objectives]\n",
        "[throughput]\nmemory_gb = 0.001\nroofline = \"cpu-2core\"\n[objectives]\nextra = [\"throughput\"]\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let records = run(dir.path(), &base);
    let cfg = CampaignConfig::from_toml(&base, "t").unwrap();
    let t = cfg.throughput.clone().unwrap();
    let context = cfg.latency.prompt + cfg.latency.generate;
    let mut rates = Vec::new();
    for r in &records {
        let want = t.of(&r.spec.spec(), context);
        assert_eq!(r.throughput_batch, Some(want.batch), "#{}", r.id);
        assert_eq!(r.throughput_tokens_s, Some(want.tokens_s));
        assert_eq!(r.objective(Objective::Throughput), -want.tokens_s);
        rates.push(want.tokens_s);
    }
    rates.sort_by(f64::total_cmp);
    let bar = rates[rates.len() / 2];
    let text = base.replace(
        "memory_gb = 0.001\n",
        &format!("memory_gb = 0.001\nmin_tokens_s = {bar}\n"),
    );
    let dir = tempfile::tempdir().unwrap();
    let records = run(dir.path(), &text);
    let budget = cfg.latency.budget_seconds().unwrap();
    let mut short = 0;
    for r in records.iter().filter(|r| r.status == RecordStatus::Ok) {
        let rate = r.throughput_tokens_s.unwrap();
        if rate < bar {
            short += 1;
            assert!(!r.feasible, "#{} {rate} < {bar}", r.id);
            assert!((r.throughput_shortfall - (1.0 - rate / bar)).abs() < 1e-12);
            assert!(violation(r, budget) > 0.0);
        } else {
            assert_eq!(r.feasible, r.latency() <= budget, "#{}", r.id);
        }
    }
    assert!(short > 0);
    let e = CampaignConfig::from_toml(
        &small_config("nsga2", 4)
            .replace("[objectives]\n", "[objectives]\nextra = [\"throughput\"]\n"),
        "c.toml",
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("needs a [throughput] section"), "{e}");
}

/// `[throughput] source = "measured"`: the worker that times a candidate decodes the batch its
/// memory budget holds on the campaign's device and journals the measured tokens/s (positive,
/// at the same batch as the roofline rule); a candidate left untrained has none, and a
/// constraint reads the measured figure.
#[test]
fn measured_throughput_is_the_workers_figure_at_the_memory_budgets_batch() {
    let base = small_config("nsga2", 6).replace(
        "[objectives]\n",
        "[throughput]\nmemory_gb = 0.001\nsource = \"measured\"\nsteps = 2\nrepeats = 1\n[objectives]\nextra = [\"throughput\"]\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let records = run(dir.path(), &base);
    let cfg = CampaignConfig::from_toml(&base, "t").unwrap();
    let t = cfg.throughput.clone().unwrap();
    let context = cfg.latency.prompt + cfg.latency.generate;
    let mut measured = 0;
    for r in &records {
        match r.status {
            RecordStatus::Ok => {
                let batch = t.batch(&r.spec.spec(), context);
                assert_eq!(r.throughput_batch, Some(batch), "#{}", r.id);
                let rate = r.throughput_tokens_s.unwrap();
                assert!(
                    rate.is_finite() && (batch == 0 || rate > 0.0),
                    "#{} {rate}",
                    r.id
                );
                // One timing of the batch's steps fits inside the evaluation that made it.
                if batch > 0 {
                    let one = (batch * t.steps) as f64 / rate;
                    assert!(
                        one <= r.eval_seconds,
                        "#{} {one} s > {} s",
                        r.id,
                        r.eval_seconds
                    );
                }
                // Measured, not the roofline's formula.
                assert_ne!(Some(rate), Some(t.of(&r.spec.spec(), context).tokens_s));
                measured += 1;
            }
            _ => assert_eq!(r.throughput_tokens_s, None, "#{}", r.id),
        }
    }
    assert!(measured > 0);
    let e = CampaignConfig::from_toml(&base.replace("steps = 2\n", "steps = 0\n"), "c.toml")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("steps"), "{e}");
}
