//! The surrogate's tests.
use super::*;

/// Both models recover a step function of one feature and ignore a noise feature; the same
/// seed gives the same ensemble.
#[test]
fn a_forest_fits_what_it_should_and_is_deterministic() {
    for p in [ForestParams::default(), ForestParams::random_forest()] {
        a_model_fits_a_step(p);
    }
}

/// Where two of twelve features decide the value, a forest's leaves average rows of
/// irrelevant splits and rate the best held-out rows too close to the mean; boosting, which
/// fits what its earlier trees left, rates them within a third of the forest's bias.
#[test]
fn boosting_rates_the_extremes_closer_than_a_forest() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x: Vec<Vec<f64>> = (0..400)
        .map(|_| (0..12).map(|_| rng.gen::<f64>()).collect())
        .collect();
    let y: Vec<f64> = x.iter().map(|r| r[0] + r[1]).collect();
    let (train, test): (Vec<usize>, Vec<usize>) = (0..400).partition(|i| i % 2 == 0);
    let xs: Vec<Vec<f64>> = train.iter().map(|&i| x[i].clone()).collect();
    let ys: Vec<f64> = train.iter().map(|&i| y[i]).collect();
    let mut best = test.clone();
    best.sort_by(|&a, &b| y[a].total_cmp(&y[b]));
    best.truncate(20);
    let bias = |p: ForestParams| {
        let f = Forest::fit(&xs, &ys, &p, 5);
        best.iter().map(|&i| f.predict(&x[i]).0 - y[i]).sum::<f64>() / best.len() as f64
    };
    let (forest, boosted) = (
        bias(ForestParams::random_forest()),
        bias(ForestParams::default()),
    );
    assert!(
        forest > 0.1 && boosted.abs() < forest / 3.0,
        "{forest} {boosted}"
    );
}

/// A surrogate written before boosting (no `boosting` in its parameters, no `boosted` in its
/// forests) loads as the random forest it was.
#[test]
fn a_forest_written_before_boosting_loads_as_a_forest() {
    let params: ForestParams =
        serde_json::from_str(r#"{"trees": 32, "max_depth": 12, "min_leaf": 3}"#).unwrap();
    assert_eq!(params, ForestParams::random_forest());
    let x: Vec<Vec<f64>> = (0..40).map(|i| vec![i as f64]).collect();
    let y: Vec<f64> = (0..40).map(|i| i as f64).collect();
    let forest = Forest::fit(&x, &y, &params, 1);
    let text = serde_json::to_string(&forest).unwrap();
    assert!(!text.contains("boosted"), "{text}");
    assert_eq!(serde_json::from_str::<Forest>(&text).unwrap(), forest);
}

fn a_model_fits_a_step(p: ForestParams) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x: Vec<Vec<f64>> = (0..200)
        .map(|i| vec![i as f64 / 200.0, rng.gen::<f64>()])
        .collect();
    let y: Vec<f64> = x
        .iter()
        .map(|r| if r[0] < 0.5 { 1.0 } else { 3.0 })
        .collect();
    let f = Forest::fit(&x, &y, &p, 7);
    let (lo, _) = f.predict(&[0.2, 0.9]);
    let (hi, _) = f.predict(&[0.8, 0.1]);
    assert!(
        (lo - 1.0).abs() < 0.1 && (hi - 3.0).abs() < 0.1,
        "{lo} {hi}"
    );
    assert_eq!(f, Forest::fit(&x, &y, &p, 7));
    assert_ne!(f, Forest::fit(&x, &y, &p, 8));
}

fn space() -> crate::genome::SpaceConfig {
    toml::from_str(
        r#"
mixers = ["attention", "mamba2"]
widths = [16, 32]
depth_cap = 6
head_dim = 8
"#,
    )
    .unwrap()
}

/// A synthetic table: every genome of a small space, its loss a known function of its
/// layers and width, two seeds apart by σ = 0.03.
fn synthetic() -> Table {
    use crate::table::TableRow;
    let space = space();
    let kinds = [LayerKind::Attention, LayerKind::Mamba2, LayerKind::Ffn];
    let mut rows = Vec::new();
    for code in 0..3usize.pow(4) {
        for depth in 1..=4usize {
            let layers: Vec<LayerKind> = (0..depth)
                .map(|i| kinds[code / 3usize.pow(i as u32) % 3])
                .collect();
            if !layers.iter().any(|k| *k != LayerKind::Ffn) {
                continue;
            }
            for &w in &space.widths {
                let spec = space.arch_for(&layers, w, 256);
                let names: Vec<&str> = layers.iter().map(|k| k.name()).collect();
                let key = key_of(&spec.layer_string(), w);
                if rows.iter().any(|r: &TableRow| r.key == key) {
                    continue;
                }
                let m = layers.iter().filter(|k| **k == LayerKind::Mamba2).count() as f64;
                let loss = 3.0 - 0.1 * depth as f64 - 0.15 * m - if w == 32 { 0.2 } else { 0.0 };
                let _ = names;
                rows.push(TableRow {
                    key,
                    layers: spec.layer_string(),
                    width: w,
                    params: flashnas_model::accounting::param_count(&spec),
                    status: RecordStatus::Ok,
                    failure: None,
                    latency_s: Some(0.001 * depth as f64 * w as f64 / 16.0),
                    latency_ref: None,
                    latency_source: crate::task::LatencyOrigin::Analytic,
                    val_loss: Some(loss),
                    steps: 8,
                    train_s: 0.1 * depth as f64,
                    rungs: vec![(4, loss + 0.3, 0.05 * depth as f64)],
                    timing_s: 0.01,
                    val_s: 0.02,
                    replicates: 2,
                    val_loss_std: Some(0.03),
                    recall: None,
                    recall_std: None,
                    recall_s: 0.0,
                });
            }
        }
    }
    Table::from_rows(Path::new("synthetic.parquet"), rows)
}

/// The agreement at the top is measured out of fold on the genomes within the budget only:
/// on the synthetic table (loss a function of depth, Mamba2 count and width) it is high
/// over all, deterministic, and a budget that keeps fewer than 20 genomes measures nothing.
#[test]
fn agreement_at_the_top_is_measured_out_of_fold_within_the_budget() {
    let table = synthetic();
    let mut s = Surrogate::fit(&table, &space(), ForestParams::default(), 0.0, 3).unwrap();
    let budget = 0.004;
    let within = table
        .rows
        .iter()
        .filter(|r| r.latency_s.unwrap() <= budget)
        .count();
    let t = s.measure_top(&table, Some(budget), 5).unwrap();
    assert_eq!(t.feasible, within);
    assert_eq!(t.rows, (within / 10).max(5));
    assert!(t.spearman_all > 0.9, "{t:?}");
    assert!(t.mae_all < 0.1, "{t:?}");
    assert!(t.spearman <= 1.0 && t.mae.is_finite() && t.bias.is_finite());
    assert_eq!(s.top.as_ref(), Some(&t));
    assert_eq!(s.clone().measure_top(&table, Some(budget), 5), Some(t));
    assert!(s.measure_top(&table, Some(0.0011), 5).is_none());
}

/// Deterministic given its seed; its mean answers for tabulated genomes lie within their
/// replicate spread (±2σ) for nearly all; a genome outside the space is refused by name.
#[test]
fn the_surrogate_answers_its_space_within_the_seed_noise() {
    let table = synthetic();
    let p = ForestParams::default();
    let s = Surrogate::fit(&table, &space(), p, 0.2, 3).unwrap();
    // (Held-out Spearman of a constant target is NaN: compare what is saved.)
    let again = Surrogate::fit(&table, &space(), p, 0.2, 3).unwrap();
    assert_eq!(
        serde_json::to_string(&s).unwrap(),
        serde_json::to_string(&again).unwrap()
    );
    assert_eq!(s.targets, again.targets);
    let loss = s.held_out.iter().find(|h| h.target == "loss@8").unwrap();
    assert!(loss.spearman > 0.9, "{loss:?}");
    let mut within = 0;
    for r in &table.rows {
        let kinds: Vec<LayerKind> = r
            .layers
            .split_whitespace()
            .map(|k| LayerKind::parse(k).unwrap())
            .collect();
        let spec = space().arch_for(&kinds, r.width, 256);
        let a = s.answer(&spec).unwrap();
        let (_, mean, sd, _) = *a.losses.last().unwrap();
        assert_eq!(a.losses[0].0, 4);
        assert!((sd - 0.03).abs() < 1e-9);
        if (mean - r.val_loss.unwrap()).abs() <= 2.0 * r.val_loss_std.unwrap() {
            within += 1;
        }
    }
    assert!(
        within as f64 >= 0.9 * table.rows.len() as f64,
        "{within} of {}",
        table.rows.len()
    );
    // Noise: the same (seed, genome) draws the same, another seed another.
    assert_eq!(
        Surrogate::noise_draw(1, "a | w16"),
        Surrogate::noise_draw(1, "a | w16")
    );
    assert_ne!(
        Surrogate::noise_draw(1, "a | w16"),
        Surrogate::noise_draw(2, "a | w16")
    );
    // Outside the space: a width, a kind, a depth it does not hold.
    for (layers, w, why) in [
        (vec![LayerKind::Attention], 48, "width 48"),
        (vec![LayerKind::GatedDeltaNet], 16, "gated_deltanet"),
        (vec![LayerKind::Mamba2; 7], 16, "depth 7"),
    ] {
        let e = s
            .answer(&space().arch_for(&layers, w, 256))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("outside the surrogate's space") && e.contains(why),
            "{e}"
        );
    }
}

/// A surrogate stands in only for the table it was fitted on; its noise-free mean for a
/// genome is the answer's mean (what a benchmark scores finds at).
#[test]
fn a_surrogate_is_refused_for_another_table_and_gives_noise_free_means() {
    let table = synthetic();
    let s = Surrogate::fit(&table, &space(), ForestParams::default(), 0.2, 3).unwrap();
    s.check_fitted_on(&table).unwrap();
    let mut rows = table.rows.clone();
    rows[0].val_loss = rows[0].val_loss.map(|l| l + 0.01);
    let other = Table::from_rows(Path::new("other.parquet"), rows);
    let e = s.check_fitted_on(&other).unwrap_err().to_string();
    assert!(
        e.contains("not on this table") && e.contains("refit"),
        "{e}"
    );
    let old = Surrogate {
        table_fingerprint: None,
        ..s.clone()
    };
    assert!(old.check_fitted_on(&table).is_err());

    let r = &table.rows[5];
    let kinds: Vec<LayerKind> = r
        .layers
        .split_whitespace()
        .map(|k| LayerKind::parse(k).unwrap())
        .collect();
    let a = s.answer(&space().arch_for(&kinds, r.width, 256)).unwrap();
    let mean = a.losses.last().unwrap().1;
    assert_eq!(s.mean_loss(&r.layers, r.width, r.params, 8), Some(mean));
    assert_eq!(
        s.mean_loss(&r.layers, r.width, r.params, 5),
        None,
        "no loss at 5 steps"
    );
}

/// The last features name the first mixer, one-hot in `MIXERS` order, past any leading FFN;
/// a stack with no mixer names none. Two stacks with the same kinds per third but another
/// first mixer differ there.
#[test]
fn the_first_mixer_is_one_hot_at_the_end_of_the_features() {
    use LayerKind::*;
    let n = LayerKind::MIXERS.len();
    let tail = |kinds: &[LayerKind]| features(kinds, 64, 1000)[feature_count() - n..].to_vec();
    let hot = |k: LayerKind| {
        let mut v = vec![0.0; n];
        v[LayerKind::MIXERS.iter().position(|m| *m == k).unwrap()] = 1.0;
        v
    };
    assert_eq!(tail(&[Ffn, Attention, Ffn, Mamba2]), hot(Attention));
    assert_eq!(tail(&[Mamba2, Attention]), hot(Mamba2));
    assert_eq!(tail(&[Ffn]), vec![0.0; n]);
    let (a, b) = (
        features(&[Mamba2, Attention, Ffn, Ffn, Ffn, Ffn], 64, 1000),
        features(&[Attention, Mamba2, Ffn, Ffn, Ffn, Ffn], 64, 1000),
    );
    assert_eq!(a[..feature_count() - n], b[..feature_count() - n]);
    assert_ne!(a, b);
}

/// A surrogate file fitted on another feature vector (an older build's, or one written before
/// the count was stored) is refused at load, naming the file and the command that refits it;
/// one of this build loads back as it was written, a NaN figure in it included.
#[test]
fn a_surrogate_of_another_feature_vector_is_refused_at_load() {
    let table = synthetic();
    let s = Surrogate::fit(&table, &space(), ForestParams::default(), 0.2, 3).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    s.save(&path).unwrap();
    // As written, NaN included (a Spearman over the table's constant timing is one).
    let json = |s: &Surrogate| serde_json::to_string(s).unwrap();
    assert!(s.held_out.iter().any(|h| h.spearman.is_nan()));
    assert_eq!(json(&Surrogate::load(&path).unwrap()), json(&s));
    for features in [0, feature_count() - LayerKind::MIXERS.len()] {
        Surrogate {
            features,
            ..s.clone()
        }
        .save(&path)
        .unwrap();
        let e = Surrogate::load(&path).unwrap_err().to_string();
        assert!(e.contains("s.json") && e.contains("surrogate fit"), "{e}");
    }
}
