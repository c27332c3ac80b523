//! Subcommands, one module each.

use clap::{Parser, Subcommand};

mod arch;
mod audit;
mod bench;
mod depth_width;
mod executor_args;
mod export;
mod init;
mod latency_model;
mod logits;
pub mod npy;
mod plot;
mod profile;
mod progress;
mod report;
mod resume;
mod search;
mod status;
mod surrogate;
mod tabulate;
mod train;
mod validate;
mod worker;

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
    /// Write random initial weights (docs/OPERATORS.md §9) for an architecture.
    Init(init::Args),
    /// Compute logits for token sequences and write them as a .npy file.
    Logits(logits::Args),
    /// Validate an architecture and print it with parameters, state bytes and FLOPs per token.
    Arch(arch::Args),
    /// Run a search campaign from a config file.
    Search(search::SearchArgs),
    /// Resume an interrupted campaign from its directory.
    Resume(resume::ResumeArgs),
    /// Depth–width study: train and time a grid of shapes, fit L(D,W), pick shapes per budget.
    DepthWidth(depth_width::Args),
    /// Build a benchmark table of a search space: every genome trained (with a fidelity
    /// ladder) and timed once.
    Tabulate(tabulate::Args),
    /// A surrogate benchmark fitted on a table: answers any genome of its space
    /// (`--executor surrogate:FILE`).
    #[command(subcommand)]
    Surrogate(surrogate::SurrogateCmd),
    /// Proxy fidelity audit: retrain K candidates F× longer and rank-correlate the losses.
    Audit(audit::AuditArgs),
    /// Validate a campaign: its picks against hand-designed baselines at equal latency, after
    /// F× longer training with S seeds (resumable).
    Validate(validate::Args),
    /// Evaluate one candidate of a campaign (what every executor runs).
    Worker(worker::WorkerArgs),
    /// Progress, best feasible candidate, frontier and hypervolume of a campaign.
    Status(status::StatusArgs),
    /// Export a campaign's frontier or all candidates (CSV or Parquet).
    Export(export::ExportArgs),
    /// Write the campaign's report.html (frontier, hypervolume, factors, every candidate).
    Report(report::ReportArgs),
    /// Serve a campaign's report live on 127.0.0.1 (read-only).
    Serve(report::ServeArgs),
    /// Draw the frontier and the hypervolume per evaluation (SVG).
    Plot(plot::PlotArgs),
    /// Train an architecture with the short-training proxy and report validation figures.
    Train(train::Args),
    /// A learned latency predictor: build one for a campaign's space and protocol, or check
    /// it on unseen architectures against the lookup table and the roofline.
    #[command(subcommand)]
    LatencyModel(latency_model::LatencyModelCmd),
    /// Measure decode / prefill latency and throughput of an architecture on a device.
    Profile(profile::Args),
    /// Benchmarks that print figures (model: forward+backward step times).
    #[command(subcommand)]
    Bench(bench::Bench),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init(a) => init::run(a),
        Command::Logits(a) => logits::run(a),
        Command::Arch(a) => arch::run(a),
        Command::Search(a) => search::search(a),
        Command::Resume(a) => resume::resume(a),
        Command::Worker(a) => worker::worker(a),
        Command::Audit(a) => audit::audit(a),
        Command::Validate(a) => validate::run(a),
        Command::Tabulate(a) => tabulate::run(a),
        Command::Surrogate(c) => surrogate::run(c),
        Command::DepthWidth(a) => depth_width::run(a),
        Command::Status(a) => status::status(a),
        Command::Export(a) => export::export(a),
        Command::Plot(a) => plot::plot(a),
        Command::Report(a) => report::report(a),
        Command::Serve(a) => report::serve(a),
        Command::Train(a) => train::run(a),
        Command::Profile(a) => profile::run(a),
        Command::LatencyModel(c) => latency_model::run(c),
        Command::Bench(b) => bench::run(b),
    }
}
