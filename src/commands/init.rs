//! `flashnas init`: seeded random initial weights.

use anyhow::Context;
use flashnas_model::backend::{device, Compute};
use flashnas_model::{ArchSpec, HybridLm};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Architecture JSON (docs/OPERATORS.md §11).
    #[arg(long)]
    arch: PathBuf,
    /// Seed of the initialization (same seed ⇒ same weights, on any backend).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output safetensors file.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let spec = ArchSpec::from_file(&a.arch)?;
    let model = HybridLm::<Compute>::init(&spec, a.seed, &device());
    model
        .save(&a.out)
        .with_context(|| format!("writing {}", a.out.display()))?;
    eprintln!(
        "wrote {} ({} tensors, {} parameters)",
        a.out.display(),
        flashnas_model::lm::tensors(&spec).len(),
        flashnas_model::accounting::param_count(&spec)
    );
    Ok(())
}
