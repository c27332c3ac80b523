//! Tokenizers: byte-level (vocabulary 256) and any Hugging Face `tokenizer.json`.

use crate::error::Error;
use std::path::Path;

pub enum Tokenizer {
    /// Every byte is a token.
    Byte,
    HuggingFace(Box<tokenizers::Tokenizer>),
}

impl Tokenizer {
    /// `"byte"` or a path to a `tokenizer.json`.
    pub fn from_setting(setting: &str, base: &Path) -> Result<Self, Error> {
        if setting == "byte" {
            return Ok(Tokenizer::Byte);
        }
        let path = crate::config::resolve_path(setting, base);
        let tk = tokenizers::Tokenizer::from_file(&path).map_err(|e| {
            Error::Data(format!(
                "tokenizer '{}': cannot load a Hugging Face tokenizer.json: {e}",
                path.display()
            ))
        })?;
        Ok(Tokenizer::HuggingFace(Box::new(tk)))
    }

    pub fn vocab_size(&self) -> usize {
        match self {
            Tokenizer::Byte => 256,
            Tokenizer::HuggingFace(t) => t.get_vocab_size(true),
        }
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>, Error> {
        match self {
            Tokenizer::Byte => Ok(text.bytes().map(u32::from).collect()),
            Tokenizer::HuggingFace(t) => t
                .encode(text, false)
                .map(|e| e.get_ids().to_vec())
                .map_err(|e| Error::Data(format!("tokenizer failed: {e}"))),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Tokenizer::Byte => "byte".into(),
            Tokenizer::HuggingFace(_) => "huggingface".into(),
        }
    }
}
