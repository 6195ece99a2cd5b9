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
}

impl<'a> Grid4<'a> {
    /// Node `i·cols + j` is the cell at `(rows[i], cols[j])`; coordinates must ascend.
    pub fn new(rows: &'a [f64], cols: &'a [f64]) -> Self {
        Grid4 { rows, cols }
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
            0 if j + 1 < w => Some((k, k + 1, self.cols[j + 1] - self.cols[j])),
            1 if j > 0 => Some((k, k - 1, self.cols[j] - self.cols[j - 1])),
            2 if i + 1 < self.rows.len() => Some((k, k + w, self.rows[i + 1] - self.rows[i])),
            3 if i > 0 => Some((k, k - w, self.rows[i] - self.rows[i - 1])),
            _ => None,
        }
    }
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
        // Walk the range node by node, tracking (i, j) incrementally instead of dividing.
        let (h, w) = (self.rows.len(), self.cols.len());
        let mut best = (0.0, usize::MAX);
        if range.is_empty() {
            return best;
        }
        let mut k = range.start / 4;
        let (mut i, mut j) = (k / w, k % w);
        let mut e = range.start;
        while e < range.end {
            let base = pi[k];
            let d_end = (4 * k + 4).min(range.end);
            for e2 in e..d_end {
                let (v, c) = match e2 & 3 {
                    0 if j + 1 < w => (k + 1, self.cols[j + 1] - self.cols[j]),
                    1 if j > 0 => (k - 1, self.cols[j] - self.cols[j - 1]),
                    2 if i + 1 < h => (k + w, self.rows[i + 1] - self.rows[i]),
                    3 if i > 0 => (k - w, self.rows[i] - self.rows[i - 1]),
                    _ => continue,
                };
                let rc = c + base - pi[v];
                if rc < best.0 {
                    best = (rc, e2);
                }
            }
            e = d_end;
            k += 1;
            j += 1;
            if j == w {
                j = 0;
                i += 1;
            }
        }
        best
    }
}
