//! A run folder (a campaign's, a study's): created once by its driver, with the copy of its
//! config that every later process reads (workers, Slurm jobs, a resume).
//!
//! The copy is the user's file edited in place with `toml_edit` — keys set, relative paths
//! made absolute, nothing else touched, so the user's comments and layout survive — and
//! values a run measures once (the reference model's seconds, a raised budget) are pinned
//! into it the same way.

use crate::config::CampaignConfig;
use crate::error::{Error, Result};
use crate::executor::ExecutorConfig;
use crate::lock::{FolderLock, DRIVER_LOCK};
use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, Item, Value};

/// A value to set in a config (`true.into()`, `3_i64.into()`, `"x".into()`).
pub use toml_edit::Array as ConfigArray;
pub use toml_edit::Value as ConfigValue;

/// A config's text, edited key by key.
pub struct ConfigText {
    doc: DocumentMut,
    /// The file it came from, for errors.
    origin: PathBuf,
}

impl ConfigText {
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|e| Error::file(origin, e.to_string().trim()))?;
        Ok(Self {
            doc,
            origin: origin.to_path_buf(),
        })
    }

    /// Sets `key` in `table` (a dotted path such as `latency` or `train.data`; `""` for the
    /// top level), creating the table when it is missing.
    pub fn set(&mut self, table: &str, key: &str, value: impl Into<Value>) -> Result<()> {
        let mut item = self.doc.as_item_mut();
        for part in table.split('.').filter(|p| !p.is_empty()) {
            if item.get(part).is_none() {
                item[part] = Item::Table(Default::default());
            }
            item = &mut item[part];
            if !item.is_table_like() {
                return Err(Error::file(
                    &self.origin,
                    format!("[{table}] is not a table"),
                ));
            }
        }
        item[key] = Item::Value(value.into());
        Ok(())
    }

    /// Whether `key` is set in `table` (a dotted path; `""` for the top level).
    pub fn has(&self, table: &str, key: &str) -> bool {
        let path: Vec<String> = table
            .split('.')
            .filter(|p| !p.is_empty())
            .chain([key])
            .map(str::to_string)
            .collect();
        Self::walk(self.doc.as_item(), &path).is_some()
    }

    /// The string at a path of keys and array indices (`["seeds", "0", "arch"]`).
    fn get_str(&self, path: &[String]) -> Option<String> {
        Self::walk(self.doc.as_item(), path)?
            .as_str()
            .map(str::to_string)
    }

    fn walk<'i>(mut item: &'i Item, path: &[String]) -> Option<&'i Item> {
        for p in path {
            item = match p.parse::<usize>() {
                Ok(i) => item.get(i)?,
                Err(_) => item.get(p.as_str())?,
            };
        }
        Some(item)
    }

    fn set_path(&mut self, path: &[String], value: &str) {
        let mut item = self.doc.as_item_mut();
        for p in path {
            item = match p.parse::<usize>() {
                Ok(i) => &mut item[i],
                Err(_) => &mut item[p.as_str()],
            };
        }
        *item = toml_edit::value(value);
    }

    /// Length of the array (of values or of tables) at `path`, 0 when there is none.
    fn len(&self, path: &[String]) -> usize {
        match Self::walk(self.doc.as_item(), path) {
            Some(Item::ArrayOfTables(a)) => a.len(),
            Some(Item::Value(Value::Array(a))) => a.len(),
            _ => 0,
        }
    }

    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    /// Makes the relative paths of the copy a run keeps absolute (`train.data.path`,
    /// `train.data.tokenizer`, `latency.lut_file`, `latency.model_file`, `seeds[i].arch`,
    /// `executor.table`, `executor.surrogate`, `warm_start.from[i]`), resolved as the user
    /// meant them: from the current folder, then the config's. The driver, local workers and
    /// Slurm jobs (which start in the run folder) then all read the same files.
    pub fn absolutize_paths(&mut self) -> Result<()> {
        let config = self.origin.clone();
        let base = config.parent().map(Path::to_path_buf).unwrap_or_default();
        let absolute = |p: &str, key: &str, must_exist: bool| -> Result<String> {
            let found = flashnas_model::fsio::resolve_path(p, &base);
            let abs = match std::fs::canonicalize(&found) {
                Ok(a) => a,
                Err(_) if !must_exist => {
                    let base = match base.as_os_str().is_empty() {
                        true => std::env::current_dir(),
                        false => std::fs::canonicalize(&base),
                    }
                    .map_err(|e| Error::file(&base, e))?;
                    base.join(p)
                }
                Err(_) => return Err(Error::file(&config, format!("{key} '{p}' not found"))),
            };
            Ok(abs.display().to_string())
        };
        let path = |s: &str| -> Vec<String> { s.split('.').map(str::to_string).collect() };
        // (path, must the file exist); the lookup table is built on first use.
        let mut keys: Vec<(Vec<String>, bool)> = vec![
            (path("train.data.path"), true),
            (path("latency.lut_file"), false),
            (path("latency.model_file"), true),
            (path("executor.table"), true),
            (path("executor.surrogate"), true),
        ];
        if self
            .get_str(&path("train.data.tokenizer"))
            .is_some_and(|t| t != "byte")
        {
            keys.push((path("train.data.tokenizer"), true));
        }
        for i in 0..self.len(&path("seeds")) {
            keys.push((path(&format!("seeds.{i}.arch")), true));
        }
        for i in 0..self.len(&path("warm_start.from")) {
            keys.push((path(&format!("warm_start.from.{i}")), true));
        }
        for (key, must_exist) in keys {
            if let Some(p) = self.get_str(&key) {
                let shown = shown_key(&key);
                let abs = absolute(&p, &shown, must_exist)?;
                self.set_path(&key, &abs);
            }
        }
        Ok(())
    }
}

/// `seeds.0.arch` as a user writes it: `seeds[0].arch`.
fn shown_key(path: &[String]) -> String {
    let mut out = String::new();
    for p in path {
        match p.parse::<usize>() {
            Ok(i) => out.push_str(&format!("[{i}]")),
            Err(_) if out.is_empty() => out.push_str(p),
            Err(_) => out.push_str(&format!(".{p}")),
        }
    }
    out
}

/// A campaign's own copy of `config` with `overrides` (`(table, key, value)`, table `""` for a
/// top-level key) and `executor` (the command line's executor flags) applied, `in_flight`
/// pinned and relative paths made absolute; and the config parsed from exactly that copy
/// (what a resume reads back). `tool` names the command in the copy's first line.
pub fn campaign_copy(
    config: &Path,
    overrides: &[(&str, &str, Value)],
    executor: &dyn Fn(&mut ExecutorConfig, &mut ConfigText) -> Result<()>,
    tool: &str,
) -> Result<(CampaignConfig, String)> {
    let origin = config.display().to_string();
    let text = std::fs::read_to_string(config)
        .map_err(|e| Error::file(config, format!("cannot read: {e}")))?;
    // Parsed first so that errors name the user's file and key.
    CampaignConfig::from_toml(&text, &origin)?;
    let mut copy = ConfigText::parse(&text, config)?;
    for (table, key, v) in overrides {
        copy.set(table, key, v.clone())?;
    }
    let mut cfg = CampaignConfig::from_toml(&copy.text(), &origin)?;
    executor(&mut cfg.executor, &mut copy)?;
    cfg.validate()?;
    // The trajectory depends on in_flight: pin it so a resume with other workers replays it.
    copy.set("executor", "in_flight", cfg.executor.in_flight() as i64)?;
    copy.absolutize_paths()?;
    let text = format!("# copied from {origin} by flashnas {tool}\n{}", copy.text());
    let cfg = CampaignConfig::from_toml(&text, &origin)?;
    Ok((cfg, text))
}

/// Settings whose default changed (the widths fitted to the budget, the family seeds, racing):
/// `(table, key, the value a campaign made before the change had)`. A new campaign pins the
/// value it runs with in its copy; a copy without it was made before, and keeps the old one.
pub const PINNED_DEFAULTS: [(&str, &str, &str); 3] = [
    ("space", "width", "gene"),
    ("family_seeds", "enabled", "false"),
    ("racing", "enabled", "false"),
];

/// A new campaign's config copy with the [`PINNED_DEFAULTS`] set to what it runs with
/// (`values`, in that order), so that a later change of default cannot change it.
pub fn with_pinned_defaults(text: &str, values: [Value; 3]) -> Result<String> {
    let mut copy = ConfigText::parse(text, Path::new("config.toml"))?;
    for ((table, key, _), v) in PINNED_DEFAULTS.iter().zip(values) {
        copy.set(table, key, v)?;
    }
    Ok(copy.text())
}

/// Pins in `dir`'s config copy the [`PINNED_DEFAULTS`] it lacks, with the values of a campaign
/// made before their default changed (a resume); returns the keys it pinned.
pub fn pin_legacy_defaults(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join("config.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::file(&path, e))?;
    let mut copy = ConfigText::parse(&text, &path)?;
    let mut pinned = Vec::new();
    for (table, key, old) in PINNED_DEFAULTS {
        if copy.has(table, key) {
            continue;
        }
        let value = match old {
            "false" => Value::from(false),
            s => Value::from(s),
        };
        copy.set(table, key, value)?;
        pinned.push(format!("{table}.{key} = {old}"));
    }
    if !pinned.is_empty() {
        flashnas_model::fsio::write_atomic(&path, copy.text().as_bytes())
            .map_err(|e| Error::write(&path, &e, &format!("flashnas resume {}", dir.display())))?;
    }
    Ok(pinned)
}

/// Pins `table.key = value` in the run's `config.toml` (atomically), e.g. the measured
/// `latency.reference_s`, so that a resume reads the same value.
pub fn pin_config_value(dir: &Path, table: &str, key: &str, value: impl Into<Value>) -> Result<()> {
    let path = dir.join("config.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::file(&path, e))?;
    let mut copy = ConfigText::parse(&text, &path)?;
    copy.set(table, key, value)?;
    flashnas_model::fsio::write_atomic(&path, copy.text().as_bytes())
        .map_err(|e| Error::write(&path, &e, &format!("flashnas resume {}", dir.display())))
}

/// Creates a run folder for a new driver: takes the folder's driver lock, refuses a folder
/// that already holds a journal (`exists` says what to do instead), writes the config copy.
pub fn new_run_dir(dir: &Path, config_text: &str, exists: &str) -> Result<FolderLock> {
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create: {e}")))?;
    let lock = FolderLock::acquire(dir, DRIVER_LOCK, "driver")?;
    if dir.join("journal.jsonl").exists() {
        return Err(Error::AlreadyExists {
            dir: dir.to_path_buf(),
            hint: exists.to_string(),
        });
    }
    let config = dir.join("config.toml");
    // Nothing has run yet: the user starts the same command again once there is room.
    flashnas_model::fsio::write_atomic(&config, config_text.as_bytes())
        .map_err(|e| Error::file(&config, flashnas_model::fsio::reason(&e)))?;
    Ok(lock)
}

/// Opens an existing run folder for its next driver: refuses a folder without a config copy
/// (`what` names what was expected there, e.g. `campaign`), takes the driver lock (`driver`
/// names the holder in the error a second driver gets) and returns it with the config's path.
pub fn resume_run_dir(
    dir: &Path,
    what: &'static str,
    driver: &str,
) -> Result<(FolderLock, PathBuf)> {
    let config = dir.join("config.toml");
    if !config.exists() {
        return Err(Error::NotFound {
            dir: dir.to_path_buf(),
            what,
        });
    }
    let lock = FolderLock::acquire(dir, DRIVER_LOCK, driver)?;
    Ok((lock, config))
}

/// `results/<name>-<UTC timestamp>`.
pub fn default_dir(cfg: &CampaignConfig) -> PathBuf {
    results_dir(&cfg.name)
}

/// `results/<name>-<UTC timestamp>`, e.g. `results/quickstart-20261202-051500`.
pub fn results_dir(name: &str) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    PathBuf::from("results").join(format!("{name}-{stamp}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_a_value_keeps_the_users_comments_and_layout() {
        let dir = tempfile::tempdir().unwrap();
        let text = "# my campaign\nname = \"x\"  # short name\n\n[latency]\n# measured on the laptop\nprompt = 8\n";
        std::fs::write(dir.path().join("config.toml"), text).unwrap();
        pin_config_value(dir.path(), "latency", "reference_s", 0.001234_f64).unwrap();
        pin_config_value(dir.path(), "", "evaluations", 40_i64).unwrap();
        pin_config_value(dir.path(), "executor", "in_flight", 2_i64).unwrap();
        let out = std::fs::read_to_string(dir.path().join("config.toml")).unwrap();
        for kept in ["# my campaign", "# short name", "# measured on the laptop"] {
            assert!(out.contains(kept), "{kept} lost:\n{out}");
        }
        let v: toml::Value = toml::from_str(&out).unwrap();
        assert_eq!(v["latency"]["reference_s"].as_float(), Some(0.001234));
        assert_eq!(v["latency"]["prompt"].as_integer(), Some(8));
        assert_eq!(v["evaluations"].as_integer(), Some(40));
        assert_eq!(v["executor"]["in_flight"].as_integer(), Some(2));
        // A key under a value that is not a table is an error naming the file.
        std::fs::write(dir.path().join("config.toml"), "latency = 3\n").unwrap();
        let e = pin_config_value(dir.path(), "latency", "x", 1_i64).unwrap_err();
        assert!(e.to_string().contains("config.toml"), "{e}");
    }

    #[test]
    fn relative_paths_become_absolute_and_others_stay() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("corpus.txt"), "abc").unwrap();
        std::fs::write(dir.path().join("seed.toml"), "").unwrap();
        let config = dir.path().join("c.toml");
        let text = "[train.data]\npath = \"corpus.txt\"\ntokenizer = \"byte\"\n\n[latency]\nlut_file = \"lut.json\"\n\n[[seeds]]\narch = \"seed.toml\"\n";
        let mut copy = ConfigText::parse(text, &config).unwrap();
        copy.absolutize_paths().unwrap();
        let v: toml::Value = toml::from_str(&copy.text()).unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let at = |p: &str| root.join(p).display().to_string();
        assert_eq!(
            v["train"]["data"]["path"].as_str(),
            Some(at("corpus.txt").as_str())
        );
        assert_eq!(v["train"]["data"]["tokenizer"].as_str(), Some("byte"));
        assert_eq!(
            v["latency"]["lut_file"].as_str(),
            Some(at("lut.json").as_str())
        );
        assert_eq!(
            v["seeds"][0]["arch"].as_str(),
            Some(at("seed.toml").as_str())
        );
        let mut missing = ConfigText::parse("[[seeds]]\narch = \"nope.toml\"\n", &config).unwrap();
        let e = missing.absolutize_paths().unwrap_err().to_string();
        assert!(e.contains("seeds[0].arch 'nope.toml' not found"), "{e}");
    }

    #[test]
    fn results_folders_are_named_by_utc_time() {
        let d = results_dir("q").display().to_string();
        let stamp = d.strip_prefix("results/q-").expect(&d);
        let named = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d-%H%M%S")
            .unwrap_or_else(|e| panic!("{stamp}: {e}"))
            .and_utc();
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(
            (unix - named.timestamp()).abs() <= 2,
            "{stamp} is not now in UTC"
        );
    }
}
