//! How an executor is registered: its module implements [`Registered`] (its section of
//! `[executor]`, its checks, how many candidates it runs at once by default, its
//! constructor, what `--executor name:ARG` sets) and adds one line to the `executors!` list
//! in `executor/mod.rs`. The list makes [`super::ExecutorKind`] (the names a config and the
//! command line accept), [`ExecutorSections`] (the executors' sections, gathered into
//! `[executor]`) and the dispatch below; nothing else names an executor.

use super::{Executor, ExecutorConfig};
use crate::error::Result;
use crate::section::Sectioned;

/// An executor the `executors!` list can name. Its section (`Sectioned::SECTION`, `Config`)
/// is read from `[executor]` when the list gives it one (`Config = ()` otherwise).
pub trait Registered: Sectioned {
    /// Checks its section whichever executor the config picks (a typo in `[executor.slurm]`
    /// is an error now, not when the campaign is later moved to the cluster).
    fn check_section(_c: &Self::Config) -> Result<(), String> {
        Ok(())
    }

    /// Checks what it needs of `[executor]` when it is the one picked.
    fn validate(_c: &Self::Config, _e: &ExecutorConfig) -> Result<(), String> {
        Ok(())
    }

    /// Candidates in flight when `in_flight` is not set (one for those that answer in the
    /// driver; a pool, one per worker).
    fn default_in_flight(_e: &ExecutorConfig) -> usize {
        1
    }

    /// The executor `e` describes.
    fn build(c: &Self::Config, e: &ExecutorConfig) -> Result<Box<dyn Executor>>;

    /// What `--executor name:ARG` means, for one that takes an argument: a hint shown when
    /// the name comes without it (`Some("PATH (a table from flashnas tabulate)")`).
    const ARGUMENT: Option<&'static str> = None;

    /// The section's value `--executor name:ARG` sets (e.g. the table's absolute path).
    fn argument(_arg: &str) -> Result<String, String> {
        Err("takes no argument".into())
    }
}

/// The check of an executor whose section is the path of the file it answers from
/// (`table = "PATH"`): the key and the reason when it is missing.
pub(super) fn path_given(c: &Option<String>, key: &str, what: &str) -> Result<(), String> {
    match c {
        Some(_) => Ok(()),
        None => Err(format!("{key}: the {key} executor needs {what}'s path")),
    }
}

/// `--executor name:PATH` for such an executor: the file's absolute path (so that a resume
/// from another folder finds it), or why it cannot be found and how to make one.
pub(super) fn absolute_path(arg: &str, make: &str) -> Result<String, String> {
    std::fs::canonicalize(arg)
        .map(|p| p.display().to_string())
        .map_err(|e| format!("'{arg}': {e} ({make})"))
}

/// Registers the executors: each line is `Variant "name" Type [section]` (the section's key
/// in `[executor]` when it has one), beside doc comments for the variant.
macro_rules! executors {
    ($( $(#[$meta:meta])* $variant:ident $name:literal $ty:ty $([$section:ident])? ,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
        pub enum ExecutorKind {
            $( $(#[$meta])* #[serde(rename = $name)] $variant, )*
        }

        impl ExecutorKind {
            /// Every registered executor, in the list's order.
            pub const ALL: &'static [ExecutorKind] = &[$(ExecutorKind::$variant),*];

            /// Its name in configs and on the command line.
            pub fn name(self) -> &'static str {
                match self {
                    $( ExecutorKind::$variant => $name, )*
                }
            }

            /// The hint for `--executor name:ARG` when it takes an argument.
            fn argument_hint(self) -> Option<&'static str> {
                match self {
                    $( ExecutorKind::$variant => <$ty as registry::Registered>::ARGUMENT, )*
                }
            }

            /// Checks what this kind needs of `[executor]`, after every section's own check.
            pub(crate) fn validate(self, c: &ExecutorConfig) -> std::result::Result<(), String> {
                $($(
                    <$ty as registry::Registered>::check_section(&c.sections.$section)?;
                )?)*
                match self {
                    $( ExecutorKind::$variant => <$ty as registry::Registered>::validate(
                        executors!(@section c $($section)?), c), )*
                }
            }

            /// Candidates in flight when `in_flight` is not set.
            pub(crate) fn default_in_flight(self, c: &ExecutorConfig) -> usize {
                match self {
                    $( ExecutorKind::$variant =>
                        <$ty as registry::Registered>::default_in_flight(c), )*
                }
            }

            /// The executor `c` describes.
            pub(crate) fn build(self, c: &ExecutorConfig) -> Result<Box<dyn Executor>> {
                match self {
                    $( ExecutorKind::$variant => <$ty as registry::Registered>::build(
                        executors!(@section c $($section)?), c), )*
                }
            }

            /// What `--executor name:ARG` sets: the section's value for `arg` (checked and
            /// resolved, e.g. an absolute path).
            pub fn resolve_argument(self, arg: &str) -> std::result::Result<String, String> {
                match self {
                    $( ExecutorKind::$variant => <$ty as registry::Registered>::argument(arg)
                        .map_err(|e| format!("{}: {e}", self.name())), )*
                }
            }

            /// Sets a resolved argument's value into its section of `c`; the section's key.
            pub fn set_argument(
                self,
                value: &str,
                c: &mut ExecutorConfig,
            ) -> std::result::Result<&'static str, String> {
                match self {
                    $($( ExecutorKind::$variant => {
                        c.sections.$section = serde::Deserialize::deserialize(
                            toml::Value::String(value.to_string()),
                        ).map_err(|e: toml::de::Error| e.to_string())?;
                        Ok(stringify!($section))
                    } )?)*
                    #[allow(unreachable_patterns)]
                    _ => Err(format!("{}: takes no argument", self.name())),
                }
            }
        }

        impl std::str::FromStr for ExecutorKind {
            type Err = String;
            /// A name; one that takes an argument is spelled `name:ARG` (see
            /// [`ExecutorKind::resolve_argument`]), so the bare name is refused with the hint.
            fn from_str(s: &str) -> std::result::Result<Self, String> {
                let s = s.trim();
                match ExecutorKind::ALL.iter().copied().find(|k| k.name() == s) {
                    Some(k) => match k.argument_hint() {
                        Some(hint) => Err(format!("the {s} executor is spelled {s}:{hint}")),
                        None => Ok(k),
                    },
                    None => {
                        let names: Vec<String> = ExecutorKind::ALL
                            .iter()
                            .map(|k| match k.argument_hint() {
                                Some(_) => format!("{}:…", k.name()),
                                None => k.name().to_string(),
                            })
                            .collect();
                        Err(format!("unknown executor '{s}' (expected {})", names.join(", ")))
                    }
                }
            }
        }

        /// The registered executors' sections of `[executor]` (`[executor.slurm]`,
        /// `table = …`), flattened into it.
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
        pub struct ExecutorSections {
            $($(
                #[serde(default, skip_serializing_if = "crate::section::Section::is_unwritten")]
                pub $section: crate::section::Section<$ty>,
            )?)*
        }
    };
    (@section $c:ident) => { &() };
    (@section $c:ident $section:ident) => { &*$c.sections.$section };
}
pub(crate) use executors;
