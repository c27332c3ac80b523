//! Rank correlations with ties, and percentile bootstrap intervals.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Average ranks (1-based; tied values share the mean of their positions).
pub fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].partial_cmp(&v[b]).expect("no NaN"));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = mean;
        }
        i = j + 1;
    }
    ranks
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    sxy / (sxx * syy).sqrt()
}

/// Spearman's ρ: the Pearson correlation of average ranks (the tie-corrected form).
/// NaN when either side is constant.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    pearson(&average_ranks(x), &average_ranks(y))
}

/// Kendall's τ-b (ties in either variable corrected). NaN when either side is constant.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    let n = x.len();
    let (mut concordant, mut discordant, mut ties_x, mut ties_y) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = x[i] - x[j];
            let dy = y[i] - y[j];
            match (dx == 0.0, dy == 0.0) {
                (true, true) => {
                    ties_x += 1;
                    ties_y += 1;
                }
                (true, false) => ties_x += 1,
                (false, true) => ties_y += 1,
                (false, false) => {
                    if (dx > 0.0) == (dy > 0.0) {
                        concordant += 1
                    } else {
                        discordant += 1
                    }
                }
            }
        }
    }
    let n0 = (n * n.saturating_sub(1) / 2) as i64;
    let denom = (((n0 - ties_x) * (n0 - ties_y)) as f64).sqrt();
    if denom == 0.0 {
        return f64::NAN;
    }
    (concordant - discordant) as f64 / denom
}

/// A statistic with its percentile bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
    /// Confidence level of [lower, upper], e.g. 0.9.
    pub level: f64,
    /// Resamples that gave a defined statistic (a resample with a constant side does not).
    pub resamples: usize,
}

/// Percentile bootstrap over pairs: `resamples` draws of n pairs with replacement.
pub fn bootstrap(
    x: &[f64],
    y: &[f64],
    stat: fn(&[f64], &[f64]) -> f64,
    resamples: usize,
    level: f64,
    seed: u64,
) -> Interval {
    let n = x.len();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut values = Vec::with_capacity(resamples);
    let (mut bx, mut by) = (vec![0.0; n], vec![0.0; n]);
    for _ in 0..resamples {
        for k in 0..n {
            let i = rng.gen_range(0..n);
            bx[k] = x[i];
            by[k] = y[i];
        }
        let s = stat(&bx, &by);
        if s.is_finite() {
            values.push(s);
        }
    }
    values.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    let q = |p: f64| -> f64 {
        if values.is_empty() {
            return f64::NAN;
        }
        let pos = p * (values.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        values[lo] + (values[hi] - values[lo]) * (pos - lo as f64)
    };
    let tail = (1.0 - level) / 2.0;
    Interval {
        value: stat(x, y),
        lower: q(tail),
        upper: q(1.0 - tail),
        level,
        resamples: values.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 20.0, 5.0, 20.0]),
            vec![2.0, 4.0, 4.0, 1.0, 4.0]
        );
    }

    #[test]
    fn spearman_and_kendall_by_hand() {
        // No ties: x = 1..5, y = [2, 1, 4, 3, 5]. Σd² = 1+1+1+1+0 = 4 → ρ = 1 − 6·4/(5·24) = 0.8.
        // Pairs: 10; discordant (1,2) and (3,4) → C = 8, D = 2 → τ = 0.6.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 1.0, 4.0, 3.0, 5.0];
        assert!(close(spearman(&x, &y), 0.8));
        assert!(close(kendall_tau_b(&x, &y), 0.6));
        // Reversal.
        let r = [5.0, 4.0, 3.0, 2.0, 1.0];
        assert!(close(spearman(&x, &r), -1.0));
        assert!(close(kendall_tau_b(&x, &r), -1.0));
    }

    #[test]
    fn ties_by_hand() {
        // x = [1, 2, 2, 3], y = [1, 3, 2, 4].
        // Ranks x: [1, 2.5, 2.5, 4]; y: [1, 3, 2, 4]. Means 2.5.
        // Σ(dx·dy) = (−1.5)(−1.5) + 0·0.5 + 0·(−0.5) + 1.5·1.5 = 4.5;
        // Σdx² = 4.5; Σdy² = 5 → ρ = 4.5 / √22.5 = 0.9486832980505138.
        let x = [1.0, 2.0, 2.0, 3.0];
        let y = [1.0, 3.0, 2.0, 4.0];
        assert!(close(spearman(&x, &y), 4.5 / 22.5f64.sqrt()));
        // Pairs (6): (0,1) C, (0,2) C, (0,3) C, (1,2) tie in x, (1,3) C, (2,3) C.
        // C = 5, D = 0, ties_x = 1, ties_y = 0 → τb = 5 / √(5·6) = 0.9128709291752769.
        assert!(close(kendall_tau_b(&x, &y), 5.0 / 30f64.sqrt()));
        // A constant side has no rank correlation.
        assert!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_nan());
        assert!(kendall_tau_b(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_nan());
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_estimate() {
        let x: Vec<f64> = (0..12).map(|i| i as f64).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|v| v + if (*v as i64) % 3 == 0 { 2.5 } else { 0.0 })
            .collect();
        let a = bootstrap(&x, &y, spearman, 500, 0.9, 7);
        let b = bootstrap(&x, &y, spearman, 500, 0.9, 7);
        assert_eq!(a, b);
        assert!(a.lower <= a.value && a.value <= a.upper, "{a:?}");
        assert!(a.upper <= 1.0 && a.lower > 0.0, "{a:?}");
        let c = bootstrap(&x, &y, spearman, 500, 0.9, 8);
        assert_ne!(a.lower, c.lower);
    }
}

/// The median (`None` for no values).
pub fn median(v: &[f64]) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => None,
        n if n % 2 == 1 => Some(s[n / 2]),
        n => Some((s[n / 2 - 1] + s[n / 2]) / 2.0),
    }
}

/// Mean and the half-width of its 95 % confidence interval (Student's t; 0 for one value).
pub fn mean_ci95(v: &[f64]) -> (f64, f64) {
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, 0.0);
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, t975(n - 1) * (var / n as f64).sqrt())
}

/// The 97.5 % quantile of Student's t with `df` degrees of freedom: exact for df ≤ 4 (where
/// the expansion is poor: 4.17 instead of 4.303 at df 2, the usual 3-seed case), the
/// Cornish–Fisher expansion about the normal quantile above (within 0.002 for df ≥ 5).
pub fn t975(df: usize) -> f64 {
    const SMALL: [f64; 4] = [12.706_205, 4.302_653, 3.182_446, 2.776_445];
    if (1..=4).contains(&df) {
        return SMALL[df - 1];
    }
    let z: f64 = 1.959_963_985;
    let d = df.max(1) as f64;
    z + (z.powi(3) + z) / (4.0 * d)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
        + (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / (384.0 * d.powi(3))
}

/// The difference of means `mean(a) − mean(b)` with its 95 % confidence interval (Welch's
/// t-interval, unequal variances; degrees of freedom by Welch–Satterthwaite, fractional).
/// `None` when either side has fewer than two values, or both have no spread and differ
/// (no noise estimate: the interval would pretend a certainty the seeds do not give).
pub fn welch_diff_ci95(a: &[f64], b: &[f64]) -> Option<(f64, f64, f64)> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let mv = |v: &[f64]| {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        (
            m,
            v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0),
            n,
        )
    };
    let ((ma, va, na), (mb, vb, nb)) = (mv(a), mv(b));
    let d = ma - mb;
    let (sa, sb) = (va / na, vb / nb);
    let se = (sa + sb).sqrt();
    if se == 0.0 {
        return (d == 0.0).then_some((0.0, 0.0, 0.0));
    }
    let df = (sa + sb).powi(2) / (sa * sa / (na - 1.0) + sb * sb / (nb - 1.0));
    let h = t_quantile(0.975, df) * se;
    Some((d, d - h, d + h))
}

/// Per-seed differences `a[s] − b[s]` of paired samples: their mean, sample SD and count.
/// `None` with fewer than two pairs.
pub fn paired(a: &[f64], b: &[f64]) -> Option<(f64, f64, usize)> {
    assert_eq!(a.len(), b.len());
    let n = a.len();
    if n < 2 {
        return None;
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let m = d.iter().sum::<f64>() / n as f64;
    let sd = (d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    Some((m, sd, n))
}

/// The two-sided `1 − alpha` t-interval of a mean difference `mean` with sample SD `sd` over
/// `n` pairs: (low, high).
pub fn t_interval(mean: f64, sd: f64, n: usize, alpha: f64) -> (f64, f64) {
    let h = t_quantile(1.0 - alpha / 2.0, (n - 1) as f64) * sd / (n as f64).sqrt();
    (mean - h, mean + h)
}

/// The `p` quantile of Student's t with `df` (> 0, fractional allowed) degrees of freedom, by
/// bisection on its distribution function (exact to ~1e-10).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    assert!(p > 0.0 && p < 1.0 && df > 0.0, "t_quantile({p}, {df})");
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    while t_cdf(hi, df) < p {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-12 * hi.max(1.0) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// P(T ≤ t) for Student's t with `df` degrees of freedom: ½ I_x(df/2, ½) with x = df/(df + t²).
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let x = df / (df + t * t);
    let tail = 0.5 * incomplete_beta(0.5 * df, 0.5, x);
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The regularized incomplete beta function I_x(a, b) (continued fraction, Lentz's method).
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    // The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - incomplete_beta(b, a, 1.0 - x);
    }
    let tiny = 1e-300;
    let (mut c, mut d) = (1.0, 1.0 - (a + b) * x / (a + 1.0));
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut f = d;
    for m in 1..500 {
        let m = m as f64;
        for num in [
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ] {
            d = 1.0 + num * d;
            if d.abs() < tiny {
                d = tiny;
            }
            c = 1.0 + num / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            f *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    ln_front.exp() * f / a
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~1e-15 relative).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Mann–Whitney U test of `a` against `b`: the probability that a value of `a` exceeds one of
/// `b` (ties count half; the common-language effect size) and the two-sided p-value of the
/// normal approximation with the tie correction.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let all: Vec<f64> = a.iter().chain(b).copied().collect();
    let ranks = average_ranks(&all);
    let r1: f64 = ranks[..a.len()].iter().sum();
    let u1 = r1 - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    // Tie correction: Σ (t³ − t) over groups of equal values.
    let mut sorted = all.clone();
    sorted.sort_by(|x, y| x.partial_cmp(y).expect("finite"));
    let mut ties = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let j = (i..sorted.len())
            .find(|&j| sorted[j] != sorted[i])
            .unwrap_or(sorted.len());
        let t = (j - i) as f64;
        ties += t * t * t - t;
        i = j;
    }
    let sd = (n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)))).sqrt();
    let effect = u1 / (n1 * n2);
    if sd == 0.0 {
        return (effect, 1.0);
    }
    let z = (u1 - n1 * n2 / 2.0).abs() / sd;
    (effect, 2.0 * normal_upper_tail(z))
}

/// P(Z > z) for a standard normal Z (Abramowitz–Stegun 7.1.26, error < 1.5e-7).
fn normal_upper_tail(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    0.5 * poly * (-x * x).exp()
}

#[cfg(test)]
mod stats_tests {
    use super::*;

    #[test]
    fn t_quantiles_and_the_rank_test_match_reference_values() {
        // Exact: t(0.975; 4) = 2.7764, t(0.975; 9) = 2.2622, t(0.975; 49) = 2.0096.
        assert!((t975(4) - 2.7764).abs() < 0.01, "{}", t975(4));
        assert!((t975(9) - 2.2622).abs() < 0.002);
        assert!((t975(49) - 2.0096).abs() < 0.001);
        let (m, h) = mean_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!((m - 3.0).abs() < 1e-12 && (h - 2.7764 * (2.5f64 / 5.0).sqrt()).abs() < 0.01);
        // Fully separated samples of 10: U = 100, z = 3.78, p ≈ 1.6e-4.
        let a: Vec<f64> = (10..20).map(f64::from).collect();
        let b: Vec<f64> = (0..10).map(f64::from).collect();
        let (effect, p) = mann_whitney(&a, &b);
        assert_eq!(effect, 1.0);
        assert!((p - 1.57e-4).abs() < 2e-5, "{p}");
        assert!((t975(2) - 4.3027).abs() < 1e-3);
        // Welch: equal variances and sizes give df = 2n − 2 = 4; half-width t(4)·√(2·1/3).
        let (d, lo, hi) = welch_diff_ci95(&[1.0, 2.0, 3.0], &[3.0, 4.0, 5.0]).unwrap();
        assert!((d + 2.0).abs() < 1e-12);
        assert!(
            (hi - lo - 2.0 * 2.7764 * (2.0f64 / 3.0).sqrt()).abs() < 1e-3,
            "{lo} {hi}"
        );
        assert!(welch_diff_ci95(&[1.0], &[2.0, 3.0]).is_none());
        // Identical samples: no evidence either way.
        let (effect, p) = mann_whitney(&b, &b);
        assert!((effect - 0.5).abs() < 1e-12 && p > 0.99);
    }

    /// Student t at fractional degrees of freedom against scipy.stats.t (1.17):
    /// ppf(0.975, 2.5) = 3.5746548, ppf(0.975, 4) = 2.7764451, ppf(0.95, 3) = 2.3533634,
    /// ppf(0.995, 7.3) = 3.4510317, ppf(0.9, 1) = 3.0776835; cdf(1.3, 5.5) = 0.8772917.
    #[test]
    fn t_quantiles_at_fractional_degrees_of_freedom_match_scipy() {
        for (p, df, want) in [
            (0.975, 2.5, 3.574_654_8),
            (0.975, 4.0, 2.776_445_1),
            (0.95, 3.0, 2.353_363_4),
            (0.995, 7.3, 3.451_031_7),
            (0.9, 1.0, 3.077_683_5),
        ] {
            let got = t_quantile(p, df);
            assert!(
                (got - want).abs() < 1e-6,
                "t({p}, {df}) = {got}, want {want}"
            );
            assert!((t_quantile(1.0 - p, df) + want).abs() < 1e-6);
        }
        assert!((t_cdf(1.3, 5.5) - 0.877_291_7).abs() < 1e-6);
    }
}
