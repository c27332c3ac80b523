//! The registration point: [`LayerKind::descriptor`] names the descriptor each operator file
//! declares, and what asks a kind for its names, section or family goes through it. This file
//! imports every operator; no operator, nor anything they import, imports it.

use crate::descriptor::KindDescriptor;
use crate::kind::{Family, LayerKind};
use std::fmt;

impl LayerKind {
    /// The registration point: the descriptor each operator file declares.
    pub fn descriptor(self) -> &'static KindDescriptor {
        match self {
            LayerKind::Attention => &crate::attention::ATTENTION,
            LayerKind::Swa => &crate::attention::SWA,
            LayerKind::Mamba2 => &crate::mamba2::MAMBA2,
            LayerKind::DeltaNet => &crate::deltanet::DELTANET,
            LayerKind::GatedDeltaNet => &crate::gated_deltanet::GATED_DELTANET,
            LayerKind::Ffn => &crate::ffn::FFN,
        }
    }

    /// Canonical spelling used in the JSON.
    pub fn name(self) -> &'static str {
        self.descriptor().name
    }

    /// Short spelling, in the style of Nemotron-Flash `layer_types` (`a m2 f …`).
    pub fn short(self) -> &'static str {
        self.descriptor().short
    }

    /// Parses the canonical names and the NF `layer_types` spellings.
    pub fn parse(s: &str) -> Option<LayerKind> {
        Self::ALL.into_iter().find(|k| k.descriptor().spells(s))
    }

    pub fn is_mixer(self) -> bool {
        self.descriptor().family != Family::Ffn
    }

    /// The section of the Arch JSON this kind reads.
    pub fn section(self) -> &'static str {
        self.descriptor().section
    }
}

impl fmt::Display for LayerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Family {
    /// How many layers of each family `kinds` holds, in [`Family::ALL`] order.
    pub fn counts(kinds: impl IntoIterator<Item = LayerKind>) -> [(Family, usize); 4] {
        let mut out = Family::ALL.map(|f| (f, 0));
        for k in kinds {
            let f = k.descriptor().family;
            out[Family::ALL.iter().position(|&x| x == f).expect("listed")].1 += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_are_registered_once_and_spell_uniquely() {
        let mut spellings = std::collections::HashSet::new();
        for k in LayerKind::ALL {
            let d = k.descriptor();
            assert_eq!(d.kind, k, "{} registered under another kind", d.name);
            for s in [d.name, d.short] {
                assert_eq!(LayerKind::parse(s), Some(k), "{s}");
                assert!(
                    spellings.insert(s) || d.name == d.short,
                    "{s} spells two kinds"
                );
            }
        }
        let counts = Family::counts(
            ["a", "swa", "m2", "d", "gdn", "f", "f"]
                .iter()
                .map(|s| LayerKind::parse(s).unwrap()),
        );
        assert_eq!(counts.map(|(_, n)| n), [2, 1, 2, 2]);
    }
}
