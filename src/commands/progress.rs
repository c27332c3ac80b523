//! Progress on the terminal (indicatif): a campaign's bars, and the bars of a fixed list of
//! tasks (audit, depth–width study, validation).

use flashnas_search::campaign::Outcome;
use flashnas_search::Event;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// A line above the bars, or plain stdout when the bars are hidden (not a terminal).
pub(crate) fn say(multi: &MultiProgress, line: String) {
    if multi.is_hidden() {
        println!("{line}");
    } else {
        let _ = multi.println(line);
    }
}

/// Runs a campaign with progress bars; returns its outcome.
pub(crate) fn run_campaign(
    mut make: impl FnMut(&mut dyn FnMut(Event)) -> flashnas_search::Result<Outcome>,
) -> anyhow::Result<Outcome> {
    let multi = MultiProgress::new();
    let campaign = multi.add(ProgressBar::new(0));
    campaign.set_style(
        ProgressStyle::with_template("campaign  [{bar:30}] {pos}/{len} evaluations · {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    let candidate = multi.add(ProgressBar::new(0));
    candidate.set_style(
        ProgressStyle::with_template("candidate [{bar:30}] {pos}/{len} {prefix} steps · {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    let mut on_event = |e: Event| match e {
        Event::Start { id, describe } => {
            candidate.set_position(0);
            candidate.set_message(format!("#{id} {describe}"));
        }
        Event::Step(p) => {
            candidate.set_length(p.total as u64);
            candidate.set_position(p.step as u64);
            candidate.set_prefix(p.phase);
        }
        Event::Done {
            record,
            replayed,
            evaluations,
            budget,
            best_loss,
        } => {
            campaign.set_length(budget as u64);
            campaign.set_position(evaluations as u64);
            campaign.set_message(format!(
                "best feasible loss {} · frontier {} · HV {:.4}",
                best_loss
                    .map(|l| format!("{l:.4}"))
                    .unwrap_or_else(|| "–".into()),
                record.frontier_size,
                record.hypervolume
            ));
            let lat = record
                .latency
                .seconds
                .map(|l| format!("{l:.4} s"))
                .unwrap_or_else(|| "–".into());
            let loss = record
                .proxy
                .val_loss
                .map(|l| format!("{l:.4}"))
                .unwrap_or_else(|| "–".into());
            let tag = if replayed { " (from journal)" } else { "" };
            let status = record.failure.clone().unwrap_or_else(|| {
                if record.feasible {
                    "ok".into()
                } else if record.recall_shortfall > 0.0 {
                    // Infeasible for its recall, not its latency.
                    format!(
                        "recall {:.0} % below recall_min",
                        100.0 * record.recall().unwrap_or(0.0)
                    )
                } else if record.throughput_shortfall > 0.0 {
                    "throughput below min_tokens_s".into()
                } else {
                    "over budget".into()
                }
            });
            say(
                &multi,
                format!(
                    "#{:<3} {:<44} loss {loss:<7} latency {lat:<10} {status}{tag}",
                    record.id,
                    record.genome.describe()
                ),
            );
        }
        Event::Note(n) => {
            say(&multi, format!("note: {n}"));
        }
    };
    let r = make(&mut on_event);
    candidate.finish_and_clear();
    campaign.finish();
    Ok(r?)
}

/// Progress of a fixed list of tasks (audit, depth–width study): one bar counting the notes
/// that report a finished task, one for the training steps of an in-process task.
pub(crate) struct TaskBars {
    multi: MultiProgress,
    tasks: ProgressBar,
    steps: ProgressBar,
    counts: fn(&str) -> bool,
}

impl TaskBars {
    pub(crate) fn new(label: &str, unit: &str, len: usize, counts: fn(&str) -> bool) -> Self {
        let multi = MultiProgress::new();
        let tasks = multi.add(ProgressBar::new(len as u64));
        tasks.set_style(
            ProgressStyle::with_template(&format!(
                "{label:<9} [{{bar:30}}] {{pos}}/{{len}} {unit} · {{msg}}"
            ))
            .expect("template")
            .progress_chars("=> "),
        );
        let steps = multi.add(ProgressBar::new(0));
        steps.set_style(
            ProgressStyle::with_template("training  [{bar:30}] {pos}/{len} steps · {msg}")
                .expect("template")
                .progress_chars("=> "),
        );
        Self {
            multi,
            tasks,
            steps,
            counts,
        }
    }

    pub(crate) fn set_len(&self, len: usize) {
        self.tasks.set_length(len as u64);
    }

    pub(crate) fn handle(&self, e: Event) {
        match e {
            Event::Note(n) => {
                if (self.counts)(&n) {
                    self.tasks.inc(1);
                }
                say(&self.multi, n);
            }
            Event::Start { describe, .. } => {
                self.steps.set_position(0);
                self.steps.set_message(describe.to_string());
            }
            Event::Step(p) => {
                self.steps.set_length(p.total as u64);
                self.steps.set_position(p.step as u64);
            }
            Event::Done { .. } => {}
        }
    }

    pub(crate) fn finish(&self) {
        self.steps.finish_and_clear();
        self.tasks.finish();
    }
}
