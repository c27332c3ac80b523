//! The dispatch from a [`LatencySource`] to its implementation, made from the list in
//! `source/mod.rs`; the pricer and the config's check reach every source through it.

use super::contract::{Figure, Source};
use super::*;
use crate::config::LatencyConfig;
use crate::pricing::{Latency, Pricer};
use flashnas_model::ArchSpec;

macro_rules! dispatch {
    ($( $(#[$meta:meta])* $variant:ident $name:literal $ty:ty ,)*) => {
        impl LatencySource {
            /// Whether it runs models on the device.
            pub fn measures(self) -> bool {
                match self {
                    $( LatencySource::$variant => <$ty as Source>::MEASURES, )*
                }
            }

            /// What it needs of `[latency]`.
            pub fn check(self, l: &LatencyConfig) -> Result<(), String> {
                match self {
                    $( LatencySource::$variant => <$ty as Source>::check(l), )*
                }
            }

            /// A figure of `spec` under `l`, uncalibrated.
            pub fn figure(
                self,
                p: &Pricer,
                spec: &ArchSpec,
                l: &LatencyConfig,
            ) -> Result<Figure, String> {
                match self {
                    $( LatencySource::$variant => <$ty as Source>::figure(p, spec, l), )*
                }
            }

            /// A candidate's latency for the campaign.
            pub fn price(self, p: &Pricer, spec: &ArchSpec) -> Latency {
                match self {
                    $( LatencySource::$variant => <$ty as Source>::price(p, spec), )*
                }
            }
        }
    };
}
registered_sources!(dispatch);

impl LatencyConfig {
    /// Checks the protocol (`[latency]`): what every source shares, then what the source
    /// needs; every error names the key.
    pub fn validate_protocol(&self) -> Result<(), crate::Error> {
        self.check_protocol()
            .and_then(|_| self.source.check(self))
            .map_err(crate::Error::Config)
    }
}
