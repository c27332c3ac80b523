//! Where a candidate's latency comes from (`latency.source`). A source is a file here
//! implementing [`contract::Source`] and one line of the list below, which names the
//! [`LatencySource`] a config accepts and the type `registry.rs` dispatches to (the pricer and
//! the config's check reach every source through it). The shared machinery (the device
//! lock, edge re-timing, the pinned reference, the loaded predictor) stays in the
//! [`crate::Pricer`]. This file imports nothing of the crate, so the config can name a source
//! without reaching its implementation.

mod analytic;
pub mod contract;
mod lut;
mod measured;
mod predicted;
mod registry;

/// The registered sources, `Variant "name" Type` each, handed to `$callback` (the enum below,
/// the dispatch in `registry.rs`).
macro_rules! registered_sources {
    ($callback:ident) => {
        $callback! {
            /// Run the model on the device (interleaved with the reference when `calibrate`).
            Measured "measured" measured::Measured,
            /// Sum of measured sublayers from a lookup table (where its validated error is
            /// small).
            Lut "lut" lut::Lut,
            /// Roofline model of a configured device (deterministic).
            Analytic "analytic" analytic::Analytic,
            /// A learned predictor (`flashnas latency-model build`), measuring whenever its
            /// interval straddles the budget or it is unsure.
            Predicted "predicted" predicted::Predicted,
        }
    };
}
use registered_sources;

macro_rules! declare {
    ($( $(#[$meta:meta])* $variant:ident $name:literal $ty:ty ,)*) => {
        /// Where a search takes a candidate's latency from.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub enum LatencySource {
            $( $(#[$meta])* #[serde(rename = $name)] $variant, )*
        }

        impl LatencySource {
            /// Its name in configs.
            pub fn name(self) -> &'static str {
                match self {
                    $( LatencySource::$variant => $name, )*
                }
            }
        }
    };
}
registered_sources!(declare);
