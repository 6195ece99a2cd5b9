//! Exact transport between two weighted point clouds by column generation: the network
//! simplex runs on a sparse arc set, and every pair is priced with its duals until none has a
//! negative reduced cost.
//!
//! A dense transport problem between `n` sources and `m` targets has `n·m` arcs, but an optimal
//! plan uses at most `n + m − 1` of them. So: start from a small arc set that admits a feasible
//! plan (the north-west-corner plan in row-major order, `n + m − 1` arcs), solve it exactly, and
//! *price* every pair `(i, j)` with the optimal duals: `r_ij = c_ij − u_i − v_j`. If no pair has
//! `r_ij < −tolerance`, the duals are feasible for the full problem and the sparse optimum is
//! the full optimum (the primal–dual gap is zero). Otherwise add, for every source and every
//! target, its most negative pair, restart the simplex from its last basis ([`Basis`]) and
//! repeat. Pricing never stores the `n·m` costs: it recomputes them from coordinates, in
//! parallel over sources.
//!
//! The result carries its own certificate: the duals `u`, `v` (feasible to within the reported
//! `max_violation` for *every* pair) and the gap between the plan's cost and the dual objective
//! `Σ a_i u_i + Σ b_j v_j`. Anyone can check both from the dumped plan and duals.
//!
//! References: Dantzig & Wolfe's column generation; Schmitzer, "A sparse multiscale algorithm
//! for dense optimal transport" (2016); Bassetti, Gualandi & Veneroni, "On the computation of
//! Kantorovich–Wasserstein distances between 2D histograms by uncapacitated minimum cost flows"
//! (2020).

use rayon::prelude::*;

use super::arcs::Ground;
use super::network_simplex::{self, ArcSet, Basis, Options, Start, StartTree};
use crate::error::{Error, Result};

/// A bipartite arc set listed explicitly, grown between solves.
struct SparseArcs<'a> {
    sources: &'a [(f64, f64)],
    targets: &'a [(f64, f64)],
    ground: Ground,
    from: Vec<u32>,
    to: Vec<u32>,
    cost: Vec<f64>,
    bound: f64,
}

impl SparseArcs<'_> {
    fn push(&mut self, i: usize, j: usize) {
        let (x, y) = (self.sources[i], self.targets[j]);
        self.from.push(i as u32);
        self.to.push(j as u32);
        self.cost.push(self.ground.cost(x.0 - y.0, x.1 - y.1));
    }
}

impl ArcSet for SparseArcs<'_> {
    fn node_count(&self) -> usize {
        self.sources.len() + self.targets.len()
    }

    fn arc_count(&self) -> usize {
        self.from.len()
    }

    fn endpoints(&self, e: usize) -> Option<(usize, usize)> {
        Some((
            self.from[e] as usize,
            self.sources.len() + self.to[e] as usize,
        ))
    }

    fn cost(&self, e: usize) -> f64 {
        self.cost[e]
    }

    fn path_cost_bound(&self) -> f64 {
        self.bound
    }

    fn most_negative(&self, range: std::ops::Range<usize>, pi: &[f64]) -> (f64, usize) {
        let sinks = &pi[self.sources.len()..];
        let mut best = (0.0, usize::MAX);
        let (from, to, cost) = (
            &self.from[range.clone()],
            &self.to[range.clone()],
            &self.cost[range.clone()],
        );
        for (k, ((&i, &j), &c)) in from.iter().zip(to).zip(cost).enumerate() {
            let rc = c + pi[i as usize] - sinks[j as usize];
            if rc < best.0 {
                best = (rc, range.start + k);
            }
        }
        best
    }
}

/// What one round of column generation did, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Round {
    /// Round number, from 1.
    pub round: usize,
    /// Arcs in the sparse problem solved this round.
    pub arcs: usize,
    /// Optimal cost of the sparse problem (an upper bound on the full optimum).
    pub cost: f64,
    /// Pairs added by pricing (0 in the last round).
    pub added: usize,
    /// The most negative reduced cost over all pairs (≥ −tolerance in the last round).
    pub min_reduced_cost: f64,
}

/// Evidence that a transport plan is optimal for the full problem.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Certificate {
    /// `max(0, −min_ij (c_ij − u_i − v_j))` over every pair: how far the duals are from
    /// feasible (zero up to rounding and the solver tolerance).
    pub max_violation: f64,
    /// `|plan cost − (Σ a_i u_i + Σ b_j v_j)|`: zero up to rounding at an optimum.
    pub gap: f64,
    /// Rounds of pricing, the last of which found no violated pair.
    pub rounds: usize,
    /// Arcs in the final sparse problem.
    pub arcs: usize,
    /// Network simplex pivots over all rounds.
    pub pivots: u64,
}

/// An optimal transport plan with its duals.
#[derive(Debug, Clone, PartialEq)]
pub struct Transport {
    /// `Σ π_ij c_ij`.
    pub cost: f64,
    /// The pairs that carry mass, as `(source, target, mass)`.
    pub plan: Vec<(usize, usize, f64)>,
    /// Dual potential of each source.
    pub u: Vec<f64>,
    /// Dual potential of each target; `u_i + v_j ≤ c_ij` for every pair, with equality where
    /// mass moves.
    pub v: Vec<f64>,
    /// The optimality certificate.
    pub certificate: Certificate,
}

/// Relative tolerance on reduced costs, as in the network simplex: a pair is violated when its
/// reduced cost is below `−TOLERANCE × max(1, largest cost)`.
const TOLERANCE: f64 = 1e-12;

/// Solves the transport problem between `sources` with masses `wa` and `targets` with masses
/// `wb` (equal totals up to rounding; zero masses allowed) for `ground`, exactly. `initial`
/// lists pairs worth having from the start (say, where a coarser problem's plan moves mass):
/// the better the guess, the fewer rounds. `progress` is called after every round.
///
/// # Errors
/// [`Error::Solver`] if a sparse solve fails, or if pricing keeps finding violated pairs after
/// `max(64, n + m)` rounds (it cannot loop, but a bound makes that visible).
///
/// # Panics
/// If the slices' lengths disagree, or either side is empty or has more than `u32::MAX` points.
pub fn solve(
    sources: &[(f64, f64)],
    wa: &[f64],
    targets: &[(f64, f64)],
    wb: &[f64],
    ground: Ground,
    initial: &[(usize, usize)],
    mut progress: impl FnMut(&Round),
) -> Result<Transport> {
    let (n, m) = (sources.len(), targets.len());
    assert!(wa.len() == n && wb.len() == m, "one mass per point");
    assert!(n > 0 && m > 0, "both sides have points");
    assert!(
        n < u32::MAX as usize && m < u32::MAX as usize,
        "u32 point ids"
    );
    let bound = super::arcs::Bipartite::new(sources, targets, ground).path_cost_bound();
    let eps = TOLERANCE * bound.max(1.0);
    let mut arcs = SparseArcs {
        sources,
        targets,
        ground,
        from: Vec::new(),
        to: Vec::new(),
        cost: Vec::new(),
        bound,
    };
    let (pairs, start) = north_west_corner(wa, wb);
    for (i, j) in pairs {
        arcs.push(i, j);
    }
    for &(i, j) in initial {
        arcs.push(i, j);
    }
    let mut supply: Vec<f64> = wa.to_vec();
    supply.extend(wb.iter().map(|w| -w));
    // Pricing blocks of √arcs (the solver's default) measured best on 64² pairs (4·√arcs and
    // 8·√arcs were slower).
    let opts = Options::default();
    let mut basis: Option<Basis> = None;
    let mut pivots = 0u64;
    let max_rounds = 64.max(n + m);
    for round in 1..=max_rounds {
        // Later rounds restart from the last basis. The first starts all-artificial when a good
        // guess of the arcs is at hand (fewer pivots than walking from the north-west corner);
        // should the sparse problem then leave flow on an artificial arc (its big-M only bounds
        // direct arcs), it starts again from the north-west-corner tree, which is feasible.
        let (sol, next) = match basis.take() {
            Some(b) => {
                network_simplex::solve_warm(&arcs, &supply, Start::Basis(Box::new(b)), &opts)?
            }
            None if !initial.is_empty() => {
                match network_simplex::solve_warm(&arcs, &supply, Start::Artificial, &opts) {
                    Ok(x) => x,
                    Err(_) => {
                        network_simplex::solve_warm(&arcs, &supply, Start::Tree(&start), &opts)?
                    }
                }
            }
            None => network_simplex::solve_warm(&arcs, &supply, Start::Tree(&start), &opts)?,
        };
        basis = Some(next);
        pivots += sol.iterations;
        let (u, v) = duals(&sol.potentials, n);
        let priced = price(sources, targets, ground, &u, &v, eps);
        let mut added = 0;
        for &(i, j) in &priced.violated {
            arcs.push(i, j);
            added += 1;
        }
        progress(&Round {
            round,
            arcs: arcs.arc_count() - added,
            cost: sol.cost,
            added,
            min_reduced_cost: priced.min_reduced_cost,
        });
        if added == 0 {
            let plan: Vec<(usize, usize, f64)> = sol
                .flows
                .iter()
                .map(|&(e, f)| (arcs.from[e] as usize, arcs.to[e] as usize, f))
                .collect();
            let dual: f64 = wa.iter().zip(&u).map(|(a, x)| a * x).sum::<f64>()
                + wb.iter().zip(&v).map(|(b, y)| b * y).sum::<f64>();
            return Ok(Transport {
                cost: sol.cost,
                plan,
                certificate: Certificate {
                    max_violation: (-priced.min_reduced_cost).max(0.0),
                    gap: (sol.cost - dual).abs(),
                    rounds: round,
                    arcs: arcs.arc_count(),
                    pivots,
                },
                u,
                v,
            });
        }
    }
    Err(Error::Solver {
        reason: format!("column generation still found violated pairs after {max_rounds} rounds"),
    })
}

/// Kantorovich duals from simplex potentials (`c + π_i − π_j ≥ 0`): `u = −π` on sources,
/// `v = π` on targets, so that `u_i + v_j ≤ c_ij`.
fn duals(potentials: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let u = potentials[..n].iter().map(|p| -p).collect();
    let v = potentials[n..].to_vec();
    (u, v)
}

/// The north-west-corner plan with both sides in their given order, as a spanning tree to
/// start the simplex from: a staircase through every node (`n + m − 1` pairs), each pair in the
/// order the rule visits it. Returns the pairs and the tree, whose arcs are the pairs'
/// positions. Ties move to the next source, so every step adds exactly one node.
fn north_west_corner(wa: &[f64], wb: &[f64]) -> (Vec<(usize, usize)>, StartTree) {
    let (n, m) = (wa.len(), wb.len());
    let none = usize::MAX;
    let mut tree = StartTree {
        parent: vec![none; n + m],
        up_arc: vec![none; n + m],
        down_arc: vec![none; n + m],
    };
    let mut pairs = Vec::with_capacity(n + m);
    // A source joins below its target by the arc source → target ("up" from the child), a
    // target below its source by the same kind of arc ("down" from the parent).
    let mut join_source = |pairs: &mut Vec<(usize, usize)>, i: usize, j: usize| {
        tree.parent[i] = n + j;
        tree.up_arc[i] = pairs.len();
        pairs.push((i, j));
    };
    let (mut i, mut j) = (0, 0);
    let (mut ra, mut rb) = (wa[0], wb[0]);
    let mut target_pairs = vec![(0usize, 0usize, 0usize)];
    pairs.push((0, 0));
    loop {
        if ra <= rb {
            rb -= ra;
            i += 1;
            if i == n {
                break;
            }
            ra = wa[i];
            join_source(&mut pairs, i, j);
        } else {
            ra -= rb;
            j += 1;
            if j == m {
                break;
            }
            rb = wb[j];
            target_pairs.push((i, j, pairs.len()));
            pairs.push((i, j));
        }
    }
    // Rounding can leave one side's tail unmatched: tie it to the other side's last point.
    for i in i + 1..n {
        join_source(&mut pairs, i, m - 1);
    }
    for j in j + 1..m {
        target_pairs.push((n - 1, j, pairs.len()));
        pairs.push((n - 1, j));
    }
    for (i, j, e) in target_pairs {
        tree.parent[n + j] = i;
        tree.down_arc[n + j] = e;
    }
    (pairs, tree)
}

/// The outcome of pricing every pair.
struct Priced {
    /// For every source and every target with a violated pair, its most violated one.
    violated: Vec<(usize, usize)>,
    /// The most negative reduced cost seen.
    min_reduced_cost: f64,
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

/// Prices all `n·m` pairs: `r_ij = c_ij − u_i − v_j`.
fn price(
    sources: &[(f64, f64)],
    targets: &[(f64, f64)],
    ground: Ground,
    u: &[f64],
    v: &[f64],
    eps: f64,
) -> Priced {
    let tx: Vec<f64> = targets.iter().map(|t| t.0).collect();
    let ty: Vec<f64> = targets.iter().map(|t| t.1).collect();
    let m = targets.len();
    let lesser = |x: f64, y: f64| if x < y { x } else { y };
    // Per source: its most negative pair. Per target: the most negative pair over each chunk of
    // sources (as values and source ids side by side, so the update is a vector blend), merged
    // after. Every loop over a row is free of data-dependent branches.
    let chunk = 256;
    struct Best {
        by_source: Vec<(f64, usize)>,
        target_value: Vec<f64>,
        target_source: Vec<u64>,
    }
    let per_chunk: Vec<Best> = sources
        .par_chunks(chunk)
        .enumerate()
        .map(|(c, xs)| {
            let mut best = Best {
                by_source: Vec::with_capacity(xs.len()),
                target_value: vec![0.0f64; m],
                target_source: vec![u64::MAX; m],
            };
            let mut row = vec![0.0f64; m];
            for (k, &(x0, x1)) in xs.iter().enumerate() {
                let i = c * chunk + k;
                let ui = u[i];
                match ground {
                    Ground::Euclidean => {
                        fill_row(&mut row, (x0, x1), ui, (&tx, &ty), v, |dx, dy| {
                            (dx * dx + dy * dy).sqrt()
                        })
                    }
                    Ground::SqEuclidean => {
                        fill_row(&mut row, (x0, x1), ui, (&tx, &ty), v, |dx, dy| {
                            dx * dx + dy * dy
                        })
                    }
                    Ground::Cityblock => {
                        fill_row(&mut row, (x0, x1), ui, (&tx, &ty), v, |dx, dy| {
                            dx.abs() + dy.abs()
                        })
                    }
                }
                let low = row.iter().fold(0.0f64, |acc, &r| lesser(acc, r));
                let at = if low < 0.0 {
                    row.iter().position(|&r| r == low).unwrap_or(usize::MAX)
                } else {
                    usize::MAX
                };
                best.by_source.push((low, at));
                for ((tv, ts), &r) in best
                    .target_value
                    .iter_mut()
                    .zip(best.target_source.iter_mut())
                    .zip(&row)
                {
                    let better = r < *tv;
                    *tv = if better { r } else { *tv };
                    *ts = if better { i as u64 } else { *ts };
                }
            }
            best
        })
        .collect();
    let mut violated = Vec::new();
    let mut min_rc = 0.0f64;
    let mut target_value = vec![0.0f64; m];
    let mut target_source = vec![u64::MAX; m];
    for (c, best) in per_chunk.iter().enumerate() {
        for (k, &(r, j)) in best.by_source.iter().enumerate() {
            min_rc = min_rc.min(r);
            if r < -eps {
                violated.push((c * chunk + k, j));
            }
        }
        for j in 0..m {
            if best.target_value[j] < target_value[j] {
                target_value[j] = best.target_value[j];
                target_source[j] = best.target_source[j];
            }
        }
    }
    for (j, (&r, &i)) in target_value.iter().zip(&target_source).enumerate() {
        if r < -eps {
            violated.push((i as usize, j));
        }
    }
    violated.sort_unstable();
    violated.dedup();
    Priced {
        violated,
        min_reduced_cost: min_rc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ot::arcs::Bipartite;

    fn cloud(n: usize, seed: u64) -> (Vec<(f64, f64)>, Vec<f64>) {
        use rand::rngs::ChaCha8Rng;
        use rand::{RngExt, SeedableRng};
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let pts = (0..n)
            .map(|_| {
                (
                    (rng.random::<f64>() * 12.0).floor(),
                    (rng.random::<f64>() * 12.0).floor(),
                )
            })
            .collect();
        let mut w: Vec<f64> = (0..n)
            .map(|_| {
                if rng.random::<f64>() < 0.2 {
                    0.0
                } else {
                    rng.random::<f64>()
                }
            })
            .collect();
        let s: f64 = w.iter().sum();
        w.iter_mut().for_each(|x| *x /= s);
        (pts, w)
    }

    #[test]
    fn equals_the_dense_simplex_and_certifies_itself() {
        for ground in [Ground::Euclidean, Ground::SqEuclidean, Ground::Cityblock] {
            for seed in 0..4 {
                let (xs, wa) = cloud(60, seed);
                let (ys, wb) = cloud(45, seed + 100);
                let t = solve(&xs, &wa, &ys, &wb, ground, &[], |_| {}).unwrap();
                let mut supply = wa.clone();
                supply.extend(wb.iter().map(|w| -w));
                let dense = network_simplex::solve(
                    &Bipartite::new(&xs, &ys, ground),
                    &supply,
                    &Options::default(),
                )
                .unwrap();
                assert!(
                    (t.cost - dense.cost).abs() <= 1e-12 * dense.cost.max(1.0),
                    "{ground:?} {seed}: {} vs {}",
                    t.cost,
                    dense.cost
                );
                // Independent check of the certificate: every pair, the plan's marginals, the gap.
                let mut worst = 0.0f64;
                for (i, x) in xs.iter().enumerate() {
                    for (j, y) in ys.iter().enumerate() {
                        let r = ground.cost(x.0 - y.0, x.1 - y.1) - t.u[i] - t.v[j];
                        worst = worst.max(-r);
                    }
                }
                assert!(worst <= 1e-10, "dual violation {worst}");
                let (mut ra, mut rb) = (vec![0.0; xs.len()], vec![0.0; ys.len()]);
                for &(i, j, f) in &t.plan {
                    assert!(f > 0.0);
                    ra[i] += f;
                    rb[j] += f;
                    let r = ground.cost(xs[i].0 - ys[j].0, xs[i].1 - ys[j].1) - t.u[i] - t.v[j];
                    assert!(r.abs() < 1e-10, "mass moves only on tight pairs");
                }
                for (got, want) in ra.iter().zip(&wa).chain(rb.iter().zip(&wb)) {
                    assert!((got - want).abs() < 1e-12);
                }
                assert!(t.certificate.gap < 1e-10 && t.certificate.max_violation < 1e-10);
            }
        }
    }

    #[test]
    fn north_west_corner_is_a_spanning_staircase() {
        let (pairs, tree) = north_west_corner(&[0.5, 0.0, 0.5], &[0.25, 0.75]);
        assert_eq!(pairs, [(0, 0), (0, 1), (1, 1), (2, 1)]);
        // Sources 0..3, targets 3..5: source 0 is the top, everyone else hangs below.
        assert_eq!(tree.parent, [usize::MAX, 4, 4, 0, 0]);
        // A rounding tail on one side is tied to the other side's last point.
        let (pairs, _) = north_west_corner(&[0.5, 0.5], &[0.5, 0.5 - 1e-17]);
        assert_eq!(pairs, [(0, 0), (1, 0), (1, 1)]);
        let (pairs, tree) = north_west_corner(&[0.5, 0.5, 1e-17], &[0.5, 0.5]);
        assert_eq!(pairs, [(0, 0), (1, 0), (1, 1), (2, 1)]);
        assert_eq!(tree.parent[2], 3 + 1);
    }
}
