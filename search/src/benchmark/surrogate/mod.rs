//! A surrogate benchmark (as NAS-Bench-301 is for a space too large to tabulate): an ensemble
//! of regression trees fitted on a tabulated sample of the space answers any genome of it —
//! the validation loss at each rung of the fidelity ladder and at the full run, the latency,
//! and what each answer costs (timing, training, validation) — so strategies are compared on
//! the whole space, not only on the genomes someone tabulated.
//!
//! **Features** of an architecture: its width, depth and log parameter count, the count of
//! each layer kind, the count of each mixer kind in each third of the depth (where a kind sits
//! matters in a hybrid), and the kind of the first mixer, one-hot. The last is the strongest
//! single fact about the best genomes of every table we have (nearly all start with Mamba2), and
//! the thirds say it through a different feature at each depth (at depth 2 the first third is
//! empty), so a tree of depth 3 cannot split on it once: with it the best tenth's held-out
//! Spearman of the boosted trees rose by 0.09–0.21 on four tables, to 0.40–0.89.
//!
//! **Model**: for the losses and the latency, gradient-boosted regression trees (CART, variance
//! reduction; 300 of depth 3 at rate 0.05, each on 80 % of the rows) — or, with `--model
//! forest`, a random forest; for the costs and the seed noise a random forest: 32 regression trees
//! (a random third of the features tried at each split), each on a bootstrap sample of the
//! rows, their mean the prediction. Seeded throughout.
//!
//! **Noise**: a tabulated genome trained again gives another loss. An answer is the predicted
//! mean plus `z ×` the predicted replicate standard deviation, `z ~ N(0, 1)` drawn once per
//! (campaign seed, genome), the same at every rung of it (one training run's noise), so a
//! campaign sees the seed noise a real one would, and two campaigns of one seed see the same.

use crate::error::{Error, Result};
use crate::journal::RecordStatus;
use crate::table::{key_of, Table};
use flashnas_model::spec::LayerKind;
use flashnas_model::ArchSpec;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub use super::forest::{Forest, ForestParams, Tree};

/// The features of an architecture (see the module docs), from its layer kinds and width. Every
/// registered mixer kind counts, so a new kind lengthens the vector (a surrogate fitted before
/// is refused at load).
pub fn features(kinds: &[LayerKind], width: usize, params: usize) -> Vec<f64> {
    let depth = kinds.len().max(1);
    let mut f = vec![
        width as f64,
        kinds.len() as f64,
        (params.max(1) as f64).ln(),
    ];
    for k in LayerKind::MIXERS.iter().chain([LayerKind::Ffn].iter()) {
        f.push(kinds.iter().filter(|l| *l == k).count() as f64);
    }
    for third in 0..3 {
        let (lo, hi) = (third * depth / 3, (third + 1) * depth / 3);
        for k in &LayerKind::MIXERS {
            f.push(
                kinds[lo..hi.min(kinds.len())]
                    .iter()
                    .filter(|l| *l == k)
                    .count() as f64,
            );
        }
    }
    let first = kinds.iter().find(|k| **k != LayerKind::Ffn);
    for k in &LayerKind::MIXERS {
        f.push(if first == Some(k) { 1.0 } else { 0.0 });
    }
    f
}

/// A target the surrogate predicts, with the forest for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    /// Predicted in log space (latencies and costs: positive, spread over decades).
    pub log: bool,
    pub forest: Forest,
}

impl Target {
    fn predict(&self, x: &[f64]) -> f64 {
        let (m, _) = self.forest.predict(x);
        if self.log {
            m.exp()
        } else {
            m
        }
    }
}

/// serde_json writes a NaN as `null` (a Spearman over a target the table holds constant, such
/// as a fixed timing); read it back as NaN, so a surrogate that measured one still loads.
fn nan_from_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Held-out agreement of a fitted target with the tabulated values it did not see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    pub target: String,
    pub rows: usize,
    #[serde(deserialize_with = "nan_from_null")]
    pub spearman: f64,
    /// Mean absolute error (loss: nats; latency and costs: relative, in %).
    #[serde(deserialize_with = "nan_from_null")]
    pub mae: f64,
    /// Share of held-out genomes whose tabulated value lies within the prediction ± 2 × the
    /// replicate standard deviation (loss only: the noise an answer is drawn with).
    pub within_noise: Option<f64>,
}

/// How well the full run's loss is predicted where it matters: out-of-fold predictions (k-fold
/// cross-validation, every row predicted by a forest that did not see it) among the best
/// tenth of the table's genomes within the latency budget, by tabulated loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopAgreement {
    pub folds: usize,
    /// Genomes within the budget (all trained rows when there is no budget) and the best
    /// tenth of them (at least 5).
    pub feasible: usize,
    pub rows: usize,
    /// Over every feasible genome, out of fold.
    #[serde(deserialize_with = "nan_from_null")]
    pub spearman_all: f64,
    #[serde(deserialize_with = "nan_from_null")]
    pub mae_all: f64,
    /// Among the best tenth.
    #[serde(deserialize_with = "nan_from_null")]
    pub spearman: f64,
    #[serde(deserialize_with = "nan_from_null")]
    pub mae: f64,
    /// Mean of prediction − tabulated loss (> 0: the surrogate rates the best too poorly).
    #[serde(deserialize_with = "nan_from_null")]
    pub bias: f64,
    /// The table's mean replicate standard deviation, for scale.
    #[serde(deserialize_with = "nan_from_null")]
    pub noise: f64,
}

/// A fitted surrogate benchmark (`flashnas surrogate fit`; `--executor surrogate:FILE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Surrogate {
    /// The table it was fitted on.
    pub table: String,
    /// The search space it answers (the table's): other genomes are refused.
    pub space: crate::genome::SpaceConfig,
    pub rows: usize,
    pub params: ForestParams,
    pub seed: u64,
    /// The proxy's full run and the rungs below it (steps).
    pub steps: usize,
    pub rung_steps: Vec<usize>,
    /// `loss@<step>` for every rung and the full run, `loss_std` (replicate noise),
    /// `latency_ref` or `latency_s`, `timing_s`, `val_s`, `train_s@<step>`.
    pub targets: Vec<Target>,
    /// Latency is predicted in reference units when the table has them (`latency_s` =
    /// ratio × `reference_s`).
    pub reference_s: Option<f64>,
    /// The mean replicate standard deviation of the table (noise where none is predicted).
    pub noise: f64,
    pub held_out: Vec<HeldOut>,
    /// Length of the feature vector it was fitted on (0 in files written before this field,
    /// which are refused at load).
    #[serde(default)]
    pub features: usize,
    /// [`Table::fingerprint`] of the table it was fitted on (`None` in older files).
    #[serde(default)]
    pub table_fingerprint: Option<String>,
    /// Agreement at the top of the feasible region ([`Surrogate::measure_top`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top: Option<TopAgreement>,
}

/// The length of the feature vector this build computes.
fn feature_count() -> usize {
    features(&[LayerKind::Ffn], 1, 1).len()
}

/// What the surrogate says of one architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub latency_s: f64,
    pub latency_ref: Option<f64>,
    /// (step, mean loss, replicate std, training seconds to it) for each rung and the full run.
    pub losses: Vec<(usize, f64, f64, f64)>,
    pub timing_s: f64,
    pub val_s: f64,
}

fn spearman(a: &[f64], b: &[f64]) -> f64 {
    crate::rank::spearman(a, b)
}

/// The features of a table row (its layer string parsed back).
fn row_features(layers: &str, width: usize, params: usize) -> Option<Vec<f64>> {
    let kinds: Option<Vec<LayerKind>> = layers.split_whitespace().map(LayerKind::parse).collect();
    Some(features(&kinds?, width, params))
}

impl Surrogate {
    fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// Fits every target on the trained rows of `table`; `holdout` (a fraction) of them,
    /// drawn with `seed`, first serves to measure the held-out agreement of a fit without
    /// them, then the surrogate is refitted on every row.
    pub fn fit(
        table: &Table,
        space: &crate::genome::SpaceConfig,
        params: ForestParams,
        holdout: f64,
        seed: u64,
    ) -> Result<Self> {
        let steps = table
            .rows
            .iter()
            .find(|r| r.status == RecordStatus::Ok)
            .map(|r| r.steps)
            .ok_or_else(|| Error::Analysis(format!("{}: no trained row", table.path.display())))?;
        let rung_steps = table.rung_steps();
        let trained: Vec<&crate::table::TableRow> = table
            .rows
            .iter()
            .filter(|r| r.status == RecordStatus::Ok && r.val_loss.is_some())
            .collect();
        let priced: Vec<&crate::table::TableRow> = table
            .rows
            .iter()
            .filter(|r| r.latency_s.is_some())
            .collect();
        if trained.len() < 20 {
            return Err(Error::Analysis(format!(
                "{}: {} trained rows; a surrogate needs at least 20",
                table.path.display(),
                trained.len()
            )));
        }
        let feats = |r: &crate::table::TableRow| row_features(&r.layers, r.width, r.params);
        let noise = table.replicate_noise().unwrap_or(0.0);
        let use_ref = priced.iter().all(|r| r.latency_ref.is_some());
        let reference_s = match use_ref {
            true => priced
                .iter()
                .find_map(|r| Some(r.latency_s? / r.latency_ref?)),
            false => None,
        };
        type Getter = Box<dyn Fn(&crate::table::TableRow) -> Option<f64>>;
        // (name, log, trained rows only, value)
        let mut specs: Vec<(String, bool, bool, Getter)> = Vec::new();
        for &s in rung_steps.iter().chain([steps].iter()) {
            specs.push((
                format!("loss@{s}"),
                false,
                true,
                Box::new(move |r| r.at(s).map(|x| x.0)),
            ));
            specs.push((
                format!("train_s@{s}"),
                true,
                true,
                Box::new(move |r| r.at(s).map(|x| x.1.max(1e-6))),
            ));
        }
        specs.push(("loss_std".into(), false, true, Box::new(|r| r.val_loss_std)));
        specs.push(match use_ref {
            true => (
                "latency_ref".into(),
                true,
                false,
                Box::new(|r| r.latency_ref),
            ),
            false => ("latency_s".into(), true, false, Box::new(|r| r.latency_s)),
        });
        specs.push((
            "timing_s".into(),
            true,
            false,
            Box::new(|r| Some(r.timing_s.max(1e-6))),
        ));
        specs.push((
            "val_s".into(),
            true,
            true,
            Box::new(|r| Some(r.val_s.max(1e-6))),
        ));

        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5u64);
        let held: std::collections::HashSet<String> = table
            .rows
            .iter()
            .filter(|_| rng.gen::<f64>() < holdout)
            .map(|r| r.key.clone())
            .collect();
        let mut targets = Vec::new();
        let mut held_out = Vec::new();
        for (k, (name, log, trained_only, get)) in specs.iter().enumerate() {
            let source = if *trained_only { &trained } else { &priced };
            let data: Vec<(String, Vec<f64>, f64, Option<f64>)> = source
                .iter()
                .filter_map(|r| {
                    let v = get(r)?;
                    Some((r.key.clone(), feats(r)?, v, r.val_loss_std))
                })
                .collect();
            if data.len() < 20 {
                continue;
            }
            let y = |v: f64| if *log { v.max(1e-12).ln() } else { v };
            // `params` fits the losses, whose extremes matter, and the latency (held out on
            // the three committed tables boosting's latency error was 1.6–3.7 % against a
            // forest's 3.4–8.1 %); the costs and the seed noise a random forest fits as well or
            // better (boosting lost on hybrid-long's costs and on the recall tables' noise).
            let model = match name.starts_with("loss@") || name.starts_with("latency") {
                true => params,
                false => ForestParams::random_forest(),
            };
            let fit_on = |rows: &[&(String, Vec<f64>, f64, Option<f64>)], s: u64| {
                let x: Vec<Vec<f64>> = rows.iter().map(|d| d.1.clone()).collect();
                let ys: Vec<f64> = rows.iter().map(|d| y(d.2)).collect();
                Forest::fit(&x, &ys, &model, s)
            };
            let (train, test): (Vec<_>, Vec<_>) = data.iter().partition(|d| !held.contains(&d.0));
            let target_seed = seed.wrapping_add(k as u64 * 7919);
            if holdout > 0.0 && test.len() >= 5 && train.len() >= 20 {
                let forest = fit_on(&train, target_seed);
                let t = Target {
                    name: name.clone(),
                    log: *log,
                    forest,
                };
                let pred: Vec<f64> = test.iter().map(|d| t.predict(&d.1)).collect();
                let truth: Vec<f64> = test.iter().map(|d| d.2).collect();
                let mae = pred
                    .iter()
                    .zip(&truth)
                    .map(|(p, t)| match log {
                        true => 100.0 * (p - t).abs() / t,
                        false => (p - t).abs(),
                    })
                    .sum::<f64>()
                    / pred.len() as f64;
                let within_noise = name.starts_with("loss@").then(|| {
                    test.iter()
                        .zip(&pred)
                        .filter(|(d, p)| {
                            let sd = d.3.unwrap_or(noise);
                            (d.2 - **p).abs() <= 2.0 * sd
                        })
                        .count() as f64
                        / test.len() as f64
                });
                held_out.push(HeldOut {
                    target: name.clone(),
                    rows: test.len(),
                    spearman: spearman(&pred, &truth),
                    mae,
                    within_noise,
                });
            }
            let all: Vec<&(String, Vec<f64>, f64, Option<f64>)> = data.iter().collect();
            targets.push(Target {
                name: name.clone(),
                log: *log,
                forest: fit_on(&all, target_seed),
            });
        }
        Ok(Self {
            table: table.path.display().to_string(),
            table_fingerprint: Some(table.fingerprint()),
            space: space.clone(),
            rows: table.rows.len(),
            params,
            seed,
            steps,
            rung_steps,
            targets,
            reference_s,
            noise,
            held_out,
            features: feature_count(),
            top: None,
        })
    }

    /// Measures [`TopAgreement`] of the full run's loss by `folds`-fold cross-validation on
    /// the trained rows within `budget_s` (every trained row when `None`), with this
    /// surrogate's forest parameters; `None` when fewer than 20 such rows.
    pub fn measure_top(
        &mut self,
        table: &Table,
        budget_s: Option<f64>,
        folds: usize,
    ) -> Option<TopAgreement> {
        let folds = folds.max(2);
        let rows: Vec<(Vec<f64>, f64)> = table
            .rows
            .iter()
            .filter(|r| r.status == RecordStatus::Ok)
            .filter(|r| match (budget_s, r.latency_s) {
                (Some(b), Some(l)) => l <= b,
                (Some(_), None) => false,
                (None, _) => true,
            })
            .filter_map(|r| Some((row_features(&r.layers, r.width, r.params)?, r.val_loss?)))
            .collect();
        if rows.len() < 20 {
            return None;
        }
        // Folds by a seeded shuffle of the rows.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(self.seed ^ 0xf01d));
        let mut predicted = vec![f64::NAN; rows.len()];
        for f in 0..folds {
            let test: Vec<usize> = order.iter().copied().skip(f).step_by(folds).collect();
            let train: Vec<usize> = order
                .iter()
                .copied()
                .filter(|i| !test.contains(i))
                .collect();
            let x: Vec<Vec<f64>> = train.iter().map(|&i| rows[i].0.clone()).collect();
            let y: Vec<f64> = train.iter().map(|&i| rows[i].1).collect();
            let forest = Forest::fit(&x, &y, &self.params, self.seed.wrapping_add(f as u64));
            let target = Target {
                name: "loss".into(),
                log: false,
                forest,
            };
            for &i in &test {
                predicted[i] = target.predict(&rows[i].0);
            }
        }
        let truth: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let mae = |ids: &[usize]| {
            ids.iter()
                .map(|&i| (predicted[i] - truth[i]).abs())
                .sum::<f64>()
                / ids.len() as f64
        };
        let all: Vec<usize> = (0..rows.len()).collect();
        let mut best = all.clone();
        best.sort_by(|&a, &b| truth[a].total_cmp(&truth[b]));
        best.truncate((rows.len() / 10).max(5));
        let pick = |ids: &[usize], v: &[f64]| ids.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let top = TopAgreement {
            folds,
            feasible: rows.len(),
            rows: best.len(),
            spearman_all: spearman(&predicted, &truth),
            mae_all: mae(&all),
            spearman: spearman(&pick(&best, &predicted), &pick(&best, &truth)),
            mae: mae(&best),
            bias: best.iter().map(|&i| predicted[i] - truth[i]).sum::<f64>() / best.len() as f64,
            noise: self.noise,
        };
        self.top = Some(top.clone());
        Some(top)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string(self).expect("json");
        flashnas_model::fsio::write_atomic(path, text.as_bytes())
            .map_err(|e| Error::file(path, flashnas_model::fsio::reason(&e)))
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
        let s: Self = serde_json::from_str(&text)
            .map_err(|e| Error::file(path, format!("not a flashnas surrogate ({e})")))?;
        if s.features != feature_count() {
            return Err(Error::file(
                path,
                format!(
                    "fitted on {} features, this build computes {} (written by an older build, or the layer kinds changed): refit it with flashnas surrogate fit --table <its table> --out {}",
                    s.features,
                    feature_count(),
                    path.display()
                ),
            ));
        }
        Ok(s)
    }

    /// Why `spec` is not a genome of the surrogate's space, if it is not.
    pub fn outside(&self, spec: &ArchSpec) -> Option<String> {
        let s = &self.space;
        if !s.widths.contains(&spec.d_model) {
            return Some(format!(
                "width {} is not one of {:?}",
                spec.d_model, s.widths
            ));
        }
        if spec.layers.len() > s.depth_cap {
            return Some(format!(
                "depth {} is over the space's depth_cap {}",
                spec.layers.len(),
                s.depth_cap
            ));
        }
        let allowed = s.mixer_kinds();
        spec.layers
            .iter()
            .find(|l| l.kind != LayerKind::Ffn && !allowed.contains(&l.kind))
            .map(|l| {
                format!(
                    "layer kind {} is not among the space's mixers {:?}",
                    l.kind.name(),
                    s.mixers
                )
            })
    }

    /// The surrogate's answer for an architecture; an error names what it cannot answer
    /// (a genome outside its space included).
    pub fn answer(&self, spec: &ArchSpec) -> Result<Answer> {
        if let Some(why) = self.outside(spec) {
            return Err(Error::Config(format!(
                "{} is outside the surrogate's space ({why}); fit a surrogate on a table of that space",
                Self::key(spec)
            )));
        }
        let kinds: Vec<LayerKind> = spec.layers.iter().map(|l| l.kind).collect();
        let params = flashnas_model::accounting::param_count(spec);
        let x = features(&kinds, spec.d_model, params);
        let get = |name: &str| {
            self.target(name)
                .map(|t| t.predict(&x))
                .ok_or_else(|| Error::Analysis(format!("the surrogate has no '{name}' (refit it)")))
        };
        let (latency_s, latency_ref) = match self.reference_s {
            Some(unit) => {
                let r = get("latency_ref")?;
                (r * unit, Some(r))
            }
            None => (get("latency_s")?, None),
        };
        let std = self
            .target("loss_std")
            .map(|t| t.predict(&x).max(0.0))
            .unwrap_or(self.noise);
        let mut losses = Vec::new();
        for &s in self.rung_steps.iter().chain([self.steps].iter()) {
            losses.push((
                s,
                get(&format!("loss@{s}"))?,
                std,
                get(&format!("train_s@{s}"))?,
            ));
        }
        Ok(Answer {
            latency_s,
            latency_ref,
            losses,
            timing_s: get("timing_s")?,
            val_s: get("val_s")?,
        })
    }

    /// The standard normal draw of (campaign seed, genome): one training run's noise.
    pub fn noise_draw(seed: u64, key: &str) -> f64 {
        use rand_distr::{Distribution, StandardNormal};
        let h = flashnas_model::init::fnv1a(&format!("{seed}|{key}"));
        let mut rng = ChaCha8Rng::seed_from_u64(h);
        StandardNormal.sample(&mut rng)
    }

    /// Refuses to stand in for `table` unless it was fitted on that table (same genomes, same
    /// figures): a benchmark's best-known figures come from the table, its answers from the
    /// surrogate, and the two must describe one space.
    pub fn check_fitted_on(&self, table: &Table) -> Result<()> {
        let why = match &self.table_fingerprint {
            None => "it predates table fingerprints".to_string(),
            Some(f) if *f != table.fingerprint() => format!(
                "it was fitted on {} ({} rows), not on this table ({} rows)",
                self.table,
                self.rows,
                table.rows.len()
            ),
            Some(_) => return Ok(()),
        };
        Err(Error::Config(format!(
            "the surrogate does not belong to the table {}: {why}; refit it with flashnas surrogate fit --table {}",
            table.path.display(),
            table.path.display()
        )))
    }

    /// The predicted mean loss after `steps` of the genome `layers` at `width` (`params` its
    /// parameters), free of any one run's seed noise: what a benchmark scores a find at.
    /// `None` when the layers do not parse or the surrogate has no loss at `steps`.
    pub fn mean_loss(
        &self,
        layers: &str,
        width: usize,
        params: usize,
        steps: usize,
    ) -> Option<f64> {
        let x = row_features(layers, width, params)?;
        Some(self.target(&format!("loss@{steps}"))?.predict(&x))
    }

    /// A genome the space holds, for refusing others: the table's key spelling.
    pub fn key(spec: &ArchSpec) -> String {
        key_of(&spec.layer_string(), spec.d_model)
    }
}

#[cfg(test)]
mod tests;
