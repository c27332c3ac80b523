//! `ArchSpec`: the Arch JSON of OPERATORS.md §11.
//!
//! The JSON keeps per-kind sections (`attention`, `mamba2`, …) whose fields each `layers` entry
//! may override. [`ArchSpec::layer`] resolves one entry into a fully specified
//! [`LayerConfig`] (section ⊕ overrides ⊕ defaults) and [`ArchSpec::validate`] checks every
//! rule, naming the layer index, the field and the rule on failure.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;
use std::path::Path;

/// A spec that breaks a rule; the message names the place (`layers[3] (attention)`), the field
/// and the rule.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for SpecError {}

/// The sublayer kinds of §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    Attention,
    Swa,
    Mamba2,
    #[serde(rename = "deltanet")]
    DeltaNet,
    GatedDeltaNet,
    Ffn,
}

impl LayerKind {
    pub const ALL: [LayerKind; 6] = [
        LayerKind::Attention,
        LayerKind::Swa,
        LayerKind::Mamba2,
        LayerKind::DeltaNet,
        LayerKind::GatedDeltaNet,
        LayerKind::Ffn,
    ];

    /// The token mixers (every kind but the FFN).
    pub const MIXERS: [LayerKind; 5] = [
        LayerKind::Attention,
        LayerKind::Swa,
        LayerKind::Mamba2,
        LayerKind::DeltaNet,
        LayerKind::GatedDeltaNet,
    ];

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
        self != LayerKind::Ffn
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

/// One `layers` entry: a kind plus field overrides of its section.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerEntry {
    pub kind: LayerKind,
    pub overrides: Map<String, Value>,
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

impl<'de> Deserialize<'de> for LayerEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let unknown = |s: &str| {
            D::Error::custom(format!(
                "unknown layer kind '{s}' (expected attention|a, swa, mamba2|m2, deltanet, \
                 gated_deltanet|gdn, ffn|f)"
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
                Ok(LayerEntry { kind, overrides: m })
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

/// The Arch JSON (§11). Sections are kept as raw JSON objects so that a spec round-trips
/// exactly as written; [`ArchSpec::layer`] resolves them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchSpec {
    pub vocab_size: usize,
    pub d_model: usize,
    #[serde(default)]
    pub n_meta: usize,
    #[serde(default)]
    pub tie_embeddings: bool,
    #[serde(default = "default_rms_eps")]
    pub rms_eps: f64,
    #[serde(default)]
    pub lm_head_normalize: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mamba2: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deltanet: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gated_deltanet: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ffn: Option<Map<String, Value>>,
    pub layers: Vec<LayerEntry>,
}

/// Causal attention with GQA and RoPE (§5); `window` is set for `swa` layers only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttentionConfig {
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub rope_theta: f64,
    pub qk_norm: bool,
    pub qk_norm_eps: f64,
    pub window: Option<usize>,
}

/// Mamba2 / SSD (§6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mamba2Config {
    pub d_state: usize,
    pub d_conv: usize,
    pub expand: usize,
    pub head_dim: usize,
    pub n_groups: usize,
    pub chunk_size: usize,
    pub norm_eps: f64,
    pub conv_bias: bool,
    pub proj_bias: bool,
    /// `expand · d_model`, filled in at resolution.
    pub d_inner: usize,
}

impl Mamba2Config {
    pub fn n_heads(&self) -> usize {
        self.d_inner / self.head_dim
    }
    pub fn conv_dim(&self) -> usize {
        self.d_inner + 2 * self.n_groups * self.d_state
    }
    pub fn in_proj_dim(&self) -> usize {
        2 * self.d_inner + 2 * self.n_groups * self.d_state + self.n_heads()
    }
}

/// DeltaNet (§7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeltaNetConfig {
    pub n_heads: usize,
    pub head_k_dim: usize,
    pub head_v_dim: usize,
    pub conv_size: usize,
    pub norm_eps: f64,
    pub chunk_size: usize,
    pub allow_neg_eigval: bool,
}

/// Gated DeltaNet (§8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatedDeltaNetConfig {
    pub n_heads: usize,
    pub n_v_heads: usize,
    pub head_k_dim: usize,
    pub head_v_dim: usize,
    pub use_gate: bool,
    pub conv_size: usize,
    pub norm_eps: f64,
    pub chunk_size: usize,
    pub allow_neg_eigval: bool,
}

/// SwiGLU FFN (§4); `hidden` is the resolved width F.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FfnConfig {
    pub hidden: usize,
}

/// One sublayer, fully resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerConfig {
    Attention(AttentionConfig),
    Mamba2(Mamba2Config),
    DeltaNet(DeltaNetConfig),
    GatedDeltaNet(GatedDeltaNetConfig),
    Ffn(FfnConfig),
}

/// Reads typed fields out of a merged section object, remembering which were used so that
/// unknown fields can be reported.
struct Fields<'a> {
    at: String,
    obj: Map<String, Value>,
    used: Vec<&'a str>,
}

impl<'a> Fields<'a> {
    fn err(&self, field: &str, rule: impl fmt::Display) -> SpecError {
        SpecError(format!("{}: {} {}", self.at, field, rule))
    }

    fn get(&mut self, field: &'a str) -> Option<&Value> {
        self.used.push(field);
        self.obj.get(field).filter(|v| !v.is_null())
    }

    fn usize_opt(&mut self, field: &'a str) -> Result<Option<usize>, SpecError> {
        match self.get(field).cloned() {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(|x| Some(x as usize))
                .ok_or_else(|| self.err(field, format!("must be a non-negative integer, got {v}"))),
        }
    }

    fn usize_or(&mut self, field: &'a str, default: usize) -> Result<usize, SpecError> {
        Ok(self.usize_opt(field)?.unwrap_or(default))
    }

    fn f64_or(&mut self, field: &'a str, default: f64) -> Result<f64, SpecError> {
        match self.get(field).cloned() {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| self.err(field, format!("must be a number, got {v}"))),
        }
    }

    fn bool_or(&mut self, field: &'a str, default: bool) -> Result<bool, SpecError> {
        match self.get(field).cloned() {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.err(field, format!("must be true or false, got {v}"))),
        }
    }

    fn required(&mut self, field: &'a str) -> Result<usize, SpecError> {
        self.usize_opt(field)?
            .ok_or_else(|| self.err(field, "is required (set it in the section or the layer)"))
    }

    fn positive_required(&mut self, field: &'a str) -> Result<usize, SpecError> {
        let v = self.required(field)?;
        positive(self, field, v)
    }

    fn positive_or(&mut self, field: &'a str, default: usize) -> Result<usize, SpecError> {
        let v = self.usize_or(field, default)?;
        positive(self, field, v)
    }

    fn conv_or(&mut self, field: &'a str, default: usize) -> Result<usize, SpecError> {
        let v = self.usize_or(field, default)?;
        conv_width(self, field, v)
    }

    fn positive_f_or(&mut self, field: &'a str, default: f64) -> Result<f64, SpecError> {
        let v = self.f64_or(field, default)?;
        positive_f(self, field, v)
    }

    fn finish(self) -> Result<(), SpecError> {
        for k in self.obj.keys() {
            if !self.used.contains(&k.as_str()) {
                return Err(SpecError(format!(
                    "{}: unknown field '{}' (allowed: {})",
                    self.at,
                    k,
                    self.used.join(", ")
                )));
            }
        }
        Ok(())
    }
}

fn positive(f: &Fields, field: &str, v: usize) -> Result<usize, SpecError> {
    if v == 0 {
        Err(f.err(field, "must be at least 1"))
    } else {
        Ok(v)
    }
}

fn conv_width(f: &Fields, field: &str, v: usize) -> Result<usize, SpecError> {
    if v < 2 {
        Err(f.err(
            field,
            format!("{v} must be at least 2 (a causal short convolution)"),
        ))
    } else {
        Ok(v)
    }
}

fn positive_f(f: &Fields, field: &str, v: f64) -> Result<f64, SpecError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(f.err(field, format!("{v} must be a finite number > 0")))
    }
}

impl ArchSpec {
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

    fn section(&self, name: &str) -> Option<&Map<String, Value>> {
        match name {
            "attention" => self.attention.as_ref(),
            "mamba2" => self.mamba2.as_ref(),
            "deltanet" => self.deltanet.as_ref(),
            "gated_deltanet" => self.gated_deltanet.as_ref(),
            "ffn" => self.ffn.as_ref(),
            _ => None,
        }
    }

    /// Resolves `layers[i]` into a full config (section, then the entry's overrides, then the
    /// §11 defaults) and checks the rules of §11.
    pub fn layer(&self, i: usize) -> Result<LayerConfig, SpecError> {
        let entry = self
            .layers
            .get(i)
            .ok_or_else(|| SpecError(format!("layers[{i}]: no such layer")))?;
        let mut obj = self
            .section(entry.kind.section())
            .cloned()
            .unwrap_or_default();
        for (k, v) in &entry.overrides {
            obj.insert(k.clone(), v.clone());
        }
        let mut f = Fields {
            at: format!("layers[{i}] ({})", entry.kind),
            obj,
            used: Vec::new(),
        };
        let d = self.d_model;
        let cfg = match entry.kind {
            LayerKind::Attention | LayerKind::Swa => {
                let h = f.positive_required("n_heads")?;
                let hkv = f.positive_or("n_kv_heads", h)?;
                let dh = match f.usize_opt("head_dim")? {
                    Some(v) => v,
                    None => {
                        if !d.is_multiple_of(h) {
                            return Err(f.err(
                                "head_dim",
                                format!("defaults to d_model/n_heads, but d_model {d} is not a multiple of n_heads {h}"),
                            ));
                        }
                        d / h
                    }
                };
                let theta = f.positive_f_or("rope_theta", 10000.0)?;
                let qk_norm = f.bool_or("qk_norm", false)?;
                let qk_eps = f.positive_f_or("qk_norm_eps", 1e-6)?;
                let window = f.usize_opt("window")?;
                if h % hkv != 0 {
                    return Err(f.err(
                        "n_heads",
                        format!("{h} is not a multiple of n_kv_heads {hkv}"),
                    ));
                }
                if dh == 0 || dh % 2 != 0 {
                    return Err(f.err(
                        "head_dim",
                        format!("{dh} must be even and > 0 (RoPE rotates pairs)"),
                    ));
                }
                let window = if entry.kind == LayerKind::Swa {
                    match window {
                        Some(w) if w >= 1 => Some(w),
                        Some(w) => return Err(f.err("window", format!("{w} must be at least 1"))),
                        None => {
                            return Err(f.err(
                                "window",
                                "is required for swa (keys seen per query, incl. itself)",
                            ))
                        }
                    }
                } else {
                    // A global `attention` layer ignores a section-level window (it is the default
                    // for `swa` layers), but a window set on the layer itself is a mistake.
                    if entry.overrides.get("window").is_some_and(|v| !v.is_null()) {
                        return Err(f.err(
                            "window",
                            "is set on an 'attention' layer; use kind 'swa' for a sliding window",
                        ));
                    }
                    None
                };
                LayerConfig::Attention(AttentionConfig {
                    n_heads: h,
                    n_kv_heads: hkv,
                    head_dim: dh,
                    rope_theta: theta,
                    qk_norm,
                    qk_norm_eps: qk_eps,
                    window,
                })
            }
            LayerKind::Mamba2 => {
                let d_state = f.positive_or("d_state", 16)?;
                let d_conv = f.conv_or("d_conv", 4)?;
                let expand = f.positive_or("expand", 2)?;
                let p = f.positive_or("head_dim", 64)?;
                let g = f.positive_or("n_groups", 1)?;
                let chunk = f.positive_or("chunk_size", 256)?;
                let eps = f.positive_f_or("norm_eps", 1e-5)?;
                let conv_bias = f.bool_or("conv_bias", true)?;
                let proj_bias = f.bool_or("proj_bias", false)?;
                let di = expand * d;
                if !di.is_multiple_of(p) {
                    return Err(f.err(
                        "head_dim",
                        format!("{p} does not divide d_inner = expand·d_model = {di}"),
                    ));
                }
                let heads = di / p;
                if !heads.is_multiple_of(g) {
                    return Err(f.err(
                        "n_groups",
                        format!(
                            "{g} does not divide the number of heads d_inner/head_dim = {heads}"
                        ),
                    ));
                }
                LayerConfig::Mamba2(Mamba2Config {
                    d_state,
                    d_conv,
                    expand,
                    head_dim: p,
                    n_groups: g,
                    chunk_size: chunk,
                    norm_eps: eps,
                    conv_bias,
                    proj_bias,
                    d_inner: di,
                })
            }
            LayerKind::DeltaNet => {
                let h = f.positive_required("n_heads")?;
                let dk = match f.usize_opt("head_k_dim")? {
                    Some(v) => positive(&f, "head_k_dim", v)?,
                    None => {
                        if !d.is_multiple_of(h) {
                            return Err(f.err("head_k_dim", format!("defaults to d_model/n_heads, but d_model {d} is not a multiple of n_heads {h}")));
                        }
                        d / h
                    }
                };
                let dv = f.positive_or("head_v_dim", dk)?;
                let conv = f.conv_or("conv_size", 4)?;
                let eps = f.positive_f_or("norm_eps", 1e-5)?;
                let chunk = f.positive_or("chunk_size", 64)?;
                let neg = f.bool_or("allow_neg_eigval", false)?;
                LayerConfig::DeltaNet(DeltaNetConfig {
                    n_heads: h,
                    head_k_dim: dk,
                    head_v_dim: dv,
                    conv_size: conv,
                    norm_eps: eps,
                    chunk_size: chunk,
                    allow_neg_eigval: neg,
                })
            }
            LayerKind::GatedDeltaNet => {
                let h = f.positive_required("n_heads")?;
                let hv = f.positive_or("n_v_heads", h)?;
                let dk = match f.usize_opt("head_k_dim")? {
                    Some(v) => positive(&f, "head_k_dim", v)?,
                    None => {
                        if !d.is_multiple_of(h) {
                            return Err(f.err("head_k_dim", format!("defaults to d_model/n_heads, but d_model {d} is not a multiple of n_heads {h}")));
                        }
                        d / h
                    }
                };
                let dv = f.positive_or("head_v_dim", 2 * dk)?;
                let use_gate = f.bool_or("use_gate", true)?;
                let conv = f.conv_or("conv_size", 4)?;
                let eps = f.positive_f_or("norm_eps", 1e-5)?;
                let chunk = f.positive_or("chunk_size", 64)?;
                let neg = f.bool_or("allow_neg_eigval", false)?;
                if hv % h != 0 {
                    return Err(f.err(
                        "n_v_heads",
                        format!("{hv} is not a multiple of n_heads {h}"),
                    ));
                }
                LayerConfig::GatedDeltaNet(GatedDeltaNetConfig {
                    n_heads: h,
                    n_v_heads: hv,
                    head_k_dim: dk,
                    head_v_dim: dv,
                    use_gate,
                    conv_size: conv,
                    norm_eps: eps,
                    chunk_size: chunk,
                    allow_neg_eigval: neg,
                })
            }
            LayerKind::Ffn => {
                let ratio = f.f64_or("ratio", 3.0)?;
                let multiple_of = f.positive_or("multiple_of", 128)?;
                let hidden = match f.usize_opt("hidden")? {
                    Some(hd) => hd,
                    None => {
                        if !(ratio.is_finite() && ratio > 0.0) {
                            return Err(
                                f.err("ratio", format!("{ratio} must be a finite number > 0"))
                            );
                        }
                        ((ratio * d as f64) as usize) / multiple_of * multiple_of
                    }
                };
                if hidden == 0 || hidden % 8 != 0 {
                    return Err(f.err(
                        "hidden",
                        format!("{hidden} must be > 0 and a multiple of 8 (F = hidden, or int(ratio·d_model) // multiple_of · multiple_of)"),
                    ));
                }
                LayerConfig::Ffn(FfnConfig { hidden })
            }
        };
        f.finish()?;
        Ok(cfg)
    }

    /// Every layer resolved, in order.
    pub fn layer_configs(&self) -> Result<Vec<LayerConfig>, SpecError> {
        (0..self.layers.len()).map(|i| self.layer(i)).collect()
    }

    /// Checks the whole spec (§11 validity rules).
    pub fn validate(&self) -> Result<(), SpecError> {
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
        self.layer_configs().map(|_| ())
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
