//! A config section owned by a registered extension (a strategy's `[aging]`, an executor's
//! `[executor.slurm]`): the extension names its key and its type beside its code, and the
//! registries gather the sections into the config from their lists, so that a new strategy
//! or executor adds its section without touching the config's own structs.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt::Debug;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

/// An extension with a config section of its own.
pub trait Sectioned {
    /// Its key in the config (`aging`, `multi_fidelity`, `slurm`).
    const SECTION: &'static str;
    /// What the section holds (`()` for none).
    type Config: Clone + Debug + PartialEq + Default + Serialize + DeserializeOwned;
    /// Whether a config written back shows the section when it holds its defaults (the
    /// copy beside a run shows every knob of the common strategies; a rarely used one
    /// stays out of it).
    const WRITE_DEFAULT: bool = true;
}

/// The section of `S` in a config: its `S::Config`, read with errors that name the key.
pub struct Section<S: Sectioned>(pub S::Config, PhantomData<fn() -> S>);

impl<S: Sectioned> Section<S> {
    pub fn new(c: S::Config) -> Self {
        Self(c, PhantomData)
    }

    /// Left out of a config written back (its defaults, for a section not written then).
    pub fn is_unwritten(&self) -> bool {
        !S::WRITE_DEFAULT && self.0 == S::Config::default()
    }
}

impl<S: Sectioned> Deref for Section<S> {
    type Target = S::Config;
    fn deref(&self) -> &S::Config {
        &self.0
    }
}

impl<S: Sectioned> DerefMut for Section<S> {
    fn deref_mut(&mut self) -> &mut S::Config {
        &mut self.0
    }
}

impl<S: Sectioned> Default for Section<S> {
    fn default() -> Self {
        Self::new(S::Config::default())
    }
}

impl<S: Sectioned> Clone for Section<S> {
    fn clone(&self) -> Self {
        Self::new(self.0.clone())
    }
}

impl<S: Sectioned> PartialEq for Section<S> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<S: Sectioned> Debug for Section<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<S: Sectioned> Serialize for Section<S> {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        self.0.serialize(s)
    }
}

impl<'de, S: Sectioned> Deserialize<'de> for Section<S> {
    /// Sections are gathered into their config by `#[serde(flatten)]`, where the reader's
    /// position is lost: the error names the key instead.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        S::Config::deserialize(d)
            .map(Self::new)
            .map_err(|e| serde::de::Error::custom(format!("{}: {e}", S::SECTION)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Knobs {
        #[serde(default)]
        size: usize,
    }
    struct Plugin;
    impl Sectioned for Plugin {
        const SECTION: &'static str = "plugin";
        type Config = Knobs;
        const WRITE_DEFAULT: bool = false;
    }
    #[derive(Debug, Serialize, Deserialize)]
    struct Sections {
        #[serde(default, skip_serializing_if = "Section::is_unwritten")]
        plugin: Section<Plugin>,
    }
    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Config {
        name: String,
        #[serde(flatten)]
        sections: Sections,
    }

    #[test]
    fn a_flattened_section_is_read_checked_and_named_in_its_errors() {
        let c: Config = toml::from_str("name = 'x'\n[plugin]\nsize = 3").unwrap();
        assert_eq!(c.sections.plugin.size, 3);
        // Unknown keys are still refused, at the top and inside the section.
        let e = toml::from_str::<Config>("name = 'x'\nplugn = 1").unwrap_err();
        assert!(e.to_string().contains("unknown field `plugn`"), "{e}");
        let e = toml::from_str::<Config>("name = 'x'\n[plugin]\nsise = 1").unwrap_err();
        assert!(
            e.to_string().contains("plugin: unknown field `sise`"),
            "{e}"
        );
        let e = toml::from_str::<Config>("name = 'x'\n[plugin]\nsize = 'big'").unwrap_err();
        assert!(e.to_string().contains("plugin: invalid type"), "{e}");
        // A section at its defaults is left out when it asks to be; set, it is written.
        let d: Config = toml::from_str("name = 'x'").unwrap();
        assert!(!toml::to_string(&d).unwrap().contains("plugin"));
        assert!(toml::to_string(&c).unwrap().contains("[plugin]"));
    }
}
