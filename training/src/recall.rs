//! Multi-query associative recall (MQAR, as in the Zoology benchmark).
//!
//! A sequence lists `pairs` key→value pairs (keys from tokens `0..keys`, values from
//! `keys..keys + values`, keys distinct within a sequence), then `queries` of those keys, each followed by
//! its value: `k₁ v₁ … kₙ vₙ q₁ a₁ … q_m a_m`. The model is trained (fresh init, same
//! optimizer settings) to predict the answers, and scored by answer accuracy on held-out
//! sequences. Attention solves this exactly; fixed-size recurrent states must compress it.

use rand::seq::SliceRandom;
use rand::Rng;

/// Filler tokens (after the keys and values) used for the gap.
pub const FILLER: usize = 16;

/// A batch of MQAR sequences: inputs, targets, and a 0/1 mask of the answer positions, each
/// `batch × (2·pairs + gap + 2·queries − 1)`; `gap` filler tokens separate the pairs from
/// the queries.
pub fn mqar_batch(
    rng: &mut impl Rng,
    batch: usize,
    pairs: usize,
    queries: usize,
    keys: usize,
    values: usize,
    gap: usize,
) -> (Vec<i32>, Vec<i32>, Vec<f32>) {
    let len = 2 * pairs + gap + 2 * queries;
    let mut x = Vec::with_capacity(batch * (len - 1));
    let mut y = Vec::with_capacity(batch * (len - 1));
    let mut m = Vec::with_capacity(batch * (len - 1));
    let keys_all: Vec<i32> = (0..keys as i32).collect();
    for _ in 0..batch {
        let k: Vec<i32> = keys_all.choose_multiple(rng, pairs).copied().collect();
        let v: Vec<i32> = (0..pairs)
            .map(|_| rng.gen_range(keys as i32..(keys + values) as i32))
            .collect();
        let mut seq = Vec::with_capacity(len);
        for i in 0..pairs {
            seq.push(k[i]);
            seq.push(v[i]);
        }
        // Filler between the pairs and the queries, from tokens that are neither keys nor
        // values: the distance a sliding window or a decaying state must bridge.
        let vocab = keys + values;
        for _ in 0..gap {
            seq.push(rng.gen_range(vocab as i32..(vocab + FILLER) as i32));
        }
        let mut order: Vec<usize> = (0..pairs).collect();
        order.shuffle(rng);
        let mut answer = vec![false; len];
        for &i in order.iter().take(queries) {
            seq.push(k[i]);
            answer[seq.len()] = true;
            seq.push(v[i]);
        }
        x.extend_from_slice(&seq[..len - 1]);
        y.extend_from_slice(&seq[1..]);
        m.extend((1..len).map(|j| if answer[j] { 1.0 } else { 0.0 }));
    }
    (x, y, m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn answers_follow_their_keys() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let (pairs, queries, vocab) = (6, 4, 40);
        let (x, y, m) = mqar_batch(&mut rng, 3, pairs, queries, vocab / 2, vocab / 2, 0);
        let l = 2 * pairs + 2 * queries - 1;
        assert_eq!((x.len(), y.len(), m.len()), (3 * l, 3 * l, 3 * l));
        for b in 0..3 {
            let xs = &x[b * l..(b + 1) * l];
            let ys = &y[b * l..(b + 1) * l];
            let ms = &m[b * l..(b + 1) * l];
            assert_eq!(ms.iter().filter(|v| **v == 1.0).count(), queries);
            for j in 0..l {
                if ms[j] == 1.0 {
                    // The input at j is a queried key; the target is the value paired with it.
                    let key = xs[j];
                    let pos = (0..pairs).find(|&i| xs[2 * i] == key).unwrap();
                    assert_eq!(ys[j], xs[2 * pos + 1]);
                    assert!((key as usize) < vocab / 2 && (ys[j] as usize) >= vocab / 2);
                }
            }
        }
    }

    #[test]
    fn a_gap_of_filler_separates_pairs_from_queries() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let (pairs, queries, keys, values, gap) = (4, 3, 8, 8, 10);
        let (x, _, m) = mqar_batch(&mut rng, 2, pairs, queries, keys, values, gap);
        let l = 2 * pairs + gap + 2 * queries - 1;
        assert_eq!(x.len(), 2 * l);
        for b in 0..2 {
            let xs = &x[b * l..(b + 1) * l];
            for &t in &xs[2 * pairs..2 * pairs + gap] {
                assert!((keys + values..keys + values + FILLER).contains(&(t as usize)));
            }
            // The first answer comes after the gap.
            let first = m[b * l..(b + 1) * l]
                .iter()
                .position(|&v| v == 1.0)
                .unwrap();
            assert_eq!(first, 2 * pairs + gap);
        }
    }
}
