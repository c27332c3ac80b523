//! `flashnas`: search for latency-optimal hybrid small language models.

mod commands;

use clap::Parser;

fn main() {
    let cli = commands::Cli::parse();
    if let Err(e) = commands::run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
