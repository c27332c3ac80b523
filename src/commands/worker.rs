//! `flashnas worker`: evaluate one candidate of a campaign folder (local pool, Slurm jobs).

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    /// Campaign (or study) directory holding candidates/<ID>/task.json.
    #[arg(long)]
    campaign: PathBuf,
    /// Candidate to evaluate (the folder name under candidates/).
    #[arg(long)]
    candidate: String,
    /// Attempt number, recorded with the result.
    #[arg(long, default_value_t = 1)]
    attempt: usize,
    /// Device to train and time on (e.g. cuda:1), instead of the config's.
    #[arg(long)]
    device: Option<String>,
}

pub fn worker(a: WorkerArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let accepted = flashnas_search::task::run_worker(
        &a.campaign,
        &a.candidate,
        a.attempt,
        a.device.as_deref(),
        &mut |_| {},
    )?;
    println!(
        "candidate {} attempt {}: {} in {:.1} s",
        a.candidate,
        a.attempt,
        if accepted {
            "result published"
        } else {
            "a result was already accepted; this one is ignored (see ignored.log)"
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
