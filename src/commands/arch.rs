//! `flashnas arch`: the validated spec with parameters, state bytes and FLOPs per token.

use flashnas_model::accounting::accounting;
use flashnas_model::ArchSpec;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long)]
    arch: PathBuf,
    /// Context length (tokens already in the sequence) for the state and FLOP figures.
    #[arg(long, default_value_t = 8192)]
    context: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let spec = ArchSpec::from_file(&a.arch)?;
    let acc = accounting(&spec, a.context);
    if a.json {
        let layers: Vec<_> = acc
            .layers
            .iter()
            .map(|l| serde_json::json!({"kind": l.kind, "params": l.params, "state_bytes": l.state_bytes, "flops_per_token": l.flops_per_token}))
            .collect();
        let out = serde_json::json!({
            "spec": spec, "context": a.context, "params": acc.params, "state_bytes": acc.state_bytes,
            "flops_per_token": acc.flops_per_token, "bytes_per_token": acc.bytes_per_token, "layers": layers,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("{}", spec.to_json_pretty());
    println!();
    println!("layers       {}", spec.layer_string());
    println!(
        "depth        {} sublayers, d_model {}, vocab {}, meta tokens {}",
        spec.depth(),
        spec.d_model,
        spec.vocab_size,
        spec.n_meta
    );
    println!(
        "parameters   {} ({} in embedding/head)",
        acc.params, acc.params_outside_layers
    );
    println!(
        "state bytes  {} per sequence at context {}",
        acc.state_bytes, a.context
    );
    println!(
        "FLOPs/token  {:.3e} (decode at context {})",
        acc.flops_per_token, a.context
    );
    println!();
    println!(
        "{:>4}  {:<15} {:>12} {:>14} {:>14}",
        "#", "kind", "params", "state bytes", "FLOPs/token"
    );
    for (i, l) in acc.layers.iter().enumerate() {
        println!(
            "{:>4}  {:<15} {:>12} {:>14} {:>14.3e}",
            i, l.kind, l.params, l.state_bytes, l.flops_per_token
        );
    }
    Ok(())
}
