//! What a kind's `resolve` reads its section through: [`Fields`], and the [`SpecError`] it
//! fails with (which names the layer, the field and the rule).

use crate::kind::{LayerKind, Section};
use serde_json::Value;
use std::fmt;

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

/// Reads typed fields out of one layer's merged section (section, then the layer's
/// overrides), remembering which were read so that unknown fields can be reported. A kind's
/// `resolve` (in its operator file) reads its fields through it.
pub struct Fields {
    at: String,
    obj: Section,
    overrides: Section,
    used: Vec<&'static str>,
    /// The layer's kind (`attention` and `swa` share a section and a resolver).
    pub kind: LayerKind,
    pub d_model: usize,
}

impl Fields {
    /// The fields of the layer at `at` (`layers[3] (attention)`): its section with the entry's
    /// `overrides` merged in (`obj`).
    pub(crate) fn new(
        at: String,
        obj: Section,
        overrides: Section,
        kind: LayerKind,
        d_model: usize,
    ) -> Self {
        Self {
            at,
            obj,
            overrides,
            used: Vec::new(),
            kind,
            d_model,
        }
    }

    /// An error naming the layer, the field and the rule.
    pub fn err(&self, field: &str, rule: impl fmt::Display) -> SpecError {
        SpecError(format!("{}: {} {}", self.at, field, rule))
    }

    /// Whether the layer entry itself (not its section) sets `field`.
    pub fn set_on_layer(&self, field: &str) -> bool {
        self.overrides.get(field).is_some_and(|v| !v.is_null())
    }

    fn get(&mut self, field: &'static str) -> Option<&Value> {
        self.used.push(field);
        self.obj.get(field).filter(|v| !v.is_null())
    }

    pub fn usize_opt(&mut self, field: &'static str) -> Result<Option<usize>, SpecError> {
        match self.get(field).cloned() {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(|x| Some(x as usize))
                .ok_or_else(|| self.err(field, format!("must be a non-negative integer, got {v}"))),
        }
    }

    pub fn usize_or(&mut self, field: &'static str, default: usize) -> Result<usize, SpecError> {
        Ok(self.usize_opt(field)?.unwrap_or(default))
    }

    pub fn f64_or(&mut self, field: &'static str, default: f64) -> Result<f64, SpecError> {
        match self.get(field).cloned() {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| self.err(field, format!("must be a number, got {v}"))),
        }
    }

    pub fn bool_or(&mut self, field: &'static str, default: bool) -> Result<bool, SpecError> {
        match self.get(field).cloned() {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.err(field, format!("must be true or false, got {v}"))),
        }
    }

    pub fn required(&mut self, field: &'static str) -> Result<usize, SpecError> {
        self.usize_opt(field)?
            .ok_or_else(|| self.err(field, "is required (set it in the section or the layer)"))
    }

    pub fn positive_required(&mut self, field: &'static str) -> Result<usize, SpecError> {
        let v = self.required(field)?;
        self.positive(field, v)
    }

    pub fn positive_or(&mut self, field: &'static str, default: usize) -> Result<usize, SpecError> {
        let v = self.usize_or(field, default)?;
        self.positive(field, v)
    }

    /// A causal short-convolution width (at least 2).
    pub fn conv_or(&mut self, field: &'static str, default: usize) -> Result<usize, SpecError> {
        let v = self.usize_or(field, default)?;
        if v < 2 {
            Err(self.err(
                field,
                format!("{v} must be at least 2 (a causal short convolution)"),
            ))
        } else {
            Ok(v)
        }
    }

    pub fn positive_f_or(&mut self, field: &'static str, default: f64) -> Result<f64, SpecError> {
        let v = self.f64_or(field, default)?;
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(self.err(field, format!("{v} must be a finite number > 0")))
        }
    }

    /// A head size that defaults to `d_model / heads`, which must then divide evenly.
    pub fn head_dim_or_split(
        &mut self,
        field: &'static str,
        heads: usize,
    ) -> Result<usize, SpecError> {
        match self.usize_opt(field)? {
            Some(v) => Ok(v),
            None => {
                let d = self.d_model;
                if !d.is_multiple_of(heads) {
                    return Err(self.err(
                        field,
                        format!(
                            "defaults to d_model/n_heads, but d_model {d} is not a multiple of n_heads {heads}"
                        ),
                    ));
                }
                Ok(d / heads)
            }
        }
    }

    pub fn positive(&self, field: &str, v: usize) -> Result<usize, SpecError> {
        if v == 0 {
            Err(self.err(field, "must be at least 1"))
        } else {
            Ok(v)
        }
    }

    /// Fails on a field no `resolve` read.
    pub(crate) fn finish(self) -> Result<(), SpecError> {
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
