//! Pricing for column generation: given duals `u` (sources) and `v` (targets), find for every
//! source and every target its pair with the most negative reduced cost
//! `r_ij = c(x_i − y_j) − u_i − v_j`, without visiting all `n·m` pairs when the geometry allows.
//!
//! Three exact strategies, picked by [`Pricer::new`]:
//! - **All pairs**: every pair, in parallel rows that vectorise. O(n·m); the reference.
//! - **Separable** (squared euclidean cost, points on a rectilinear lattice): `min_j |x − y_j|²
//!   − v_j` is a 2-D distance transform of `−v`, computed as two passes of 1-D lower envelopes of
//!   parabolas (Felzenszwalb & Huttenlocher, "Distance transforms of sampled functions", 2012),
//!   with the argmin carried along. O(n + m) per side; the per-target minima come from the same
//!   transform with the roles swapped.
//! - **Bounded** (any cost that grows with `|dx|` and `|dy|`): both clouds in k-d trees; a block of
//!   sources is compared with a box of targets only if `c(gap between the boxes) − max u − max v`
//!   can be negative. Near the optimum most of the `n·m` pairs are pruned in bulk.
//!
//! Every strategy returns the exact minimum per source and per target; the reduced cost of each
//! pair found is recomputed from coordinates, so the certificate does not depend on how it was
//! found. Bounded pricing also returns a few runners-up per source (see [`PER_SOURCE`]).

use rayon::prelude::*;

use super::arcs::Ground;

/// For every source and every target, its most negative pair (or none).
#[derive(Debug, Clone, PartialEq)]
pub struct Priced {
    /// Per source: `(r, target)` of its most negative pair, `(0.0, u32::MAX)` if none is negative.
    pub by_source: Vec<(f64, u32)>,
    /// Per target: `(r, source)` likewise.
    pub by_target: Vec<(f64, u32)>,
    /// More `(source, target)` pairs with reduced cost below `−eps`, found on the way: bounded
    /// pricing's runners-up per source (empty for the other strategies).
    pub more: Vec<(u32, u32)>,
}

impl Priced {
    /// The most negative reduced cost seen (0 if none is negative).
    pub fn min_reduced_cost(&self) -> f64 {
        self.by_source
            .iter()
            .chain(&self.by_target)
            .fold(0.0f64, |acc, &(r, _)| acc.min(r))
    }

    /// The distinct pairs `(source, target)` with reduced cost below `−eps` among the minima
    /// and [`Priced::more`], sorted.
    pub fn violated(&self, eps: f64) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = self
            .by_source
            .iter()
            .enumerate()
            .filter(|&(_, &(r, _))| r < -eps)
            .map(|(i, &(_, j))| (i, j as usize))
            .chain(
                self.by_target
                    .iter()
                    .enumerate()
                    .filter(|&(_, &(r, _))| r < -eps)
                    .map(|(j, &(_, i))| (i as usize, j)),
            )
            .chain(self.more.iter().map(|&(i, j)| (i as usize, j as usize)))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Prices every pair between two point clouds under one ground cost, with the strategy chosen
/// at construction; see the module docs. Holds the clouds, so each round of pricing passes only
/// the duals.
#[derive(Debug, Clone)]
pub struct Pricer<'a> {
    sources: &'a [(f64, f64)],
    targets: &'a [(f64, f64)],
    ground: Ground,
    strategy: Strategy,
}

/// A pricing strategy with what it precomputes.
#[derive(Debug, Clone)]
enum Strategy {
    /// Every pair.
    AllPairs,
    /// Distance transforms on the two lattices (squared euclidean only).
    Separable(Box<(Lattice, Lattice)>),
    /// Box bounds over two k-d trees.
    Bounded(Box<(KdTree, KdTree)>),
}

/// Below this many pairs, pricing every pair is as fast as anything cleverer.
const ALL_PAIRS_BELOW: usize = 1 << 21;

impl<'a> Pricer<'a> {
    /// The fastest exact strategy for pairs from `sources` to `targets` under `ground`.
    pub fn new(sources: &'a [(f64, f64)], targets: &'a [(f64, f64)], ground: Ground) -> Self {
        if ground == Ground::SqEuclidean
            && let (Some(a), Some(b)) = (Lattice::of(sources), Lattice::of(targets))
        {
            return Pricer::with(
                sources,
                targets,
                ground,
                Strategy::Separable(Box::new((a, b))),
            );
        }
        if sources.len().saturating_mul(targets.len()) < ALL_PAIRS_BELOW {
            return Pricer::all_pairs(sources, targets, ground);
        }
        Pricer::bounded(sources, targets, ground)
    }

    /// The all-pairs strategy, whatever the sizes (the reference).
    pub fn all_pairs(sources: &'a [(f64, f64)], targets: &'a [(f64, f64)], ground: Ground) -> Self {
        Pricer::with(sources, targets, ground, Strategy::AllPairs)
    }

    /// The box-bound strategy, whatever the sizes.
    pub fn bounded(sources: &'a [(f64, f64)], targets: &'a [(f64, f64)], ground: Ground) -> Self {
        let trees = (
            KdTree::new(sources, SOURCE_LEAF),
            KdTree::new(targets, TARGET_LEAF),
        );
        Pricer::with(sources, targets, ground, Strategy::Bounded(Box::new(trees)))
    }

    fn with(
        sources: &'a [(f64, f64)],
        targets: &'a [(f64, f64)],
        ground: Ground,
        strategy: Strategy,
    ) -> Self {
        Pricer {
            sources,
            targets,
            ground,
            strategy,
        }
    }

    /// A short name for reports: `"all-pairs"`, `"separable"` or `"bounded"`.
    pub fn name(&self) -> &'static str {
        match self.strategy {
            Strategy::AllPairs => "all-pairs",
            Strategy::Separable(_) => "separable",
            Strategy::Bounded(_) => "bounded",
        }
    }

    /// Whether pricing is a distance transform (O(n + m) a round rather than close to O(n·m)).
    pub fn is_separable(&self) -> bool {
        matches!(self.strategy, Strategy::Separable(_))
    }

    /// Prices every pair with duals `u` (one per source) and `v` (one per target). `eps ≥ 0` is
    /// the tolerance below which a reduced cost counts as negative: strategies may skip pairs
    /// that provably have `r ≥ −eps`.
    pub fn price(&self, u: &[f64], v: &[f64], eps: f64) -> Priced {
        let (sources, targets, ground) = (self.sources, self.targets, self.ground);
        match &self.strategy {
            Strategy::AllPairs => all_pairs(sources, targets, ground, u, v),
            Strategy::Separable(lat) => {
                let by_source = lat.0.transform_of(&lat.1, v);
                let by_target = lat.1.transform_of(&lat.0, u);
                let fix = |found: Vec<(f64, u32)>,
                           here: &[(f64, f64)],
                           there: &[(f64, f64)],
                           p: &[f64],
                           q: &[f64]| {
                    found
                        .into_iter()
                        .enumerate()
                        .map(|(i, (_, j))| {
                            let (x, y) = (here[i], there[j as usize]);
                            let r = ground.cost(x.0 - y.0, x.1 - y.1) - p[i] - q[j as usize];
                            if r < 0.0 { (r, j) } else { (0.0, u32::MAX) }
                        })
                        .collect()
                };
                Priced {
                    by_source: fix(by_source, sources, targets, u, v),
                    by_target: fix(by_target, targets, sources, v, u),
                    more: Vec::new(),
                }
            }
            Strategy::Bounded(trees) => bounded(&trees.0, &trees.1, ground, u, v, eps),
        }
    }
}

/// `row[j] = cost(x − y_j) − u − v_j` for one source `x` against every target; one loop per
/// ground cost, so that each vectorises.
#[inline]
fn fill_row(
    row: &mut [f64],
    x: (f64, f64),
    u: f64,
    (tx, ty): (&[f64], &[f64]),
    v: &[f64],
    cost: impl Fn(f64, f64) -> f64,
) {
    for (((r, &a), &b), &vj) in row.iter_mut().zip(tx).zip(ty).zip(v) {
        *r = cost(x.0 - a, x.1 - b) - u - vj;
    }
}

#[inline]
fn fill_row_ground(
    ground: Ground,
    row: &mut [f64],
    x: (f64, f64),
    u: f64,
    t: (&[f64], &[f64]),
    v: &[f64],
) {
    match ground {
        Ground::Euclidean => fill_row(row, x, u, t, v, |dx, dy| (dx * dx + dy * dy).sqrt()),
        Ground::SqEuclidean => fill_row(row, x, u, t, v, |dx, dy| dx * dx + dy * dy),
        Ground::Cityblock => fill_row(row, x, u, t, v, |dx, dy| dx.abs() + dy.abs()),
    }
}

#[inline]
fn lesser(x: f64, y: f64) -> f64 {
    if x < y { x } else { y }
}

/// Folds one row of reduced costs into the per-target minima (branch-free, so it vectorises)
/// and returns the row's own minimum and where it is.
#[inline]
fn fold_row(
    row: &[f64],
    i: u32,
    target_value: &mut [f64],
    target_source: &mut [u32],
) -> (f64, u32) {
    let low = row.iter().fold(0.0f64, |acc, &r| lesser(acc, r));
    let at = if low < 0.0 {
        row.iter()
            .position(|&r| r == low)
            .map_or(u32::MAX, |j| j as u32)
    } else {
        u32::MAX
    };
    for ((tv, ts), &r) in target_value
        .iter_mut()
        .zip(target_source.iter_mut())
        .zip(row)
    {
        let better = r < *tv;
        *tv = if better { r } else { *tv };
        *ts = if better { i } else { *ts };
    }
    (low, at)
}

/// Per target, the most negative reduced cost seen so far and its source, side by side so that
/// the update is a vector blend.
struct TargetMinima {
    value: Vec<f64>,
    source: Vec<u32>,
}

impl TargetMinima {
    fn new(m: usize) -> TargetMinima {
        TargetMinima {
            value: vec![0.0; m],
            source: vec![u32::MAX; m],
        }
    }

    fn merge(mut self, other: TargetMinima) -> TargetMinima {
        for k in 0..self.value.len() {
            if other.value[k] < self.value[k] {
                self.value[k] = other.value[k];
                self.source[k] = other.source[k];
            }
        }
        self
    }
}

/// Prices all `n·m` pairs.
fn all_pairs(
    sources: &[(f64, f64)],
    targets: &[(f64, f64)],
    ground: Ground,
    u: &[f64],
    v: &[f64],
) -> Priced {
    let tx: Vec<f64> = targets.iter().map(|t| t.0).collect();
    let ty: Vec<f64> = targets.iter().map(|t| t.1).collect();
    let m = targets.len();
    // Per source: its most negative pair. Per target: the most negative pair over each chunk of
    // sources, merged after.
    let chunk = 256;
    let per_chunk: Vec<(Vec<(f64, u32)>, TargetMinima)> = sources
        .par_chunks(chunk)
        .enumerate()
        .map(|(c, xs)| {
            let mut by_source = Vec::with_capacity(xs.len());
            let mut best = TargetMinima::new(m);
            let mut row = vec![0.0f64; m];
            for (k, &x) in xs.iter().enumerate() {
                let i = c * chunk + k;
                fill_row_ground(ground, &mut row, x, u[i], (&tx, &ty), v);
                by_source.push(fold_row(&row, i as u32, &mut best.value, &mut best.source));
            }
            (by_source, best)
        })
        .collect();
    let mut by_source = Vec::with_capacity(sources.len());
    let mut targets_best = TargetMinima::new(m);
    for (rows, best) in per_chunk {
        by_source.extend(rows);
        targets_best = targets_best.merge(best);
    }
    Priced {
        by_source,
        by_target: targets_best
            .value
            .into_iter()
            .zip(targets_best.source)
            .collect(),
        more: Vec::new(),
    }
}

/// Points that sit on a rectilinear lattice: distinct first and second coordinates, and where
/// each point is.
#[derive(Debug, Clone)]
pub struct Lattice {
    /// Distinct first coordinates, ascending.
    xs: Vec<f64>,
    /// Distinct second coordinates, ascending.
    ys: Vec<f64>,
    /// The point at lattice cell `(a, b)` is `cell[a·ys.len() + b]` (`u32::MAX`: none).
    cell: Vec<u32>,
    /// Each point's lattice cell.
    at: Vec<u32>,
}

impl Lattice {
    /// The lattice of `points`, if they fill at least a quarter of it (a sparse lattice would
    /// cost more memory than it saves), with no point repeated.
    pub fn of(points: &[(f64, f64)]) -> Option<Lattice> {
        let distinct = |key: fn(&(f64, f64)) -> f64| {
            let mut v: Vec<f64> = points.iter().map(key).collect();
            v.sort_unstable_by(f64::total_cmp);
            v.dedup();
            v
        };
        let (xs, ys) = (distinct(|p| p.0), distinct(|p| p.1));
        let cells = xs.len().checked_mul(ys.len())?;
        if cells > 4 * points.len() + 64 || points.len() >= u32::MAX as usize {
            return None;
        }
        let mut cell = vec![u32::MAX; cells];
        let mut at = Vec::with_capacity(points.len());
        for (i, p) in points.iter().enumerate() {
            let a = xs.partition_point(|&x| x < p.0);
            let b = ys.partition_point(|&y| y < p.1);
            let k = a * ys.len() + b;
            if cell[k] != u32::MAX {
                return None;
            }
            cell[k] = i as u32;
            at.push(k as u32);
        }
        Some(Lattice { xs, ys, cell, at })
    }

    /// For every point of `self`: `min_j |x − y_j|² + h_j` over the points `y_j` of `other`
    /// with `h = −w`, and the `j` reaching it, by two passes of 1-D lower envelopes.
    fn transform_of(&self, other: &Lattice, w: &[f64]) -> Vec<(f64, u32)> {
        let (qx, qy) = (self.xs.len(), self.ys.len());
        let (ox, oy) = (other.xs.len(), other.ys.len());
        // Pass 1, along the second axis: for every row a of `other` and every column b of
        // `self`, the best point of that row.
        let mut rows = vec![(f64::INFINITY, u32::MAX); ox * qy];
        rows.par_chunks_mut(qy)
            .enumerate()
            .for_each_init(Envelope::default, |env, (a, out)| {
                env.clear();
                for (b, &j) in other.cell[a * oy..(a + 1) * oy].iter().enumerate() {
                    if j != u32::MAX {
                        env.push(other.ys[b], -w[j as usize], j);
                    }
                }
                env.evaluate(&self.ys, out);
            });
        // Pass 2, along the first axis: for every column b of `self`, over the rows of `other`.
        let mut cols = vec![(f64::INFINITY, u32::MAX); qy * qx];
        cols.par_chunks_mut(qx)
            .enumerate()
            .for_each_init(Envelope::default, |env, (b, out)| {
                env.clear();
                for (a, &x) in other.xs.iter().enumerate() {
                    let (h, j) = rows[a * qy + b];
                    if j != u32::MAX {
                        env.push(x, h, j);
                    }
                }
                env.evaluate(&self.xs, out);
            });
        self.at
            .iter()
            .map(|&k| {
                let (a, b) = (k as usize / qy, k as usize % qy);
                cols[b * qx + a]
            })
            .collect()
    }
}

/// The lower envelope of parabolas `t ↦ (t − c)² + h` with ascending centres `c`.
#[derive(Debug, Default)]
struct Envelope {
    centre: Vec<f64>,
    height: Vec<f64>,
    id: Vec<u32>,
    /// Parabola `k` of the envelope is lowest on `[from[k], from[k + 1])`.
    from: Vec<f64>,
}

impl Envelope {
    fn clear(&mut self) {
        self.centre.clear();
        self.height.clear();
        self.id.clear();
        self.from.clear();
    }

    /// Adds a parabola whose centre is above every centre so far.
    fn push(&mut self, c: f64, h: f64, id: u32) {
        loop {
            let Some(&last_c) = self.centre.last() else {
                self.from.push(f64::NEG_INFINITY);
                break;
            };
            let last_h = *self.height.last().expect("same length");
            // Where the new parabola becomes lower than the last one.
            let s = ((h + c * c) - (last_h + last_c * last_c)) / (2.0 * (c - last_c));
            if s <= *self.from.last().expect("same length") {
                self.centre.pop();
                self.height.pop();
                self.id.pop();
                self.from.pop();
            } else {
                self.from.push(s);
                break;
            }
        }
        self.centre.push(c);
        self.height.push(h);
        self.id.push(id);
    }

    /// The envelope's value and parabola at each of the ascending points `t`.
    fn evaluate(&self, t: &[f64], out: &mut [(f64, u32)]) {
        if self.centre.is_empty() {
            out.fill((f64::INFINITY, u32::MAX));
            return;
        }
        let mut k = 0;
        for (o, &x) in out.iter_mut().zip(t) {
            while k + 1 < self.from.len() && self.from[k + 1] <= x {
                k += 1;
            }
            let d = x - self.centre[k];
            *o = (d * d + self.height[k], self.id[k]);
        }
    }
}

/// Leaf sizes of the k-d trees: small source blocks keep the bound tight, target leaves long
/// enough for the inner loop to vectorise.
const SOURCE_LEAF: usize = 8;
const TARGET_LEAF: usize = 32;

/// Violated pairs that bounded pricing returns per source: its most negative pair and up to
/// `PER_SOURCE − 1` runners-up, each the most negative pair of another target leaf. Column
/// generation with euclidean cost then needs fewer rounds, each of which costs a pricing pass
/// and a warm re-solve, and fewer pivots in all. More pairs per source keep saving rounds, but
/// past four the larger arc sets cost more than the rounds saved.
pub const PER_SOURCE: usize = 4;

/// Inserts `x` into `list`, kept sorted by reduced cost, if it is below the last entry (which
/// falls off).
fn insert_sorted(list: &mut [(f64, u32)], x: (f64, u32)) {
    let Some(last) = list.len().checked_sub(1) else {
        return;
    };
    if x.0 >= list[last].0 {
        return;
    }
    let mut k = last;
    while k > 0 && list[k - 1].0 > x.0 {
        list[k] = list[k - 1];
        k -= 1;
    }
    list[k] = x;
}

/// A k-d tree over points: the points reordered so that every node owns a contiguous range.
#[derive(Debug, Clone)]
pub struct KdTree {
    /// Original index of the point at each position.
    order: Vec<u32>,
    x: Vec<f64>,
    y: Vec<f64>,
    nodes: Vec<KdNode>,
}

#[derive(Debug, Clone, Copy)]
struct KdNode {
    lo: (f64, f64),
    hi: (f64, f64),
    start: u32,
    end: u32,
    /// Index of the second child (the first follows the node); 0 for a leaf.
    right: u32,
}

impl KdTree {
    /// Splits at the median of the wider side until at most `leaf` points remain per node.
    pub fn new(points: &[(f64, f64)], leaf: usize) -> KdTree {
        let mut order: Vec<u32> = (0..points.len() as u32).collect();
        let mut nodes = Vec::with_capacity(2 * points.len() / leaf.max(1) + 2);
        build(points, &mut order, 0, leaf.max(1), &mut nodes);
        KdTree {
            x: order.iter().map(|&i| points[i as usize].0).collect(),
            y: order.iter().map(|&i| points[i as usize].1).collect(),
            order,
            nodes,
        }
    }

    /// The largest of `w` (indexed by original point) within each node.
    fn node_max(&self, w: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let local: Vec<f64> = self.order.iter().map(|&i| w[i as usize]).collect();
        let mut max = vec![f64::NEG_INFINITY; self.nodes.len()];
        for (k, n) in self.nodes.iter().enumerate().rev() {
            max[k] = if n.right == 0 {
                local[n.start as usize..n.end as usize]
                    .iter()
                    .fold(f64::NEG_INFINITY, |a, &b| a.max(b))
            } else {
                max[k + 1].max(max[n.right as usize])
            };
        }
        (local, max)
    }
}

fn build(
    points: &[(f64, f64)],
    order: &mut [u32],
    offset: usize,
    leaf: usize,
    nodes: &mut Vec<KdNode>,
) {
    let (mut lo, mut hi) = (
        (f64::INFINITY, f64::INFINITY),
        (f64::NEG_INFINITY, f64::NEG_INFINITY),
    );
    for &i in order.iter() {
        let p = points[i as usize];
        lo = (lo.0.min(p.0), lo.1.min(p.1));
        hi = (hi.0.max(p.0), hi.1.max(p.1));
    }
    let me = nodes.len();
    nodes.push(KdNode {
        lo,
        hi,
        start: offset as u32,
        end: (offset + order.len()) as u32,
        right: 0,
    });
    if order.len() <= leaf {
        return;
    }
    let mid = order.len() / 2;
    if hi.0 - lo.0 >= hi.1 - lo.1 {
        order.select_nth_unstable_by(mid, |&a, &b| {
            points[a as usize].0.total_cmp(&points[b as usize].0)
        });
    } else {
        order.select_nth_unstable_by(mid, |&a, &b| {
            points[a as usize].1.total_cmp(&points[b as usize].1)
        });
    }
    let (left, right) = order.split_at_mut(mid);
    build(points, left, offset, leaf, nodes);
    nodes[me].right = nodes.len() as u32;
    build(points, right, offset + mid, leaf, nodes);
}

/// The gap between two boxes along each axis (0 where they overlap).
#[inline]
fn gap(a: &KdNode, b: &KdNode) -> (f64, f64) {
    (
        (a.lo.0 - b.hi.0).max(b.lo.0 - a.hi.0).max(0.0),
        (a.lo.1 - b.hi.1).max(b.lo.1 - a.hi.1).max(0.0),
    )
}

/// Prices by box bounds: each source leaf walks the target tree, skipping every box where
/// `c(gap) − max u − max v ≥ −eps`, and prices the pairs of the leaves it reaches.
fn bounded(src: &KdTree, tgt: &KdTree, ground: Ground, u: &[f64], v: &[f64], eps: f64) -> Priced {
    let (us, umax) = src.node_max(u);
    let (vs, vmax) = tgt.node_max(v);
    let leaves: Vec<usize> = (0..src.nodes.len())
        .filter(|&k| src.nodes[k].right == 0)
        .collect();
    let m = tgt.order.len();
    struct Acc {
        by_source: Vec<(u32, f64, u32)>,
        more: Vec<(u32, u32)>,
        targets: TargetMinima,
        row: Vec<f64>,
        stack: Vec<usize>,
    }
    let acc = leaves
        .par_iter()
        .fold(
            || Acc {
                by_source: Vec::new(),
                more: Vec::new(),
                targets: TargetMinima::new(m),
                row: Vec::with_capacity(TARGET_LEAF),
                stack: Vec::new(),
            },
            |mut acc, &s| {
                let sn = &src.nodes[s];
                let (a, b) = (sn.start as usize, sn.end as usize);
                let mut best = [(0.0f64, u32::MAX); SOURCE_LEAF];
                let mut runners_up = [[(0.0f64, u32::MAX); PER_SOURCE - 1]; SOURCE_LEAF];
                acc.stack.clear();
                acc.stack.push(0);
                while let Some(t) = acc.stack.pop() {
                    let tn = &tgt.nodes[t];
                    let (gx, gy) = gap(sn, tn);
                    if ground.cost(gx, gy) - umax[s] - vmax[t] >= -eps {
                        continue;
                    }
                    if tn.right != 0 {
                        acc.stack.push(tn.right as usize);
                        acc.stack.push(t + 1);
                        continue;
                    }
                    let (c, d) = (tn.start as usize, tn.end as usize);
                    acc.row.resize(d - c, 0.0);
                    for (k, p) in (a..b).enumerate() {
                        let x = (src.x[p], src.y[p]);
                        // The same bound for this one source.
                        let gx = (x.0 - tn.hi.0).max(tn.lo.0 - x.0).max(0.0);
                        let gy = (x.1 - tn.hi.1).max(tn.lo.1 - x.1).max(0.0);
                        if ground.cost(gx, gy) - us[p] - vmax[t] >= -eps {
                            continue;
                        }
                        fill_row_ground(
                            ground,
                            &mut acc.row,
                            x,
                            us[p],
                            (&tgt.x[c..d], &tgt.y[c..d]),
                            &vs[c..d],
                        );
                        let (low, at) = fold_row(
                            &acc.row,
                            src.order[p],
                            &mut acc.targets.value[c..d],
                            &mut acc.targets.source[c..d],
                        );
                        if low >= 0.0 {
                            continue;
                        }
                        let found = (low, tgt.order[c + at as usize]);
                        if low < best[k].0 {
                            insert_sorted(&mut runners_up[k], best[k]);
                            best[k] = found;
                        } else {
                            insert_sorted(&mut runners_up[k], found);
                        }
                    }
                }
                for (k, p) in (a..b).enumerate() {
                    acc.by_source.push((src.order[p], best[k].0, best[k].1));
                    let violated = runners_up[k].iter().filter(|&&(r, _)| r < -eps);
                    acc.more.extend(violated.map(|&(_, j)| (src.order[p], j)));
                }
                acc
            },
        )
        .reduce_with(|mut x, y| {
            x.by_source.extend(y.by_source);
            x.more.extend(y.more);
            x.targets = x.targets.merge(y.targets);
            x
        });
    let mut by_source = vec![(0.0, u32::MAX); src.order.len()];
    let mut by_target = vec![(0.0, u32::MAX); m];
    let mut more = Vec::new();
    if let Some(acc) = acc {
        more = acc.more;
        for (i, r, j) in acc.by_source {
            by_source[i as usize] = (r, j);
        }
        for k in 0..m {
            by_target[tgt.order[k] as usize] = (acc.targets.value[k], acc.targets.source[k]);
        }
    }
    Priced {
        by_source,
        by_target,
        more,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};

    /// A lattice with holes, in shuffled order.
    fn holey_lattice(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Vec<(f64, f64)> {
        let mut pts: Vec<(f64, f64)> = (0..rows * cols)
            .filter(|_| rng.random::<f64>() < 0.7)
            .map(|k| ((k / cols) as f64 * 1.5 + 0.25, (k % cols) as f64))
            .collect();
        for k in (1..pts.len()).rev() {
            let j = (rng.random::<f64>() * (k + 1) as f64) as usize;
            pts.swap(k, j.min(k));
        }
        pts
    }

    fn assert_same(fast: &Priced, slow: &Priced, eps: f64, what: &str) {
        for (side, f, s) in [
            ("source", &fast.by_source, &slow.by_source),
            ("target", &fast.by_target, &slow.by_target),
        ] {
            for (k, (a, b)) in f.iter().zip(s).enumerate() {
                // Values below −eps must be found exactly; above it a strategy may skip them.
                if b.0 < -eps || a.0 < -eps {
                    assert!(
                        (a.0 - b.0).abs() <= 1e-9 * (1.0 + b.0.abs()),
                        "{what} {side} {k}: {a:?} vs {b:?}"
                    );
                }
            }
        }
    }

    type Cloud<'a> = &'a [(f64, f64)];

    /// Bounded pricing's runners-up: violated, none a source's best, at most `PER_SOURCE − 1`
    /// per source, listed once, and among the pairs that `violated` returns.
    fn assert_runners_up(
        priced: &Priced,
        (xs, ys): (Cloud<'_>, Cloud<'_>),
        (ground, u, v): (Ground, &[f64], &[f64]),
        eps: f64,
    ) {
        let mut per_source = vec![0; xs.len()];
        let violated = priced.violated(eps);
        let mut seen = std::collections::HashSet::new();
        for &(i, j) in &priced.more {
            let (i, j) = (i as usize, j as usize);
            let (x, y) = (xs[i], ys[j]);
            let r = ground.cost(x.0 - y.0, x.1 - y.1) - u[i] - v[j];
            assert!(r < -eps, "runner-up ({i}, {j}) has r = {r}");
            assert_ne!(
                priced.by_source[i].1 as usize, j,
                "the best is not a runner-up"
            );
            assert!(seen.insert((i, j)), "({i}, {j}) listed twice");
            assert!(violated.binary_search(&(i, j)).is_ok());
            per_source[i] += 1;
        }
        assert!(per_source.iter().all(|&k| k < PER_SOURCE));
    }

    #[test]
    fn runners_up_keep_the_most_negative_few() {
        let mut list = [(0.0, u32::MAX); 3];
        for (r, j) in [(-1.0, 1), (-3.0, 3), (-2.0, 2), (-0.5, 9), (-4.0, 4)] {
            insert_sorted(&mut list, (r, j));
        }
        assert_eq!(list, [(-4.0, 4), (-3.0, 3), (-2.0, 2)]);
        insert_sorted(&mut [], (-1.0, 1));
    }

    #[test]
    fn every_strategy_equals_pricing_all_pairs() {
        let mut runners_up = 0;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for case in 0..12 {
            let xs = holey_lattice(9 + case % 4, 11, &mut rng);
            let ys = holey_lattice(8, 7 + case % 5, &mut rng);
            // Potentials from near-feasible (c-transform-like) to wildly infeasible.
            let scale = [0.5, 5.0, 50.0][case % 3];
            let u: Vec<f64> = xs.iter().map(|_| rng.random::<f64>() * scale).collect();
            let v: Vec<f64> = ys
                .iter()
                .map(|_| rng.random::<f64>() * scale - scale / 2.0)
                .collect();
            for ground in [Ground::Euclidean, Ground::SqEuclidean, Ground::Cityblock] {
                let slow = all_pairs(&xs, &ys, ground, &u, &v);
                let eps = 1e-9;
                let fast = Pricer::bounded(&xs, &ys, ground).price(&u, &v, eps);
                assert_same(&fast, &slow, eps, &format!("bounded {ground:?} {case}"));
                assert_runners_up(&fast, (&xs, &ys), (ground, &u, &v), eps);
                runners_up += fast.more.len();
                if ground == Ground::SqEuclidean {
                    let p = Pricer::new(&xs, &ys, ground);
                    assert_eq!(p.name(), "separable");
                    let fast = p.price(&u, &v, eps);
                    assert_same(&fast, &slow, 0.0, &format!("separable {case}"));
                }
            }
        }
        assert!(
            runners_up > 0,
            "infeasible potentials leave runners-up to find"
        );
    }

    #[test]
    fn lattices_refuse_sparse_or_repeated_points() {
        assert!(Lattice::of(&[(0.0, 0.0), (1.0, 1.0)]).is_some());
        let diagonal: Vec<(f64, f64)> = (0..100).map(|k| (k as f64, k as f64)).collect();
        assert!(Lattice::of(&diagonal).is_none());
        assert!(Lattice::of(&[(0.0, 0.0), (0.0, 0.0)]).is_none());
    }

    #[test]
    fn envelope_is_the_minimum_of_its_parabolas() {
        let mut env = Envelope::default();
        let (c, h) = ([0.0, 1.0, 2.0, 5.0, 6.0], [3.0, -1.0, 4.0, 0.5, 9.0]);
        for k in 0..5 {
            env.push(c[k], h[k], k as u32);
        }
        let t: Vec<f64> = (0..40).map(|k| k as f64 * 0.2 - 1.0).collect();
        let mut out = vec![(0.0, 0); t.len()];
        env.evaluate(&t, &mut out);
        for (x, (got, id)) in t.iter().zip(out) {
            let want = (0..5)
                .map(|k| (x - c[k]).powi(2) + h[k])
                .fold(f64::INFINITY, f64::min);
            assert!((got - want).abs() < 1e-12, "at {x}: {got} vs {want}");
            assert!(((x - c[id as usize]).powi(2) + h[id as usize] - want).abs() < 1e-12);
        }
    }
}
