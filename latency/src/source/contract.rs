//! What a latency source implements ([`Source`]) and what it answers ([`Figure`]).

use crate::config::LatencyConfig;
use crate::pricing::{Latency, LatencyOrigin, Pricer};
use flashnas_model::ArchSpec;

/// One uncalibrated figure.
pub struct Figure {
    pub seconds: f64,
    /// Coefficient of variation of the timings (none for a model's figure).
    pub cv: Option<f64>,
    pub origin: LatencyOrigin,
    /// The timings behind it when it was timed again near a budget level.
    pub retimed: Option<usize>,
}

/// A latency source the `sources!` list can name.
pub trait Source {
    /// Whether it runs models on the device (held exclusively while it prices).
    const MEASURES: bool = true;

    /// What it needs of `[latency]` (the key and the reason of the first problem).
    fn check(_l: &LatencyConfig) -> Result<(), String> {
        Ok(())
    }

    /// A figure of `spec` under the protocol of `l`, uncalibrated.
    fn figure(p: &Pricer, spec: &ArchSpec, l: &LatencyConfig) -> Result<Figure, String>;

    /// A candidate's latency for the campaign (by default its figure, with its ratio to the
    /// pinned reference when there is one).
    fn price(p: &Pricer, spec: &ArchSpec) -> Latency {
        p.uncalibrated(spec, p.config())
    }
}
