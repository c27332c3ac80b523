//! Bagged regression trees, seeded: what the surrogate fits for each of its targets.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One regression tree, as flat nodes: a split (`feature < threshold` goes left) or a leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// `(feature, threshold, left, right)` for a split; `(usize::MAX, value, 0, 0)` a leaf.
    nodes: Vec<(usize, f64, usize, usize)>,
}

const LEAF: usize = usize::MAX;

impl Tree {
    pub fn predict(&self, x: &[f64]) -> f64 {
        let mut i = 0;
        loop {
            let (f, t, l, r) = self.nodes[i];
            if f == LEAF {
                return t;
            }
            i = if x[f] < t { l } else { r };
        }
    }

    /// Grows a tree on `rows` of `(x, y)` (CART: the split of the largest variance reduction
    /// among `try_features` random features, to `max_depth`, leaves of ≥ `min_leaf` rows).
    fn grow(
        x: &[Vec<f64>],
        y: &[f64],
        rows: Vec<usize>,
        rng: &mut ChaCha8Rng,
        p: &ForestParams,
    ) -> Self {
        let mut t = Tree { nodes: Vec::new() };
        t.node(x, y, rows, 0, rng, p);
        t
    }

    fn node(
        &mut self,
        x: &[Vec<f64>],
        y: &[f64],
        rows: Vec<usize>,
        depth: usize,
        rng: &mut ChaCha8Rng,
        p: &ForestParams,
    ) -> usize {
        let at = self.nodes.len();
        let mean = rows.iter().map(|&i| y[i]).sum::<f64>() / rows.len().max(1) as f64;
        self.nodes.push((LEAF, mean, 0, 0));
        if depth >= p.max_depth || rows.len() < 2 * p.min_leaf {
            return at;
        }
        let n_features = x[0].len();
        let tries = (n_features / 3).max(1);
        let mut best: Option<(f64, usize, f64)> = None;
        for _ in 0..tries {
            let f = rng.gen_range(0..n_features);
            let mut order = rows.clone();
            order.sort_by(|&a, &b| x[a][f].total_cmp(&x[b][f]));
            let total: f64 = order.iter().map(|&i| y[i]).sum();
            let total_sq: f64 = order.iter().map(|&i| y[i] * y[i]).sum();
            let (mut s, mut sq) = (0.0, 0.0);
            for k in 0..order.len() - 1 {
                let v = y[order[k]];
                s += v;
                sq += v * v;
                let (nl, nr) = ((k + 1) as f64, (order.len() - k - 1) as f64);
                if k + 1 < p.min_leaf || order.len() - k - 1 < p.min_leaf {
                    continue;
                }
                let (a, b) = (x[order[k]][f], x[order[k + 1]][f]);
                if a == b {
                    continue;
                }
                // Sum of squared errors of the two sides.
                let sse = (sq - s * s / nl) + ((total_sq - sq) - (total - s).powi(2) / nr);
                if best.is_none_or(|(e, _, _)| sse < e) {
                    best = Some((sse, f, (a + b) / 2.0));
                }
            }
        }
        let Some((_, f, threshold)) = best else {
            return at;
        };
        let (left, right): (Vec<usize>, Vec<usize>) =
            rows.into_iter().partition(|&i| x[i][f] < threshold);
        let l = self.node(x, y, left, depth + 1, rng, p);
        let r = self.node(x, y, right, depth + 1, rng, p);
        self.nodes[at] = (f, threshold, l, r);
        at
    }
}

/// How the trees grow.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    pub trees: usize,
    pub max_depth: usize,
    pub min_leaf: usize,
}

impl Default for ForestParams {
    fn default() -> Self {
        Self {
            trees: 32,
            max_depth: 12,
            min_leaf: 3,
        }
    }
}

/// Bagged regression trees: the mean prediction and the trees' spread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    trees: Vec<Tree>,
}

impl Forest {
    /// Fits on `(x, y)`, seeded (the same data and seed give the same forest).
    pub fn fit(x: &[Vec<f64>], y: &[f64], p: &ForestParams, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = y.len();
        let trees = (0..p.trees)
            .map(|_| {
                let rows: Vec<usize> = (0..n).map(|_| rng.gen_range(0..n)).collect();
                Tree::grow(x, y, rows, &mut rng, p)
            })
            .collect();
        Self { trees }
    }

    /// (mean, standard deviation) over the trees.
    pub fn predict(&self, x: &[f64]) -> (f64, f64) {
        let v: Vec<f64> = self.trees.iter().map(|t| t.predict(x)).collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|p| (p - m).powi(2)).sum::<f64>() / v.len() as f64;
        (m, var.sqrt())
    }
}
