//! What a layer kind is, declared once per kind beside its operator.
//!
//! Each operator file declares the [`KindDescriptor`] of the kinds it implements (names and
//! spellings, the Arch-JSON section it reads, the module name in its weight names, the family
//! reports and plots group it under), and [`LayerKind::descriptor`] is the one registration
//! point. Whatever parses, names, counts or draws kinds goes through the descriptors, so a
//! spelling or a group cannot drift between files.

use crate::spec::LayerKind;

/// How reports, plots and studies group layers: one column and one colour per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Global and sliding-window attention.
    Attention,
    Mamba2,
    /// DeltaNet and Gated DeltaNet.
    DeltaNet,
    Ffn,
}

impl Family {
    pub const ALL: [Family; 4] = [
        Family::Attention,
        Family::Mamba2,
        Family::DeltaNet,
        Family::Ffn,
    ];

    /// Column name in reports and study data (`attention`, `mamba2`, `deltanet`, `ffn`).
    pub fn name(self) -> &'static str {
        match self {
            Family::Attention => "attention",
            Family::Mamba2 => "mamba2",
            Family::DeltaNet => "deltanet",
            Family::Ffn => "ffn",
        }
    }

    /// Axis label for people.
    pub fn label(self) -> &'static str {
        match self {
            Family::Attention => "attention (+swa)",
            Family::Mamba2 => "mamba2",
            Family::DeltaNet => "deltanet (+gated)",
            Family::Ffn => "FFNs",
        }
    }

    /// Colour in reports and plots (hex RGB).
    pub fn colour(self) -> &'static str {
        match self {
            Family::Attention => "#d62728",
            Family::Mamba2 => "#1f77b4",
            Family::DeltaNet => "#2ca02c",
            Family::Ffn => "#7f7f7f",
        }
    }

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

/// One layer kind's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindDescriptor {
    pub kind: LayerKind,
    /// Canonical spelling (Arch JSON, journals, plots).
    pub name: &'static str,
    /// Nemotron-Flash `layer_types` spelling (`a m2 f …`).
    pub short: &'static str,
    /// The Arch-JSON section its fields default from.
    pub section: &'static str,
    /// Its module in weight names: `model.layers.{i}.{module}.…` (OPERATORS.md).
    pub module: &'static str,
    pub family: Family,
}

impl KindDescriptor {
    /// Whether `s` spells this kind (canonical or short).
    pub fn spells(&self, s: &str) -> bool {
        s == self.name || s == self.short
    }
}

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
