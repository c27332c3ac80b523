//! The campaign journal (JSONL, one evaluation per line) and the checkpoint.
//!
//! Each line is `{"check": <fnv64 hex of the record JSON>, "record": {…}}`, appended and
//! fsync'ed. Reading back detects a truncated or corrupt line (including a torn multi-byte
//! character): readers use the good prefix and report the rest; only the driver, holding the
//! folder's lock, repairs — the rest is moved aside to `journal.jsonl.corrupt-<n>` and
//! reported, never silently dropped.

pub use crate::record::{Evaluated, Objective, Origin, Proposal, Record, RecordStatus, SpecText};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

fn fnv_hex(s: &str) -> String {
    format!("{:016x}", flashnas_model::init::fnv1a(s))
}

#[derive(Serialize, Deserialize)]
struct Line {
    check: String,
    record: serde_json::Value,
}

/// Entries of a journal carry their position (0, 1, 2, …), checked on reading.
pub trait Entry: Serialize + for<'de> Deserialize<'de> {
    fn index(&self) -> usize;
}

impl Entry for Record {
    fn index(&self) -> usize {
        self.id
    }
}

/// An append-only JSONL journal of `T` (campaign records by default; also the depth–width
/// study and the proxy audit).
pub struct Journal<T: Entry = Record> {
    path: PathBuf,
    _entries: std::marker::PhantomData<T>,
}

/// What reading a journal found.
pub struct JournalRead<T = Record> {
    pub records: Vec<T>,
    /// Human-readable notes about lines that were truncated or corrupt.
    pub problems: Vec<String>,
}

impl Journal<Record> {
    /// The campaign journal, `DIR/journal.jsonl`.
    pub fn new(dir: &Path) -> Self {
        Self::at(dir.join("journal.jsonl"))
    }
}

/// A resumed campaign's journal records, handed back to its driver in order: the next one
/// stands for the driver's next proposal when both are the same evaluation (same id, same
/// identity), so the strategy replays without training or timing anything again.
pub struct Replay {
    pending: std::collections::VecDeque<Record>,
}

impl Replay {
    pub fn new(records: Vec<Record>) -> Self {
        Self {
            pending: records.into(),
        }
    }

    /// The records not replayed yet, in order.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.pending.iter()
    }

    /// Records not replayed yet.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The journal's record of proposal `id` with identity `proposal_key`, when it is next;
    /// `Err` with the journal's identity for that place when the proposal differs (the config
    /// or seed changed: see [`Replay::set_aside`]); `Ok(None)` when nothing is left.
    pub fn take(&mut self, id: usize, proposal_key: &str) -> Result<Option<Record>, String> {
        match self.pending.front() {
            None => Ok(None),
            Some(r) if r.id == id && r.proposal_key == proposal_key => Ok(self.pending.pop_front()),
            Some(r) => Err(r.proposal_key.clone()),
        }
    }

    /// Drops the records not replayed: they are kept in `journal.jsonl.replaced[-n]` (the
    /// first free name), then the journal is rewritten with `kept` (the records replayed so
    /// far). Each step is atomic; a kill between them loses nothing.
    pub fn set_aside(&mut self, journal: &Journal, kept: &[Record]) -> crate::error::Result<()> {
        use crate::error::Error;
        let rest: Vec<Record> = self.pending.drain(..).collect();
        let dir = journal.path().parent().unwrap_or(Path::new("."));
        let aside = (0..)
            .map(|i| match i {
                0 => dir.join("journal.jsonl.replaced"),
                n => dir.join(format!("journal.jsonl.replaced-{n}")),
            })
            .find(|p| !p.exists())
            .expect("a free name");
        let text: String = rest.iter().map(line_of).collect();
        flashnas_model::fsio::write_atomic(&aside, text.as_bytes())
            .map_err(|e| Error::file(&aside, e))?;
        crate::lock::fault_point("journal-rewrite:replaced-written");
        journal
            .rewrite(kept)
            .map_err(|e| Error::file(journal.path(), e))?;
        crate::lock::fault_point("journal-rewrite:done");
        Ok(())
    }
}

impl<T: Entry> Journal<T> {
    pub fn at(path: PathBuf) -> Self {
        Self {
            path,
            _entries: std::marker::PhantomData,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record durably. When the write fails (a full disk) the journal is cut
    /// back to its last whole line, so it never holds a torn record; if even that fails, the
    /// next driver's [`Journal::repair`] moves the torn tail aside.
    pub fn append(&self, r: &T) -> std::io::Result<()> {
        flashnas_model::fsio::append_durable(&self.path, line_of(r).as_bytes())
    }

    /// Reads the good prefix and says what it ignored; never writes. This is what readers
    /// (`status`, `export`, `plot`, `audit`) do, while a driver may be appending: a last line
    /// without its end is then a write in progress, not damage.
    pub fn read(&self) -> std::io::Result<JournalRead<T>> {
        let scan = self.scan()?;
        let mut problems = Vec::new();
        if let Some((line, why)) = &scan.bad {
            problems.push(format!(
                "{}: line {line} is {why}; read the {} records before it and ignored the rest (a running campaign may be writing it; only its driver repairs the journal)",
                self.path.display(),
                scan.records.len(),
            ));
        }
        Ok(JournalRead {
            records: scan.records,
            problems,
        })
    }

    /// The driver's read, under the folder lock: a bad line and everything after it are
    /// copied aside to `<journal>.corrupt-<n>` (atomically), then cut from the journal.
    pub fn repair(&self) -> std::io::Result<JournalRead<T>> {
        let scan = self.scan()?;
        let mut problems = Vec::new();
        if let Some((line, why)) = scan.bad {
            let aside = (0..)
                .map(|i| self.path.with_extension(format!("jsonl.corrupt-{i}")))
                .find(|p| !p.exists())
                .expect("a free name");
            flashnas_model::fsio::write_atomic(&aside, &scan.bytes[scan.good_bytes..])?;
            let f = std::fs::OpenOptions::new().write(true).open(&self.path)?;
            f.set_len(scan.good_bytes as u64)?;
            f.sync_all()?;
            problems.push(format!(
                "{}: line {line} is {why}; using the {} good records before it, the rest was moved to {} (those candidates are evaluated again)",
                self.path.display(),
                scan.records.len(),
                aside.display()
            ));
        }
        Ok(JournalRead {
            records: scan.records,
            problems,
        })
    }

    /// Replaces the whole journal with `records`: a temp file, fsync, rename, fsync of the
    /// folder. A kill at any point leaves the old journal or the new one, never a mix.
    pub fn rewrite(&self, records: &[T]) -> std::io::Result<()> {
        let text: String = records.iter().map(line_of).collect();
        let tmp = self.path.with_extension("jsonl.rewrite-tmp");
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            flashnas_model::fsio::injected_fault(&self.path)?;
            f.sync_all()?;
            drop(f);
            crate::lock::fault_point("journal-rewrite:temp-written");
            std::fs::rename(&tmp, &self.path)
        })();
        if let Err(e) = written {
            // The old journal stands; the half-written copy would only hold space.
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        let parent = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::File::open(parent)?.sync_all()
    }

    fn scan(&self) -> std::io::Result<Scan<T>> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut records = Vec::new();
        let mut good_bytes = 0usize;
        let mut bad = None;
        for (n, raw) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
            let parsed = (|| {
                if raw.last() != Some(&b'\n') {
                    return Err("truncated (no end of line)".to_string());
                }
                let text = std::str::from_utf8(raw)
                    .map_err(|_| "not valid UTF-8 (a torn write)".to_string())?;
                let r: T = match written_record(text.trim_end()) {
                    // As this journal writes it: the checksum is over the record's text.
                    Some(record) => {
                        serde_json::from_str(record).map_err(|e| format!("not a record: {e}"))?
                    }
                    // Reformatted by hand, or torn: the checksum is over the canonical text.
                    None => {
                        let line: Line = serde_json::from_str(text.trim_end())
                            .map_err(|e| format!("not valid JSON: {e}"))?;
                        let json = serde_json::to_string(&line.record).expect("json");
                        if fnv_hex(&json) != line.check {
                            return Err("checksum mismatch".into());
                        }
                        serde_json::from_value(line.record)
                            .map_err(|e| format!("not a record: {e}"))?
                    }
                };
                if r.index() != records.len() {
                    return Err(format!(
                        "record id {} out of sequence (expected {})",
                        r.index(),
                        records.len()
                    ));
                }
                Ok(r)
            })();
            match parsed {
                Ok(r) => {
                    records.push(r);
                    good_bytes += raw.len();
                }
                Err(e) => {
                    bad = Some((n + 1, e));
                    break;
                }
            }
        }
        Ok(Scan {
            bytes,
            records,
            good_bytes,
            bad,
        })
    }
}

/// What a pass over the journal found.
struct Scan<T> {
    bytes: Vec<u8>,
    records: Vec<T>,
    /// Length of the prefix made of good lines.
    good_bytes: usize,
    /// First bad line (1-based) and why.
    bad: Option<(usize, String)>,
}

/// One journal line: `{"check": …, "record": …}` and its end of line. The record's text is
/// canonical (keys sorted, as a `Value` writes them), so that a reader can check it as written.
pub(crate) fn line_of<T: Serialize>(r: &T) -> String {
    let value = serde_json::to_value(r).expect("record serializes");
    let text = serde_json::to_string(&value).expect("json");
    format!("{{\"check\":\"{}\",\"record\":{text}}}\n", fnv_hex(&text))
}

/// The record's text of a line exactly as [`line_of`] writes it, when its checksum holds.
fn written_record(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("{\"check\":\"")?;
    let (check, rest) = (rest.get(..16)?, rest.get(16..)?);
    let record = rest.strip_prefix("\",\"record\":")?.strip_suffix('}')?;
    (fnv_hex(record) == check).then_some(record)
}

/// Campaign state after an evaluation: for `status`, and cross-checked on resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub evaluations: usize,
    pub cycle: usize,
    /// Record ids of the population, oldest first (aging), or the current population (NSGA-II).
    pub population: Vec<usize>,
    /// Candidate being evaluated when this was written (`proposal_key`), if any.
    pub in_flight: Option<String>,
    /// Record ids proposed and not yet admitted (evaluating, or queued at an executor).
    #[serde(default)]
    pub in_flight_ids: Vec<usize>,
    /// RNG words drawn so far (the stream position of the campaign's ChaCha8 RNG).
    pub rng_word_pos: u128,
    pub best: Option<usize>,
    pub frontier: Vec<usize>,
    pub hypervolume: f64,
    pub finished: bool,
}

impl Checkpoint {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("checkpoint.json")
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        flashnas_model::fsio::write_atomic(
            &Self::path(dir),
            serde_json::to_string_pretty(self).expect("json").as_bytes(),
        )
    }

    /// `Ok(None)` when absent; `Err` with a reason when unreadable.
    pub fn load(dir: &Path) -> crate::error::Result<Option<Self>> {
        use crate::error::Error;
        let p = Self::path(dir);
        if !p.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&p).map_err(|e| Error::file(&p, e))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::file(&p, format!("corrupt checkpoint ({e})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Row {
        id: usize,
        text: String,
    }

    impl Entry for Row {
        fn index(&self) -> usize {
            self.id
        }
    }

    /// A reader leaves a torn tail alone (the driver may be writing it), including one cut in
    /// the middle of a multi-byte character; only `repair` moves it aside.
    #[test]
    fn readers_never_write_and_a_torn_character_is_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::<Row>::at(dir.path().join("journal.jsonl"));
        for id in 0..2 {
            j.append(&Row {
                id,
                text: "ünïcödé".into(),
            })
            .unwrap();
        }
        let third = line_of(&Row {
            id: 2,
            text: "ü".repeat(8),
        });
        let cut = third.find('ü').unwrap() + 1; // inside the 2-byte 'ü'
        let mut bytes = std::fs::read(j.path()).unwrap();
        bytes.extend_from_slice(&third.as_bytes()[..cut]);
        std::fs::write(j.path(), &bytes).unwrap();

        let read = j.read().unwrap();
        assert_eq!(read.records.len(), 2);
        assert!(read.problems[0].contains("line 3"), "{:?}", read.problems);
        assert_eq!(std::fs::read(j.path()).unwrap(), bytes, "read() wrote");

        // The driver's repair keeps the torn tail aside and cuts it.
        let repaired = j.repair().unwrap();
        assert_eq!(repaired.records.len(), 2);
        let aside = dir.path().join("journal.jsonl.corrupt-0");
        assert_eq!(
            std::fs::read(&aside).unwrap(),
            &third.as_bytes()[..cut],
            "the torn tail is kept aside"
        );
        assert_eq!(j.read().unwrap().problems.len(), 0);

        // rewrite() replaces the whole file.
        j.rewrite(&repaired.records[..1]).unwrap();
        assert_eq!(j.read().unwrap().records, repaired.records[..1].to_vec());
    }

    /// A line is written as serde writes a `Line`, is read back by its text, and reads the same
    /// when a person reformats it (the checksum is then taken over the canonical text); a record
    /// edited without its checksum is refused either way.
    #[test]
    fn lines_read_as_written_reformatted_or_edited() {
        let row = Row {
            id: 0,
            text: "a \"quoted\" line".into(),
        };
        let line = line_of(&row);
        let value = serde_json::to_value(&row).unwrap();
        let text = serde_json::to_string(&value).unwrap();
        let by_serde = serde_json::to_string(&Line {
            check: fnv_hex(&text),
            record: value,
        })
        .unwrap();
        assert_eq!(line, format!("{by_serde}\n"));
        assert!(written_record(line.trim_end()).is_some());

        let dir = tempfile::tempdir().unwrap();
        let j = Journal::<Row>::at(dir.path().join("journal.jsonl"));
        let pretty: serde_json::Value = serde_json::from_str(&line).unwrap();
        let reformatted = serde_json::to_string_pretty(&pretty)
            .unwrap()
            .replace('\n', " ");
        assert!(written_record(&reformatted).is_none());
        std::fs::write(j.path(), format!("{line}{reformatted}\n")).unwrap();
        // The second line is the first again (out of sequence): read as a record, then refused
        // for its id, not for its checksum.
        let read = j.read().unwrap();
        assert_eq!(read.records, vec![row.clone()]);
        assert!(
            read.problems[0].contains("out of sequence"),
            "{:?}",
            read.problems
        );

        let edited = line.replace("quoted", "edited");
        std::fs::write(j.path(), &edited).unwrap();
        let read = j.read().unwrap();
        assert!(read.records.is_empty());
        assert!(read.problems[0].contains("checksum"), "{:?}", read.problems);
    }
}
