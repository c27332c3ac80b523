//! What the four drivers (the campaign, the validation, the proxy audit, the depth–width
//! study) share around their journals, written once: a journal read back under the folder's
//! lock (a torn tail repaired, its problems told), each row checked against what the driver
//! expects at its place, and tasks run through the executor in proposal order, each result
//! journaled as a row before it counts (a failed write stops the driver with the command that
//! resumes it).

use crate::error::{Error, Result};
use crate::event::Event;
use crate::executor::{run_in_order, ExecutorConfig};
use crate::journal::{Entry, Journal};
use crate::task::{Task, TaskResult};
use std::path::{Path, PathBuf};

/// The rows of `journal`, read back and repaired (the caller holds the folder's lock), its
/// problems told.
pub fn replay<R: Entry>(journal: &Journal<R>, on_event: &mut dyn FnMut(Event)) -> Result<Vec<R>> {
    let read = journal
        .repair()
        .map_err(|e| Error::file(journal.path(), e))?;
    for p in read.problems {
        on_event(Event::Note(p));
    }
    Ok(read.records)
}

/// A driver's journal of rows and the rows it holds.
pub struct Rows<R: Entry> {
    journal: Journal<R>,
    rows: Vec<R>,
    /// The command that continues the driver, named when a write fails.
    resume: String,
}

impl<R: Entry> Rows<R> {
    /// The journal at `path`, read back. `misplaced(place, row)` says why a row does not belong
    /// where it is (a journal of another run): refused then, nothing mixed in.
    pub fn open(
        path: PathBuf,
        resume: impl Into<String>,
        on_event: &mut dyn FnMut(Event),
        misplaced: impl Fn(usize, &R) -> Option<String>,
    ) -> Result<Self> {
        let journal = Journal::at(path);
        let rows = replay(&journal, on_event)?;
        if let Some(hint) = rows.iter().enumerate().find_map(|(i, r)| misplaced(i, r)) {
            return Err(Error::AlreadyExists {
                dir: journal.path().to_path_buf(),
                hint,
            });
        }
        Ok(Self {
            journal,
            rows,
            resume: resume.into(),
        })
    }

    pub fn rows(&self) -> &[R] {
        &self.rows
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn path(&self) -> &Path {
        self.journal.path()
    }

    pub fn into_rows(self) -> Vec<R> {
        self.rows
    }

    /// Journals `row`, then keeps it.
    pub fn push(&mut self, row: R) -> Result<()> {
        self.journal
            .append(&row)
            .map_err(|e| Error::write(self.journal.path(), &e, &self.resume))?;
        self.rows.push(row);
        Ok(())
    }

    /// Runs `tasks` through the executor `executor` describes, admitting results in proposal
    /// order: `row(task, result, place)` makes each result's row, which is journaled and kept
    /// before `told(row)` says what it was (a note).
    pub fn run(
        &mut self,
        dir: &Path,
        executor: &ExecutorConfig,
        tasks: Vec<Task>,
        on_event: &mut dyn FnMut(Event),
        row: &mut dyn FnMut(Task, TaskResult, usize) -> R,
        told: &mut dyn FnMut(&R) -> String,
    ) -> Result<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        let mut exec = executor.build()?;
        let resume = self.resume.clone();
        run_in_order(
            dir,
            exec.as_mut(),
            executor.in_flight(),
            tasks,
            on_event,
            &mut |task, result, ev| {
                let made = row(task, result, self.rows.len());
                self.push(made)?;
                ev(Event::Note(told(self.rows.last().expect("just kept"))));
                Ok(())
            },
        )
        .map_err(|e| e.with_resume(&resume))
    }
}
