//! docs/OPERATORS.md §12 checks 2, 3, 4, 6 and 7 on the active backend (f32), plus gradients and
//! the parameter count. Each test asserts a property that breaks if the operator is wrong.

use burn::backend::Autodiff;
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use flashnas_model::backend::{device, Compute};
use flashnas_model::deltanet::{self, DeltaNet, DeltaState};
use flashnas_model::gated_deltanet::{self, GatedDeltaNet};
use flashnas_model::init::sample;
use flashnas_model::mamba2::{self, Mamba2, Mamba2State};
use flashnas_model::tensors::{Init, TensorSpec};
use flashnas_model::weights::{HostTensor, WeightMap, WeightReader};
use flashnas_model::{accounting, lm, ArchSpec, HybridLm, LayerConfig, Scan, WeightError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

type B = Compute;

/// `max|a − ref| / max|ref|` (§12).
fn rel<const D: usize>(a: &Tensor<B, D>, reference: &Tensor<B, D>) -> f64 {
    let diff: f32 = (a.clone() - reference.clone()).abs().max().into_scalar();
    let scale: f32 = reference.clone().abs().max().into_scalar();
    diff as f64 / scale as f64
}

fn max_abs<const D: usize>(a: &Tensor<B, D>) -> f64 {
    let m: f32 = a.clone().abs().max().into_scalar();
    m as f64
}

/// The arch used throughout: every kind, meta tokens, GQA, qk-norm, a short SWA window,
/// small chunks so that sequences span several chunks.
fn all_kinds_spec(tie: bool, n_meta: usize) -> ArchSpec {
    ArchSpec::from_json(&format!(
        r#"{{
        "vocab_size": 50, "d_model": 32, "n_meta": {n_meta}, "tie_embeddings": {tie},
        "attention": {{"n_heads": 4, "n_kv_heads": 2, "qk_norm": true}},
        "mamba2": {{"d_state": 8, "head_dim": 16, "n_groups": 2, "chunk_size": 8}},
        "deltanet": {{"n_heads": 2, "chunk_size": 8}},
        "gated_deltanet": {{"n_heads": 2, "n_v_heads": 4, "head_k_dim": 8, "head_v_dim": 8, "chunk_size": 8}},
        "ffn": {{"ratio": 2.0, "multiple_of": 8}},
        "layers": ["deltanet", "ffn", "m2", "ffn", "attention", "gdn", {{"kind": "swa", "window": 5}}, "ffn"]
    }}"#
    ))
    .unwrap()
}

/// Weights with larger scales than the §9 init, so that every term of the math matters.
fn test_weights(tensors: &[TensorSpec], seed: u64) -> WeightMap {
    tensors
        .iter()
        .map(|t| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ flashnas_model::init::fnv1a(&t.name));
            let n = t.numel();
            let data = match t.init {
                Init::Normal(_) if t.name.ends_with("memory_tokens") => {
                    sample(Init::Normal(1.0), n, &mut rng)
                }
                Init::Normal(_) => sample(Init::Normal(0.25), n, &mut rng),
                Init::Uniform(a) => sample(Init::Uniform(a.max(0.4)), n, &mut rng),
                // Norm weights 1 ± 0.3, biases ± 0.3: not the identity.
                Init::Const(c) => sample(Init::Uniform(0.3), n, &mut rng)
                    .into_iter()
                    .map(|x| x + c)
                    .collect(),
                other => sample(other, n, &mut rng),
            };
            (t.name.clone(), HostTensor::new(t.shape.clone(), data))
        })
        .collect()
}

fn random_input(b: usize, t: usize, d: usize, seed: u64) -> Tensor<B, 3> {
    B::seed(&device(), seed);
    Tensor::random([b, t, d], Distribution::Normal(0.0, 1.0), &device())
}

fn random_tokens(b: usize, t: usize, vocab: usize, seed: u64) -> Tensor<B, 2, Int> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data: Vec<i32> = (0..b * t)
        .map(|_| rand::Rng::gen_range(&mut rng, 0..vocab as i32))
        .collect();
    Tensor::from_data(TensorData::new(data, [b, t]), &device())
}

/// One recurrent mixer built at a given chunk size.
#[allow(clippy::large_enum_variant)]
enum Mixer {
    Mamba2(Mamba2<B>),
    DeltaNet(DeltaNet<B>),
    Gdn(GatedDeltaNet<B>),
}

#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum MixerState {
    Mamba2(Mamba2State<B>),
    Delta(DeltaState<B>),
}

impl MixerState {
    fn recurrent_state(&self) -> Tensor<B, 4> {
        match self {
            MixerState::Mamba2(s) => s.ssm.clone(),
            MixerState::Delta(s) => s.s.clone(),
        }
    }
}

fn build_mixer(kind: &str, chunk: usize) -> Mixer {
    let spec = all_kinds_spec(false, 0);
    let idx = match kind {
        "deltanet" => 0,
        "mamba2" => 2,
        "gdn" => 5,
        _ => unreachable!(),
    };
    let d = spec.d_model;
    let dev = device();
    match spec.layer(idx).unwrap() {
        LayerConfig::Mamba2(mut c) => {
            c.chunk_size = chunk;
            let map = test_weights(&mamba2::tensors("m", &c, d), 7);
            let mut r = WeightReader::<B>::new(map, &dev);
            Mixer::Mamba2(Mamba2::read(&mut r, "m", &c, d).unwrap())
        }
        LayerConfig::DeltaNet(mut c) => {
            c.chunk_size = chunk;
            let map = test_weights(&deltanet::tensors("m", &c, d), 8);
            let mut r = WeightReader::<B>::new(map, &dev);
            Mixer::DeltaNet(DeltaNet::read(&mut r, "m", &c, d).unwrap())
        }
        LayerConfig::GatedDeltaNet(mut c) => {
            c.chunk_size = chunk;
            let map = test_weights(&gated_deltanet::tensors("m", &c, d), 9);
            let mut r = WeightReader::<B>::new(map, &dev);
            Mixer::Gdn(GatedDeltaNet::read(&mut r, "m", &c, d).unwrap())
        }
        _ => unreachable!(),
    }
}

fn run(
    m: &Mixer,
    x: Tensor<B, 3>,
    s: Option<MixerState>,
    scan: Scan,
) -> (Tensor<B, 3>, MixerState) {
    let delta = |s: Option<MixerState>| {
        s.map(|s| match s {
            MixerState::Delta(s) => s,
            _ => unreachable!(),
        })
    };
    match m {
        Mixer::Mamba2(op) => {
            let s = s.map(|s| match s {
                MixerState::Mamba2(s) => s,
                _ => unreachable!(),
            });
            let (y, s) = op.forward(x, s, scan);
            (y, MixerState::Mamba2(s))
        }
        Mixer::DeltaNet(op) => {
            let (y, s) = op.forward(x, delta(s), scan);
            (y, MixerState::Delta(s))
        }
        Mixer::Gdn(op) => {
            let (y, s) = op.forward(x, delta(s), scan);
            (y, MixerState::Delta(s))
        }
    }
}

/// §12.2: chunked == recurrent, T not a multiple of the chunk, chunk sizes {8, 16, 64},
/// from zero and from a non-zero carried state; outputs and final states.
#[test]
fn chunked_equals_recurrent_for_every_recurrent_mixer() {
    for kind in ["mamba2", "deltanet", "gdn"] {
        let d = 32;
        let prefix = random_input(2, 11, d, 1);
        for chunk in [8usize, 16, 64] {
            let m = build_mixer(kind, chunk);
            let t = 2 * chunk + 5;
            let x = random_input(2, t, d, 2 + chunk as u64);
            // From zero state.
            let (yc, sc) = run(&m, x.clone(), None, Scan::Chunked);
            let (yr, sr) = run(&m, x.clone(), None, Scan::Recurrent);
            let (ro, rs) = (
                rel(&yc, &yr),
                rel(&sc.recurrent_state(), &sr.recurrent_state()),
            );
            assert!(
                ro <= 1e-4 && rs <= 1e-4,
                "{kind} C={chunk} zero state: out {ro:e} state {rs:e}"
            );
            // From a non-zero carried state.
            let (_, carried) = run(&m, prefix.clone(), None, Scan::Recurrent);
            assert!(
                max_abs(&carried.recurrent_state()) > 1e-3,
                "{kind}: carried state is zero"
            );
            let (yc, sc) = run(&m, x.clone(), Some(carried.clone()), Scan::Chunked);
            let (yr, sr) = run(&m, x, Some(carried), Scan::Recurrent);
            let (ro, rs) = (
                rel(&yc, &yr),
                rel(&sc.recurrent_state(), &sr.recurrent_state()),
            );
            assert!(
                ro <= 1e-4 && rs <= 1e-4,
                "{kind} C={chunk} carried state: out {ro:e} state {rs:e}"
            );
        }
    }
}

/// §12.6: the chunk size only chooses the block length.
#[test]
fn chunk_size_does_not_change_results() {
    for kind in ["mamba2", "deltanet", "gdn"] {
        let x = random_input(1, 37, 32, 5);
        let (y8, _) = run(&build_mixer(kind, 8), x.clone(), None, Scan::Chunked);
        for chunk in [3usize, 16, 64] {
            let (y, _) = run(&build_mixer(kind, chunk), x.clone(), None, Scan::Chunked);
            let r = rel(&y, &y8);
            assert!(r <= 1e-4, "{kind}: chunk {chunk} vs 8: {r:e}");
        }
    }
}

fn test_model(spec: &ArchSpec, seed: u64) -> HybridLm<B> {
    HybridLm::from_weights(spec, test_weights(&lm::tensors(spec), seed), &device()).unwrap()
}

/// §12.3: prefill of P tokens then one-token steps == the full forward (meta tokens, KV cache,
/// SWA eviction with window 5 < T, conv and recurrent states, the position counter).
#[test]
fn prefill_then_decode_equals_full_forward() {
    for (tie, n_meta) in [(false, 3), (true, 0)] {
        let spec = all_kinds_spec(tie, n_meta);
        let model = test_model(&spec, 11);
        let (b, t, p) = (2, 23, 9);
        let tokens = random_tokens(b, t, spec.vocab_size, 3);
        let full = model.forward(tokens.clone());
        let (first, mut state) = model.prefill(tokens.clone().narrow(1, 0, p));
        assert_eq!(state.pos, n_meta + p);
        let mut outs = vec![first];
        for i in p..t {
            let tok = tokens.clone().narrow(1, i, 1).reshape([b]);
            outs.push(model.decode_step(tok, &mut state).unsqueeze_dim(1));
        }
        assert_eq!(state.pos, n_meta + t);
        let stepped = Tensor::cat(outs, 1);
        let r = rel(&stepped, &full);
        assert!(
            r <= 1e-4,
            "tie={tie} n_meta={n_meta}: prefill+decode vs full {r:e}"
        );
        // Decoding from the very first token works too (prefill of one token).
        let (first, mut state) = model.prefill(tokens.clone().narrow(1, 0, 1));
        let mut outs = vec![first];
        for i in 1..t {
            outs.push(
                model
                    .decode_step(tokens.clone().narrow(1, i, 1).reshape([b]), &mut state)
                    .unsqueeze_dim(1),
            );
        }
        let r = rel(&Tensor::cat(outs, 1), &full);
        assert!(r <= 1e-4, "decode from token 0: {r:e}");
    }
}

/// §12.4: perturbing the token at s leaves logits before s unchanged and changes logits at s.
#[test]
fn model_is_causal() {
    let spec = all_kinds_spec(false, 2);
    let model = test_model(&spec, 12);
    let t = 20;
    let tokens = random_tokens(1, t, spec.vocab_size, 4);
    let base = model.forward(tokens.clone());
    let scale = max_abs(&base);
    for s in [0usize, 7, 19] {
        let mut data: Vec<i32> = tokens
            .clone()
            .into_data()
            .convert::<i32>()
            .to_vec()
            .unwrap();
        data[s] = (data[s] + 1) % spec.vocab_size as i32;
        let changed = model.forward(Tensor::from_data(TensorData::new(data, [1, t]), &device()));
        if s > 0 {
            let before = max_abs(&(changed.clone().narrow(1, 0, s) - base.clone().narrow(1, 0, s)));
            assert!(
                before <= 1e-6 * scale,
                "s={s}: earlier logits moved by {before:e}"
            );
        }
        let at = max_abs(&(changed.narrow(1, s, 1) - base.clone().narrow(1, s, 1)));
        assert!(at > 1e-4 * scale, "s={s}: logits at s did not change");
    }
}

/// §12.4 for swa: output t depends exactly on inputs t−w+1..t.
#[test]
fn swa_output_depends_exactly_on_its_window() {
    let spec = ArchSpec::from_json(
        r#"{"vocab_size": 10, "d_model": 16, "attention": {"n_heads": 2, "n_kv_heads": 1},
            "layers": [{"kind": "swa", "window": 4}]}"#,
    )
    .unwrap();
    let cfg = match spec.layer(0).unwrap() {
        LayerConfig::Attention(c) => c,
        _ => unreachable!(),
    };
    let dev = device();
    let map = test_weights(&flashnas_model::attention::tensors("a", &cfg, 16), 3);
    let mut r = WeightReader::<B>::new(map, &dev);
    let op = flashnas_model::attention::Attention::read(&mut r, "a", &cfg, 16).unwrap();
    let t = 12;
    let x = random_input(1, t, 16, 9);
    let (y, _) = op.forward(x.clone(), 0, None);
    let s = 5;
    let bump = Tensor::<B, 3>::zeros([1, t, 16], &dev)
        .slice_assign([0..1, s..s + 1, 0..16], Tensor::ones([1, 1, 16], &dev));
    let (y2, _) = op.forward(x + bump, 0, None);
    for pos in 0..t {
        let delta = max_abs(&(y2.clone().narrow(1, pos, 1) - y.clone().narrow(1, pos, 1)));
        let in_window = pos >= s && pos < s + 4;
        assert_eq!(delta > 1e-6, in_window, "position {pos}: delta {delta:e}");
    }
}

/// §12.6: batch rows are independent (B = 2 equals two B = 1 runs).
#[test]
fn batch_rows_are_independent() {
    let spec = all_kinds_spec(false, 2);
    let model = test_model(&spec, 13);
    let tokens = random_tokens(2, 17, spec.vocab_size, 5);
    let both = model.forward(tokens.clone());
    for row in 0..2 {
        let one = model.forward(tokens.clone().narrow(0, row, 1));
        let r = rel(&one, &both.clone().narrow(0, row, 1));
        assert!(r <= 1e-6, "row {row}: {r:e}");
    }
}

/// §12.7: the exported file holds exactly the §10 names and shapes; loading it back gives
/// identical logits; a missing, unexpected or mis-shaped tensor is an error naming it.
#[test]
fn weights_round_trip_with_spec_names() {
    let dir = tempfile::tempdir().unwrap();
    for (tie, n_meta) in [(false, 3), (true, 0)] {
        let spec = all_kinds_spec(tie, n_meta);
        let model = HybridLm::<B>::init(&spec, 42, &device());
        let path = dir.path().join(format!("w-{tie}.safetensors"));
        model.save(&path).unwrap();
        let file = flashnas_model::weights::load_safetensors(&path).unwrap();
        let mut got: Vec<(String, Vec<usize>)> = file
            .iter()
            .map(|(k, v)| (k.clone(), v.shape.clone()))
            .collect();
        let mut want: Vec<(String, Vec<usize>)> = lm::tensors(&spec)
            .into_iter()
            .map(|t| (t.name, t.shape))
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        assert!(got
            .iter()
            .any(|(n, s)| n == "model.layers.2.mamba.in_proj.weight"
                && s == &vec![2 * 64 + 2 * 2 * 8 + 4, 32]));
        assert_eq!(got.iter().any(|(n, _)| n == "lm_head.weight"), !tie);
        assert_eq!(
            got.iter().any(|(n, _)| n == "model.memory_tokens"),
            n_meta > 0
        );

        let loaded = HybridLm::<B>::load(&spec, &path, &device()).unwrap();
        // The weights come back bit for bit.
        assert_eq!(loaded.to_weights(), model.to_weights());
        let tokens = random_tokens(1, 9, spec.vocab_size, 6);
        let a = model.forward(tokens.clone());
        let b = loaded.forward(tokens);
        // Two forwards of the same weights: bit-equal on the CPU; a GPU backend may pick
        // another kernel or reduction order the second time (seen on wgpu: 7e-8).
        let tol = if cfg!(any(feature = "cuda", feature = "wgpu")) {
            1e-6 * max_abs(&a)
        } else {
            0.0
        };
        let diff = max_abs(&(a - b));
        assert!(diff <= tol, "{diff}");
    }
    let spec = all_kinds_spec(false, 3);
    let good = HybridLm::<B>::init(&spec, 1, &device()).to_weights();

    let mut missing = good.clone();
    missing.remove("model.layers.5.gdn.A_log");
    let err = HybridLm::<B>::from_weights(&spec, missing, &device()).unwrap_err();
    assert_eq!(err, WeightError::Missing("model.layers.5.gdn.A_log".into()));

    let mut extra = good.clone();
    extra.insert(
        "model.layers.9.ffn.up_proj.weight".into(),
        HostTensor::new(vec![1], vec![0.0]),
    );
    let err = HybridLm::<B>::from_weights(&spec, extra, &device()).unwrap_err();
    assert_eq!(
        err,
        WeightError::Unexpected("model.layers.9.ffn.up_proj.weight".into())
    );

    let mut bad = good;
    bad.insert(
        "model.layers.4.self_attn.k_proj.weight".into(),
        HostTensor::new(vec![8, 32], vec![0.0; 256]),
    );
    let err = HybridLm::<B>::from_weights(&spec, bad, &device()).unwrap_err();
    assert!(
        err.to_string()
            .contains("'model.layers.4.self_attn.k_proj.weight' has shape [8, 32]"),
        "{err}"
    );
}

/// The analytic parameter count equals the built module's.
#[test]
fn analytic_param_count_matches_module() {
    for (tie, n_meta) in [(false, 3), (true, 0)] {
        let spec = all_kinds_spec(tie, n_meta);
        let model = HybridLm::<B>::init(&spec, 0, &device());
        assert_eq!(accounting::param_count(&spec), model.num_params());
    }
}

/// KV caches grow with context; SWA caches stop at the window; recurrent states are flat.
#[test]
fn state_bytes_grow_only_for_global_attention() {
    let attn = ArchSpec::from_json(r#"{"vocab_size": 10, "d_model": 32, "attention": {"n_heads": 4, "n_kv_heads": 2}, "layers": ["a", "a"]}"#).unwrap();
    let rec = ArchSpec::from_json(r#"{"vocab_size": 10, "d_model": 32, "mamba2": {"head_dim": 16}, "deltanet": {"n_heads": 2}, "gated_deltanet": {"n_heads": 2}, "ffn": {"hidden": 64}, "layers": ["m2", "deltanet", "gdn", "f"]}"#).unwrap();
    let swa = ArchSpec::from_json(r#"{"vocab_size": 10, "d_model": 32, "attention": {"n_heads": 4, "window": 64}, "layers": ["swa"]}"#).unwrap();
    // 2 layers × (K and V) × Hkv 2 × Dh 8 × 4 bytes per position.
    for ctx in [1usize, 100, 1000] {
        assert_eq!(accounting::state_bytes(&attn, ctx), ctx * 2 * 2 * 2 * 8 * 4);
    }
    assert_eq!(
        accounting::state_bytes(&rec, 10),
        accounting::state_bytes(&rec, 10_000)
    );
    assert!(accounting::state_bytes(&rec, 10) > 0);
    assert_eq!(
        accounting::state_bytes(&swa, 1000),
        accounting::state_bytes(&swa, 63)
    );
    assert!(accounting::state_bytes(&swa, 10) < accounting::state_bytes(&swa, 63));
    // The real decode state after a prefill matches the analytic figure.
    let model = HybridLm::<B>::init(&rec, 0, &device());
    let (_, st) = model.prefill(random_tokens(1, 5, 10, 1));
    let real: usize = st
        .layers
        .iter()
        .map(|l| match l {
            flashnas_model::LayerState::Mamba2(s) => {
                s.conv.dims().iter().product::<usize>() + s.ssm.dims().iter().product::<usize>()
            }
            flashnas_model::LayerState::Delta(s) => {
                [s.conv_q.dims(), s.conv_k.dims(), s.conv_v.dims()]
                    .iter()
                    .map(|d| d.iter().product::<usize>())
                    .sum::<usize>()
                    + s.s.dims().iter().product::<usize>()
            }
            _ => 0,
        })
        .sum::<usize>()
        * 4;
    assert_eq!(real, accounting::state_bytes(&rec, 5));
}

/// Every parameter gets a finite, non-zero gradient from one backward pass of a model that
/// holds every kind.
#[test]
fn every_parameter_gets_a_finite_nonzero_gradient() {
    type A = Autodiff<B>;
    let mut spec = all_kinds_spec(false, 2);
    spec.lm_head_normalize = true;
    let model = HybridLm::<A>::from_weights(&spec, test_weights(&lm::tensors(&spec), 3), &device())
        .unwrap();
    let tokens = Tensor::<A, 2, Int>::from_inner(random_tokens(2, 19, spec.vocab_size, 8));
    let logits = model.forward(tokens);
    let target = Tensor::<A, 3>::from_inner(random_input(2, 19, spec.vocab_size, 4));
    let loss = (logits * target).sum();
    let grads = loss.backward();

    struct Check<'a> {
        grads: &'a <A as AutodiffBackend>::Gradients,
        seen: usize,
        bad: Vec<String>,
    }
    impl ModuleVisitor<A> for Check<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<A, D>>) {
            self.seen += 1;
            let shape = param.val().dims();
            match param.val().grad(self.grads) {
                None => self.bad.push(format!("{shape:?}: no gradient")),
                Some(g) => {
                    let v: Vec<f32> = g.into_data().convert::<f32>().to_vec().unwrap();
                    if v.iter().any(|x| !x.is_finite()) {
                        self.bad.push(format!("{shape:?}: non-finite gradient"));
                    } else if v.iter().all(|x| *x == 0.0) {
                        self.bad.push(format!("{shape:?}: zero gradient"));
                    }
                }
            }
        }
    }
    let mut check = Check {
        grads: &grads,
        seen: 0,
        bad: vec![],
    };
    model.visit(&mut check);
    assert_eq!(check.seen, lm::tensors(&spec).len());
    assert!(check.bad.is_empty(), "{:?}", check.bad);
}

/// One-row products (what every linear layer and attention's `p·V` are at batch 1 in decode)
/// whose shapes share a kernel-selection bucket — the inner size k = 16 first, then sizes that
/// are not a multiple of a GPU's plane size — each against the product on the host. With
/// cubecl's autotuner (feature `autotune`) the kernel picked on k = 16 may refuse k = 12 and
/// kill the device (cubecl 0.10, tracel-ai/cubecl#1611); default GPU builds pick kernels
/// without it.
#[test]
fn one_row_products_of_one_shape_bucket_agree_with_the_host() {
    let dev = device();
    for (i, k) in [16usize, 12, 10, 32, 20, 24, 8, 4, 6]
        .into_iter()
        .enumerate()
    {
        for n in [16usize, 24] {
            let mut rng = ChaCha8Rng::seed_from_u64(100 + i as u64);
            let a = sample(Init::Normal(1.0), k, &mut rng);
            let w = sample(Init::Normal(1.0), k * n, &mut rng);
            let expected: Vec<f32> = (0..n)
                .map(|j| (0..k).map(|l| a[l] * w[l * n + j]).sum())
                .collect();
            let lhs = Tensor::<B, 2>::from_data(TensorData::new(a, [1, k]), &dev);
            // Row-major weights, and the transposed view a linear layer multiplies by.
            let row_major = Tensor::<B, 2>::from_data(TensorData::new(w, [k, n]), &dev);
            let transposed = row_major.clone().transpose().into_data();
            let col_major = Tensor::<B, 2>::from_data(transposed, &dev).transpose();
            for (layout, rhs) in [("row-major", row_major), ("transposed", col_major)] {
                let got: Vec<f32> = lhs.clone().matmul(rhs).into_data().to_vec().unwrap();
                for (j, (g, e)) in got.iter().zip(&expected).enumerate() {
                    assert!(
                        (g - e).abs() <= 1e-4 * (1.0 + e.abs()),
                        "[1,{k}]·[{k},{n}] ({layout}) column {j}: {g} vs {e}"
                    );
                }
            }
        }
    }
}
