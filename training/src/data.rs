//! Corpora in, token windows out.
//!
//! The token stream is split contiguously: the first `1 − val_fraction` for training, the rest
//! for validation. Training batches are random windows drawn from a seeded RNG; validation is
//! a fixed list of windows spread evenly over the validation split, identical for every
//! candidate of a campaign.

use crate::config::{resolve_path, DataConfig, Source};
use crate::error::Error;
use crate::tokenizer::Tokenizer;
use rand::Rng;
use std::path::{Path, PathBuf};

/// A tokenized corpus, split and windowed.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub train: Vec<u32>,
    pub val: Vec<u32>,
    /// Vocabulary size of the tokenizer (or, for token files, max id + 1).
    pub vocab_size: usize,
    /// Start offsets (into `val`) of the validation windows.
    pub val_starts: Vec<usize>,
    pub seq_len: usize,
    /// Human-readable origin, for logs and results.
    pub origin: String,
}

/// What a driver needs of a corpus, learnt without tokenizing it (see [`Dataset::probe`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusProbe {
    /// As [`Dataset::vocab_size`] will be.
    pub vocab_size: usize,
    /// Token count, where the file sizes give it (byte-tokenized text, token files).
    pub tokens: Option<usize>,
}

/// `(train, val)` token counts of a corpus of `n` tokens, or why it cannot be split into two
/// parts of at least one window each.
fn split_sizes(
    n: usize,
    val_fraction: f64,
    seq_len: usize,
    origin: &str,
) -> Result<(usize, usize), String> {
    if n == 0 {
        return Err(format!("{origin}: the corpus is empty"));
    }
    let window = seq_len + 1; // inputs and shifted targets
    let n_val = ((n as f64) * val_fraction).round() as usize;
    let n_train = n - n_val;
    if n_train < window || n_val < window {
        return Err(format!(
            "{origin}: the corpus has {n} tokens; with data.val_fraction {val_fraction} the splits hold {n_train} and {n_val}, \
             both must hold at least one window of seq_len + 1 = {window} tokens"
        ));
    }
    Ok((n_train, n_val))
}

fn token_width(path: &Path, len: u64, dtype: &str) -> Result<usize, String> {
    let width = if dtype == "u16" { 2 } else { 4 };
    if !len.is_multiple_of(width as u64) {
        return Err(format!(
            "data.path '{}': {len} bytes is not a whole number of {dtype} tokens (data.token_dtype)",
            path.display()
        ));
    }
    Ok(width)
}

/// The tokenizer and the resolved `data.path` (which must exist when given).
fn open_source(cfg: &DataConfig, base: &Path) -> Result<(Tokenizer, Option<PathBuf>), String> {
    let tokenizer = Tokenizer::from_setting(&cfg.tokenizer, base).map_err(|e| e.to_string())?;
    let path = cfg.path.as_ref().map(|p| resolve_path(p, base));
    if let Some(p) = &path {
        if !p.exists() {
            return Err(format!(
                "data.path '{}': no such file or directory",
                p.display()
            ));
        }
    }
    Ok((tokenizer, path))
}

/// The corpus files of `data.path`: the file itself, or a directory's `.ext` files in order.
fn corpus_files(path: &Path, ext: &str) -> Result<Vec<PathBuf>, String> {
    if path.is_dir() {
        files_in(path, ext)
    } else {
        Ok(vec![path.to_path_buf()])
    }
}

/// The vocabulary of a token file: the tokenizer's, or without one (`byte`) what the file uses.
fn token_file_vocab(tokens: &[u32], tokenizer: &Tokenizer) -> usize {
    match tokenizer {
        Tokenizer::Byte => tokens.iter().max().map(|m| *m as usize + 1).unwrap_or(0),
        _ => tokenizer.vocab_size(),
    }
}

fn files_in(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("data.path '{}': cannot list directory: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "data.path '{}': directory holds no .{ext} files",
            dir.display()
        ));
    }
    Ok(files)
}

fn read_parquet_texts(path: &Path, column: &str) -> Result<Vec<String>, String> {
    use polars::prelude::*;
    let file = std::fs::File::open(path)
        .map_err(|e| format!("data.path '{}': cannot open: {e}", path.display()))?;
    let df = ParquetReader::new(file).finish().map_err(|e| {
        format!(
            "data.path '{}': not a readable Parquet file: {e}",
            path.display()
        )
    })?;
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let col = df.column(column).map_err(|_| {
        format!(
            "data.path '{}': no column '{column}' (data.column); columns are: {}",
            path.display(),
            names.join(", ")
        )
    })?;
    let ca = col.str().map_err(|_| {
        format!(
            "data.path '{}': column '{column}' is {:?}, not text",
            path.display(),
            col.dtype()
        )
    })?;
    Ok(ca.iter().flatten().map(|s| s.to_string()).collect())
}

fn read_token_file(path: &Path, dtype: &str) -> Result<Vec<u32>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("data.path '{}': cannot read: {e}", path.display()))?;
    let width = token_width(path, bytes.len() as u64, dtype)?;
    Ok(match width {
        2 => bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]) as u32)
            .collect(),
        _ => bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    })
}

impl Dataset {
    /// What a campaign driver needs before any work, without loading the corpus: the
    /// vocabulary (the tokenizer's; for byte-tokenized token files, the largest id + 1, read
    /// from the file), and the checks file sizes allow: the tokenizer loads, the path exists and
    /// holds files of the source's kind, and, where sizes give the token count (byte-tokenized
    /// text, token files), both splits hold a window. Workers load the corpus themselves.
    pub fn probe(cfg: &DataConfig, seq_len: usize, base: &Path) -> Result<CorpusProbe, Error> {
        Self::probe_corpus(cfg, seq_len, base).map_err(Error::Data)
    }

    fn probe_corpus(cfg: &DataConfig, seq_len: usize, base: &Path) -> Result<CorpusProbe, String> {
        let (tokenizer, path) = open_source(cfg, base)?;
        let byte = matches!(tokenizer, Tokenizer::Byte);
        let size = |f: &Path| {
            std::fs::metadata(f)
                .map(|m| m.len())
                .map_err(|e| format!("data.path '{}': cannot read: {e}", f.display()))
        };
        let (vocab_size, tokens, origin) = match (&cfg.source, &path) {
            (Source::Text, None) => (
                tokenizer.vocab_size(),
                byte.then_some(crate::TINY_SHAKESPEARE.len()),
                "built-in tinyshakespeare".to_string(),
            ),
            (Source::Text, Some(p)) => {
                let mut bytes = 0;
                for f in corpus_files(p, "txt")? {
                    bytes += size(&f)?;
                }
                // The byte tokenizer makes one token of every byte.
                (
                    tokenizer.vocab_size(),
                    byte.then_some(bytes as usize),
                    p.display().to_string(),
                )
            }
            (Source::Parquet, Some(p)) => {
                corpus_files(p, "parquet")?;
                (
                    tokenizer.vocab_size(),
                    None,
                    format!("{} [{}]", p.display(), cfg.column),
                )
            }
            (Source::Tokens, Some(p)) => {
                let len = size(p)?;
                let width = token_width(p, len, &cfg.token_dtype)?;
                // Only the byte tokenizer's vocabulary needs the file's ids.
                let vocab = if byte {
                    token_file_vocab(&read_token_file(p, &cfg.token_dtype)?, &tokenizer)
                } else {
                    tokenizer.vocab_size()
                };
                (vocab, Some(len as usize / width), p.display().to_string())
            }
            (_, None) => return Err("data.path: required for parquet and token sources".into()),
        };
        if let Some(n) = tokens {
            split_sizes(n, cfg.val_fraction, seq_len, &origin)?;
        }
        Ok(CorpusProbe { vocab_size, tokens })
    }

    /// Loads, tokenizes, splits and windows a corpus. `base` is the config file's directory
    /// (relative paths are tried from the current directory first).
    pub fn load(cfg: &DataConfig, seq_len: usize, base: &Path) -> Result<Self, Error> {
        Self::load_corpus(cfg, seq_len, base).map_err(Error::Data)
    }

    fn load_corpus(cfg: &DataConfig, seq_len: usize, base: &Path) -> Result<Self, String> {
        let (tokenizer, path) = open_source(cfg, base)?;
        let (tokens, vocab, origin) = match (&cfg.source, &path) {
            (Source::Text, None) => (
                tokenizer
                    .encode(crate::TINY_SHAKESPEARE)
                    .map_err(|e| e.to_string())?,
                tokenizer.vocab_size(),
                "built-in tinyshakespeare".to_string(),
            ),
            (Source::Text, Some(p)) => {
                let files = corpus_files(p, "txt")?;
                let mut tokens = Vec::new();
                for f in &files {
                    let text = std::fs::read_to_string(f).map_err(|e| {
                        format!(
                            "data.path '{}': cannot read as UTF-8 text: {e}",
                            f.display()
                        )
                    })?;
                    tokens.extend(tokenizer.encode(&text).map_err(|e| e.to_string())?);
                }
                (tokens, tokenizer.vocab_size(), p.display().to_string())
            }
            (Source::Parquet, Some(p)) => {
                let files = corpus_files(p, "parquet")?;
                let mut tokens = Vec::new();
                for f in &files {
                    for doc in read_parquet_texts(f, &cfg.column)? {
                        tokens.extend(tokenizer.encode(&doc).map_err(|e| e.to_string())?);
                        tokens.extend(tokenizer.encode("\n").map_err(|e| e.to_string())?);
                    }
                }
                (
                    tokens,
                    tokenizer.vocab_size(),
                    format!("{} [{}]", p.display(), cfg.column),
                )
            }
            (Source::Tokens, Some(p)) => {
                let tokens = read_token_file(p, &cfg.token_dtype)?;
                let vocab = token_file_vocab(&tokens, &tokenizer);
                (tokens, vocab, p.display().to_string())
            }
            (_, None) => return Err("data.path: required for parquet and token sources".into()),
        };
        Self::from_tokens(
            tokens,
            vocab,
            cfg.val_fraction,
            cfg.val_windows,
            seq_len,
            origin,
        )
    }

    /// Splits a token stream and lays out the validation windows.
    pub fn from_tokens(
        tokens: Vec<u32>,
        vocab_size: usize,
        val_fraction: f64,
        val_windows: usize,
        seq_len: usize,
        origin: String,
    ) -> Result<Self, String> {
        let (n_train, n_val) = split_sizes(tokens.len(), val_fraction, seq_len, &origin)?;
        let window = seq_len + 1;
        let mut train = tokens;
        let val = train.split_off(n_train);
        // Evenly spread, possibly overlapping when the split is short; deterministic.
        let span = n_val - window;
        let count = val_windows.min(span + 1);
        let val_starts = (0..count)
            .map(|i| {
                if count == 1 {
                    0
                } else {
                    i * span / (count - 1)
                }
            })
            .collect();
        Ok(Self {
            train,
            val,
            vocab_size,
            val_starts,
            seq_len,
            origin,
        })
    }

    /// Errors if any token id is outside the model's vocabulary.
    pub fn check_vocab(&self, model_vocab: usize) -> Result<(), Error> {
        let max = self
            .train
            .iter()
            .chain(&self.val)
            .max()
            .copied()
            .unwrap_or(0) as usize;
        if max >= model_vocab {
            return Err(Error::Data(format!(
                "{}: token id {max} is ≥ the architecture's vocab_size {model_vocab}; \
                 set vocab_size to at least {} (the tokenizer's vocabulary is {})",
                self.origin,
                max + 1,
                self.vocab_size
            )));
        }
        Ok(())
    }

    /// A training batch of `batch` random windows: (inputs, targets), each `batch × seq_len`.
    pub fn train_batch(&self, rng: &mut impl Rng, batch: usize) -> (Vec<i32>, Vec<i32>) {
        let t = self.seq_len;
        let mut x = Vec::with_capacity(batch * t);
        let mut y = Vec::with_capacity(batch * t);
        for _ in 0..batch {
            let s = rng.gen_range(0..=self.train.len() - t - 1);
            x.extend(self.train[s..s + t].iter().map(|&v| v as i32));
            y.extend(self.train[s + 1..s + t + 1].iter().map(|&v| v as i32));
        }
        (x, y)
    }

    /// The validation windows from `first`, at most `batch` of them: (inputs, targets, count).
    pub fn val_batch(&self, first: usize, batch: usize) -> (Vec<i32>, Vec<i32>, usize) {
        let t = self.seq_len;
        let n = batch.min(self.val_starts.len().saturating_sub(first));
        let mut x = Vec::with_capacity(n * t);
        let mut y = Vec::with_capacity(n * t);
        for &s in &self.val_starts[first..first + n] {
            x.extend(self.val[s..s + t].iter().map(|&v| v as i32));
            y.extend(self.val[s + 1..s + t + 1].iter().map(|&v| v as i32));
        }
        (x, y, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DataConfig, Source};

    fn probe_and_load(cfg: &DataConfig, seq_len: usize) -> (CorpusProbe, Dataset) {
        let base = Path::new(".");
        (
            Dataset::probe(cfg, seq_len, base).unwrap(),
            Dataset::load(cfg, seq_len, base).unwrap(),
        )
    }

    #[test]
    fn the_probe_agrees_with_the_loaded_corpus_and_refuses_what_load_refuses() {
        let dir = tempfile::tempdir().unwrap();
        // Built-in corpus, byte tokenizer: vocabulary and token count from sizes alone.
        let (p, d) = probe_and_load(&DataConfig::default(), 64);
        assert_eq!(p.vocab_size, d.vocab_size);
        assert_eq!(p.tokens, Some(d.train.len() + d.val.len()));

        // A UTF-8 text file (multi-byte characters: tokens are bytes, not chars).
        let text = dir.path().join("t.txt");
        std::fs::write(&text, "héllo wörld, ".repeat(40)).unwrap();
        let cfg = DataConfig {
            path: Some(text.display().to_string()),
            ..DataConfig::default()
        };
        let (p, d) = probe_and_load(&cfg, 16);
        assert_eq!(p.tokens, Some(d.train.len() + d.val.len()));

        // A u16 token file: the vocabulary is its largest id + 1.
        let toks = dir.path().join("t.bin");
        let ids: Vec<u8> = (0..500u16).flat_map(|i| (i % 300).to_le_bytes()).collect();
        std::fs::write(&toks, ids).unwrap();
        let cfg = DataConfig {
            source: Source::Tokens,
            path: Some(toks.display().to_string()),
            token_dtype: "u16".into(),
            ..DataConfig::default()
        };
        let (p, d) = probe_and_load(&cfg, 16);
        assert_eq!((p.vocab_size, p.tokens), (300, Some(500)));
        assert_eq!(d.vocab_size, 300);

        // Too short for the windows: the probe names it as loading does.
        let base = Path::new(".");
        let probed = Dataset::probe(&cfg, 400, base).unwrap_err().to_string();
        let loaded = Dataset::load(&cfg, 400, base).unwrap_err().to_string();
        assert_eq!(probed, loaded);
        assert!(probed.contains("the corpus has 500 tokens"), "{probed}");

        // A torn token file and a missing path.
        std::fs::write(&toks, [1u8, 2, 3]).unwrap();
        let torn = Dataset::probe(&cfg, 16, base).unwrap_err().to_string();
        assert!(
            torn.contains("3 bytes is not a whole number of u16 tokens"),
            "{torn}"
        );
        let missing = DataConfig {
            path: Some(dir.path().join("nope.txt").display().to_string()),
            ..DataConfig::default()
        };
        let err = Dataset::probe(&missing, 16, base).unwrap_err().to_string();
        assert!(err.contains("no such file or directory"), "{err}");
    }
}
