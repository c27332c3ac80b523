//! `ArchSpec`: the Arch JSON of docs/OPERATORS.md §11.
//!
//! The JSON keeps one section per kind (`attention`, `mamba2`, …) whose fields each `layers`
//! entry may override. [`ArchSpec::resolve`] turns every entry into a fully specified
//! [`LayerConfig`] (section ⊕ overrides ⊕ defaults) in one pass, checking every rule and naming
//! the layer index, the field and the rule on failure. The defaults and rules of a kind live
//! beside its operator (its [`KindDescriptor`](crate::descriptor::KindDescriptor), found
//! through [`LayerKind::descriptor`], registry.rs); this file only merges, dispatches and
//! checks what holds for every kind.

use crate::kind::Sizing;
use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

pub use crate::config::{
    AttentionConfig, DeltaNetConfig, FfnConfig, GatedDeltaNetConfig, LayerConfig, Mamba2Config,
};
pub use crate::fields::{Fields, SpecError};
pub use crate::kind::{LayerKind, Section};

/// One `layers` entry: a kind plus field overrides of its section.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerEntry {
    pub kind: LayerKind,
    pub overrides: Section,
}

impl LayerEntry {
    pub fn new(kind: LayerKind) -> Self {
        Self {
            kind,
            overrides: Map::new(),
        }
    }

    pub fn with(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.overrides.insert(field.to_string(), value.into());
        self
    }
}

impl Serialize for LayerEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = Map::new();
        m.insert("kind".into(), Value::String(self.kind.name().into()));
        for (k, v) in &self.overrides {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m).serialize(s)
    }
}

fn kind_spellings() -> String {
    LayerKind::ALL
        .iter()
        .map(|k| {
            let d = k.descriptor();
            if d.short == d.name {
                d.name.to_string()
            } else {
                format!("{}|{}", d.name, d.short)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'de> Deserialize<'de> for LayerEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let unknown = |s: &str| {
            D::Error::custom(format!(
                "unknown layer kind '{s}' (expected {})",
                kind_spellings()
            ))
        };
        match v {
            Value::String(s) => LayerKind::parse(&s)
                .map(LayerEntry::new)
                .ok_or_else(|| unknown(&s)),
            Value::Object(mut m) => {
                let kind = match m.remove("kind") {
                    Some(Value::String(s)) => LayerKind::parse(&s).ok_or_else(|| unknown(&s))?,
                    Some(other) => {
                        return Err(D::Error::custom(format!(
                            "layer 'kind' must be a string, got {other}"
                        )))
                    }
                    None => return Err(D::Error::custom("layer entry without 'kind'")),
                };
                // A map emptied by taking `kind` out still holds its node: most layers
                // override nothing, and a journal holds thousands of specs.
                let overrides = if m.is_empty() { Map::new() } else { m };
                Ok(LayerEntry { kind, overrides })
            }
            other => Err(D::Error::custom(format!(
                "a layer entry is a kind string or an object with 'kind', got {other}"
            ))),
        }
    }
}

fn default_rms_eps() -> f64 {
    1e-6
}

/// The Arch JSON (§11). Sections are kept as written (raw JSON objects, keyed by the section
/// name a kind's descriptor declares) so that a spec round-trips exactly; [`ArchSpec::resolve`]
/// turns them into typed configs.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchSpec {
    pub vocab_size: usize,
    pub d_model: usize,
    pub n_meta: usize,
    pub tie_embeddings: bool,
    pub rms_eps: f64,
    pub lm_head_normalize: bool,
    sections: BTreeMap<&'static str, Section>,
    pub layers: Vec<LayerEntry>,
}

/// The section names of the registered kinds, once each, in registration order (the order
/// they are written in).
fn section_names() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in LayerKind::ALL {
        let s = k.section();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

const TOP_FIELDS: [&str; 7] = [
    "vocab_size",
    "d_model",
    "n_meta",
    "tie_embeddings",
    "rms_eps",
    "lm_head_normalize",
    "layers",
];

impl Serialize for ArchSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("vocab_size", &self.vocab_size)?;
        m.serialize_entry("d_model", &self.d_model)?;
        m.serialize_entry("n_meta", &self.n_meta)?;
        m.serialize_entry("tie_embeddings", &self.tie_embeddings)?;
        m.serialize_entry("rms_eps", &self.rms_eps)?;
        m.serialize_entry("lm_head_normalize", &self.lm_head_normalize)?;
        for name in section_names() {
            if let Some(sec) = self.sections.get(name) {
                m.serialize_entry(name, sec)?;
            }
        }
        m.serialize_entry("layers", &self.layers)?;
        m.end()
    }
}

/// What the JSON holds besides the sections, read by serde; the sections arrive in `rest`.
#[derive(Deserialize)]
struct WrittenSpec {
    vocab_size: usize,
    d_model: usize,
    #[serde(default)]
    n_meta: usize,
    #[serde(default)]
    tie_embeddings: bool,
    #[serde(default = "default_rms_eps")]
    rms_eps: f64,
    #[serde(default)]
    lm_head_normalize: bool,
    layers: Vec<LayerEntry>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

impl<'de> Deserialize<'de> for ArchSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WrittenSpec::deserialize(d)?;
        let names = section_names();
        let mut sections = BTreeMap::new();
        for (key, value) in w.rest {
            let Some(&name) = names.iter().find(|n| **n == key) else {
                return Err(D::Error::custom(format!(
                    "unknown field `{key}`, expected one of {}, or a kind's section ({})",
                    TOP_FIELDS.map(|f| format!("`{f}`")).join(", "),
                    names.join(", ")
                )));
            };
            match value {
                Value::Null => {}
                Value::Object(sec) => {
                    sections.insert(name, sec);
                }
                other => {
                    return Err(D::Error::custom(format!(
                        "`{key}` must be an object of the section's fields, got {other}"
                    )))
                }
            }
        }
        Ok(ArchSpec {
            vocab_size: w.vocab_size,
            d_model: w.d_model,
            n_meta: w.n_meta,
            tie_embeddings: w.tie_embeddings,
            rms_eps: w.rms_eps,
            lm_head_normalize: w.lm_head_normalize,
            sections,
            layers: w.layers,
        })
    }
}

impl ArchSpec {
    /// A spec without sections: set them with [`ArchSpec::set_section`], or size every kind
    /// at once with [`ArchSpec::sized`].
    pub fn new(vocab_size: usize, d_model: usize, layers: Vec<LayerEntry>) -> Self {
        Self {
            vocab_size,
            d_model,
            n_meta: 0,
            tie_embeddings: false,
            rms_eps: default_rms_eps(),
            lm_head_normalize: false,
            sections: BTreeMap::new(),
            layers,
        }
    }

    /// A spec whose sections every kind fills from one [`Sizing`] (its descriptor's `sized`):
    /// the architectures of a search space, a grid or a baseline family. Not validated.
    pub fn sized(vocab_size: usize, sizing: &Sizing, layers: Vec<LayerEntry>) -> Self {
        let mut spec = Self::new(vocab_size, sizing.d_model, layers);
        for k in LayerKind::ALL {
            let d = k.descriptor();
            if !spec.sections.contains_key(d.section) {
                spec.sections.insert(d.section, (d.sized)(sizing));
            }
        }
        spec
    }

    /// The section `kind` reads, as written.
    pub fn section(&self, kind: LayerKind) -> Option<&Section> {
        self.sections.get(kind.section())
    }

    /// Sets (replaces) the section `kind` reads.
    pub fn set_section(&mut self, kind: LayerKind, section: Section) {
        self.sections.insert(kind.section(), section);
    }

    /// Reads and validates an Arch JSON file; errors name the file.
    pub fn from_file(path: &Path) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SpecError(format!("{}: cannot read: {e}", path.display())))?;
        Self::from_json(&text).map_err(|e| SpecError(format!("{}: {}", path.display(), e.0)))
    }

    /// Parses and validates an Arch JSON string.
    pub fn from_json(text: &str) -> Result<Self, SpecError> {
        let spec: ArchSpec =
            serde_json::from_str(text).map_err(|e| SpecError(format!("invalid Arch JSON: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }

    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("ArchSpec serializes")
    }

    /// Builds a spec from NF-style `layer_types` (`["m2", "f", "a", "f", …]`) with the given
    /// sections; used by seeded designs.
    pub fn from_layer_types(
        base: &ArchSpec,
        layer_types: &[impl AsRef<str>],
    ) -> Result<Self, SpecError> {
        let mut spec = base.clone();
        spec.layers = layer_types
            .iter()
            .enumerate()
            .map(|(i, s)| {
                LayerKind::parse(s.as_ref())
                    .map(LayerEntry::new)
                    .ok_or_else(|| {
                        SpecError(format!("layer_types[{i}]: unknown kind '{}'", s.as_ref()))
                    })
            })
            .collect::<Result<_, _>>()?;
        spec.validate()?;
        Ok(spec)
    }

    /// Resolves `layers[i]` alone (section, then the entry's overrides, then the kind's
    /// defaults) and checks its rules. To walk the model, resolve every layer once with
    /// [`ArchSpec::resolve`].
    pub fn layer(&self, i: usize) -> Result<LayerConfig, SpecError> {
        let entry = self
            .layers
            .get(i)
            .ok_or_else(|| SpecError(format!("layers[{i}]: no such layer")))?;
        let mut obj = self.section(entry.kind).cloned().unwrap_or_default();
        for (k, v) in &entry.overrides {
            obj.insert(k.clone(), v.clone());
        }
        let mut f = Fields::new(
            format!("layers[{i}] ({})", entry.kind),
            obj,
            entry.overrides.clone(),
            entry.kind,
            self.d_model,
        );
        let cfg = (entry.kind.descriptor().resolve)(&mut f)?;
        f.finish()?;
        Ok(cfg)
    }

    /// Checks the whole spec (§11 validity rules) and resolves every layer into its typed
    /// config, in order, once: what the model, the accounting and the latency table walk.
    pub fn resolve(&self) -> Result<Vec<LayerConfig>, SpecError> {
        if self.vocab_size == 0 {
            return Err(SpecError("vocab_size must be at least 1".into()));
        }
        if self.d_model == 0 {
            return Err(SpecError("d_model must be at least 1".into()));
        }
        if self.layers.is_empty() {
            return Err(SpecError("layers must hold at least one sublayer".into()));
        }
        if !(self.rms_eps.is_finite() && self.rms_eps > 0.0) {
            return Err(SpecError(format!(
                "rms_eps {} must be a finite number > 0",
                self.rms_eps
            )));
        }
        (0..self.layers.len()).map(|i| self.layer(i)).collect()
    }

    /// Checks the whole spec (§11 validity rules).
    pub fn validate(&self) -> Result<(), SpecError> {
        self.resolve().map(|_| ())
    }

    /// The genome-style string of the layer kinds, e.g. `d f m2 f a f`.
    pub fn layer_string(&self) -> String {
        self.layers
            .iter()
            .map(|l| l.kind.short())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Number of sublayers (mixers + FFNs).
    pub fn depth(&self) -> usize {
        self.layers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{
      "vocab_size": 256, "d_model": 64, "n_meta": 4, "tie_embeddings": false, "rms_eps": 1e-6,
      "lm_head_normalize": false,
      "attention": {"n_heads": 4, "n_kv_heads": 2, "head_dim": 16, "rope_theta": 10000.0,
                    "qk_norm": false, "qk_norm_eps": 1e-6, "window": null},
      "mamba2": {"d_state": 16, "d_conv": 4, "expand": 2, "head_dim": 16, "n_groups": 1,
                 "chunk_size": 256, "norm_eps": 1e-5, "conv_bias": true, "proj_bias": false},
      "deltanet": {"n_heads": 4, "head_k_dim": 16, "head_v_dim": 16, "conv_size": 4,
                   "norm_eps": 1e-5, "chunk_size": 64, "allow_neg_eigval": false},
      "gated_deltanet": {"n_heads": 2, "n_v_heads": 2, "head_k_dim": 16, "head_v_dim": 32,
                         "use_gate": true, "conv_size": 4, "norm_eps": 1e-5, "chunk_size": 64,
                         "allow_neg_eigval": false},
      "ffn": {"ratio": 3.0, "multiple_of": 8},
      "layers": [{"kind": "deltanet"}, {"kind": "ffn"}, {"kind": "mamba2"}, {"kind": "ffn"},
                 {"kind": "attention"}, {"kind": "ffn"}, {"kind": "swa", "window": 32}, {"kind": "ffn"}]
    }"#;

    #[test]
    fn spec_example_parses_and_round_trips() {
        let spec = ArchSpec::from_json(EXAMPLE).unwrap();
        assert_eq!(spec.layer_string(), "d f m2 f a f swa f");
        match spec.layer(6).unwrap() {
            LayerConfig::Attention(a) => assert_eq!(a.window, Some(32)),
            other => panic!("{other:?}"),
        }
        match spec.layer(1).unwrap() {
            LayerConfig::Ffn(f) => assert_eq!(f.hidden, 192),
            other => panic!("{other:?}"),
        }
        let back = ArchSpec::from_json(&spec.to_json_pretty()).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn sections_are_written_in_registration_order_whatever_the_input_order() {
        let spec = ArchSpec::from_json(
            r#"{"layers": ["f", "gdn", "m2", "a", "d"], "ffn": {"hidden": 64},
                "gated_deltanet": {"n_heads": 2}, "deltanet": {"n_heads": 2},
                "mamba2": {"head_dim": 16}, "attention": {"n_heads": 2},
                "d_model": 32, "vocab_size": 10}"#,
        )
        .unwrap();
        let text = serde_json::to_string(&spec).unwrap();
        assert_eq!(
            text,
            r#"{"vocab_size":10,"d_model":32,"n_meta":0,"tie_embeddings":false,"rms_eps":1e-6,"lm_head_normalize":false,"attention":{"n_heads":2},"mamba2":{"head_dim":16},"deltanet":{"n_heads":2},"gated_deltanet":{"n_heads":2},"ffn":{"hidden":64},"layers":[{"kind":"ffn"},{"kind":"gated_deltanet"},{"kind":"mamba2"},{"kind":"attention"},{"kind":"deltanet"}]}"#
        );
        // A null section is an absent one; a misspelt section is named with what is allowed.
        let spec: ArchSpec = serde_json::from_str(
            r#"{"vocab_size": 10, "d_model": 32, "mamba2": null, "layers": ["f"]}"#,
        )
        .unwrap();
        assert_eq!(spec.section(LayerKind::Mamba2), None);
        let err = ArchSpec::from_json(
            r#"{"vocab_size": 10, "d_model": 32, "atention": {"n_heads": 2}, "layers": ["a"]}"#,
        )
        .unwrap_err()
        .0;
        assert!(err.contains("unknown field `atention`"), "{err}");
        assert!(
            err.contains("attention, mamba2, deltanet, gated_deltanet, ffn"),
            "{err}"
        );
        let err =
            ArchSpec::from_json(r#"{"vocab_size": 10, "d_model": 32, "ffn": 3, "layers": ["f"]}"#)
                .unwrap_err()
                .0;
        assert!(err.contains("`ffn` must be an object"), "{err}");
    }

    #[test]
    fn every_registered_kind_sizes_resolves_and_costs_through_its_descriptor() {
        let sizing = Sizing {
            d_model: 64,
            head_dim: 32,
            kv_heads: Some(1),
            ssm_state: 8,
            ssm_head_dim: 16,
            chunk_size: 16,
            ffn_ratio: 2.0,
            ffn_multiple_of: 8,
        };
        let layers = LayerKind::ALL
            .iter()
            .map(|&k| match k {
                LayerKind::Swa => LayerEntry::new(k).with("window", 8u64),
                _ => LayerEntry::new(k),
            })
            .collect();
        let spec = ArchSpec::sized(100, &sizing, layers);
        let configs = spec.resolve().unwrap();
        assert_eq!(configs.len(), LayerKind::ALL.len());
        // Resolving once gives what resolving each layer alone gives.
        for (i, c) in configs.iter().enumerate() {
            assert_eq!(&spec.layer(i).unwrap(), c);
        }
        match &configs[0] {
            LayerConfig::Attention(a) => {
                assert_eq!(
                    (a.n_heads, a.n_kv_heads, a.head_dim, a.window),
                    (2, 1, 32, None)
                )
            }
            other => panic!("{other:?}"),
        }
        match &configs[1] {
            LayerConfig::Attention(a) => assert_eq!(a.window, Some(8)),
            other => panic!("{other:?}"),
        }
        match &configs[5] {
            LayerConfig::Ffn(f) => assert_eq!(f.hidden, 128),
            other => panic!("{other:?}"),
        }
        for (entry, c) in spec.layers.iter().zip(&configs) {
            let d = entry.kind.descriptor();
            assert!(!(d.tensors)("p", c, 64).is_empty(), "{}", d.name);
            let cost = (d.cost)(c, 64, 10);
            assert!(cost.flops > 0.0, "{}", d.name);
            // Only the FFN decodes without a state.
            assert_eq!(cost.state_bytes == 0, !entry.kind.is_mixer(), "{}", d.name);
        }
    }

    #[test]
    fn defaults_and_nf_spellings() {
        // Not validated as a whole: layer 1 is invalid on purpose.
        let spec: ArchSpec = serde_json::from_str(
            r#"{"vocab_size": 10, "d_model": 32, "attention": {"n_heads": 4},
                "deltanet": {"n_heads": 2}, "gated_deltanet": {"n_heads": 2},
                "layers": ["a", "f", "m2", "deltanet", "gdn"]}"#,
        )
        .unwrap();
        assert_eq!(spec.rms_eps, 1e-6);
        assert_eq!(
            spec.layer(0).unwrap(),
            LayerConfig::Attention(AttentionConfig {
                n_heads: 4,
                n_kv_heads: 4,
                head_dim: 8,
                rope_theta: 10000.0,
                qk_norm: false,
                qk_norm_eps: 1e-6,
                window: None
            })
        );
        // ffn: int(3.0·32) // 128 · 128 = 0 → rejected with the field named.
        let err = spec.layer(1).unwrap_err().0;
        assert!(err.contains("layers[1] (ffn): hidden 0"), "{err}");
        match spec.layer(2).unwrap() {
            LayerConfig::Mamba2(m) => {
                assert_eq!((m.head_dim, m.d_inner, m.n_heads()), (64, 64, 1));
            }
            other => panic!("{other:?}"),
        }
        match spec.layer(3).unwrap() {
            LayerConfig::DeltaNet(dn) => assert_eq!((dn.head_k_dim, dn.head_v_dim), (16, 16)),
            other => panic!("{other:?}"),
        }
        match spec.layer(4).unwrap() {
            LayerConfig::GatedDeltaNet(g) => {
                assert_eq!((g.n_v_heads, g.head_k_dim, g.head_v_dim), (2, 16, 32))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_specs_name_layer_field_and_rule() {
        let cases = [
            (
                r#"{"vocab_size": 10, "d_model": 48, "attention": {"n_heads": 4, "n_kv_heads": 4},
                   "layers": ["a", "a", "a", {"kind": "attention", "n_heads": 6}]}"#,
                "layers[3] (attention): n_heads 6 is not a multiple of n_kv_heads 4",
            ),
            (
                r#"{"vocab_size": 10, "d_model": 32, "attention": {"n_heads": 4},
                   "layers": ["swa"]}"#,
                "layers[0] (swa): window is required",
            ),
            (
                r#"{"vocab_size": 10, "d_model": 32, "mamba2": {"head_dim": 24},
                   "layers": ["m2"]}"#,
                "layers[0] (mamba2): head_dim 24 does not divide d_inner",
            ),
            (
                r#"{"vocab_size": 10, "d_model": 32, "gated_deltanet": {"n_heads": 2, "n_v_heads": 3},
                   "layers": ["gdn"]}"#,
                "layers[0] (gated_deltanet): n_v_heads 3 is not a multiple of n_heads 2",
            ),
            (
                r#"{"vocab_size": 10, "d_model": 32, "layers": [{"kind": "ffn", "hidden": 20}]}"#,
                "layers[0] (ffn): hidden 20 must be > 0 and a multiple of 8",
            ),
            (
                r#"{"vocab_size": 10, "d_model": 32, "layers": [{"kind": "deltanet"}]}"#,
                "layers[0] (deltanet): n_heads is required",
            ),
            (
                r#"{"vocab_size": 10, "d_model": 32, "attention": {"n_heads": 2, "head_dim": 7},
                   "layers": ["a"]}"#,
                "layers[0] (attention): head_dim 7 must be even",
            ),
            (
                r#"{"vocab_size": 10, "d_model": 32, "layers": [{"kind": "ffn", "hidden": 32, "hiden": 3}]}"#,
                "layers[0] (ffn): unknown field 'hiden'",
            ),
            (
                r#"{"vocab_size": 10, "d_model": 32, "deltanet": {"n_heads": 2, "use_gate": true},
                   "layers": ["d"]}"#,
                "layers[0] (deltanet): unknown field 'use_gate'",
            ),
            (
                r#"{"vocab_size": 10, "d_model": 32, "layers": ["conv"]}"#,
                "unknown layer kind 'conv'",
            ),
            (
                r#"{"vocab_size": 10, "d_model": 32, "mamba2": {"head_dim": 16, "n_groups": 3},
                   "layers": ["m2"]}"#,
                "layers[0] (mamba2): n_groups 3 does not divide the number of heads",
            ),
        ];
        for (json, want) in cases {
            let err = ArchSpec::from_json(json).unwrap_err().0;
            assert!(err.contains(want), "got '{err}', want '{want}'");
        }
    }
}
