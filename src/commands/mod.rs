//! Subcommands, one module each.

use clap::{Parser, Subcommand};

mod arch;
mod bench;
mod init;
mod logits;
pub mod npy;

#[derive(Parser, Debug)]
#[command(
    name = "flashnas",
    version,
    about = "Search for latency-optimal hybrid small language models (Nemotron-Flash method)"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write random initial weights (OPERATORS.md §9) for an architecture.
    Init(init::Args),
    /// Compute logits for token sequences and write them as a .npy file.
    Logits(logits::Args),
    /// Validate an architecture and print it with parameters, state bytes and FLOPs per token.
    Arch(arch::Args),
    /// Benchmarks that print figures (model: forward+backward step times).
    #[command(subcommand)]
    Bench(bench::Bench),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init(a) => init::run(a),
        Command::Logits(a) => logits::run(a),
        Command::Arch(a) => arch::run(a),
        Command::Bench(b) => bench::run(b),
    }
}
