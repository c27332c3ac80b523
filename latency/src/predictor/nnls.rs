//! Non-negative least squares (Lawson–Hanson active set): minimise ‖A x − b‖ subject to
//! x ≥ 0 for the columns marked non-negative (the others are free). Per-operator costs are
//! non-negative; a plain least-squares fit would trade a negative cost against a positive one
//! and extrapolate badly outside the measured widths.

use nalgebra::{DMatrix, DVector};

/// Least squares on the columns in `passive` only (the rest fixed at zero).
fn solve_on(a: &DMatrix<f64>, b: &DVector<f64>, passive: &[usize]) -> DVector<f64> {
    if passive.is_empty() {
        return DVector::zeros(a.ncols());
    }
    let sub = DMatrix::from_fn(a.nrows(), passive.len(), |r, c| a[(r, passive[c])]);
    let svd = sub.svd(true, true);
    let z = svd
        .solve(b, 1e-12)
        .unwrap_or_else(|_| DVector::zeros(passive.len()));
    let mut x = DVector::zeros(a.ncols());
    for (k, &j) in passive.iter().enumerate() {
        x[j] = z[k];
    }
    x
}

/// `nonneg[j]`: column j's coefficient must be ≥ 0.
pub fn nnls(a: &DMatrix<f64>, b: &DVector<f64>, nonneg: &[bool]) -> DVector<f64> {
    let n = a.ncols();
    let mut passive: Vec<usize> = (0..n).filter(|&j| !nonneg[j]).collect();
    let mut x = solve_on(a, b, &passive);
    for _ in 0..3 * n + 10 {
        let w = a.transpose() * (b - a * &x);
        // The most promising constrained column not yet free.
        let candidate = (0..n)
            .filter(|j| nonneg[*j] && !passive.contains(j) && w[*j] > 1e-12)
            .max_by(|&i, &j| w[i].partial_cmp(&w[j]).expect("finite"));
        let Some(j) = candidate else { break };
        passive.push(j);
        loop {
            let z = solve_on(a, b, &passive);
            let bad: Vec<usize> = passive
                .iter()
                .copied()
                .filter(|&k| nonneg[k] && z[k] <= 0.0)
                .collect();
            if bad.is_empty() {
                x = z;
                break;
            }
            // Step from x towards z until the first constrained coefficient reaches zero.
            let alpha = bad
                .iter()
                .map(|&k| x[k] / (x[k] - z[k]))
                .fold(f64::INFINITY, f64::min)
                .clamp(0.0, 1.0);
            x = &x + (z - &x) * alpha;
            passive.retain(|&k| !(nonneg[k] && x[k] <= 1e-15));
            for k in 0..n {
                if !passive.contains(&k) {
                    x[k] = 0.0;
                }
            }
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_non_negative_coefficients_and_clips_negative_ones() {
        // y = 2·x0 + 0·x1 + 3·x2 with x1 correlated to x0: plain least squares on noisy data
        // may give x1 < 0; NNLS keeps it ≥ 0 and recovers the rest.
        let rows: Vec<[f64; 3]> = (0..30)
            .map(|i| {
                let t = i as f64;
                [t, t + (i % 3) as f64 * 0.1, (t * 0.37).sin() + 2.0]
            })
            .collect();
        let a = DMatrix::from_fn(30, 3, |r, c| rows[r][c]);
        let b = DVector::from_fn(30, |r, _| 2.0 * rows[r][0] + 3.0 * rows[r][2]);
        let x = nnls(&a, &b, &[true, true, true]);
        assert!(
            (x[0] - 2.0).abs() < 1e-6 && x[1].abs() < 1e-6 && (x[2] - 3.0).abs() < 1e-6,
            "{x}"
        );
        // A truly negative effect is clipped to zero when constrained, kept when free.
        let b = DVector::from_fn(30, |r, _| rows[r][0] - rows[r][2]);
        let x = nnls(&a, &b, &[true, true, true]);
        assert!(x.iter().all(|v| *v >= 0.0));
        let x = nnls(&a, &b, &[true, true, false]);
        assert!((x[2] + 1.0).abs() < 1e-6, "{x}");
    }
}
