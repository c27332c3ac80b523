//! The latency library's errors: each names the key or file and the reason.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A latency config or profile request is invalid (key, reason).
    #[error("{0}")]
    Config(String),
    /// A lookup-table file could not be read or written.
    #[error("{0}")]
    Table(String),
    /// The architecture does not fit the memory budget at the batch asked for.
    #[error("{0}")]
    Memory(String),
}
