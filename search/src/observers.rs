//! What a campaign writes for its readers, as observers of its progress: after each admitted
//! record the checkpoint (a failed write stops the run: a resume must find what the journal
//! says) and `report.html` (a failed write is noted once and remembered; the run goes on and
//! ends saying the page is stale). The driver proposes, evaluates and journals; these write.

use crate::config::CampaignConfig;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::journal::{Checkpoint, Record};
use std::path::Path;

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

/// Keeps `checkpoint.json` in step with the journal (atomically).
#[derive(Default)]
pub struct CheckpointWriter;

impl CheckpointWriter {
    pub fn save(&self, dir: &Path, ck: &Checkpoint) -> Result<()> {
        ck.save(dir).map_err(|e| {
            Error::write(
                &Checkpoint::path(dir),
                &e,
                &format!("flashnas resume {}", dir.display()),
            )
        })
    }
}

impl Observer for CheckpointWriter {
    fn admitted(&mut self, a: &Admitted<'_>, _: &mut dyn FnMut(Event)) -> Result<()> {
        self.save(a.dir, a.checkpoint)
    }
}

/// Rewrites `report.html` after each evaluation (off for benchmark runs).
pub struct ReportWriter {
    pub enabled: bool,
    /// Why the last rewrite failed, while the page is stale.
    pub stale: Option<String>,
}

impl Default for ReportWriter {
    fn default() -> Self {
        Self {
            enabled: true,
            stale: None,
        }
    }
}

impl Observer for ReportWriter {
    fn admitted(&mut self, a: &Admitted<'_>, on_event: &mut dyn FnMut(Event)) -> Result<()> {
        if !self.enabled || a.replaying {
            return Ok(());
        }
        match crate::report::write(a.dir, a.cfg, a.records) {
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
        Ok(())
    }
}
