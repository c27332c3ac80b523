//! `flashnas logits`: logits of token sequences, full-sequence or through prefill + decode.

use super::npy;
use anyhow::{bail, Context};
use burn::tensor::{Int, Tensor, TensorData};
use flashnas_model::backend::{device, Compute};
use flashnas_model::fsio::write_atomic;
use flashnas_model::{ArchSpec, HybridLm};
use std::path::PathBuf;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// One whole-sequence forward (chunked mixers).
    Full,
    /// Prefill of the first token, then one `decode_step` per token.
    Decode,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long)]
    arch: PathBuf,
    #[arg(long)]
    weights: PathBuf,
    /// JSON array of arrays of token ids (batch × time, equal lengths).
    #[arg(long)]
    tokens: PathBuf,
    /// Output .npy file: f32 logits, batch × time × vocab.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t = Mode::Full)]
    mode: Mode,
}

/// Reads and checks a batch × time token file.
pub fn read_tokens(
    path: &std::path::Path,
    vocab: usize,
) -> anyhow::Result<(usize, usize, Vec<i32>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let rows: Vec<Vec<i64>> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: expected a JSON array of arrays of token ids",
            path.display()
        )
    })?;
    if rows.is_empty() || rows[0].is_empty() {
        bail!(
            "{}: needs at least one sequence of at least one token",
            path.display()
        );
    }
    let t = rows[0].len();
    let mut flat = Vec::with_capacity(rows.len() * t);
    for (b, row) in rows.iter().enumerate() {
        if row.len() != t {
            bail!(
                "{}: sequence {b} has {} tokens, sequence 0 has {t}; all must be equal",
                path.display(),
                row.len()
            );
        }
        for (j, &id) in row.iter().enumerate() {
            if id < 0 || id as usize >= vocab {
                bail!(
                    "{}: token [{b}][{j}] = {id} is outside the vocabulary 0..{vocab}",
                    path.display()
                );
            }
            flat.push(id as i32);
        }
    }
    Ok((rows.len(), t, flat))
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let spec = ArchSpec::from_file(&a.arch)?;
    let dev = device();
    let model = HybridLm::<Compute>::load(&spec, &a.weights, &dev)?;
    let (b, t, flat) = read_tokens(&a.tokens, spec.vocab_size)?;
    let tokens = Tensor::<Compute, 2, Int>::from_data(TensorData::new(flat, [b, t]), &dev);
    let logits = match a.mode {
        Mode::Full => model.forward(tokens),
        Mode::Decode => {
            let (first, mut state) = model.prefill(tokens.clone().narrow(1, 0, 1));
            let mut outs = vec![first];
            for i in 1..t {
                let step =
                    model.decode_step(tokens.clone().narrow(1, i, 1).reshape([b]), &mut state);
                outs.push(step.unsqueeze_dim(1));
            }
            Tensor::cat(outs, 1)
        }
    };
    let shape = logits.dims().to_vec();
    let data: Vec<f32> = logits
        .into_data()
        .convert::<f32>()
        .to_vec()
        .expect("f32 logits");
    write_atomic(&a.out, &npy::encode_f32(&shape, &data))
        .with_context(|| format!("writing {}", a.out.display()))?;
    eprintln!(
        "wrote {} logits {:?} ({:?} mode)",
        a.out.display(),
        shape,
        a.mode
    );
    Ok(())
}
