//! The depth–width scaling law of Nemotron-Flash: `L(D, W) = L0 + a·D^-α + b·W^-β`
//! (the data term is a constant at a fixed token budget and folds into L0).
//!
//! Fitted by nonlinear least squares with the `levenberg-marquardt` crate. Bounds by
//! reparameterization: `a = e^p1`, `b = e^p3` (positive), `α = 3·σ(p2)`, `β = 3·σ(p4)` (in
//! (0, 3)); L0 is free. The loss surface has flat valleys (a large `a` with a large `α` looks
//! like a small one), so the fit starts from a small grid of exponents and keeps the best.

use levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt};
use nalgebra::{storage::Owned, Dyn, OMatrix, OVector, U5};
use serde::{Deserialize, Serialize};

/// Fitted parameters of the law.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScalingLaw {
    pub l0: f64,
    pub a: f64,
    pub alpha: f64,
    pub b: f64,
    pub beta: f64,
}

impl ScalingLaw {
    pub fn predict(&self, depth: f64, width: f64) -> f64 {
        self.l0 + self.a * depth.powf(-self.alpha) + self.b * width.powf(-self.beta)
    }
}

/// One observation: a shape and its loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub depth: f64,
    pub width: f64,
    pub loss: f64,
}

/// A fit and how well it matches its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    pub law: ScalingLaw,
    /// Observed minus predicted, in the order of the observations.
    pub residuals: Vec<f64>,
    pub rmse: f64,
    /// Largest |residual| / observed, in %.
    pub max_rel_error_pct: f64,
    pub observations: usize,
}

const EXP_MAX: f64 = 3.0;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
fn logit(y: f64) -> f64 {
    (y / (1.0 - y)).ln()
}

struct Problem<'a> {
    obs: &'a [Observation],
    /// (L0, ln a, logit(α/3), ln b, logit(β/3))
    p: OVector<f64, U5>,
}

impl Problem<'_> {
    fn law(&self) -> ScalingLaw {
        let p = &self.p;
        ScalingLaw {
            l0: p[0],
            a: p[1].exp(),
            alpha: EXP_MAX * sigmoid(p[2]),
            b: p[3].exp(),
            beta: EXP_MAX * sigmoid(p[4]),
        }
    }
}

impl LeastSquaresProblem<f64, Dyn, U5> for Problem<'_> {
    type ResidualStorage = Owned<f64, Dyn>;
    type JacobianStorage = Owned<f64, Dyn, U5>;
    type ParameterStorage = Owned<f64, U5>;

    fn set_params(&mut self, x: &OVector<f64, U5>) {
        self.p.copy_from(x);
    }

    fn params(&self) -> OVector<f64, U5> {
        self.p
    }

    fn residuals(&self) -> Option<OVector<f64, Dyn>> {
        let law = self.law();
        let r: Vec<f64> = self
            .obs
            .iter()
            .map(|o| law.predict(o.depth, o.width) - o.loss)
            .collect();
        r.iter()
            .all(|v| v.is_finite())
            .then(|| OVector::<f64, Dyn>::from_vec(r))
    }

    fn jacobian(&self) -> Option<OMatrix<f64, Dyn, U5>> {
        let law = self.law();
        let (sa, sb) = (sigmoid(self.p[2]), sigmoid(self.p[4]));
        let mut j = OMatrix::<f64, Dyn, U5>::zeros(self.obs.len());
        for (i, o) in self.obs.iter().enumerate() {
            let d_term = law.a * o.depth.powf(-law.alpha);
            let w_term = law.b * o.width.powf(-law.beta);
            j[(i, 0)] = 1.0;
            // d/d ln a of a·D^-α = a·D^-α
            j[(i, 1)] = d_term;
            // d/dp2 of a·D^-α with α = 3σ(p2): -ln D · a·D^-α · 3σ(1-σ)
            j[(i, 2)] = -o.depth.ln() * d_term * EXP_MAX * sa * (1.0 - sa);
            j[(i, 3)] = w_term;
            j[(i, 4)] = -o.width.ln() * w_term * EXP_MAX * sb * (1.0 - sb);
        }
        j.iter().all(|v| v.is_finite()).then_some(j)
    }
}

/// Fits the law to at least 5 observations with positive depth and width.
pub fn fit(obs: &[Observation]) -> crate::error::Result<Fit> {
    fit_checked(obs).map_err(crate::error::Error::Analysis)
}

fn fit_checked(obs: &[Observation]) -> Result<Fit, String> {
    if obs.len() < 5 {
        return Err(format!(
            "the law has 5 parameters; {} shapes with a finite loss are not enough",
            obs.len()
        ));
    }
    if obs
        .iter()
        .any(|o| !(o.depth > 0.0 && o.width > 0.0 && o.loss.is_finite()))
    {
        return Err("every shape needs depth > 0, width > 0 and a finite loss".into());
    }
    let min_loss = obs.iter().map(|o| o.loss).fold(f64::INFINITY, f64::min);
    let spread = obs.iter().map(|o| o.loss).fold(f64::NEG_INFINITY, f64::max) - min_loss;
    let mut best: Option<(f64, ScalingLaw)> = None;
    for &alpha in &[0.2, 0.5, 1.0, 2.0] {
        for &beta in &[0.2, 0.5, 1.0, 2.0] {
            // Start with each term explaining half the observed spread.
            let a0 = (0.5 * spread.max(1e-3)) * 2f64.powf(alpha);
            let b0 = (0.5 * spread.max(1e-3)) * 16f64.powf(beta);
            let start = OVector::<f64, U5>::from_column_slice(&[
                min_loss - 0.5 * spread,
                a0.ln(),
                logit(alpha / EXP_MAX),
                b0.ln(),
                logit(beta / EXP_MAX),
            ]);
            let (solved, report) = LevenbergMarquardt::new()
                .with_patience(400)
                .minimize(Problem { obs, p: start });
            let cost = report.objective_function;
            if cost.is_finite() && best.as_ref().is_none_or(|(c, _)| cost < *c) {
                best = Some((cost, solved.law()));
            }
        }
    }
    let (_, law) = best.ok_or("the fit did not converge from any start")?;
    let residuals: Vec<f64> = obs
        .iter()
        .map(|o| o.loss - law.predict(o.depth, o.width))
        .collect();
    let rmse = (residuals.iter().map(|r| r * r).sum::<f64>() / obs.len() as f64).sqrt();
    let max_rel_error_pct = obs
        .iter()
        .zip(&residuals)
        .map(|(o, r)| 100.0 * r.abs() / o.loss.abs())
        .fold(0.0, f64::max);
    Ok(Fit {
        law,
        residuals,
        rmse,
        max_rel_error_pct,
        observations: obs.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn recovers_a_known_law_from_noisy_losses() {
        let truth = ScalingLaw {
            l0: 1.8,
            a: 1.2,
            alpha: 0.7,
            b: 9.0,
            beta: 0.6,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut obs = Vec::new();
        for d in [2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0] {
            for w in [64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0] {
                let noise = rng.gen_range(-0.001..0.001);
                obs.push(Observation {
                    depth: d,
                    width: w,
                    loss: truth.predict(d, w) + noise,
                });
            }
        }
        let f = fit(&obs).unwrap();
        let l = f.law;
        assert!((l.l0 - truth.l0).abs() < 0.05, "{l:?}");
        assert!((l.alpha - truth.alpha).abs() < 0.05, "{l:?}");
        assert!((l.beta - truth.beta).abs() < 0.05, "{l:?}");
        assert!((l.a - truth.a).abs() / truth.a < 0.1, "{l:?}");
        assert!((l.b - truth.b).abs() / truth.b < 0.1, "{l:?}");
        assert!(f.rmse < 0.002, "{}", f.rmse);
        // Extrapolation to a larger shape stays close.
        let (d, w) = (48.0, 4096.0);
        assert!((l.predict(d, w) - truth.predict(d, w)).abs() < 0.01);
    }

    #[test]
    fn too_few_shapes_is_an_error() {
        let obs = vec![
            Observation {
                depth: 1.0,
                width: 1.0,
                loss: 1.0
            };
            4
        ];
        assert!(fit(&obs).unwrap_err().to_string().contains("not enough"));
    }
}
