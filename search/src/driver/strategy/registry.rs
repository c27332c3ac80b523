//! How a strategy is registered: its module implements [`Registered`] (its config section,
//! its checks, its population, its constructor) and adds one line to the `strategies!` list
//! in `strategy/mod.rs`. The list makes [`super::StrategyKind`] (the names a config and the
//! command line accept), [`StrategySections`] (the strategies' config sections, gathered
//! into the campaign config) and the dispatch below; nothing else names a strategy.

use super::{InitialPopulation, Strategy, StrategySections};
use crate::genome::SpaceConfig;
use crate::journal::Objective;
use crate::section::Sectioned;

/// A strategy the `strategies!` list can name. Its section (`Sectioned::SECTION`, `Config`)
/// is read from the campaign config when the list gives it one (`Config = ()` otherwise).
pub trait Registered: Sectioned {
    /// Checks its section (the key and the reason of the first problem).
    fn validate(_c: &Self::Config, _s: &Settings) -> Result<(), String> {
        Ok(())
    }

    /// How many designs its population holds (what warm starts are drawn for).
    fn population(c: &Self::Config, s: &Settings) -> usize;

    /// The strategy, its initial population from `init(n)` (warm designs, the config's seeds,
    /// the family shapes, then random genomes).
    fn build(
        c: &Self::Config,
        s: &Settings,
        init: &dyn Fn(usize) -> InitialPopulation,
    ) -> Box<dyn Strategy>;
}

/// The parts of a campaign config a strategy reads.
pub struct Settings<'a> {
    pub space: &'a SpaceConfig,
    /// The evaluation budget.
    pub evaluations: usize,
    /// The objectives it ranks by (NSGA-II).
    pub objectives: Vec<Objective>,
    /// Every registered strategy's section.
    pub sections: &'a StrategySections,
}

/// Registers the strategies: each line is `Variant "name" Type [section]` (the section's key
/// when it has one), beside doc comments for the variant.
macro_rules! strategies {
    ($( $(#[$meta:meta])* $variant:ident $name:literal $ty:ty $([$section:ident])? ,)*) => {
        /// `strategy = …` of a campaign config.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub enum StrategyKind {
            $( $(#[$meta])* #[serde(rename = $name)] $variant, )*
        }

        impl StrategyKind {
            /// Every registered strategy, in the list's order.
            pub const ALL: &'static [StrategyKind] = &[$(StrategyKind::$variant),*];

            /// Its name in configs and on the command line.
            pub fn name(self) -> &'static str {
                match self {
                    $( StrategyKind::$variant => $name, )*
                }
            }

            /// Checks its own config section (the key and the reason of the first problem).
            pub fn validate(self, s: &registry::Settings) -> Result<(), String> {
                match self {
                    $( StrategyKind::$variant => <$ty as registry::Registered>::validate(
                        strategies!(@section s $($section)?), s), )*
                }
            }

            /// How many designs its population holds (what warm starts are drawn for).
            pub fn population(self, s: &registry::Settings) -> usize {
                match self {
                    $( StrategyKind::$variant => <$ty as registry::Registered>::population(
                        strategies!(@section s $($section)?), s), )*
                }
            }

            /// The strategy, its initial population from `init(n)`.
            pub fn build(
                self,
                s: &registry::Settings,
                init: &dyn Fn(usize) -> InitialPopulation,
            ) -> Box<dyn Strategy> {
                match self {
                    $( StrategyKind::$variant => <$ty as registry::Registered>::build(
                        strategies!(@section s $($section)?), s, init), )*
                }
            }
        }

        impl std::str::FromStr for StrategyKind {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let s = s.trim();
                StrategyKind::ALL.iter().copied().find(|k| k.name() == s).ok_or_else(|| {
                    let names: Vec<&str> = StrategyKind::ALL.iter().map(|k| k.name()).collect();
                    format!("'{s}' is not a strategy ({})", names.join(", "))
                })
            }
        }

        /// The registered strategies' config sections (`[aging]`, `[nsga2]`, …), flattened
        /// into the campaign config.
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
        pub struct StrategySections {
            $($(
                #[serde(default, skip_serializing_if = "crate::section::Section::is_unwritten")]
                pub $section: crate::section::Section<$ty>,
            )?)*
        }
    };
    (@section $s:ident) => { &() };
    (@section $s:ident $section:ident) => { &*$s.sections.$section };
}
pub(crate) use strategies;
