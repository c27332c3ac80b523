//! [`KindDescriptor`]: what a kind declares beside its operator, and everything the crates
//! ask of a kind (see kind.rs for where each part of a kind is registered).

use crate::config::LayerConfig;
use crate::fields::{Fields, SpecError};
use crate::kind::{DecodeCost, Family, LayerKind, Section, Sizing};
use crate::tensors::TensorSpec;
use std::fmt;

/// One layer kind: its identity and everything the crates ask of a kind.
#[derive(Clone, Copy)]
pub struct KindDescriptor {
    pub kind: LayerKind,
    /// Canonical spelling (Arch JSON, journals, plots).
    pub name: &'static str,
    /// Nemotron-Flash `layer_types` spelling (`a m2 f …`).
    pub short: &'static str,
    /// The Arch-JSON section its fields default from.
    pub section: &'static str,
    /// Its module in weight names: `model.layers.{i}.{module}.…` (docs/OPERATORS.md §10).
    pub module: &'static str,
    pub family: Family,
    /// The merged section fields → the kind's config: defaults and rules of §11.
    pub resolve: fn(&mut Fields) -> Result<LayerConfig, SpecError>,
    /// Its §10 tensors under a prefix (`model.layers.{i}.{module}`), at `d_model`.
    pub tensors: fn(&str, &LayerConfig, usize) -> Vec<TensorSpec>,
    /// Decode cost at `d_model` with `seen` positions already cached.
    pub cost: fn(&LayerConfig, usize, usize) -> DecodeCost,
    /// The section it gets from a [`Sizing`].
    pub sized: fn(&Sizing) -> Section,
}

impl fmt::Debug for KindDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KindDescriptor({})", self.name)
    }
}

impl KindDescriptor {
    /// Whether `s` spells this kind (canonical or short).
    pub fn spells(&self, s: &str) -> bool {
        s == self.name || s == self.short
    }
}
