//! The short-training proxy on the default backend: learning, weight normalization,
//! determinism, bad input, divergence.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use flashnas_model::backend::{device, Train};
use flashnas_model::ArchSpec;
use flashnas_training::config::{DataConfig, Source};
use flashnas_training::weight_norm::{normalize_weights, READS_RESIDUAL, WRITES_RESIDUAL};
use flashnas_training::{train, Dataset, Status, TrainConfig};
use std::path::Path;

fn tiny(kind: &str) -> ArchSpec {
    let layer = if kind == "swa" {
        r#"{"kind": "swa", "window": 16}"#.to_string()
    } else {
        format!("\"{kind}\"")
    };
    ArchSpec::from_json(&format!(
        r#"{{"vocab_size": 256, "d_model": 32, "n_meta": 2,
            "attention": {{"n_heads": 2}}, "mamba2": {{"d_state": 8, "head_dim": 16, "chunk_size": 16}},
            "deltanet": {{"n_heads": 2, "chunk_size": 16}}, "gated_deltanet": {{"n_heads": 2, "chunk_size": 16}},
            "ffn": {{"hidden": 64}}, "layers": [{layer}, "ffn"]}}"#
    ))
    .unwrap()
}

fn cfg(steps: usize) -> TrainConfig {
    TrainConfig::from_toml(
        &format!("steps = {steps}\nseq_len = 32\nbatch_size = 8\nlog_every = 5\n[optimizer]\nlr = 0.01\n[data]\nval_windows = 8"),
        "test",
    )
    .unwrap()
}

fn shakespeare(seq_len: usize) -> Dataset {
    Dataset::load(&DataConfig::default(), seq_len, Path::new(".")).unwrap()
}

#[test]
fn loss_decreases_for_every_mixer_kind() {
    let data = shakespeare(32);
    for kind in ["attention", "swa", "mamba2", "deltanet", "gated_deltanet"] {
        let (r, _) = train::<Train>(&tiny(kind), &cfg(40), &data, &device(), &mut |_| {});
        assert!(r.status.is_ok(), "{kind}: {:?}", r.status);
        let first = r.loss_curve.first().unwrap().1;
        let last = r.loss_curve.last().unwrap().1;
        let val = r.val_loss.unwrap();
        // Byte-level uniform guess is ln 256 = 5.55 nats.
        assert!(
            last < first - 1.0,
            "{kind}: training loss {first:.3} → {last:.3}"
        );
        assert!(val < 4.0, "{kind}: validation loss {val:.3}");
        assert!((r.perplexity.unwrap() - val.exp()).abs() < 1e-9);
        assert_eq!(r.steps, 40);
        assert_eq!(r.tokens_seen, 40 * 8 * 32);
        assert!(r.accuracy.unwrap() > 0.1);
    }
}

#[test]
fn same_seed_same_validation_loss() {
    let data = shakespeare(32);
    let spec = tiny("mamba2");
    let a = train::<Train>(&spec, &cfg(10), &data, &device(), &mut |_| {}).0;
    let b = train::<Train>(&spec, &cfg(10), &data, &device(), &mut |_| {}).0;
    assert_eq!(a.val_loss, b.val_loss);
    assert_eq!(a.loss_curve, b.loss_curve);
    let mut other = cfg(10);
    other.seed = 1;
    let c = train::<Train>(&spec, &other, &data, &device(), &mut |_| {}).0;
    assert_ne!(a.val_loss, c.val_loss);
}

/// Collects every 2-D weight by field name, in the `[out, in]` orientation of
/// docs/OPERATORS.md §10.
struct Matrices(Vec<(String, Vec<Vec<f32>>)>, Vec<String>);
impl ModuleVisitor<Train> for Matrices {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.1.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.1.pop();
    }
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<Train, D>>) {
        if D == 2 {
            let t = p.val();
            let [r, c] = [t.dims()[0], t.dims()[1]];
            let v: Vec<f32> = t.into_data().convert::<f32>().to_vec().unwrap();
            // stored [in, out] → §10 rows are stored columns
            let rows = (0..c)
                .map(|j| (0..r).map(|i| v[i * c + j]).collect())
                .collect();
            self.0
                .push((self.1.last().cloned().unwrap_or_default(), rows));
        }
    }
}

#[test]
fn weight_normalization_gives_unit_rows_and_columns() {
    let spec = ArchSpec::from_json(
        r#"{"vocab_size": 256, "d_model": 32, "attention": {"n_heads": 2}, "mamba2": {"head_dim": 16},
            "deltanet": {"n_heads": 2}, "gated_deltanet": {"n_heads": 2}, "ffn": {"hidden": 64},
            "layers": ["a", "f", "m2", "deltanet", "gdn"]}"#,
    )
    .unwrap();
    let data = shakespeare(32);
    let (r, model) = train::<Train>(&spec, &cfg(2), &data, &device(), &mut |_| {});
    assert!(r.status.is_ok());
    let model = model.unwrap();
    let mut m = Matrices(vec![], vec![]);
    model.visit(&mut m);
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let (mut reads, mut writes) = (0, 0);
    for (name, rows) in &m.0 {
        if READS_RESIDUAL.contains(&name.as_str()) {
            reads += 1;
            for row in rows {
                assert!(
                    (norm(row) - 1.0).abs() < 1e-4,
                    "{name}: row norm {}",
                    norm(row)
                );
            }
        } else if WRITES_RESIDUAL.contains(&name.as_str()) {
            writes += 1;
            for j in 0..rows[0].len() {
                let col: Vec<f32> = rows.iter().map(|r| r[j]).collect();
                assert!(
                    (norm(&col) - 1.0).abs() < 1e-4,
                    "{name}: column norm {}",
                    norm(&col)
                );
            }
        } else if name == "lm_head" {
            assert!(
                rows.iter().any(|r| (norm(r) - 1.0).abs() > 1e-2),
                "lm_head must be left alone"
            );
        }
    }
    // a: q k v o; f: gate up down; m2: in out; deltanet: q k v b o; gdn: q k v a b g o
    assert_eq!((reads, writes), (3 + 2 + 1 + 4 + 6, 1 + 1 + 1 + 1 + 1));
    // Normalizing twice changes nothing (a projection).
    let again = normalize_weights(model.clone());
    let mut m2 = Matrices(vec![], vec![]);
    again.visit(&mut m2);
    for ((_, a), (_, b)) in m.0.iter().zip(&m2.0) {
        for (ra, rb) in a.iter().zip(b) {
            for (x, y) in ra.iter().zip(rb) {
                assert!((x - y).abs() < 1e-5);
            }
        }
    }
}

#[test]
fn absurd_learning_rate_is_caught_as_divergence() {
    let data = shakespeare(32);
    let mut c = cfg(30);
    c.optimizer.lr = 1e4;
    c.optimizer.grad_clip = None;
    c.weight_norm = false;
    c.max_loss = 8.0;
    let (r, model) = train::<Train>(&tiny("attention"), &c, &data, &device(), &mut |_| {});
    match &r.status {
        Status::Diverged { step, reason } => {
            assert!(*step < 30);
            assert!(
                reason.contains("max_loss") || reason.contains("NaN") || reason.contains("inf"),
                "{reason}"
            );
        }
        other => panic!("expected divergence, got {other:?}"),
    }
    assert!(model.is_none());
    assert!(r.val_loss.is_none());
}

#[test]
fn bad_inputs_are_clear_errors_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let load = |d: DataConfig, seq: usize| {
        let e = Dataset::load(&d, seq, base).unwrap_err();
        assert!(matches!(e, flashnas_training::Error::Data(_)), "{e:?}");
        e.to_string()
    };

    let e = load(
        DataConfig {
            path: Some("no/such/file.txt".into()),
            ..DataConfig::default()
        },
        32,
    );
    assert!(
        e.contains("no/such/file.txt") && e.contains("no such file"),
        "{e}"
    );

    std::fs::write(base.join("empty.txt"), "").unwrap();
    let e = load(
        DataConfig {
            path: Some(base.join("empty.txt").display().to_string()),
            ..DataConfig::default()
        },
        32,
    );
    assert!(e.contains("empty"), "{e}");

    std::fs::write(base.join("short.txt"), "To be, or not to be").unwrap();
    let e = load(
        DataConfig {
            path: Some(base.join("short.txt").display().to_string()),
            ..DataConfig::default()
        },
        32,
    );
    assert!(e.contains("at least one window"), "{e}");

    // Parquet without the requested column.
    use polars::prelude::*;
    let mut df = df!("body" => &["hello world"; 50]).unwrap();
    let pq = base.join("docs.parquet");
    ParquetWriter::new(std::fs::File::create(&pq).unwrap())
        .finish(&mut df)
        .unwrap();
    let e = load(
        DataConfig {
            source: Source::Parquet,
            path: Some(pq.display().to_string()),
            ..DataConfig::default()
        },
        8,
    );
    assert!(e.contains("no column 'text'") && e.contains("body"), "{e}");
    // …and with it, the documents are read.
    let ok = Dataset::load(
        &DataConfig {
            source: Source::Parquet,
            path: Some(pq.display().to_string()),
            column: "body".into(),
            ..DataConfig::default()
        },
        8,
        base,
    )
    .unwrap();
    assert_eq!(ok.train.len() + ok.val.len(), 50 * 12);

    // A token id ≥ vocab is rejected before any training.
    let tokens: Vec<u8> = (0..400u16).flat_map(|i| (i % 300).to_le_bytes()).collect();
    std::fs::write(base.join("t.bin"), tokens).unwrap();
    let data = Dataset::load(
        &DataConfig {
            source: Source::Tokens,
            path: Some(base.join("t.bin").display().to_string()),
            ..DataConfig::default()
        },
        8,
        base,
    )
    .unwrap();
    assert_eq!(data.vocab_size, 300);
    let (r, _) = train::<Train>(
        &tiny("attention"),
        &TrainConfig {
            seq_len: 8,
            ..cfg(5)
        },
        &data,
        &device(),
        &mut |_| {},
    );
    match r.status {
        Status::Error { reason } => assert!(
            reason.contains("token id 299") && reason.contains("vocab_size 256"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.steps, 0);
}

/// `cfg(steps)` with a 5-step recall probe scored on 16 sequences.
fn with_recall(steps: usize) -> TrainConfig {
    let mut c = cfg(steps);
    c.recall.enabled = true;
    c.recall.steps = 5;
    c.recall.eval_sequences = 16;
    c
}

#[test]
fn recall_score_is_reported_when_enabled() {
    let data = shakespeare(32);
    let c = with_recall(5);
    let (r, _) = train::<Train>(&tiny("attention"), &c, &data, &device(), &mut |_| {});
    assert!(r.status.is_ok(), "{:?}", r.status);
    let acc = r.recall_accuracy.unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert!(r.recall_seconds.is_some_and(|s| s > 0.0));
}

/// A multi-fidelity rung (a run stopped before its total) is screened on its loss: the recall
/// probe, its own fresh run, answers the full run only, so a rung neither reports it nor
/// pays for it.
#[test]
fn the_recall_probe_answers_the_full_run_only() {
    let data = shakespeare(32);
    let mut c = with_recall(8);
    c.stop_at = Some(4);
    let (rung, _) = train::<Train>(&tiny("attention"), &c, &data, &device(), &mut |_| {});
    assert!(rung.status.is_ok(), "{:?}", rung.status);
    assert_eq!(rung.steps, 4);
    assert!(rung.val_loss.is_some());
    assert_eq!((rung.recall_accuracy, rung.recall_seconds), (None, None));
    // Stopped at the total, it is the full run: the probe answers.
    c.stop_at = Some(8);
    let (full, _) = train::<Train>(&tiny("attention"), &c, &data, &device(), &mut |_| {});
    assert!(full.recall_accuracy.is_some() && full.recall_seconds.is_some());
}

/// The fidelity ladder of one run: the validation loss at each rung equals that of a run
/// stopped there (`stop_at`, same schedule and seed), and rungs cost less training time
/// the lower they are.
#[test]
fn rung_losses_equal_runs_stopped_at_the_rung() {
    let data = shakespeare(32);
    let mut full = cfg(24);
    full.rungs = vec![0.25, 0.5];
    let (r, _) = train::<Train>(&tiny("mamba2"), &full, &data, &device(), &mut |_| {});
    assert!(r.status.is_ok(), "{:?}", r.status);
    assert_eq!(
        r.rungs.iter().map(|g| g.step).collect::<Vec<_>>(),
        vec![6, 12]
    );
    assert!(r.rungs[0].train_seconds < r.rungs[1].train_seconds);
    for g in &r.rungs {
        let mut stopped = cfg(24);
        stopped.stop_at = Some(g.step);
        let (s, _) = train::<Train>(&tiny("mamba2"), &stopped, &data, &device(), &mut |_| {});
        assert_eq!(s.steps, g.step);
        let v = s.val_loss.unwrap();
        assert!(
            (v - g.val_loss).abs() < 1e-6,
            "rung at step {}: {} in the full run, {v} stopped there",
            g.step,
            g.val_loss
        );
    }
    // A run without rungs keeps its result free of them (older journals stay identical).
    let (plain, _) = train::<Train>(&tiny("mamba2"), &cfg(24), &data, &device(), &mut |_| {});
    assert!(plain.rungs.is_empty());
    assert_eq!(plain.val_loss, r.val_loss);
}

/// The recall probe separates the kinds it is for: on a tiny MQAR whose pairs sit beyond a
/// gap of filler, two attention layers learn to fetch a value from the context while a
/// small-state recurrent model (Mamba2 with a 2-wide state) stays near chance; and the curve
/// of one run scores the step counts asked for, its last point the run's own result.
#[test]
fn the_recall_probe_separates_attention_from_a_small_state_recurrent_model() {
    let spec = |layers: &str| {
        ArchSpec::from_json(&format!(
            r#"{{"vocab_size": 64, "d_model": 32, "n_meta": 0,
                "attention": {{"n_heads": 2}}, "mamba2": {{"d_state": 2, "head_dim": 16, "chunk_size": 16}},
                "ffn": {{"hidden": 64}}, "layers": {layers}}}"#
        ))
        .unwrap()
    };
    let mut c = cfg(1);
    c.recall = flashnas_training::config::RecallConfig {
        enabled: true,
        pairs: 4,
        queries: 4,
        steps: RECALL_STEPS,
        batch_size: 16,
        eval_sequences: 128,
        lr: Some(3e-3),
        keys: Some(8),
        values: Some(8),
        gap: 24,
    };
    let curve = |layers: &str| {
        flashnas_training::recall_curve::<Train>(
            &spec(layers),
            &c,
            &[RECALL_STEPS / 2],
            &device(),
            &mut |_| {},
        )
        .unwrap()
    };
    let attention = curve(r#"["a", "a"]"#);
    let recurrent = curve(r#"["m2", "m2"]"#);
    assert_eq!(
        attention.iter().map(|p| p.step).collect::<Vec<_>>(),
        vec![RECALL_STEPS / 2, RECALL_STEPS]
    );
    let (a, m) = (attention[1].accuracy, recurrent[1].accuracy);
    eprintln!("recall after {RECALL_STEPS} steps: attention {a:.3}, mamba2 (state 2) {m:.3}");
    // Chance over the 8 values is 0.125; a value of the sequence at random, 0.25.
    assert!(a >= 0.4 && a > m + 0.2, "attention {a:.3} vs mamba2 {m:.3}");
}

const RECALL_STEPS: usize = 300;
