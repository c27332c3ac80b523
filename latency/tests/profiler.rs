//! The profiler on the default backend.

use flashnas_latency::config::LatencyConfig;
use flashnas_latency::lut::{LatencyTable, LutFile, LutProtocol};
use flashnas_latency::profile::{decode_seconds, max_batch_for_memory, profile, ProfileConfig};
use flashnas_model::backend::{device, parse_device, sync, Compute};
use flashnas_model::ArchSpec;

fn tiny(layers: &str) -> ArchSpec {
    ArchSpec::from_json(&format!(
        r#"{{"vocab_size": 64, "d_model": 32, "n_meta": 1, "attention": {{"n_heads": 2}},
            "mamba2": {{"d_state": 8, "head_dim": 16, "chunk_size": 16}}, "deltanet": {{"n_heads": 2, "chunk_size": 16}},
            "ffn": {{"hidden": 64}}, "layers": {layers}}}"#
    ))
    .unwrap()
}

fn s() {
    sync(&device())
}

#[test]
fn decode_latency_grows_with_generated_tokens() {
    let spec = tiny(r#"["a", "f", "m2", "f"]"#);
    let short = decode_seconds::<Compute>(&spec, 8, 2, 1, 1, 3, &device(), &s).median;
    let long = decode_seconds::<Compute>(&spec, 8, 120, 1, 1, 3, &device(), &s).median;
    // 60× the steps; a correct measurement is far more than 2× longer. (At 30× the prefill
    // that both include made lavapipe's ratio 1.9 in one CI run: 0.75 s against 1.44 s.)
    assert!(long > 2.0 * short, "G=2: {short:.5} s, G=60: {long:.5} s");
}

#[test]
fn profile_reports_every_figure() {
    let spec = tiny(r#"["deltanet", "f", "a"]"#);
    let cfg = ProfileConfig {
        prompt: 8,
        generate: 8,
        prefill_batch: 2,
        prefill_len: 16,
        throughput_batch: Some(2),
        memory_budget: None,
        warmup: 1,
        repeats: 3,
        seed: 0,
    };
    let p = profile::<Compute>(&spec, &cfg, &device(), &s).unwrap();
    assert_eq!(p.decode.total.samples.len(), 3);
    assert_eq!(p.decode.per_token_ms.samples.len(), 3);
    assert!(p.decode.total.median > 0.0 && p.decode.total.min <= p.decode.total.max);
    assert!(
        p.decode.per_token_ms.median * 8.0 / 1e3 < p.decode.total.median,
        "steps are part of the total"
    );
    assert_eq!(p.throughput.as_ref().unwrap().batch, 2);
    assert_eq!(
        p.memory.param_bytes,
        4 * flashnas_model::accounting::param_count(&spec) as u64
    );
    assert_eq!(
        p.memory.state_bytes_end,
        flashnas_model::accounting::state_bytes(&spec, 16) as u64
    );
}

#[test]
fn memory_budget_selects_a_batch_or_refuses() {
    let spec = tiny(r#"["a", "f"]"#);
    let one = flashnas_latency::profile::decode_memory_bytes(&spec, 1000, 1);
    let per = flashnas_latency::profile::decode_memory_bytes(&spec, 1000, 2) - one;
    assert_eq!(
        max_batch_for_memory(&spec, 1000, one + 5 * per + 1).unwrap(),
        6
    );
    let err = max_batch_for_memory(&spec, 1000, one - 1).unwrap_err();
    assert!(matches!(err, flashnas_latency::Error::Memory(_)), "{err:?}");
    assert!(
        err.to_string().contains("does not fit the memory budget"),
        "{err}"
    );
    let cfg = ProfileConfig {
        throughput_batch: None,
        memory_budget: Some(10),
        ..ProfileConfig::default()
    };
    assert!(profile::<Compute>(&spec, &cfg, &device(), &s)
        .unwrap_err()
        .to_string()
        .contains("does not fit"));
}

#[test]
fn bad_device_strings_are_clear_errors() {
    for bad in ["gpu", "cuda:one", "tpu:0"] {
        let e = parse_device(bad).unwrap_err();
        assert!(e.to_string().contains(bad), "{e}");
    }
    if !cfg!(feature = "cuda") {
        assert!(parse_device("cuda:0")
            .unwrap_err()
            .to_string()
            .contains("--features cuda"));
        // A GPU build refuses the CPU by name; a CPU build takes it.
        assert_eq!(parse_device("cpu").is_ok(), !cfg!(feature = "wgpu"));
    }
    if cfg!(feature = "wgpu") {
        assert!(parse_device("wgpu").is_ok());
        let e = parse_device("wgpu:99").unwrap_err().to_string();
        assert!(e.contains("wgpu:0 = "), "lists the adapters: {e}");
    } else if !cfg!(feature = "cuda") {
        let e = parse_device("wgpu").unwrap_err().to_string();
        assert!(e.contains("--features wgpu"), "{e}");
    }
}

#[test]
fn lookup_table_predicts_and_round_trips_through_its_file() {
    let protocol = LutProtocol {
        prompt: 4,
        generate: 4,
        batch: 1,
        warmup: 0,
        repeats: 1,
    };
    let mut table = LatencyTable::new("cpu: test", protocol.clone());
    let specs = [tiny(r#"["a", "f"]"#), tiny(r#"["m2", "f", "m2"]"#)];
    let mut measured = Vec::new();
    table.add::<Compute>(&specs, &device(), &s, &mut |sig| {
        measured.push(sig.to_string())
    });
    // Three distinct sublayers: a, f, m2.
    assert_eq!(measured.len(), 3);
    assert_eq!(table.entries.len(), 3);
    let mixed = tiny(r#"["m2", "a", "f", "f"]"#);
    let p = table.predict(&mixed).unwrap();
    let ffn = table
        .entries
        .iter()
        .find(|(k, _)| k.contains(":ffn:"))
        .unwrap()
        .1;
    let all: f64 = table.entries.values().sum();
    let shell: f64 = table.overhead.values().sum();
    assert!(
        (p - (shell + all + ffn)).abs() < 1e-12,
        "shell + m2 + a + 2·f"
    );
    assert!(
        table.predict(&tiny(r#"["deltanet"]"#)).is_none(),
        "unmeasured sublayer"
    );
    let rows = table.validate::<Compute>(std::slice::from_ref(&mixed), &device(), &s);
    assert_eq!(rows.len(), 1);
    assert!(table.max_error_pct().is_some());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lut.json");
    let mut file = LutFile::default();
    file.insert(table.clone());
    file.save(&path).unwrap();
    let back = LutFile::load(&path).unwrap();
    assert_eq!(back, file);
    let t = back
        .table(&table.device, &table.backend, &protocol)
        .unwrap();
    assert_eq!(t.predict(&mixed), table.predict(&mixed));
    // Another decode protocol or another device model is another table.
    let longer = LutProtocol {
        generate: 8,
        ..protocol.clone()
    };
    assert!(back.table(&table.device, &table.backend, &longer).is_none());
    assert!(back
        .table(
            "cuda: NVIDIA H100 80GB HBM3, 81559 MiB",
            &table.backend,
            &protocol
        )
        .is_none());
    std::fs::write(&path, "{ not json").unwrap();
    let err = LutFile::load(&path).unwrap_err();
    assert!(matches!(err, flashnas_latency::Error::Table(_)), "{err:?}");
    assert!(err.to_string().contains("lut.json"));
}

/// A pricer for measured latency with a budget of `budget_s` and an edge band of `edge_pct`.
fn measured_pricer(budget_s: f64, edge_pct: f64, calibrate: bool) -> flashnas_latency::Pricer {
    let mut l: LatencyConfig = serde_json::from_str(&format!(
        r#"{{"prompt": 4, "generate": 4, "repeats": 2, "budget_s": {budget_s:e}, "edge_pct": {edge_pct:e}, "calibrate": {calibrate}}}"#
    ))
    .unwrap();
    l.reference_s = calibrate.then_some(1e-3);
    let reference = calibrate.then(|| tiny(r#"["m2", "f"]"#));
    flashnas_latency::Pricer::new(l, std::path::Path::new("."), None, reference)
}

#[test]
fn a_price_near_a_budget_level_is_timed_again_and_one_far_from_it_is_not() {
    let spec = tiny(r#"["a", "f"]"#);
    for calibrate in [false, true] {
        // Far from every level: the first timing decides.
        let far = measured_pricer(1e6, 3.0, calibrate).price(&spec);
        assert!(far.seconds.is_some(), "{far:?}");
        assert_eq!(far.retimed, None);
        // A band wide enough that a timing lands in it unless the machine's load moves it
        // more than 2× between two timings (then tried again, from the latest figure): timed
        // again with 3× the repeats, the figure is the median of all 2 + 6 timings.
        let mut s = far.seconds.unwrap();
        let mut retimed = Vec::new();
        for _ in 0..5 {
            let near = measured_pricer(s, 99.0, calibrate).price(&spec);
            retimed.push(near.retimed);
            if near.retimed.is_some() {
                break;
            }
            s = near.seconds.unwrap();
        }
        assert_eq!(
            retimed.last(),
            Some(&Some(8)),
            "calibrate = {calibrate}: {retimed:?}"
        );
        // The same at a lower level the caller decides at (half a budget of 2 s).
        let mut at_half = measured_pricer(2.0 * s, 99.0, calibrate);
        at_half.set_edge_levels(&[0.5]);
        assert!(at_half.near_edge(s));
        // Off: never timed again.
        let off = measured_pricer(s, 0.0, calibrate).price(&spec);
        assert_eq!(off.retimed, None);
    }
}

#[test]
fn the_edge_band_is_relative_to_each_budget_level() {
    let mut p = measured_pricer(1.0, 3.0, false);
    assert!(p.near_edge(1.02) && p.near_edge(0.98) && !p.near_edge(1.04));
    assert!(!p.near_edge(0.51), "0.5 is not a level yet");
    p.set_edge_levels(&[0.5, 0.75]);
    assert!(p.near_edge(0.51) && p.near_edge(0.74) && p.near_edge(1.02));
    assert!(!p.near_edge(0.53) && !p.near_edge(0.6) && !p.near_edge(0.9));
    let bad: Result<LatencyConfig, _> = serde_json::from_str(r#"{"edge_pct": -1.0}"#);
    let err = bad.unwrap().validate_protocol().unwrap_err().to_string();
    assert!(err.contains("latency.edge_pct"), "{err}");
}
