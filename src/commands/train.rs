//! `flashnas train`: one short training run of an architecture, with a progress bar.

use anyhow::{bail, Context};
use flashnas_model::backend::{device, Train};
use flashnas_model::fsio::write_atomic;
use flashnas_model::ArchSpec;
use flashnas_training::{train, Dataset, TrainConfig};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long)]
    arch: PathBuf,
    /// Training config (TOML; see README, "Training config").
    #[arg(long)]
    config: PathBuf,
    /// Write the ProxyResult as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Save the trained weights (safetensors).
    #[arg(long)]
    save: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let mut spec = ArchSpec::from_file(&a.arch)?;
    let cfg = TrainConfig::from_file(&a.config)?;
    let base = a
        .config
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default();
    let data = Dataset::load(&cfg.data, cfg.seq_len, &base)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.config.display()))?;
    if spec.vocab_size < data.vocab_size {
        eprintln!(
            "note: vocab_size {} raised to the tokenizer's {}",
            spec.vocab_size, data.vocab_size
        );
        spec.vocab_size = data.vocab_size;
    }
    data.check_vocab(spec.vocab_size)?;
    let bar = ProgressBar::new(cfg.total_steps() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>6} [{bar:30}] {pos}/{len} steps · loss {msg} · ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix("train");
    let (result, model) = train::<Train>(&spec, &cfg, &data, &device(), &mut |p| {
        if bar.length() != Some(p.total as u64) || bar.prefix() != p.phase {
            bar.set_prefix(p.phase);
            bar.set_length(p.total as u64);
        }
        bar.set_position(p.step as u64);
        bar.set_message(format!("{:.3} · {:.0} tok/s", p.loss, p.tokens_per_second));
    });
    bar.finish_and_clear();
    let json = serde_json::to_string_pretty(&result)?;
    if let Some(out) = &a.out {
        write_atomic(out, json.as_bytes()).with_context(|| format!("writing {}", out.display()))?;
    }
    println!("status       {}", result.status.describe());
    if let (Some(l), Some(p), Some(acc)) = (result.val_loss, result.perplexity, result.accuracy) {
        println!(
            "val loss     {l:.4} nats/token (perplexity {p:.2}, accuracy {:.1}%)",
            acc * 100.0
        );
    }
    if let Some(r) = result.recall_accuracy {
        println!("recall       {:.1}% (MQAR)", r * 100.0);
    }
    println!(
        "trained      {} steps, {} tokens in {:.1} s ({:.0} tokens/s, {})",
        result.steps,
        result.tokens_seen,
        result.wall_seconds,
        result.tokens_per_second,
        result.backend
    );
    if let Some(path) = &a.save {
        match model {
            Some(m) => {
                use burn::module::AutodiffModule;
                m.valid().save(path)?;
                println!("saved        {}", path.display());
            }
            None => bail!(
                "no weights saved: the run did not complete ({})",
                result.status.describe()
            ),
        }
    }
    if !result.status.is_ok() {
        std::process::exit(2);
    }
    Ok(())
}
