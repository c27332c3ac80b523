//! The training library's errors: each names the file, key or corpus and the reason.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A training config is invalid (file, key, reason).
    #[error("{0}")]
    Config(String),
    /// The corpus or its tokenizer could not be loaded, or its tokens do not fit the model.
    #[error("{0}")]
    Data(String),
}
