//! The campaign journal (JSONL, one evaluation per line) and the checkpoint.
//!
//! Each line is `{"check": <fnv64 hex of the record JSON>, "record": {…}}`, appended and
//! fsync'ed. Reading back detects a truncated or corrupt line: the good prefix is used, the
//! rest is moved aside to `journal.jsonl.corrupt-<n>` and reported, never silently dropped.

use crate::genome::{Factor, Genome};
use flashnas_model::ArchSpec;
use flashnas_training::ProxyResult;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One evaluated candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Evaluation index, 0-based.
    pub id: usize,
    /// Cycle (aging) or generation (NSGA-II) that proposed it; 0 for the initial population.
    pub cycle: usize,
    pub parent: Option<usize>,
    pub second_parent: Option<usize>,
    /// `seed`, `random`, `mutation` or `crossover`.
    pub origin: String,
    pub mutation: Option<Factor>,
    pub genome: Genome,
    /// The proposal's identity before a width was fitted (what resume matches on).
    pub proposal_key: String,
    /// Canonical identity (layers and width): duplicates are never evaluated twice.
    pub key: String,
    /// Layer string, e.g. `m2 f a f`.
    pub layers: String,
    pub width: usize,
    pub depth: usize,
    pub params: usize,
    /// Decode-state bytes per sequence at the end of the latency protocol's generation.
    pub state_bytes: usize,
    pub spec: ArchSpec,
    pub proxy: ProxyResult,
    pub latency_s: Option<f64>,
    pub latency_cv: Option<f64>,
    pub latency_source: String,
    /// Ran without failure and met the latency budget.
    pub feasible: bool,
    /// `ok` or `failed`.
    pub status: String,
    pub failure: Option<String>,
    /// Frontier size and hypervolume after this evaluation.
    pub frontier_size: usize,
    pub hypervolume: f64,
    pub seed: u64,
    pub eval_seconds: f64,
    /// Tries it took (a worker died, a Slurm job failed, timed out or was preempted).
    #[serde(default = "one")]
    pub attempts: usize,
}

fn one() -> usize {
    1
}

impl Record {
    /// Proxy validation loss; failed candidates rank last.
    pub fn loss(&self) -> f64 {
        self.proxy
            .val_loss
            .filter(|_| self.status == "ok")
            .unwrap_or(f64::INFINITY)
    }
    pub fn latency(&self) -> f64 {
        self.latency_s.unwrap_or(f64::INFINITY)
    }
}

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

    /// Appends one record durably.
    pub fn append(&self, r: &T) -> std::io::Result<()> {
        let value = serde_json::to_value(r).expect("record serializes");
        let text = serde_json::to_string(&value).expect("json");
        let line = serde_json::to_string(&Line {
            check: fnv_hex(&text),
            record: value,
        })
        .expect("json");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(format!("{line}\n").as_bytes())?;
        f.sync_all()
    }

    /// Reads the good prefix; a bad line and everything after it are moved aside and reported.
    pub fn read(&self) -> std::io::Result<JournalRead<T>> {
        let mut problems = Vec::new();
        if !self.path.exists() {
            return Ok(JournalRead {
                records: Vec::new(),
                problems,
            });
        }
        let text = std::fs::read_to_string(&self.path)?;
        let mut records = Vec::new();
        let mut good_bytes = 0usize;
        let mut offset = 0usize;
        let mut bad: Option<(usize, String)> = None;
        for (n, raw) in text.split_inclusive('\n').enumerate() {
            let parsed = (|| {
                if !raw.ends_with('\n') {
                    return Err("truncated (no end of line)".to_string());
                }
                let line: Line = serde_json::from_str(raw.trim_end())
                    .map_err(|e| format!("not valid JSON: {e}"))?;
                let text = serde_json::to_string(&line.record).expect("json");
                if fnv_hex(&text) != line.check {
                    return Err("checksum mismatch".into());
                }
                let r: T = serde_json::from_value(line.record)
                    .map_err(|e| format!("not a record: {e}"))?;
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
                    offset += raw.len();
                    good_bytes = offset;
                }
                Err(e) => {
                    bad = Some((n + 1, e));
                    break;
                }
            }
        }
        if let Some((line, why)) = bad {
            let aside = (0..)
                .map(|i| self.path.with_extension(format!("jsonl.corrupt-{i}")))
                .find(|p| !p.exists())
                .expect("a free name");
            std::fs::write(&aside, &text.as_bytes()[good_bytes..])?;
            let f = std::fs::OpenOptions::new().write(true).open(&self.path)?;
            f.set_len(good_bytes as u64)?;
            f.sync_all()?;
            problems.push(format!(
                "{}: line {line} is {why}; using the {} good records before it, the rest was moved to {} (those candidates are evaluated again)",
                self.path.display(),
                records.len(),
                aside.display()
            ));
        }
        Ok(JournalRead { records, problems })
    }
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
        flashnas_model::weights::write_atomic(
            &Self::path(dir),
            serde_json::to_string_pretty(self).expect("json").as_bytes(),
        )
    }

    /// `Ok(None)` when absent; `Err` with a reason when unreadable.
    pub fn load(dir: &Path) -> Result<Option<Self>, String> {
        let p = Self::path(dir);
        if !p.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: corrupt checkpoint ({e})", p.display()))
    }
}
