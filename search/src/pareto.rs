//! Pareto frontier, hypervolume (2-D, and any number of objectives), and NSGA-II's
//! non-dominated sorting with crowding.

/// A point to minimize in every coordinate; `violation` > 0 marks an infeasible point
/// (constrained domination: feasible beats infeasible, less violation beats more).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub objectives: Vec<f64>,
    pub violation: f64,
}

/// Whether `a` dominates `b` under constrained domination.
pub fn dominates(a: &Point, b: &Point) -> bool {
    match (a.violation > 0.0, b.violation > 0.0) {
        (false, true) => true,
        (true, false) => false,
        (true, true) => a.violation < b.violation,
        (false, false) => {
            a.objectives.iter().zip(&b.objectives).all(|(x, y)| x <= y)
                && a.objectives.iter().zip(&b.objectives).any(|(x, y)| x < y)
        }
    }
}

/// Indices of the non-dominated feasible points (ties: identical points are all kept).
pub fn frontier(points: &[Point]) -> Vec<usize> {
    (0..points.len())
        .filter(|&i| {
            points[i].violation <= 0.0 && points[i].objectives.iter().all(|v| v.is_finite())
        })
        .filter(|&i| !(0..points.len()).any(|j| j != i && dominates(&points[j], &points[i])))
        .collect()
}

/// The 2-D Pareto frontier of (loss, latency) points kept up to date one point at a time: a
/// staircase sorted by latency (then loss), each step strictly lower in loss than the one
/// before it (identical points are all kept). Inserting a point costs a binary search plus
/// the points it removes, so a campaign's frontier costs O(log n) per evaluation instead of a
/// pass over every record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Staircase {
    /// (latency, loss, id), sorted by (latency, loss, id).
    steps: Vec<(f64, f64, usize)>,
}

impl Staircase {
    /// The frontier of `points` (id, loss, latency): feasible, finite ones only.
    pub fn of(points: impl IntoIterator<Item = (usize, f64, f64)>) -> Self {
        let mut s = Self::default();
        for (id, loss, latency) in points {
            s.insert(id, loss, latency);
        }
        s
    }

    /// Adds a point unless one on the frontier dominates it; drops those it dominates.
    /// Non-finite points are ignored.
    pub fn insert(&mut self, id: usize, loss: f64, latency: f64) {
        if !(loss.is_finite() && latency.is_finite()) {
            return;
        }
        let key = (latency, loss, id);
        let at = self
            .steps
            .partition_point(|s| (s.0, s.1, s.2).partial_cmp(&key).expect("finite").is_lt());
        // The point before it has the lowest loss among the faster-or-equal ones.
        if let Some(&(lat, l, _)) = at.checked_sub(1).map(|i| &self.steps[i]) {
            if l <= loss && !(lat == latency && l == loss) {
                return;
            }
        }
        // Those it dominates follow it: slower-or-equal and not lower in loss.
        let mut end = at;
        while end < self.steps.len() {
            let (lat, l, _) = self.steps[end];
            debug_assert!(lat >= latency);
            if l >= loss && !(lat == latency && l == loss) {
                end += 1;
            } else {
                break;
            }
        }
        self.steps.splice(at..end, [key]);
    }

    /// The ids on the frontier, ascending.
    pub fn ids(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.steps.iter().map(|s| s.2).collect();
        v.sort_unstable();
        v
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Its hypervolume inside the reference box (see [`hypervolume_2d`]).
    pub fn hypervolume(&self, reference: (f64, f64)) -> f64 {
        let pts: Vec<(f64, f64)> = self.steps.iter().map(|s| (s.1, s.0)).collect();
        hypervolume_2d(&pts, reference)
    }
}

/// Area dominated by `(loss, latency)` points inside the reference box (both minimized).
pub fn hypervolume_2d(points: &[(f64, f64)], reference: (f64, f64)) -> f64 {
    let mut pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(l, t)| *l < reference.0 && *t < reference.1)
        .collect();
    // sweep by latency; keep the running best loss
    pts.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .expect("finite")
            .then(a.0.partial_cmp(&b.0).expect("finite"))
    });
    let mut hv = 0.0;
    let mut best_loss = reference.0;
    for (i, &(loss, lat)) in pts.iter().enumerate() {
        if loss < best_loss {
            best_loss = loss;
        }
        let next_lat = pts.get(i + 1).map(|p| p.1).unwrap_or(reference.1);
        hv += (next_lat - lat) * (reference.0 - best_loss);
    }
    hv
}

/// A frontier over any number of objectives (all minimized), kept up to date one point at a
/// time: a new point either is dominated by a member (nothing changes) or joins and drops
/// the members it dominates (identical points are all kept). O(front) per insert: for the
/// campaigns that rank recall beside loss and latency, whose fronts are small.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Front {
    members: Vec<(usize, Vec<f64>)>,
}

impl Front {
    /// Adds `objectives` of candidate `id`; non-finite points are ignored.
    pub fn insert(&mut self, id: usize, objectives: Vec<f64>) {
        if !objectives.iter().all(|v| v.is_finite()) {
            return;
        }
        let weakly = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| x <= y);
        let dominates = |a: &[f64], b: &[f64]| weakly(a, b) && a != b;
        if self.members.iter().any(|(_, m)| dominates(m, &objectives)) {
            return;
        }
        self.members.retain(|(_, m)| !dominates(&objectives, m));
        self.members.push((id, objectives));
    }

    /// The ids on the frontier, ascending.
    pub fn ids(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.members.iter().map(|m| m.0).collect();
        v.sort_unstable();
        v
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Its hypervolume inside the reference box (see [`hypervolume`]).
    pub fn hypervolume(&self, reference: &[f64]) -> f64 {
        let pts: Vec<Vec<f64>> = self.members.iter().map(|m| m.1.clone()).collect();
        hypervolume(&pts, reference)
    }
}

/// Volume dominated by `points` (every coordinate minimized) inside the box below
/// `reference`, in any number of dimensions: the last coordinate is swept in ascending
/// order and each slab between consecutive values holds the (d−1)-dimensional hypervolume of
/// the points at or below it (exact; O(n² log n) in 3-D, enough for a campaign's front).
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let d = reference.len();
    let mut pts: Vec<&Vec<f64>> = points
        .iter()
        .filter(|p| p.len() == d && p.iter().zip(reference).all(|(v, r)| v < r))
        .collect();
    if pts.is_empty() {
        return 0.0;
    }
    if d == 1 {
        return reference[0] - pts.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
    }
    if d == 2 {
        let two: Vec<(f64, f64)> = pts.iter().map(|p| (p[0], p[1])).collect();
        return hypervolume_2d(&two, (reference[0], reference[1]));
    }
    pts.sort_by(|a, b| a[d - 1].total_cmp(&b[d - 1]));
    let mut volume = 0.0;
    for i in 0..pts.len() {
        let top = pts.get(i + 1).map_or(reference[d - 1], |p| p[d - 1]);
        let depth = top - pts[i][d - 1];
        if depth > 0.0 {
            let below: Vec<Vec<f64>> = pts[..=i].iter().map(|p| p[..d - 1].to_vec()).collect();
            volume += depth * hypervolume(&below, &reference[..d - 1]);
        }
    }
    volume
}

/// NSGA-II fast non-dominated sort: fronts of indices, best first.
pub fn non_dominated_sort(points: &[Point]) -> Vec<Vec<usize>> {
    let n = points.len();
    let mut dominated_by: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut count = vec![0usize; n];
    for i in 0..n {
        for j in 0..n {
            if i != j && dominates(&points[i], &points[j]) {
                dominated_by[i].push(j);
            } else if i != j && dominates(&points[j], &points[i]) {
                count[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| count[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominated_by[i] {
                count[j] -= 1;
                if count[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(current);
        current = next;
    }
    fronts
}

/// Crowding distance of each member of one front (boundary points get infinity).
pub fn crowding(points: &[Point], front: &[usize]) -> Vec<f64> {
    let mut dist = vec![0.0; front.len()];
    if front.is_empty() {
        return dist;
    }
    let m = points[front[0]].objectives.len();
    for k in 0..m {
        let mut order: Vec<usize> = (0..front.len()).collect();
        order.sort_by(|&a, &b| {
            points[front[a]].objectives[k]
                .partial_cmp(&points[front[b]].objectives[k])
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.cmp(&b))
        });
        let lo = points[front[order[0]]].objectives[k];
        let hi = points[front[*order.last().expect("non-empty")]].objectives[k];
        dist[order[0]] = f64::INFINITY;
        dist[*order.last().expect("non-empty")] = f64::INFINITY;
        if hi > lo && hi.is_finite() && lo.is_finite() {
            for w in 1..order.len().saturating_sub(1) {
                let prev = points[front[order[w - 1]]].objectives[k];
                let next = points[front[order[w + 1]]].objectives[k];
                dist[order[w]] += (next - prev) / (hi - lo);
            }
        }
    }
    dist
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The union of the boxes on the grid of the points' own coordinates: every cell is
    /// counted when some point weakly dominates its lower corner (an independent reference).
    fn hypervolume_by_cells(points: &[Vec<f64>], reference: &[f64]) -> f64 {
        let d = reference.len();
        let axes: Vec<Vec<f64>> = (0..d)
            .map(|k| {
                let mut a: Vec<f64> = points.iter().map(|p| p[k].min(reference[k])).collect();
                a.push(reference[k]);
                a.sort_by(f64::total_cmp);
                a.dedup();
                a
            })
            .collect();
        let mut total = 0.0;
        let mut idx = vec![0usize; d];
        loop {
            if idx.iter().enumerate().all(|(k, &i)| i + 1 < axes[k].len()) {
                let corner: Vec<f64> = (0..d).map(|k| axes[k][idx[k]]).collect();
                if points
                    .iter()
                    .any(|p| p.iter().zip(&corner).all(|(v, c)| v <= c))
                {
                    total += (0..d)
                        .map(|k| axes[k][idx[k] + 1] - axes[k][idx[k]])
                        .product::<f64>();
                }
            }
            let mut k = 0;
            loop {
                if k == d {
                    return total;
                }
                idx[k] += 1;
                if idx[k] < axes[k].len() {
                    break;
                }
                idx[k] = 0;
                k += 1;
            }
        }
    }

    #[test]
    fn three_objective_hypervolume_matches_a_cell_count_and_the_front_is_incremental() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        // By hand: two boxes in the unit cube, [0,1]×[0,.5]×[0,.5] and [0,.5]×[0,1]×[0,.5]
        // overlap in [0,.5]³: 0.25 + 0.25 − 0.125.
        let two = vec![vec![0.0, 0.5, 0.5], vec![0.5, 0.0, 0.5]];
        assert!((hypervolume(&two, &[1.0, 1.0, 1.0]) - 0.375).abs() < 1e-12);
        for trial in 0..200 {
            let n = 1 + trial % 12;
            let pts: Vec<Vec<f64>> = (0..n)
                .map(|_| (0..3).map(|_| (rng.gen_range(0..8) as f64) / 4.0).collect())
                .collect();
            let reference = [1.9, 2.0, 1.5];
            let hv = hypervolume(&pts, &reference);
            let cells = hypervolume_by_cells(&pts, &reference);
            assert!((hv - cells).abs() < 1e-9, "{pts:?}: {hv} vs {cells}");
            let mut front = Front::default();
            for (i, p) in pts.iter().enumerate() {
                front.insert(i, p.clone());
            }
            let all: Vec<Point> = pts
                .iter()
                .map(|p| Point {
                    objectives: p.clone(),
                    violation: 0.0,
                })
                .collect();
            assert_eq!(front.ids(), frontier(&all), "{pts:?}");
            assert!((front.hypervolume(&reference) - hv).abs() < 1e-9);
        }
    }

    fn p(l: f64, t: f64) -> Point {
        Point {
            objectives: vec![l, t],
            violation: 0.0,
        }
    }

    #[test]
    fn frontier_and_hypervolume_by_hand() {
        // (loss, latency)
        let pts = [
            p(3.0, 1.0),
            p(2.0, 2.0),
            p(2.5, 2.5),
            p(1.0, 4.0),
            p(1.0, 5.0),
        ];
        assert_eq!(frontier(&pts), vec![0, 1, 3]);
        // Reference (4, 6): rectangles [1,2)×(4−3) + [2,4)×(4−2) + [4,6)×(4−1) = 1 + 4 + 6.
        let front: Vec<(f64, f64)> = frontier(&pts)
            .iter()
            .map(|&i| (pts[i].objectives[0], pts[i].objectives[1]))
            .collect();
        assert!((hypervolume_2d(&front, (4.0, 6.0)) - 11.0).abs() < 1e-12);
        // Dominated points add nothing; points outside the box add nothing.
        let all: Vec<(f64, f64)> = pts
            .iter()
            .map(|q| (q.objectives[0], q.objectives[1]))
            .chain([(5.0, 0.5)])
            .collect();
        assert!((hypervolume_2d(&all, (4.0, 6.0)) - 11.0).abs() < 1e-12);
        assert_eq!(hypervolume_2d(&[], (4.0, 6.0)), 0.0);
    }

    /// The staircase, fed one point at a time in any order, holds exactly the points the
    /// all-pairs frontier keeps (ties and duplicates included), with the same hypervolume.
    #[test]
    fn the_incremental_staircase_equals_the_all_pairs_frontier() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for trial in 0..300 {
            let n = rng.gen_range(0..40);
            // Coarse values so that ties and identical points happen.
            let pts: Vec<Point> = (0..n)
                .map(|_| {
                    let mut q = p(rng.gen_range(0..8) as f64, rng.gen_range(0..8) as f64);
                    if rng.gen_bool(0.1) {
                        q.objectives[0] = f64::INFINITY;
                    }
                    q
                })
                .collect();
            let want = frontier(&pts);
            let s = Staircase::of(
                pts.iter()
                    .enumerate()
                    .map(|(i, q)| (i, q.objectives[0], q.objectives[1])),
            );
            assert_eq!(s.ids(), want, "trial {trial}");
            let front: Vec<(f64, f64)> = want
                .iter()
                .map(|&i| (pts[i].objectives[0], pts[i].objectives[1]))
                .collect();
            assert_eq!(
                s.hypervolume((9.0, 9.0)),
                hypervolume_2d(&front, (9.0, 9.0))
            );
        }
    }

    #[test]
    fn infeasible_points_are_never_on_the_frontier() {
        let mut pts = vec![p(1.0, 1.0), p(2.0, 2.0)];
        pts[0].violation = 0.5;
        assert_eq!(frontier(&pts), vec![1]);
        assert!(dominates(&pts[1], &pts[0]));
    }

    #[test]
    fn sorting_and_crowding_by_hand() {
        let pts = [
            p(1.0, 4.0),
            p(2.0, 2.0),
            p(4.0, 1.0),
            p(3.0, 3.0),
            p(5.0, 5.0),
        ];
        assert_eq!(
            non_dominated_sort(&pts),
            vec![vec![0, 1, 2], vec![3], vec![4]]
        );
        let c = crowding(&pts, &[0, 1, 2]);
        assert!(c[0].is_infinite() && c[2].is_infinite());
        // middle: (4−1)/(4−1) + (4−1)/(4−1) = 2
        assert!((c[1] - 2.0).abs() < 1e-12);
    }
}
