//! Hand-designed families: a layer pattern repeated to depth (Transformer `a f`, Mamba2
//! `m2 f`, Gated DeltaNet `gdn f`, the Nemotron-Flash period). `flashnas validate` compares a
//! campaign's picks with each family's best shape at equal latency; the campaign itself starts
//! from the same shapes (`[family_seeds]`): for each family, each depth and each budget level,
//! the largest width within that latency — so that evolution begins where a user designing by
//! hand would end, and its pick is never worse than them at the proxy.
//!
//! The grid is priced once, when the campaign starts, and kept in `DIR/family_grid.json`, so
//! a resume proposes the same shapes whatever the latency source measures on the day.

use crate::error::{Error, Result};
use crate::genome::{Genome, SpaceConfig};
use crate::task::Latency;
use flashnas_model::spec::LayerKind;
use flashnas_model::ArchSpec;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A hand-designed family: an NF `layer_types` pattern repeated to depth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    /// Shown in tables and plots, e.g. `transformer`.
    pub name: String,
    /// The block repeated (`["a", "f"]`; spellings of `layer_types`).
    pub pattern: Vec<String>,
}

impl Family {
    pub fn new(name: &str, pattern: &[&str]) -> Self {
        Self {
            name: name.into(),
            pattern: pattern.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn kinds(&self) -> Vec<LayerKind> {
        crate::genome::layer_kinds(&self.pattern).expect("validated")
    }

    /// `name=a,f` (the CLI's spelling).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (name, pattern) = s.split_once('=').ok_or_else(|| {
            format!("--family '{s}': expected NAME=KIND,KIND,… (e.g. transformer=a,f)")
        })?;
        Ok(Self {
            name: name.trim().to_string(),
            pattern: pattern
                .split([',', ' '])
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }

    /// The pattern repeated `repeats` times.
    pub fn layers(&self, repeats: usize) -> Vec<LayerKind> {
        let kinds = self.kinds();
        (0..repeats).flat_map(|_| kinds.clone()).collect()
    }
}

/// The four families both validation and the family seeds use unless told otherwise.
pub fn default_families() -> Vec<Family> {
    vec![
        Family::new("transformer", &["a", "f"]),
        Family::new("mamba2", &["m2", "f"]),
        Family::new("gated-deltanet", &["gdn", "f"]),
        // The period of the Nemotron-Flash-1B-like seed of configs/nemotron-flash-1b.toml.
        Family::new(
            "nemotron-flash",
            &["deltanet", "f", "m2", "f", "a", "f", "m2", "f"],
        ),
    ]
}

/// Checks a family list; errors name `{key}[i]…` and the reason.
pub fn check_families(key: &str, families: &[Family]) -> Result<(), String> {
    if families.is_empty() {
        return Err(format!("{key}: list at least one baseline family"));
    }
    for (i, f) in families.iter().enumerate() {
        if f.name.trim().is_empty() || f.name.contains(['/', ',', '|']) {
            return Err(format!(
                "{key}[{i}].name: '{}' must be non-empty, without '/', ',' or '|'",
                f.name
            ));
        }
        if families[..i].iter().any(|g| g.name == f.name) {
            return Err(format!("{key}[{i}].name: '{}' is listed twice", f.name));
        }
        let kinds = crate::genome::layer_kinds(&f.pattern)
            .map_err(|e| format!("{key}[{i}].{}", e.replace("layer_types", "pattern")))?;
        if kinds.is_empty() {
            return Err(format!("{key}[{i}].pattern: list at least one layer kind"));
        }
        if !kinds.iter().any(|k| k.is_mixer()) {
            return Err(format!(
                "{key}[{i}].pattern: no token mixer (a, swa, m2, deltanet, gdn)"
            ));
        }
    }
    Ok(())
}

/// A family's shapes in a space: the pattern repeated 1, 2, … times up to the depth cap, at
/// each of the space's widths (ascending) that gives a valid architecture. `Err`: none does
/// (the first reason).
pub fn shapes(
    space: &SpaceConfig,
    family: &Family,
    vocab_size: usize,
) -> Result<Vec<(usize, usize, ArchSpec)>, String> {
    let most = (space.depth_cap / family.kinds().len()).max(1);
    let mut widths = space.widths.clone();
    widths.sort_unstable();
    widths.dedup();
    let mut out = Vec::new();
    let mut first_error = None;
    for repeats in 1..=most {
        for &width in &widths {
            let spec = space.arch_for(&family.layers(repeats), width, vocab_size);
            match spec.validate() {
                Ok(()) => out.push((repeats, width, spec)),
                Err(e) => {
                    first_error.get_or_insert(format!("width {width}: {e}"));
                }
            }
        }
    }
    match out.is_empty() {
        true => Err(first_error.unwrap_or_default()),
        false => Ok(out),
    }
}

fn d_true() -> bool {
    true
}

/// `[family_seeds]` of a campaign config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilySeedsConfig {
    /// Seed the initial population with the families' shapes (default: yes).
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// The families (default: `[validate] families`, the four hand-designed ones).
    #[serde(default)]
    pub families: Option<Vec<Family>>,
    /// Budget levels, as fractions of the latency budget (≤ 1): at each depth, the largest
    /// width within each level is a seed (default: `[validate] budgets`, 1, 0.75 and 0.5).
    #[serde(default)]
    pub budgets: Option<Vec<f64>>,
}

impl Default for FamilySeedsConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl FamilySeedsConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if let Some(f) = &self.families {
            check_families("family_seeds.families", f)?;
        }
        if let Some(b) = &self.budgets {
            if b.is_empty() {
                return Err("family_seeds.budgets: list at least one budget level".into());
            }
            for (i, x) in b.iter().enumerate() {
                if !(*x > 0.0 && *x <= 1.0) {
                    return Err(format!(
                        "family_seeds.budgets[{i}]: {x} must be in (0, 1] (a fraction of the latency budget)"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// One shape of the grid and its price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PricedShape {
    pub family: String,
    pub repeats: usize,
    pub width: usize,
    pub layers: String,
    /// Under the campaign's latency protocol.
    pub latency: Latency,
}

impl PricedShape {
    /// `layers|width`, the driver's key for a priced shape.
    pub fn key(&self) -> String {
        format!("{}|{}", self.layers, self.width)
    }
}

/// A family shape chosen as a seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilySeed {
    pub family: String,
    pub repeats: usize,
    pub width: usize,
    /// The budget level it is the largest width within (the highest, when several).
    pub level: f64,
    pub latency_s: f64,
    pub genome: Genome,
}

/// What the campaign priced of the families and the seeds it chose (`DIR/family_grid.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FamilyGrid {
    /// Every shape priced, in pricing order.
    pub priced: Vec<PricedShape>,
    /// The seeds, highest budget level first.
    pub seeds: Vec<FamilySeed>,
    /// Shapes within a level that the space's grammar cannot spell (not seeded).
    pub unspellable: Vec<String>,
}

/// Where the grid is kept in a campaign folder.
pub const FILE: &str = "family_grid.json";

impl FamilyGrid {
    /// Prices the families' shapes and picks the seeds: for each family and depth, at each
    /// budget level (fractions of `budget_s`, highest first), the largest width within it,
    /// found by bisection over the widths (latency grows with width); deeper shapes are not
    /// priced once the narrowest is over the highest level. `price` gives a shape's seconds.
    pub fn choose(
        space: &SpaceConfig,
        families: &[Family],
        levels: &[f64],
        budget_s: f64,
        vocab_size: usize,
        price: &mut dyn FnMut(&ArchSpec) -> Latency,
    ) -> Result<Self, String> {
        let mut levels: Vec<f64> = levels.iter().map(|l| l.min(1.0)).collect();
        levels.sort_by(|a, b| b.total_cmp(a));
        levels.dedup();
        let mut grid = FamilyGrid::default();
        let mut chosen: Vec<(usize, usize, usize, usize)> = Vec::new(); // (level, family, repeats, width)
        for (fi, family) in families.iter().enumerate() {
            let all = shapes(space, family, vocab_size).map_err(|e| {
                format!("family {}: no valid shape in the space ({e})", family.name)
            })?;
            let most = all.iter().map(|s| s.0).max().unwrap_or(0);
            for repeats in 1..=most {
                let at: Vec<&(usize, usize, ArchSpec)> =
                    all.iter().filter(|s| s.0 == repeats).collect();
                if at.is_empty() {
                    continue;
                }
                let mut cache: Vec<Option<Option<f64>>> = vec![None; at.len()];
                let mut latency = |i: usize, grid: &mut FamilyGrid| -> Option<f64> {
                    if let Some(l) = cache[i] {
                        return l;
                    }
                    let s = at[i];
                    let priced = price(&s.2);
                    let l = priced.seconds;
                    grid.priced.push(PricedShape {
                        family: family.name.clone(),
                        repeats,
                        width: s.1,
                        layers: s.2.layer_string(),
                        latency: priced,
                    });
                    cache[i] = Some(l);
                    l
                };
                let within = |l: Option<f64>, b: f64| l.is_some_and(|l| l <= b);
                if !within(latency(0, &mut grid), levels[0] * budget_s) {
                    // The narrowest is over the highest level: deeper ones are slower still.
                    break;
                }
                for (li, level) in levels.iter().enumerate() {
                    let b = level * budget_s;
                    if !within(latency(0, &mut grid), b) {
                        break;
                    }
                    // Largest index within b: invariant lat(lo) ≤ b, lat(hi) > b or hi = len.
                    let (mut lo, mut hi) = (0, at.len());
                    while hi - lo > 1 {
                        let mid = (lo + hi) / 2;
                        if within(latency(mid, &mut grid), b) {
                            lo = mid;
                        } else {
                            hi = mid;
                        }
                    }
                    let width = at[lo].1;
                    if !chosen
                        .iter()
                        .any(|c| c.1 == fi && c.2 == repeats && c.3 == width)
                    {
                        chosen.push((li, fi, repeats, width));
                    }
                }
            }
        }
        chosen.sort();
        for (li, fi, repeats, width) in chosen {
            let family = &families[fi];
            let layers = family.layers(repeats);
            let spec = space.arch_for(&layers, width, vocab_size);
            let latency_s = grid
                .priced
                .iter()
                .find(|p| p.family == family.name && p.repeats == repeats && p.width == width)
                .and_then(|p| p.latency.seconds)
                .expect("priced within its level");
            match Genome::exact(&layers, width, space) {
                Some(genome) if genome.depth() <= space.depth_cap => grid.seeds.push(FamilySeed {
                    family: family.name.clone(),
                    repeats,
                    width,
                    level: levels[li],
                    latency_s,
                    genome,
                }),
                _ => grid.unspellable.push(format!(
                    "{} ×{repeats} w{width} ({})",
                    family.name,
                    spec.layer_string()
                )),
            }
        }
        Ok(grid)
    }

    /// One line for the user: what was priced and seeded.
    pub fn summary(&self, families: usize, levels: &[f64]) -> String {
        let levels: Vec<String> = levels.iter().map(|l| format!("{l}×")).collect();
        format!(
            "family seeds: {} shapes of {families} families priced, {} seeded (at each depth the largest width within {} of the budget){}",
            self.priced.len(),
            self.seeds.len(),
            levels.join(", "),
            match self.unspellable.len() {
                0 => String::new(),
                n => format!(
                    "; {n} not seeded, the space's grammar cannot spell them: {}",
                    self.unspellable.join(", ")
                ),
            }
        )
    }

    /// The grid of campaign `dir`, if it was chosen already.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| Error::file(&path, format!("corrupt family grid ({e})"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::file(&path, e)),
        }
    }

    /// Writes `DIR/family_grid.json` atomically.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        flashnas_model::fsio::write_atomic(
            &dir.join(FILE),
            serde_json::to_string_pretty(self).expect("json").as_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(s: f64) -> Latency {
        Latency {
            seconds: Some(s),
            ..Default::default()
        }
    }

    fn space() -> SpaceConfig {
        toml::from_str(
            r#"
stages = 3
mixers = ["attention", "mamba2", "deltanet"]
ratios = ["0:1", "1:1", "1:2"]
ffns = [0, 1]
max_repeats = 2
depth_cap = 10
widths = [16, 32, 48, 64]
head_dim = 8
"#,
        )
        .unwrap()
    }

    /// A fake latency: depth × width; the seeds are the largest width within each level at
    /// each depth, found with fewer pricings than the whole grid, every one spelled exactly.
    #[test]
    fn seeds_are_the_largest_width_within_each_level_at_each_depth() {
        let space = space();
        let fam = vec![Family::new("mamba2", &["m2", "f"])];
        let mut calls = 0;
        let mut price = |s: &ArchSpec| {
            calls += 1;
            seconds((s.layers.len() * s.d_model) as f64)
        };
        // Budget 200: levels 200, 150, 100.
        let g =
            FamilyGrid::choose(&space, &fam, &[1.0, 0.75, 0.5], 200.0, 256, &mut price).unwrap();
        let got: Vec<(usize, usize, f64)> = g
            .seeds
            .iter()
            .map(|s| (s.repeats, s.width, s.level))
            .collect();
        // Latency 2r × w: r=1 → 64, 64 (again), 48; r=2 → 48, 32, 16; r=3 → 32, 16, 16
        // (again); r=4 → 16 within 200 only; r=5 → 16 within 200 only.
        let want = vec![
            (1, 64, 1.0),
            (2, 48, 1.0),
            (3, 32, 1.0),
            (4, 16, 1.0),
            (5, 16, 1.0),
            (2, 32, 0.75),
            (3, 16, 0.75),
            (1, 48, 0.5),
            (2, 16, 0.5),
        ];
        assert_eq!(got, want);
        for s in &g.seeds {
            assert_eq!(s.genome.layers(), fam[0].layers(s.repeats));
            assert_eq!(s.genome.width, s.width);
            assert!(s.latency_s <= s.level * 200.0);
        }
        assert!(
            calls < 5 * 4,
            "{calls} pricings: bisection prices fewer than the grid"
        );
        assert_eq!(calls, g.priced.len());
    }

    /// A pattern the grammar cannot spell in three stages is listed, not approximated.
    #[test]
    fn unspellable_shapes_are_listed_not_approximated() {
        let space = space();
        let fam = vec![Family::new(
            "nemotron-flash",
            &["deltanet", "f", "m2", "f", "a", "f", "m2", "f"],
        )];
        let mut price = |s: &ArchSpec| seconds(s.d_model as f64);
        let g = FamilyGrid::choose(&space, &fam, &[1.0], 1e9, 256, &mut price).unwrap();
        // ×1 is [d:m2 1:1 f1][a:m2 1:1 f1]; ×2 would need four stages (and 16 > depth_cap).
        assert_eq!(g.seeds.len(), 1);
        assert_eq!(g.seeds[0].genome.stages.len(), 2);
        assert_eq!(g.seeds[0].width, 64);
        let deep = Genome::exact(
            &fam[0].layers(2),
            64,
            &SpaceConfig {
                depth_cap: 30,
                ..space
            },
        );
        assert!(deep.is_none());
    }
}
