//! The decode path costs what the architecture implies: caches are preallocated and written
//! in place (shapes never change with position), swa keeps a ring of w − 1 slots, GQA never
//! repeats K/V, and prefill + steps (and multi-token continuation) equal the full forward.

use burn::tensor::{Int, Tensor, TensorData};
use flashnas_model::backend::{device, Compute};
use flashnas_model::{ArchSpec, HybridLm, LayerState, ModelState, Scan};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type B = Compute;

fn rel(a: &Tensor<B, 3>, reference: &Tensor<B, 3>) -> f64 {
    let diff: f32 = (a.clone() - reference.clone()).abs().max().into_scalar();
    let scale: f32 = reference.clone().abs().max().into_scalar();
    diff as f64 / scale as f64
}

fn tokens(b: usize, t: usize, vocab: usize, seed: u64) -> Tensor<B, 2, Int> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data: Vec<i32> = (0..b * t).map(|_| rng.gen_range(0..vocab as i32)).collect();
    Tensor::from_data(TensorData::new(data, [b, t]), &device())
}

/// Attention of every flavour (global, two swa windows) beside a recurrent mixer, with
/// `n_kv_heads` = 4 / ratio (GQA ratio 1, 2 or 4), meta tokens, qk-norm.
fn spec(gqa: usize, n_meta: usize) -> ArchSpec {
    ArchSpec::from_json(&format!(
        r#"{{"vocab_size": 40, "d_model": 32, "n_meta": {n_meta},
            "attention": {{"n_heads": 4, "n_kv_heads": {kv}, "qk_norm": true}},
            "mamba2": {{"d_state": 8, "head_dim": 16, "chunk_size": 8}},
            "ffn": {{"ratio": 2.0, "multiple_of": 8}},
            "layers": ["a", "f", {{"kind": "swa", "window": 3}}, "m2",
                       {{"kind": "swa", "window": 5}}, "f", {{"kind": "swa", "window": 1}}]}}"#,
        kv = 4 / gqa
    ))
    .unwrap()
}

/// Shapes of every state tensor (what a step allocates for the next one).
fn shapes(s: &ModelState<B>) -> Vec<Vec<usize>> {
    s.layers
        .iter()
        .flat_map(|l| match l {
            LayerState::Attention(Some(c)) => vec![c.k.dims().to_vec(), c.v.dims().to_vec()],
            LayerState::Attention(None) => vec![vec![]],
            LayerState::Mamba2(m) => vec![m.conv.dims().to_vec(), m.ssm.dims().to_vec()],
            LayerState::Delta(d) => vec![d.s.dims().to_vec()],
            LayerState::Ffn => vec![],
        })
        .collect()
}

#[test]
fn prefill_then_steps_equal_full_forward_across_gqa_and_ring_wraps() {
    for gqa in [1usize, 2, 4] {
        for n_meta in [0usize, 2] {
            let spec = spec(gqa, n_meta);
            let model = HybridLm::<B>::init(&spec, 5, &device());
            let (b, t) = (2, 26); // the w = 3 ring wraps 13 times, the w = 5 ring 6 times
            let toks = tokens(b, t, spec.vocab_size, gqa as u64);
            let full = model.forward(toks.clone());
            // Prompts shorter than, equal to and longer than the windows; caches sized exactly,
            // and too small (growing by doubling).
            for (p, max_tokens) in [(1, t), (2, t), (4, t), (11, t), (3, 4)] {
                let (first, mut state) =
                    model.prefill_with_capacity(toks.clone().narrow(1, 0, p), max_tokens);
                let mut outs = vec![first];
                for i in p..t {
                    let tok = toks.clone().narrow(1, i, 1).reshape([b]);
                    outs.push(model.decode_step(tok, &mut state).unsqueeze_dim(1));
                }
                let r = rel(&Tensor::cat(outs, 1), &full);
                assert!(
                    r <= 1e-4,
                    "gqa {gqa}, meta {n_meta}, prompt {p}, capacity {max_tokens}: {r:e}"
                );
            }
            // Several tokens continuing a state (the sequence form over a wrapped ring).
            let (first, state) = model.prefill_with_capacity(toks.clone().narrow(1, 0, 9), t);
            let (mid, state) = model.forward_with(
                toks.clone().narrow(1, 9, 7),
                Some(state),
                Scan::Chunked,
                Some(state_capacity(&model, t)),
            );
            let mut state = state.unwrap();
            let mut outs = vec![first, mid];
            for i in 16..t {
                let tok = toks.clone().narrow(1, i, 1).reshape([b]);
                outs.push(model.decode_step(tok, &mut state).unsqueeze_dim(1));
            }
            let r = rel(&Tensor::cat(outs, 1), &full);
            assert!(r <= 1e-4, "gqa {gqa}, meta {n_meta}: continuation {r:e}");
        }
    }
}

fn state_capacity(model: &HybridLm<B>, tokens: usize) -> usize {
    model.spec().n_meta + tokens
}

#[test]
fn decode_state_shapes_do_not_depend_on_position() {
    let spec = spec(2, 1);
    let model = HybridLm::<B>::init(&spec, 1, &device());
    let (p, g) = (3, 40);
    let (_, mut state) = model.prefill_with_capacity(tokens(1, p, spec.vocab_size, 9), p + g);
    let at_start = shapes(&state);
    // Global cache: every position of the protocol; rings: w − 1 slots; w = 1: no cache.
    assert_eq!(at_start[0], vec![1, 2, 1 + p + g, 8]);
    assert_eq!(at_start[2], vec![1, 2, 2, 8]);
    assert_eq!(at_start[6], vec![1, 2, 4, 8]);
    assert_eq!(at_start[8], Vec::<usize>::new());
    let mut tok = tokens(1, 1, spec.vocab_size, 10).reshape([1]);
    for step in 0..g {
        tok = model.decode_step(tok, &mut state).argmax(1).reshape([1]);
        assert_eq!(shapes(&state), at_start, "step {step}");
    }
    match &state.layers[0] {
        LayerState::Attention(Some(c)) => assert_eq!(c.len, 1 + p + g),
        _ => unreachable!(),
    }
}

/// On burn-flex the caches are written in place: the buffer a step reads is the one the
/// prefill allocated, whatever the position (no copy of the cache per token).
#[cfg(not(any(feature = "cuda", feature = "ndarray", feature = "wgpu")))]
#[test]
fn flex_decode_writes_caches_in_place() {
    fn buffers(s: &ModelState<B>) -> Vec<usize> {
        s.layers
            .iter()
            .filter_map(|l| match l {
                LayerState::Attention(Some(c)) => Some(
                    [&c.k, &c.v]
                        .map(|t| t.clone().into_primitive().tensor().bytes().as_ptr() as usize),
                ),
                _ => None,
            })
            .flatten()
            .collect()
    }
    let spec = spec(4, 0);
    let model = HybridLm::<B>::init(&spec, 2, &device());
    let (p, g) = (2, 30);
    let (_, mut state) = model.prefill_with_capacity(tokens(1, p, spec.vocab_size, 3), p + g);
    let before = buffers(&state);
    assert_eq!(before.len(), 6); // global + two rings, K and V
    let mut tok = tokens(1, 1, spec.vocab_size, 4).reshape([1]);
    for _ in 0..g {
        tok = model.decode_step(tok, &mut state).argmax(1).reshape([1]);
    }
    assert_eq!(buffers(&state), before);
}

#[test]
fn write_axis2_equals_slice_assign() {
    use flashnas_model::kernels::write_axis2;
    let dev = device();
    let dst = Tensor::<B, 4>::random([2, 3, 7, 5], burn::tensor::Distribution::Default, &dev);
    let src = Tensor::<B, 4>::random([2, 3, 2, 5], burn::tensor::Distribution::Default, &dev);
    let want = dst
        .clone()
        .slice_assign([0..2, 0..3, 4..6, 0..5], src.clone());
    // A shared destination must not be modified behind its other owner's back.
    let keep = dst.clone();
    let original = dst.to_data();
    let got = write_axis2(dst, 4, src);
    let d: f32 = (got - want).abs().max().into_scalar();
    assert_eq!(d, 0.0);
    assert_eq!(keep.to_data(), original);
}

/// The first `p` tokens of `toks` prefilled in chunks of `chunk` (caches sized for all of
/// them), then the rest decoded a step at a time: the relative difference of the logits of
/// positions `p − 1 ..` to the full forward's, and the state after the last step.
fn chunked_then_decoded(
    model: &HybridLm<B>,
    toks: &Tensor<B, 2, Int>,
    full: &Tensor<B, 3>,
    p: usize,
    chunk: usize,
) -> (f64, ModelState<B>) {
    let [b, t] = toks.dims();
    let (last, mut state) = model.prefill_chunked(toks.clone().narrow(1, 0, p), t, chunk);
    let mut outs = vec![last.unsqueeze_dim(1)];
    for i in p..t {
        let tok = toks.clone().narrow(1, i, 1).reshape([b]);
        outs.push(model.decode_step(tok, &mut state).unsqueeze_dim(1));
    }
    let r = rel(
        &Tensor::cat(outs, 1),
        &full.clone().narrow(1, p - 1, t - p + 1),
    );
    (r, state)
}

/// A prompt fed in chunks (the sequence form continuing the state: global caches appended in
/// place, rings wrapping inside and across chunks, recurrent states carried) gives the last
/// position's logits and a state that decodes like the whole prompt's.
#[test]
fn chunked_prefill_equals_whole_prefill() {
    for gqa in [1usize, 4] {
        for n_meta in [0usize, 2] {
            let spec = spec(gqa, n_meta);
            let model = HybridLm::<B>::init(&spec, 7, &device());
            let (b, t, p) = (2, 26, 19);
            let toks = tokens(b, t, spec.vocab_size, 11 + gqa as u64);
            let full = model.forward(toks.clone());
            for chunk in [1usize, 2, 4, 7, 19, 64] {
                let (r, state) = chunked_then_decoded(&model, &toks, &full, p, chunk);
                assert!(r <= 1e-4, "gqa {gqa}, meta {n_meta}, chunk {chunk}: {r:e}");
                match &state.layers[0] {
                    LayerState::Attention(Some(c)) => {
                        assert_eq!(c.len, n_meta + t);
                        assert_eq!(c.slots(), n_meta + t, "allocated once, for the protocol");
                    }
                    _ => unreachable!(),
                }
            }
        }
    }
}

/// A state repeated over a batch (how the profiler times large-batch decoding from one
/// prefill) is `b` copies of the sequence: a step of the batch gives, for each row, the logits
/// of the single sequence's step, for every mixer (global and swa caches, Mamba2, both
/// delta rules) and with the caches sized as the single one's.
#[test]
fn a_state_repeated_over_a_batch_decodes_as_each_sequence_alone() {
    let spec = ArchSpec::from_json(
        r#"{"vocab_size": 40, "d_model": 32, "n_meta": 2,
            "attention": {"n_heads": 4, "n_kv_heads": 2},
            "mamba2": {"d_state": 8, "head_dim": 16, "chunk_size": 8},
            "deltanet": {"n_heads": 2}, "gated_deltanet": {"n_heads": 2},
            "ffn": {"ratio": 2.0, "multiple_of": 8},
            "layers": ["a", "f", {"kind": "swa", "window": 4}, "m2", "d", "gdn", "f"]}"#,
    )
    .unwrap();
    let model = HybridLm::<B>::init(&spec, 3, &device());
    let (_, one) = model.prefill_chunked(tokens(1, 11, 40, 7), 16, 4);
    let b = 3;
    let batch = one.clone().repeat_batch(b);
    assert_eq!(batch.pos, one.pos);
    for (s, m) in shapes(&one).iter().zip(shapes(&batch)) {
        if !s.is_empty() {
            assert_eq!(m[0], b * s[0]);
            assert_eq!(m[1..], s[1..]);
        }
    }
    let (mut one, mut batch) = (one, batch);
    for t in [5i32, 17, 33] {
        let alone = model.decode_step(
            Tensor::from_data(TensorData::new(vec![t], [1]), &device()),
            &mut one,
        );
        let all = model.decode_step(
            Tensor::from_data(TensorData::new(vec![t; b], [b]), &device()),
            &mut batch,
        );
        for row in 0..b {
            let r = all.clone().narrow(0, row, 1).unsqueeze_dim::<3>(0);
            let d = rel(&r, &alone.clone().unsqueeze_dim::<3>(0));
            assert!(d < 1e-5, "row {row} after token {t}: {d}");
        }
    }
}

/// Chunks longer than a query block (64 rows), continuing a cache, over a head count that
/// does not divide among the threads (3, and GQA 3 → 1): the chunked prefill, split into
/// (head, block of rows) tasks, gives the whole prompt's logits and a state that decodes
/// like it.
#[test]
fn chunks_of_several_query_blocks_equal_the_whole_prefill() {
    for kv in [3usize, 1] {
        let spec = ArchSpec::from_json(&format!(
            r#"{{"vocab_size": 40, "d_model": 48, "n_meta": 2,
                "attention": {{"n_heads": 3, "n_kv_heads": {kv}}},
                "ffn": {{"ratio": 2.0, "multiple_of": 8}},
                "layers": ["a", "f", "a", "f"]}}"#
        ))
        .unwrap();
        let model = HybridLm::<B>::init(&spec, 9, &device());
        let (t, p) = (310, 300);
        let toks = tokens(1, t, spec.vocab_size, 21 + kv as u64);
        let full = model.forward(toks.clone());
        for chunk in [150usize, 200, 300] {
            let (r, _) = chunked_then_decoded(&model, &toks, &full, p, chunk);
            assert!(r <= 1e-4, "kv {kv}, chunk {chunk}: {r:e}");
        }
    }
}
