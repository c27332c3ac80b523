//! The long-context protocol's prefill is chunked: what it allocates beyond the state it
//! returns (KV caches, rings, recurrent states, RoPE rows) does not grow with the prompt.
//! A property of allocations, counted by this test binary's allocator, never a timing.
//! One test in this binary: the counters are process-wide.

use burn::tensor::{Int, Tensor, TensorData};
use flashnas_latency::profile::{prefill_protocol, PREFILL_CHUNK};
use flashnas_model::backend::{device, Compute};
use flashnas_model::{ArchSpec, HybridLm};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grow(n: usize) {
    let now = CURRENT.fetch_add(n, SeqCst) + n;
    PEAK.fetch_max(now, SeqCst);
}

// SAFETY: every call is forwarded to the system allocator; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            grow(l.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() {
            grow(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        CURRENT.fetch_sub(l.size(), SeqCst);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            CURRENT.fetch_sub(l.size(), SeqCst);
            grow(new);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

type B = Compute;

/// Every kind of mixer: global attention (a cache of the whole protocol), swa (a ring),
/// Mamba2 and Gated DeltaNet (chunked scans carrying their states), FFNs, meta tokens.
fn spec() -> ArchSpec {
    ArchSpec::from_json(
        r#"{"vocab_size": 256, "d_model": 64, "n_meta": 2,
            "attention": {"n_heads": 4, "n_kv_heads": 2, "window": 64},
            "mamba2": {"d_state": 16, "head_dim": 16, "chunk_size": 32},
            "gated_deltanet": {"n_heads": 2},
            "ffn": {"ratio": 2.0, "multiple_of": 8},
            "layers": ["a", "f", "swa", "m2", "gated_deltanet", "f", "a"]}"#,
    )
    .unwrap()
}

/// Bytes allocated during a prefill of `p` tokens beyond those it returns: (peak − start) −
/// (retained − start).
fn transient(model: &HybridLm<B>, p: usize, whole: bool) -> (usize, usize) {
    let data: Vec<i32> = (0..p).map(|i| ((i * 7919) % 256) as i32).collect();
    let toks = Tensor::<B, 2, Int>::from_data(TensorData::new(data, [1, p]), &device());
    let start = CURRENT.load(SeqCst);
    PEAK.store(start, SeqCst);
    let out = if whole {
        let (logits, state) = model.prefill_with_capacity(toks, p + 16);
        (logits.narrow(1, p - 1, 1).reshape([1, 256]), state)
    } else {
        prefill_protocol(model, toks, p + 16)
    };
    let peak = PEAK.load(SeqCst) - start;
    let retained = CURRENT.load(SeqCst).saturating_sub(start);
    drop(out);
    (peak.saturating_sub(retained), retained)
}

#[test]
fn long_context_prefill_is_chunked_memory_does_not_grow_beyond_the_state() {
    let spec = spec();
    spec.validate().unwrap();
    let model = HybridLm::<B>::init(&spec, 0, &device());
    let short = 2 * PREFILL_CHUNK;
    let long = 8 * PREFILL_CHUNK;
    transient(&model, short, false); // warm-up: thread pools, lazily built tables
    let (t_short, kept_short) = transient(&model, short, false);
    let (t_long, kept_long) = transient(&model, long, false);
    // The state itself grows with the prompt (the global caches)...
    assert!(kept_long > kept_short, "{kept_long} vs {kept_short}");
    // ...what the prefill needs beyond it does not (a few percent of allocator noise).
    assert!(
        t_long <= t_short + t_short / 10 + (64 << 10),
        "prefill scratch grew with the prompt: {t_short} bytes at {short} tokens, {t_long} at {long}"
    );
    // The measure can see growth: the whole prompt in one pass needs several times as much.
    let (t_whole, _) = transient(&model, long, true);
    assert!(
        t_whole > 2 * t_long,
        "whole-prompt prefill {t_whole} bytes, chunked {t_long}"
    );
}
