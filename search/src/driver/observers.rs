//! What a campaign writes for its readers, as observers of its progress: the checkpoint (a
//! failed write stops the run) and `report.html` (a failed write is noted once and remembered;
//! the run goes on and ends saying the page is stale). The driver proposes, evaluates and
//! journals; these write. Both are views for readers (`status`, a browser) — a resume reads
//! the journal — so they are rewritten at most once per interval while records stream in (a
//! page is at most a couple of seconds old) and always at the end: rewriting them after every
//! record would make each record cost in proportion to all that came before.

use crate::config::CampaignConfig;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::journal::{Checkpoint, Record};
use std::cell::Cell;
use std::path::Path;
use std::time::{Duration, Instant};

/// The campaign as it stands after a record was admitted.
pub struct Admitted<'a> {
    pub dir: &'a Path,
    pub cfg: &'a CampaignConfig,
    pub records: &'a [Record],
    pub checkpoint: &'a Checkpoint,
    /// Read back from the journal with more still to replay (the page waits for the last).
    pub replaying: bool,
}

/// Told of every admitted record; an error stops the run.
pub trait Observer {
    fn admitted(&mut self, a: &Admitted<'_>, on_event: &mut dyn FnMut(Event)) -> Result<()>;
}

/// Keeps `checkpoint.json` in step with the journal (atomically): at most once a second
/// while records stream in, and whenever the driver saves it (the first candidate, the end).
pub struct CheckpointWriter {
    interval: Duration,
    last: Cell<Option<Instant>>,
}

impl Default for CheckpointWriter {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            last: Cell::new(None),
        }
    }
}

impl CheckpointWriter {
    /// Writes it now.
    pub fn save(&self, dir: &Path, ck: &Checkpoint) -> Result<()> {
        self.last.set(Some(Instant::now()));
        ck.save(dir).map_err(|e| {
            Error::write(
                &Checkpoint::path(dir),
                &e,
                &format!("flashnas resume {}", dir.display()),
            )
        })
    }

    /// Writes it when the interval has passed since the last write (or there was none).
    pub fn save_if_due(&self, dir: &Path, ck: &Checkpoint) -> Result<()> {
        match self.last.get() {
            Some(t) if t.elapsed() < self.interval => Ok(()),
            _ => self.save(dir, ck),
        }
    }
}

impl Observer for CheckpointWriter {
    fn admitted(&mut self, a: &Admitted<'_>, _: &mut dyn FnMut(Event)) -> Result<()> {
        self.save_if_due(a.dir, a.checkpoint)
    }
}

/// Writes a campaign's page (`report.html`) from its folder, config and records, returning its
/// path: the views' `report::write`, given by whoever runs the campaign (the CLI), so that the
/// campaign core does not depend on the views and the studies they show.
pub type PageWriter = fn(&Path, &CampaignConfig, &[Record]) -> Result<std::path::PathBuf>;

/// Rewrites `report.html` as evaluations come in — at most every two seconds (or ten times as
/// long as the last page took to build), and at the end (`flush`) — when it has a `page` to
/// write (none for benchmark runs and library callers that do not set one).
pub struct ReportWriter {
    pub enabled: bool,
    pub page: Option<PageWriter>,
    /// Why the last rewrite failed, while the page is stale.
    pub stale: Option<String>,
    interval: Duration,
    last: Option<Instant>,
    /// Records came in since the last rewrite.
    pending: bool,
}

impl Default for ReportWriter {
    fn default() -> Self {
        Self {
            enabled: true,
            page: None,
            stale: None,
            interval: Duration::from_secs(2),
            last: None,
            pending: false,
        }
    }
}

impl ReportWriter {
    /// Writes the page if records came in since it was last written (the end of a run).
    pub fn flush(
        &mut self,
        dir: &Path,
        cfg: &CampaignConfig,
        records: &[Record],
        on_event: &mut dyn FnMut(Event),
    ) {
        if self.enabled && self.pending {
            self.write(dir, cfg, records, on_event);
        }
    }

    fn write(
        &mut self,
        dir: &Path,
        cfg: &CampaignConfig,
        records: &[Record],
        on_event: &mut dyn FnMut(Event),
    ) {
        let Some(page) = self.page else {
            self.pending = false;
            return;
        };
        let started = Instant::now();
        self.pending = false;
        let written = page(dir, cfg, records);
        // A page takes longer to build as the campaign grows: the next one waits at least ten
        // times as long as this one took (and 2 s), so pages cost at most a tenth of the run.
        let took = started.elapsed();
        self.interval = Duration::from_secs(2).max(took * 10);
        self.last = Some(Instant::now());
        match written {
            Ok(_) => self.stale = None,
            Err(e) => {
                let why = e.to_string();
                if self.stale.is_none() {
                    on_event(Event::Note(format!(
                        "{why}; the report is stale until it can be written again (the journal is whole)"
                    )));
                }
                self.stale = Some(why);
            }
        }
    }
}

impl Observer for ReportWriter {
    fn admitted(&mut self, a: &Admitted<'_>, on_event: &mut dyn FnMut(Event)) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        self.pending = true;
        if a.replaying || self.last.is_some_and(|t| t.elapsed() < self.interval) {
            return Ok(());
        }
        self.write(a.dir, a.cfg, a.records, on_event);
        Ok(())
    }
}
