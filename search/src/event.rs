//! What the drivers (campaign, study, audit) and the executors report while they work, for
//! progress display.

use crate::journal::Record;

/// Events for progress display.
pub enum Event<'a> {
    /// A candidate starts training (not emitted for results read back from the journal).
    Start { id: usize, describe: &'a str },
    /// Training progress of the current candidate.
    Step(flashnas_training::Progress),
    /// A candidate finished (or was read back from the journal when `replayed`).
    Done {
        record: &'a Record,
        replayed: bool,
        evaluations: usize,
        budget: usize,
        best_loss: Option<f64>,
    },
    /// A warning worth showing (corrupt journal lines, LUT fallbacks, …).
    Note(String),
}
