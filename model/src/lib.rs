//! The hybrid LM of docs/OPERATORS.md in burn: the architecture spec, every operator with a
//! whole-sequence form (chunked for the recurrent mixers) and a one-token step form with an
//! explicit state, analytic accounting, seeded init and safetensors weight I/O.
//! Section signs in this crate (`§6.4`, `§10`) cite docs/OPERATORS.md.

pub mod accounting;
pub mod attention;
pub mod backend;
pub mod config;
pub mod delta_common;
pub mod delta_rule;
pub mod deltanet;
pub mod descriptor;
pub mod ffn;
pub mod fields;
pub mod fsio;
pub mod gated_deltanet;
pub mod init;
pub mod kernels;
pub mod kind;
pub mod linear;
pub mod lm;
pub mod mamba2;
pub mod registry;
pub mod rms_norm;
pub mod rope;
pub mod short_conv;
pub mod spec;
pub mod ssd;
pub mod tensors;
pub mod weights;

pub use lm::{HybridLm, LayerState, ModelState};
pub use spec::{ArchSpec, LayerConfig, LayerEntry, LayerKind, SpecError};
pub use weights::{WeightError, WeightMap};

/// Which algorithm a recurrent mixer uses over a sequence: the chunked (parallel) form for
/// training and prefill, or the token-by-token recurrence (the decode step, and the reference
/// the chunked form is tested against).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    Chunked,
    Recurrent,
}
