//! Arc sets for [`super::network_simplex`], computed on the fly from coordinates.
//!
//! - [`Bipartite`]: every source point to every target point, the classic transportation
//!   problem; arc `e = i·(targets) + j` costs `ground(x_i − y_j)`. Stores O(N) points, never N²
//!   costs.
//! - [`Grid4`]: the 4-neighbour graph of a rectangular grid (rows and columns at given,
//!   ascending coordinates), arcs both ways costing the coordinate gap. A cheapest path between
//!   two cells costs their L1 distance, so min-cost flow on this graph with supplies `a − b` is
//!   exactly W₁ with cityblock ground cost (Ling & Okada, "An efficient earth mover's distance
//!   algorithm for robust histogram comparison", 2007), with about 4N arcs instead of N².

use super::network_simplex::{ArcSet, Potentials, scan_arcs};

/// Ground cost between two points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ground {
    /// `sqrt(dx² + dy²)`.
    #[default]
    Euclidean,
    /// `dx² + dy²`.
    SqEuclidean,
    /// `|dx| + |dy|`.
    Cityblock,
}

impl Ground {
    /// The cost of moving unit mass by `(dx, dy)`.
    #[inline]
    pub fn cost(self, dx: f64, dy: f64) -> f64 {
        match self {
            Ground::Euclidean => (dx * dx + dy * dy).sqrt(),
            Ground::SqEuclidean => dx * dx + dy * dy,
            Ground::Cityblock => dx.abs() + dy.abs(),
        }
    }

    /// The name the user types.
    pub fn as_str(self) -> &'static str {
        match self {
            Ground::Euclidean => "euclidean",
            Ground::SqEuclidean => "sqeuclidean",
            Ground::Cityblock => "cityblock",
        }
    }
}

/// The largest cost between any source and any target, bounded by their bounding boxes (0 when
/// either side is empty): the path-cost bound of every bipartite arc set between them.
pub fn largest_cost(sources: &[(f64, f64)], targets: &[(f64, f64)], ground: Ground) -> f64 {
    if sources.is_empty() || targets.is_empty() {
        return 0.0;
    }
    let bbox = |pts: &[(f64, f64)]| {
        pts.iter().fold(
            (
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ),
            |(x0, x1, y0, y1), &(x, y)| (x0.min(x), x1.max(x), y0.min(y), y1.max(y)),
        )
    };
    let (s, t) = (bbox(sources), bbox(targets));
    let dx = (s.1 - t.0).abs().max((t.1 - s.0).abs());
    let dy = (s.3 - t.2).abs().max((t.3 - s.2).abs());
    ground.cost(dx, dy)
}

/// The complete bipartite graph from source points to target points.
#[derive(Debug, Clone)]
pub struct Bipartite<'a> {
    sources: &'a [(f64, f64)],
    targets: &'a [(f64, f64)],
    /// Target coordinates split by axis, for vectorised pricing.
    target_x: Vec<f64>,
    target_y: Vec<f64>,
    ground: Ground,
    bound: f64,
}

impl<'a> Bipartite<'a> {
    /// Sources are nodes `0..sources.len()`, targets follow.
    pub fn new(sources: &'a [(f64, f64)], targets: &'a [(f64, f64)], ground: Ground) -> Self {
        let bound = largest_cost(sources, targets, ground);
        Bipartite {
            sources,
            targets,
            target_x: targets.iter().map(|t| t.0).collect(),
            target_y: targets.iter().map(|t| t.1).collect(),
            ground,
            bound,
        }
    }
}

impl ArcSet for Bipartite<'_> {
    fn node_count(&self) -> usize {
        self.sources.len() + self.targets.len()
    }

    fn arc_count(&self) -> usize {
        self.sources.len() * self.targets.len()
    }

    fn endpoints(&self, e: usize) -> Option<(usize, usize)> {
        let nt = self.targets.len();
        Some((e / nt, self.sources.len() + e % nt))
    }

    fn cost(&self, e: usize) -> f64 {
        let nt = self.targets.len();
        let (x, y) = (self.sources[e / nt], self.targets[e % nt]);
        self.ground.cost(x.0 - y.0, x.1 - y.1)
    }

    fn path_cost_bound(&self) -> f64 {
        self.bound
    }

    fn most_negative(&self, range: std::ops::Range<usize>, pi: Potentials<'_>) -> (f64, usize) {
        let Some(pi) = pi.by_node() else {
            return scan_arcs(self, range, pi);
        };
        match self.ground {
            Ground::Euclidean => self.scan(range, pi, |dx, dy| (dx * dx + dy * dy).sqrt()),
            Ground::SqEuclidean => self.scan(range, pi, |dx, dy| dx * dx + dy * dy),
            Ground::Cityblock => self.scan(range, pi, |dx, dy| dx.abs() + dy.abs()),
        }
    }
}

impl Bipartite<'_> {
    /// Pricing over a range of arcs, row by row: each source's arcs to a run of consecutive
    /// targets are one branch-free minimum (which vectorises); the arc achieving it is located
    /// only when it improves on the best so far.
    #[inline(always)]
    fn scan(
        &self,
        range: std::ops::Range<usize>,
        pi: &[f64],
        cost: impl Fn(f64, f64) -> f64,
    ) -> (f64, usize) {
        let nt = self.targets.len();
        let ns = self.sources.len();
        let pi_t = &pi[ns..ns + nt];
        let mut best = (0.0, usize::MAX);
        let mut e = range.start;
        while e < range.end {
            let i = e / nt;
            let j0 = e % nt;
            let j1 = (j0 + (range.end - e)).min(nt);
            let (sx, sy) = self.sources[i];
            let base = pi[i];
            let (tx, ty, pt) = (
                &self.target_x[j0..j1],
                &self.target_y[j0..j1],
                &pi_t[j0..j1],
            );
            let rc = |x: f64, y: f64, p: f64| cost(sx - x, sy - y) + base - p;
            let mut lane_min = [f64::INFINITY; 4];
            let (cx, cy, cp) = (tx.chunks_exact(4), ty.chunks_exact(4), pt.chunks_exact(4));
            let (rx, ry, rp) = (cx.remainder(), cy.remainder(), cp.remainder());
            for ((x, y), p) in cx.zip(cy).zip(cp) {
                for l in 0..4 {
                    let v = rc(x[l], y[l], p[l]);
                    lane_min[l] = if v < lane_min[l] { v } else { lane_min[l] };
                }
            }
            let mut m = lane_min.iter().copied().fold(f64::INFINITY, f64::min);
            for ((&x, &y), &p) in rx.iter().zip(ry).zip(rp) {
                m = m.min(rc(x, y, p));
            }
            if m < best.0 {
                let k = (0..tx.len())
                    .find(|&k| rc(tx[k], ty[k], pt[k]) == m)
                    .expect("the minimum is attained");
                best = (m, i * nt + j0 + k);
            }
            e += j1 - j0;
        }
        best
    }
}

/// The 4-neighbour graph of a grid with given row and column coordinates.
#[derive(Debug, Clone)]
pub struct Grid4<'a> {
    rows: &'a [f64],
    cols: &'a [f64],
    /// `cols[j + 1] − cols[j]`: the cost of the arcs between columns `j` and `j + 1`.
    dx: Vec<f64>,
    /// `rows[i + 1] − rows[i]`: the cost of the arcs between rows `i` and `i + 1`.
    dy: Vec<f64>,
}

impl<'a> Grid4<'a> {
    /// Node `i·cols + j` is the cell at `(rows[i], cols[j])`; coordinates must ascend.
    pub fn new(rows: &'a [f64], cols: &'a [f64]) -> Self {
        let steps = |v: &[f64]| v.windows(2).map(|p| p[1] - p[0]).collect();
        Grid4 {
            rows,
            cols,
            dx: steps(cols),
            dy: steps(rows),
        }
    }

    /// A "comb" spanning tree: every row hangs horizontally from the middle column, which hangs
    /// vertically from the middle cell. A feasible start for [`super::network_simplex::solve`] ([`super::network_simplex::Start::Tree`]).
    pub fn comb_tree(&self) -> super::network_simplex::StartTree {
        let (h, w) = (self.rows.len(), self.cols.len());
        let (ci, cj) = (h / 2, w / 2);
        let n = h * w;
        let mut tree = super::network_simplex::StartTree {
            parent: vec![usize::MAX; n],
            up_arc: vec![usize::MAX; n],
            down_arc: vec![usize::MAX; n],
        };
        // Arc from node k in direction d (0 right, 1 left, 2 down, 3 up) is 4k + d.
        for i in 0..h {
            for j in 0..w {
                let k = i * w + j;
                let (p, toward, back) = if j < cj {
                    (k + 1, 0, 1)
                } else if j > cj {
                    (k - 1, 1, 0)
                } else if i < ci {
                    (k + w, 2, 3)
                } else if i > ci {
                    (k - w, 3, 2)
                } else {
                    continue;
                };
                tree.parent[k] = p;
                tree.up_arc[k] = 4 * k + toward;
                tree.down_arc[k] = 4 * p + back;
            }
        }
        tree
    }

    #[inline]
    fn arc(&self, e: usize) -> Option<(usize, usize, f64)> {
        let w = self.cols.len();
        let (k, d) = (e / 4, e % 4);
        let (i, j) = (k / w, k % w);
        match d {
            0 if j + 1 < w => Some((k, k + 1, self.dx[j])),
            1 if j > 0 => Some((k, k - 1, self.dx[j - 1])),
            2 if i + 1 < self.rows.len() => Some((k, k + w, self.dy[i])),
            3 if i > 0 => Some((k, k - w, self.dy[i - 1])),
            _ => None,
        }
    }

    /// Reduced cost of arc `e` under node potentials `pi`, or `None` for a hole.
    #[inline]
    fn reduced(&self, e: usize, pi: &[f64]) -> Option<f64> {
        self.arc(e).map(|(u, v, c)| c + pi[u] - pi[v])
    }

    /// The most negative reduced cost over the arcs of whole nodes `ka..kb`, row by row: each
    /// direction over a run of a row is one branch-free minimum (which vectorises), and the
    /// arc achieving it is located (first in arc order) only when it improves on `best`.
    fn scan_nodes(&self, ka: usize, kb: usize, pi: &[f64], mut best: (f64, usize)) -> (f64, usize) {
        let (h, w) = (self.rows.len(), self.cols.len());
        let mut k = ka;
        while k < kb {
            let (i, j0) = (k / w, k % w);
            let j1 = (j0 + (kb - k)).min(w);
            let row = &pi[i * w..(i + 1) * w];
            let mut m = f64::INFINITY;
            let right_end = j1.min(w - 1);
            if j0 < right_end {
                m = m.min(lane_min(
                    &self.dx[j0..right_end],
                    &row[j0..right_end],
                    &row[j0 + 1..=right_end],
                ));
            }
            let left_start = j0.max(1);
            if left_start < j1 {
                m = m.min(lane_min(
                    &self.dx[left_start - 1..j1 - 1],
                    &row[left_start..j1],
                    &row[left_start - 1..j1 - 1],
                ));
            }
            if i + 1 < h {
                let below = &pi[(i + 1) * w + j0..(i + 1) * w + j1];
                m = m.min(lane_min_const(self.dy[i], &row[j0..j1], below));
            }
            if i > 0 {
                let above = &pi[(i - 1) * w + j0..(i - 1) * w + j1];
                m = m.min(lane_min_const(self.dy[i - 1], &row[j0..j1], above));
            }
            if m < best.0 {
                let first = (4 * k..4 * (i * w + j1))
                    .find(|&e| self.reduced(e, pi) == Some(m))
                    .expect("the minimum is attained");
                best = (m, first);
            }
            k = i * w + j1;
        }
        best
    }
}

/// `min_j cost[j] + a[j] − b[j]`, in four independent lanes so that it vectorises.
#[inline(always)]
fn lane_min(cost: &[f64], a: &[f64], b: &[f64]) -> f64 {
    lanes(cost.len(), |j| cost[j] + a[j] - b[j])
}

/// `min_j c + a[j] − b[j]`, as [`lane_min`].
#[inline(always)]
fn lane_min_const(c: f64, a: &[f64], b: &[f64]) -> f64 {
    lanes(a.len(), |j| c + a[j] - b[j])
}

/// The minimum of `f(0..len)` in four lanes.
#[inline(always)]
fn lanes(len: usize, f: impl Fn(usize) -> f64) -> f64 {
    let mut lane = [f64::INFINITY; 4];
    let whole = len - len % 4;
    for j in (0..whole).step_by(4) {
        for (l, m) in lane.iter_mut().enumerate() {
            let v = f(j + l);
            *m = if v < *m { v } else { *m };
        }
    }
    let mut m = lane.iter().copied().fold(f64::INFINITY, f64::min);
    for j in whole..len {
        m = m.min(f(j));
    }
    m
}

impl ArcSet for Grid4<'_> {
    fn node_count(&self) -> usize {
        self.rows.len() * self.cols.len()
    }

    fn arc_count(&self) -> usize {
        4 * self.node_count()
    }

    fn endpoints(&self, e: usize) -> Option<(usize, usize)> {
        self.arc(e).map(|(u, v, _)| (u, v))
    }

    fn cost(&self, e: usize) -> f64 {
        self.arc(e).map_or(f64::INFINITY, |(_, _, c)| c)
    }

    fn path_cost_bound(&self) -> f64 {
        let span = |v: &[f64]| v.last().copied().unwrap_or(0.0) - v.first().copied().unwrap_or(0.0);
        span(self.rows) + span(self.cols)
    }

    fn most_negative(&self, range: std::ops::Range<usize>, pi: Potentials<'_>) -> (f64, usize) {
        let Some(pi) = pi.by_node() else {
            return scan_arcs(self, range, pi);
        };
        // Arcs of the nodes the range cuts, one by one; the whole nodes between, row by row.
        let mut best = (0.0, usize::MAX);
        let arc_by_arc = |arcs: std::ops::Range<usize>, best: &mut (f64, usize)| {
            for e in arcs {
                if let Some(rc) = self.reduced(e, pi)
                    && rc < best.0
                {
                    *best = (rc, e);
                }
            }
        };
        let ka = range.start.div_ceil(4);
        let kb = (range.end / 4).max(ka);
        arc_by_arc(range.start..(4 * ka).min(range.end), &mut best);
        best = self.scan_nodes(ka, kb, pi, best);
        arc_by_arc((4 * kb).max(range.start)..range.end, &mut best);
        best
    }
}

#[cfg(test)]
mod tests {
    use super::super::network_simplex::{Potentials, scan_arcs};
    use super::*;
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn grid_pricing_equals_the_scan_arc_by_arc() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for (h, w) in [(1, 1), (1, 7), (6, 1), (2, 2), (5, 9), (13, 4), (17, 17)] {
            // Uneven spacing, and potentials with ties (rounded) so that the first arc of equal
            // reduced costs must be the one found.
            let ascending = |n: usize, rng: &mut ChaCha8Rng| {
                let mut at = 0.0;
                (0..n)
                    .map(|_| {
                        at += 0.5 + rng.random::<f64>();
                        at
                    })
                    .collect::<Vec<f64>>()
            };
            let (rows, cols) = (ascending(h, &mut rng), ascending(w, &mut rng));
            let grid = Grid4::new(&rows, &cols);
            let n = h * w;
            for round in 0..50 {
                let pi: Vec<f64> = (0..=n)
                    .map(|_| {
                        (rng.random::<f64>() * 8.0).round()
                            * if round % 2 == 0 { 1.0 } else { 0.37 }
                    })
                    .collect();
                let pot = || Potentials {
                    by_slot: &pi,
                    slot_of: None,
                    tag: &[],
                };
                let arcs = grid.arc_count();
                let a = rng.random_range(0..=arcs);
                let b = rng.random_range(a..=arcs);
                for range in [a..b, 0..arcs, a..arcs, 0..b] {
                    assert_eq!(
                        grid.most_negative(range.clone(), pot()),
                        scan_arcs(&grid, range.clone(), pot()),
                        "{h}×{w}, arcs {range:?}"
                    );
                }
            }
        }
    }
}
