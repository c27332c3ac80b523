//! Close calls raced over seeds. Two seeds of one genome differ by ~0.05 nats after a short
//! proxy, as much as many gaps between candidates near the top; a pick decided by one seed is
//! often decided by luck. After the strategy has spent its evaluations, a campaign:
//!
//! 1. **measures the seed noise σ**: the `sigma_sample` best candidates are trained with a
//!    second seed; σ² is the pooled unbiased within-candidate variance
//!    (Σᵢ Σⱼ (xᵢⱼ − x̄ᵢ)² / Σᵢ (nᵢ − 1)) over every candidate with two seeds or more;
//! 2. **races the close calls**: at each budget level (fractions of the latency budget, the
//!    levels `flashnas validate` picks at), the best mean loss within the level is the pick;
//!    a candidate within the level whose mean is less than `z` standard errors of the
//!    difference above the pick's (σ·√(1/nᵢ + 1/n_pick)) is not separable from it, and both
//!    get one more seed — round after round, until every contender is separated or has
//!    `max_seeds` seeds.
//!
//! Replicate r of every candidate trains with seed r (the campaign's seed is replicate 0), so
//! the same r means the same initialisation stream and data order for every candidate: the
//! differences are paired, and the unpaired standard error above is the conservative one.
//! Each replicate is a journal record (`origin = "replicate"`, `replicate = r`, `parent` = the
//! candidate): a resume replays the rounds as it replays the search. Frontier and picks use
//! mean losses over seeds.

use crate::journal::{Record, RecordStatus};
use serde::{Deserialize, Serialize};

fn d_true() -> bool {
    true
}
fn d_sigma_sample() -> usize {
    4
}
fn d_max_seeds() -> usize {
    4
}
fn d_z() -> f64 {
    2.0
}

/// `[racing]` of a campaign config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RacingConfig {
    /// Measure σ and race the close calls after the search (default: yes).
    #[serde(default = "d_true")]
    pub enabled: bool,
    /// Candidates (the best by proxy loss) trained with a second seed to measure σ.
    #[serde(default = "d_sigma_sample")]
    pub sigma_sample: usize,
    /// Most seeds a candidate gets (its first, the campaign's seed, included).
    #[serde(default = "d_max_seeds")]
    pub max_seeds: usize,
    /// Separated: the gap is at least `z` standard errors of the difference.
    #[serde(default = "d_z")]
    pub z: f64,
    /// Budget levels, fractions of the latency budget (default: `[validate] budgets`).
    #[serde(default)]
    pub budgets: Option<Vec<f64>>,
}

impl Default for RacingConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

impl RacingConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.enabled && self.sigma_sample < 2 {
            return Err(format!(
                "racing.sigma_sample: {} must be at least 2 (σ is pooled over candidates)",
                self.sigma_sample
            ));
        }
        if self.max_seeds < 2 {
            return Err(format!(
                "racing.max_seeds: {} must be at least 2",
                self.max_seeds
            ));
        }
        if !(self.z > 0.0 && self.z.is_finite()) {
            return Err(format!("racing.z: {} must be > 0", self.z));
        }
        if let Some(b) = &self.budgets {
            if b.is_empty() {
                return Err("racing.budgets: list at least one budget level".into());
            }
            if let Some((i, x)) = b.iter().enumerate().find(|(_, x)| x.is_nan() || **x <= 0.0) {
                return Err(format!(
                    "racing.budgets[{i}]: {x} must be > 0 (a fraction of the latency budget)"
                ));
            }
        }
        Ok(())
    }
}

/// Every candidate's losses over its seeds, by record id: the candidate's own (seed 0) first,
/// then its replicates in seed order; empty for a record that is not a trained candidate
/// (failed, over the budget, a rung, a replicate).
pub fn seed_losses(records: &[Record]) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = vec![Vec::new(); records.len()];
    for r in records {
        if r.status != RecordStatus::Ok {
            continue;
        }
        let Some(loss) = r.proxy.val_loss else {
            continue;
        };
        match (r.replicate, r.parent) {
            (None, _) if r.rung.is_none() => out[r.id].push(loss),
            // A replicate of a candidate whose own run counts (it always does: only trained,
            // feasible candidates are raced).
            (Some(_), Some(p)) if !out[p].is_empty() => out[p].push(loss),
            _ => {}
        }
    }
    out
}

pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The pooled unbiased seed variance's square root and its degrees of freedom, over the groups
/// with two values or more; `None` without any.
pub fn pooled_sigma<'a>(groups: impl IntoIterator<Item = &'a [f64]>) -> Option<(f64, usize)> {
    let (mut ss, mut df) = (0.0, 0usize);
    for g in groups.into_iter().filter(|g| g.len() >= 2) {
        let m = mean(g);
        ss += g.iter().map(|x| (x - m).powi(2)).sum::<f64>();
        df += g.len() - 1;
    }
    (df > 0).then(|| ((ss / df as f64).sqrt(), df))
}

/// Where racing stands: σ, and per budget level the pick and the candidates not separable
/// from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standing {
    /// σ (pooled) and its degrees of freedom, once two seeds of some candidate are in.
    pub sigma: Option<(f64, usize)>,
    pub levels: Vec<LevelStanding>,
}

/// One budget level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelStanding {
    /// The level as a fraction of the budget, and in seconds.
    pub level: f64,
    pub budget_s: f64,
    /// The lowest mean loss within the level.
    pub best: Option<usize>,
    /// Within `z` standard errors of the best (its band), lowest mean first.
    pub contenders: Vec<usize>,
    /// The pick: of the best and its band, the candidate with the most parameters (ties to
    /// the lower mean) — see [`pick_of_band`].
    pub pick: Option<usize>,
}

/// The candidate a user should take from a band the proxy cannot order: the one with the most
/// parameters (ties to the lower mean loss, then id). A short proxy under-rates capacity that
/// longer training uses — in the validations behind the README, the no-FFN member of a band
/// lost 0.05 nats at 10× to the member with FFNs — so among equals the larger model is the
/// better bet; outside a band the order of the means stands.
pub fn pick_of_band(records: &[Record], best: usize, band: &[usize]) -> usize {
    let members = || std::iter::once(best).chain(band.iter().copied());
    let most = members()
        .map(|i| records[i].params)
        .max()
        .expect("the best is a member");
    members()
        .find(|&i| records[i].params == most)
        .expect("one has the most")
}

/// The pick within `budget_s` (seconds): the best mean loss among the feasible candidates,
/// or when racing measured σ, the [`pick_of_band`] of the best and the candidates within `z`
/// standard errors of it.
pub fn pick_within(records: &[Record], budget_s: f64, z: f64) -> Option<usize> {
    standing(records, budget_s, &[1.0], z).levels[0].pick
}

/// σ and the band at each level, from the records as they stand.
pub fn standing(records: &[Record], budget_s: f64, levels: &[f64], z: f64) -> Standing {
    let losses = seed_losses(records);
    let sigma = pooled_sigma(losses.iter().map(|v| v.as_slice()));
    let levels = levels
        .iter()
        .map(|&level| {
            let b = level * budget_s;
            let mut within: Vec<usize> = records
                .iter()
                .filter(|r| r.feasible && !losses[r.id].is_empty() && r.latency() <= b)
                .map(|r| r.id)
                .collect();
            within.sort_by(|&a, &b| {
                mean(&losses[a])
                    .total_cmp(&mean(&losses[b]))
                    .then(a.cmp(&b))
            });
            let best = within.first().copied();
            let contenders: Vec<usize> = match (best, sigma) {
                (Some(p), Some((s, _))) => within[1..]
                    .iter()
                    .copied()
                    .filter(|&c| {
                        let (nc, np) = (losses[c].len() as f64, losses[p].len() as f64);
                        let se = s * (1.0 / nc + 1.0 / np).sqrt();
                        mean(&losses[c]) - mean(&losses[p]) < z * se
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let pick = best.map(|p| pick_of_band(records, p, &contenders));
            LevelStanding {
                level,
                budget_s: b,
                best,
                contenders,
                pick,
            }
        })
        .collect();
    Standing { sigma, levels }
}

/// The next round of replicates, as (candidate id, seed r), in id order; empty when racing is
/// over. First the σ sample (the best candidates by mean loss without a second seed, until
/// `sigma_sample` have two), then every pick and contender of a level below `max_seeds`.
pub fn next_round(
    records: &[Record],
    budget_s: f64,
    levels: &[f64],
    cfg: &RacingConfig,
) -> Vec<(usize, u32)> {
    let losses = seed_losses(records);
    // Seeds tried per candidate, failed replicates included (a seed that failed is not
    // tried again).
    let mut tried: Vec<usize> = losses.iter().map(|v| v.len().min(1)).collect();
    for r in records {
        if let (Some(_), Some(p)) = (r.replicate, r.parent) {
            tried[p] += 1;
        }
    }
    let with_two = losses.iter().filter(|v| v.len() >= 2).count();
    if with_two < cfg.sigma_sample {
        let mut single: Vec<usize> = records
            .iter()
            .filter(|r| r.feasible && losses[r.id].len() == 1 && tried[r.id] == 1)
            .map(|r| r.id)
            .collect();
        single.sort_by(|&a, &b| losses[a][0].total_cmp(&losses[b][0]).then(a.cmp(&b)));
        let mut round: Vec<(usize, u32)> = single
            .into_iter()
            .take(cfg.sigma_sample - with_two)
            .map(|id| (id, 1))
            .collect();
        if !round.is_empty() {
            round.sort_unstable();
            return round;
        }
    }
    let s = standing(records, budget_s, levels, cfg.z);
    let mut raced: Vec<usize> = Vec::new();
    for l in &s.levels {
        if let (Some(p), false) = (l.best, l.contenders.is_empty()) {
            raced.push(p);
            raced.extend(&l.contenders);
        }
    }
    raced.sort_unstable();
    raced.dedup();
    raced
        .into_iter()
        .filter(|&id| tried[id] < cfg.max_seeds)
        .map(|id| (id, tried[id] as u32))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Pooled σ against a reference computed by hand: groups {1, 3} (ss 2, df 1), {2, 2, 5}
    /// (mean 3, ss 1 + 1 + 4 = 6, df 2), {7} (no df): σ² = 8 / 3.
    #[test]
    fn pooled_sigma_matches_the_hand_computed_value() {
        let groups: Vec<Vec<f64>> = vec![vec![1.0, 3.0], vec![2.0, 2.0, 5.0], vec![7.0]];
        let (s, df) = pooled_sigma(groups.iter().map(|g| g.as_slice())).unwrap();
        assert_eq!(df, 3);
        assert!((s - (8.0f64 / 3.0).sqrt()).abs() < 1e-12, "{s}");
        assert!(pooled_sigma([[1.0].as_slice()]).is_none());
    }

    /// On synthetic replicates with a known σ the pooled estimate is unbiased in variance
    /// (σ² averaged over many draws within 3 % of the truth) where the average of per-pair
    /// SDs is biased low (by √(2/π) ≈ 0.80 for pairs).
    #[test]
    fn pooled_variance_is_unbiased_on_synthetic_replicates() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let sigma = 0.06;
        let normal = |rng: &mut rand_chacha::ChaCha8Rng| {
            // Box–Muller.
            let (u, v): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen_range(0.0..1.0));
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        };
        let (mut var_sum, mut sd_pairs, draws) = (0.0, 0.0, 4000);
        for _ in 0..draws {
            let groups: Vec<Vec<f64>> = (0..4)
                .map(|i| {
                    (0..2)
                        .map(|_| 2.0 + 0.1 * i as f64 + sigma * normal(&mut rng))
                        .collect()
                })
                .collect();
            let (s, _) = pooled_sigma(groups.iter().map(|g| g.as_slice())).unwrap();
            var_sum += s * s;
            sd_pairs += groups
                .iter()
                .map(|g| (g[0] - g[1]).abs() / 2f64.sqrt())
                .sum::<f64>()
                / 4.0;
        }
        let var = var_sum / draws as f64;
        assert!((var / (sigma * sigma) - 1.0).abs() < 0.03, "{var}");
        let pair_sd = sd_pairs / draws as f64;
        assert!((pair_sd / sigma - (2.0 / std::f64::consts::PI).sqrt()).abs() < 0.03);
    }

    /// A synthetic candidate: one of the journal fixture's records with its id, latency and
    /// loss replaced (a replicate when `replicate` is set).
    pub(crate) fn record(
        id: usize,
        latency: f64,
        loss: f64,
        replicate: Option<(usize, u32)>,
    ) -> Record {
        let line = include_str!("../../tests/fixtures/aging-seed3.jsonl")
            .lines()
            .next()
            .unwrap();
        let mut r: Record = serde_json::from_str(line).unwrap();
        r.id = id;
        r.latency.seconds = Some(latency);
        r.proxy.val_loss = Some(loss);
        r.status = RecordStatus::Ok;
        r.feasible = latency <= 1.0;
        r.rung = None;
        r.replicate = replicate.map(|x| x.1);
        r.parent = replicate.map(|x| x.0);
        r
    }

    /// Four candidates within the budget: A (true loss 2.000) and B (2.008) close, C and D far.
    /// Racing trains A and B with more seeds until their gap is z standard errors or they reach
    /// max_seeds; C and D get no more than the σ sample asks. Seed r's noise is the same
    /// for every candidate up to a small part (paired seeds).
    #[test]
    fn a_close_call_gets_seeds_until_separated_and_far_ones_do_not() {
        let truth = [2.00, 2.008, 2.50, 2.60];
        let noise = |id: usize, r: u32| {
            let shared = [0.0, 0.012, -0.010, 0.006, -0.004, 0.009, -0.011][r as usize % 7];
            let own = [0.004, -0.003, 0.002, -0.005][(id + r as usize) % 4];
            shared + own
        };
        let mut records: Vec<Record> = (0..4)
            .map(|i| record(i, 0.5, truth[i] + noise(i, 0), None))
            .collect();
        let cfg = RacingConfig {
            sigma_sample: 2,
            max_seeds: 8,
            ..Default::default()
        };
        let mut rounds = 0;
        loop {
            let next = next_round(&records, 1.0, &[1.0], &cfg);
            if next.is_empty() {
                break;
            }
            rounds += 1;
            assert!(rounds < 20, "racing must end");
            for (id, r) in next {
                assert!(id < 4, "only candidates are raced");
                let n = records.len();
                records.push(record(n, 0.5, truth[id] + noise(id, r), Some((id, r))));
            }
        }
        let losses = seed_losses(&records);
        let seeds: Vec<usize> = losses[..4].iter().map(Vec::len).collect();
        // σ sample: the two best (A, B) got a second seed first; C and D never.
        assert_eq!(&seeds[2..], &[1, 1]);
        assert!(seeds[0] >= 3 && seeds[1] >= 3, "{seeds:?}");
        let s = standing(&records, 1.0, &[1.0], cfg.z);
        assert_eq!(s.levels[0].best, Some(0));
        // Over: separated, or both at max_seeds.
        assert!(
            s.levels[0].contenders.is_empty() || seeds[..2] == [8, 8],
            "{seeds:?} {:?}",
            s.levels[0].contenders
        );
        // Each replicate's seed index follows the candidate's count: 1, 2, 3, …
        for (id, &n) in seeds.iter().enumerate().take(2) {
            let rs: Vec<u32> = records
                .iter()
                .filter(|r| r.parent == Some(id) && r.replicate.is_some())
                .map(|r| r.replicate.unwrap())
                .collect();
            assert_eq!(rs, (1..n as u32).collect::<Vec<_>>());
        }
    }

    /// A replicate that failed is not tried again with the same seed: the next round moves on.
    #[test]
    fn a_failed_replicate_is_not_proposed_again() {
        let mut records: Vec<Record> = (0..2)
            .map(|i| record(i, 0.5, 2.0 + 0.001 * i as f64, None))
            .collect();
        let cfg = RacingConfig {
            sigma_sample: 2,
            ..Default::default()
        };
        assert_eq!(
            next_round(&records, 1.0, &[1.0], &cfg),
            vec![(0, 1), (1, 1)]
        );
        let mut failed = record(2, 0.5, 2.0, Some((0, 1)));
        failed.status = RecordStatus::Failed;
        records.push(failed);
        records.push(record(3, 0.5, 2.002, Some((1, 1))));
        // #0 has one loss and one tried seed: it is not in the σ sample again.
        let next = next_round(&records, 1.0, &[1.0], &cfg);
        assert!(!next.contains(&(0, 1)), "{next:?}");
    }

    /// A band the proxy cannot order is picked by size: the candidate with the most parameters
    /// (ties to the lower mean); a candidate separated from the best is not in the running.
    #[test]
    fn the_pick_of_a_band_is_its_largest_candidate() {
        let mut records: Vec<Record> = vec![
            record(0, 0.5, 2.000, None),
            record(1, 0.5, 2.004, None),
            record(2, 0.5, 2.006, None),
            record(3, 0.5, 2.300, None),
        ];
        for (r, p) in records.iter_mut().zip([100, 300, 300, 900]) {
            r.params = p;
        }
        // σ from a replicate of each close one: pairs differing by 0.01.
        let n = records.len();
        for (k, (id, l)) in [(0, 2.010), (1, 2.014), (2, 2.016)].into_iter().enumerate() {
            let mut r = record(n + k, 0.5, l, Some((id, 1)));
            r.params = records[id].params;
            records.push(r);
        }
        let s = standing(&records, 1.0, &[1.0], 2.0);
        let l = &s.levels[0];
        assert_eq!(l.best, Some(0));
        assert_eq!(l.contenders, vec![1, 2]);
        assert_eq!(l.pick, Some(1), "most params, then the lower mean");
        assert_eq!(pick_within(&records, 1.0, 2.0), Some(1));
        // Without σ (no replicate) the lowest mean stands.
        assert_eq!(pick_within(&records[..4], 1.0, 2.0), Some(0));
    }
}
