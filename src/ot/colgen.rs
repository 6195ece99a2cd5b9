//! Exact transport between two weighted point clouds by column generation: the network
//! simplex runs on a sparse arc set, and every pair is priced with its duals until none has a
//! negative reduced cost.
//!
//! A dense transport problem between `n` sources and `m` targets has `n·m` arcs, but an optimal
//! plan uses at most `n + m − 1` of them. So: start from a small arc set that admits a feasible
//! plan, solve it exactly, and *price* every pair `(i, j)` with the optimal duals:
//! `r_ij = c_ij − u_i − v_j`. If no pair has `r_ij < −tolerance`, the duals are feasible for the
//! full problem and the sparse optimum is the full optimum (the primal–dual gap is zero).
//! Otherwise add, for every source and every target, its most negative pair (and the few
//! runners-up bounded pricing finds), drop the arcs that are far from tight (in the first
//! rounds), restart the simplex from its last basis ([`Basis`]) and repeat. Pricing never
//! stores the `n·m` costs: it recomputes them from coordinates, and for the large problems it
//! does not visit every pair either ([`super::pricing`]: distance transforms for squared
//! euclidean cost on lattices, box bounds over k-d trees otherwise).
//!
//! The start: when the caller has a guess of useful pairs (the plan of a coarser problem,
//! expanded), the greedy plan over those pairs in the given order, each moving as much as both
//! ends still have; this is a forest of at most `n + m − 1` pairs, so a basic feasible start,
//! and far closer to optimal than the north-west-corner staircase used without a guess.
//!
//! The result carries its own certificate: the duals `u`, `v` (feasible to within the reported
//! `max_violation` for *every* pair) and the gap between the plan's cost and the dual objective
//! `Σ a_i u_i + Σ b_j v_j`. Anyone can check both from the dumped plan and duals.
//!
//! References: Dantzig & Wolfe's column generation; Schmitzer, "A sparse multiscale algorithm
//! for dense optimal transport" (2016); Bassetti, Gualandi & Veneroni, "On the computation of
//! Kantorovich–Wasserstein distances between 2D histograms by uncapacitated minimum cost flows"
//! (2020).

use super::arcs::Ground;
use super::error::{Error, Result};
use super::network_simplex::{
    self, ArcSet, Basis, Options, Potentials, Start, StartTree, scan_arcs,
};
use super::pricing::Pricer;

/// A transport problem between two weighted point clouds: move the source masses onto the
/// target masses at least total cost, the cost of a unit of mass from `x` to `y` being
/// `ground(x − y)`.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    /// The source points.
    pub sources: &'a [(f64, f64)],
    /// The mass of each source (≥ 0; zero masses allowed).
    pub source_mass: &'a [f64],
    /// The target points.
    pub targets: &'a [(f64, f64)],
    /// The mass of each target (≥ 0, the same total as the sources' up to rounding).
    pub target_mass: &'a [f64],
    /// The ground cost.
    pub ground: Ground,
}

impl<'a> Problem<'a> {
    /// The problem of moving `source_mass` at `sources` onto `target_mass` at `targets` under
    /// `ground`.
    pub fn new(
        sources: &'a [(f64, f64)],
        source_mass: &'a [f64],
        targets: &'a [(f64, f64)],
        target_mass: &'a [f64],
        ground: Ground,
    ) -> Self {
        Problem {
            sources,
            source_mass,
            targets,
            target_mass,
            ground,
        }
    }

    /// The dual objective `Σ a_i u_i + Σ b_j v_j` of duals `u`, `v`.
    fn dual_objective(&self, u: &[f64], v: &[f64]) -> f64 {
        self.source_mass
            .iter()
            .zip(u)
            .map(|(a, x)| a * x)
            .sum::<f64>()
            + self
                .target_mass
                .iter()
                .zip(v)
                .map(|(b, y)| b * y)
                .sum::<f64>()
    }

    /// The relative tolerance [`TOLERANCE`] scaled by the largest cost between the clouds.
    fn eps(&self) -> f64 {
        TOLERANCE * super::arcs::largest_cost(self.sources, self.targets, self.ground).max(1.0)
    }
}

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

impl<'a> SparseArcs<'a> {
    /// No arcs yet between `sources` and `targets`, with the bound of their largest cost.
    fn new(sources: &'a [(f64, f64)], targets: &'a [(f64, f64)], ground: Ground) -> Self {
        SparseArcs {
            sources,
            targets,
            ground,
            from: Vec::new(),
            to: Vec::new(),
            cost: Vec::new(),
            bound: super::arcs::largest_cost(sources, targets, ground),
        }
    }
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

    fn most_negative(&self, range: std::ops::Range<usize>, pi: Potentials<'_>) -> (f64, usize) {
        let ns = self.sources.len();
        let by_slot = pi.by_slot;
        match pi.slot_of {
            Some(slot_of) if !pi.tag.is_empty() => {
                let (sinks, tag) = (&slot_of[ns..], pi.tag);
                let at = |s: usize| by_slot[s] + tag[s >> 6];
                self.scan(
                    range,
                    |i| at(slot_of[i] as usize),
                    |j| at(sinks[j] as usize),
                )
            }
            Some(_) => scan_arcs(self, range, pi),
            None => {
                let sinks = &by_slot[ns..];
                self.scan(range, |i| by_slot[i], |j| sinks[j])
            }
        }
    }
}

impl SparseArcs<'_> {
    /// Drops every arc whose reduced cost under `potentials` (by node) exceeds `keep_below`,
    /// except the arcs of `basis`'s tree, which is told their new indices.
    fn drop_slack(&mut self, potentials: &[f64], keep_below: f64, basis: &mut Basis) {
        let ns = self.sources.len();
        let mut keep: Vec<bool> = (0..self.arc_count())
            .map(|e| {
                let (i, j) = (self.from[e] as usize, ns + self.to[e] as usize);
                self.cost[e] + potentials[i] - potentials[j] <= keep_below
            })
            .collect();
        basis.mark_tree_arcs(&mut keep);
        let mut k = 0;
        let new_index: Vec<usize> = (0..keep.len())
            .map(|e| {
                if !keep[e] {
                    return usize::MAX;
                }
                self.from[k] = self.from[e];
                self.to[k] = self.to[e];
                self.cost[k] = self.cost[e];
                k += 1;
                k - 1
            })
            .collect();
        self.from.truncate(k);
        self.to.truncate(k);
        self.cost.truncate(k);
        basis.rename_arcs(&new_index, k);
    }

    /// The most negative reduced cost over `range`, given each source's and target's potential.
    #[inline(always)]
    fn scan(
        &self,
        range: std::ops::Range<usize>,
        pi_source: impl Fn(usize) -> f64,
        pi_target: impl Fn(usize) -> f64,
    ) -> (f64, usize) {
        let mut best = (0.0, usize::MAX);
        let (from, to, cost) = (
            &self.from[range.clone()],
            &self.to[range.clone()],
            &self.cost[range.clone()],
        );
        for (k, ((&i, &j), &c)) in from.iter().zip(to).zip(cost).enumerate() {
            let rc = c + pi_source(i as usize) - pi_target(j as usize);
            if rc < best.0 {
                best = (rc, range.start + k);
            }
        }
        best
    }
}

/// Which points neighbour which, on each side (say, adjacent cells of a grid), as lists of
/// indices: between rounds, column generation also adds the violated pairs between a point and
/// the points its neighbours' plan pairs reach, the candidates of Schmitzer's shielding
/// neighbourhoods. Only the number of rounds depends on them.
#[derive(Debug, Clone, Default)]
pub struct Neighbours {
    source_start: Vec<usize>,
    source_list: Vec<u32>,
    target_start: Vec<usize>,
    target_list: Vec<u32>,
}

impl Neighbours {
    /// Neighbour lists from `source_neighbours(i)` for each of `n` sources and
    /// `target_neighbours(j)` for each of `m` targets.
    pub fn new<I: IntoIterator<Item = usize>, J: IntoIterator<Item = usize>>(
        n: usize,
        source_neighbours: impl Fn(usize) -> I,
        m: usize,
        target_neighbours: impl Fn(usize) -> J,
    ) -> Self {
        fn lists<I: IntoIterator<Item = usize>>(
            count: usize,
            of: impl Fn(usize) -> I,
        ) -> (Vec<usize>, Vec<u32>) {
            let mut start = vec![0];
            let mut list = Vec::new();
            for k in 0..count {
                list.extend(of(k).into_iter().map(|x| x as u32));
                start.push(list.len());
            }
            (start, list)
        }
        let (source_start, source_list) = lists(n, source_neighbours);
        let (target_start, target_list) = lists(m, target_neighbours);
        Neighbours {
            source_start,
            source_list,
            target_start,
            target_list,
        }
    }

    /// The pairs `(i, j)` violated under potentials `pi` (by node) where `j` receives mass from a
    /// neighbour of `i`, or `i` sends mass to a neighbour of `j`.
    fn violated(
        &self,
        arcs: &SparseArcs<'_>,
        flows: &[(usize, f64)],
        pi: &[f64],
        eps: f64,
    ) -> Vec<(usize, usize)> {
        let (n, m) = (arcs.sources.len(), arcs.targets.len());
        assert!(self.source_start.len() == n + 1 && self.target_start.len() == m + 1);
        // The pairs of the plan `flows` (arc, mass) by source and by target.
        let mut out: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut into: Vec<Vec<u32>> = vec![Vec::new(); m];
        for &(e, _) in flows {
            let (i, j) = (arcs.from[e], arcs.to[e]);
            out[i as usize].push(j);
            into[j as usize].push(i);
        }
        let rc = |i: usize, j: usize| {
            let (x, y) = (arcs.sources[i], arcs.targets[j]);
            arcs.ground.cost(x.0 - y.0, x.1 - y.1) + pi[i] - pi[n + j]
        };
        let mut found = Vec::new();
        for i in 0..n {
            for &k in &self.source_list[self.source_start[i]..self.source_start[i + 1]] {
                for &j in &out[k as usize] {
                    if rc(i, j as usize) < -eps {
                        found.push((i, j as usize));
                    }
                }
            }
        }
        for j in 0..m {
            for &k in &self.target_list[self.target_start[j]..self.target_start[j + 1]] {
                for &i in &into[k as usize] {
                    if rc(i as usize, j) < -eps {
                        found.push((i as usize, j));
                    }
                }
            }
        }
        found
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
    /// Simplex pivots this round.
    pub pivots: u64,
    /// Seconds this round took (solve and pricing).
    pub seconds: f64,
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
    /// How pairs were priced: `"all-pairs"`, `"separable"` or `"bounded"` (`"none"` when
    /// there was nothing to move and only the final check priced them; see
    /// [`super::pricing`]); every strategy covers every pair.
    pub pricing: &'static str,
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

/// Problems with at least this many points have the simplex renumber its tree (see
/// [`Options::renumber`]): on smaller ones the trees are shallow and fit in cache, so
/// renumbering costs more than its contiguous subtree walks save; on larger ones the gain grows
/// with the size. The break-even lies at about this size.
const RENUMBER_MIN_NODES: usize = 1 << 14;

/// Between rounds, arcs whose reduced cost exceeds a share of the most negative one found by
/// pricing are dropped (column deletion): they are not needed for the current optimum, pricing
/// brings back any that turn violated, and a smaller arc set means a cheaper block search and
/// fewer pivots (a pivot has fewer ways to undo what the previous round built). The
/// share is 0 (only tight arcs stay) when pricing is cheap, a quarter when a round of pricing
/// costs as much as many pivots: dropping every slack arc then takes more rounds than it saves.
/// Dropping stops after this many rounds, so the arc set grows from then on and column
/// generation ends as it would without it.
const DROP_ROUNDS: usize = 32;

/// The share of the most negative reduced cost above which an arc is dropped (see
/// [`DROP_ROUNDS`]).
fn keep_ratio(pricer: &Pricer<'_>) -> f64 {
    if pricer.is_separable() { 0.0 } else { 0.25 }
}

/// Relative tolerance on reduced costs, as in the network simplex: a pair is violated when its
/// reduced cost is below `−TOLERANCE × max(1, largest cost)`.
const TOLERANCE: f64 = 1e-12;

/// Solves `problem` exactly. `initial` lists pairs `(source, target)` worth having from the
/// start (say, where a coarser problem's plan moves mass): the better the guess, the fewer
/// rounds. `progress` is called after every round.
///
/// # Errors
/// [`Error::PivotCap`] or [`Error::Infeasible`] if a sparse solve fails; [`Error::RoundCap`] if
/// pricing keeps finding violated pairs after `max(64, n + m)` rounds (it cannot loop, but a
/// bound makes that visible).
///
/// # Panics
/// If the slices' lengths disagree, or either side is empty or has more than `u32::MAX` points.
pub fn solve(
    problem: &Problem<'_>,
    initial: &[(usize, usize)],
    progress: impl FnMut(&Round),
) -> Result<Transport> {
    let pricer = Pricer::new(problem.sources, problem.targets, problem.ground);
    let renumber = problem.sources.len() + problem.targets.len() >= RENUMBER_MIN_NODES;
    solve_priced(problem, initial, &pricer, renumber, progress)
}

/// [`solve`] from a guessed plan: `plan` lists pairs `(source, target, mass)` that form a
/// forest and move (up to rounding) the masses of the points they touch, say a coarser
/// problem's optimal plan refined onto these points; `initial` lists further pairs worth having
/// from the start. The simplex starts from the plan, completed where it does not cover a
/// point's mass; a plan that is not such a forest is not an error, the start then falls back to
/// the greedy plan over all the listed pairs. With `near`, each round also adds the violated
/// pairs that [`Neighbours`] suggests. The plan and the neighbours only affect the speed: the
/// result is optimal and certified as [`solve`]'s.
///
/// # Errors
/// As [`solve`].
///
/// # Panics
/// As [`solve`], or if a pair's point is out of range.
pub fn solve_planned(
    problem: &Problem<'_>,
    plan: &[(usize, usize, f64)],
    initial: &[(usize, usize)],
    near: Option<&Neighbours>,
    progress: impl FnMut(&Round),
) -> Result<Transport> {
    let pricer = Pricer::new(problem.sources, problem.targets, problem.ground);
    let renumber = problem.sources.len() + problem.targets.len() >= RENUMBER_MIN_NODES;
    solve_from(problem, plan, initial, near, &pricer, renumber, progress)
}

/// [`solve`] with a given pricing strategy, and whether the simplex renumbers its tree.
fn solve_priced(
    problem: &Problem<'_>,
    initial: &[(usize, usize)],
    pricer: &Pricer<'_>,
    renumber: bool,
    progress: impl FnMut(&Round),
) -> Result<Transport> {
    solve_from(problem, &[], initial, None, pricer, renumber, progress)
}

/// [`solve_planned`] with a given pricing strategy, and whether the simplex renumbers its tree.
fn solve_from(
    problem: &Problem<'_>,
    plan: &[(usize, usize, f64)],
    initial: &[(usize, usize)],
    near: Option<&Neighbours>,
    pricer: &Pricer<'_>,
    renumber: bool,
    mut progress: impl FnMut(&Round),
) -> Result<Transport> {
    let Problem {
        sources,
        source_mass: wa,
        targets,
        target_mass: wb,
        ground,
    } = *problem;
    let (n, m) = (sources.len(), targets.len());
    assert!(wa.len() == n && wb.len() == m, "one mass per point");
    assert!(n > 0 && m > 0, "both sides have points");
    assert!(
        n < u32::MAX as usize && m < u32::MAX as usize,
        "u32 point ids"
    );
    let mut arcs = SparseArcs::new(sources, targets, ground);
    let eps = TOLERANCE * arcs.bound.max(1.0);
    // A feasible basic start: the guessed plan when there is one, else greedy over the guessed
    // pairs when there are any, else the north-west-corner staircase.
    let start = if !plan.is_empty() {
        for &(i, j, _) in plan {
            arcs.push(i, j);
        }
        for &(i, j) in initial {
            arcs.push(i, j);
        }
        let caps: Vec<f64> = plan.iter().map(|&(_, _, f)| f).collect();
        match planned_start(wa, wb, &caps, &mut arcs) {
            Some(tree) => tree,
            None => greedy_start(wa, wb, &mut arcs),
        }
    } else if initial.is_empty() {
        let (pairs, start) = north_west_corner(wa, wb);
        for (i, j) in pairs {
            arcs.push(i, j);
        }
        start
    } else {
        for &(i, j) in initial {
            arcs.push(i, j);
        }
        greedy_start(wa, wb, &mut arcs)
    };
    let mut supply: Vec<f64> = wa.to_vec();
    supply.extend(wb.iter().map(|w| -w));
    // Pricing blocks of √arcs (the solver's default): longer blocks (4·√arcs, 8·√arcs) were
    // slower on 64² pairs.
    let opts = Options {
        renumber,
        ..Options::default()
    };
    let mut basis: Option<Basis> = None;
    let mut pivots = 0u64;
    let max_rounds = 64.max(n + m);
    for round in 1..=max_rounds {
        let started = std::time::Instant::now();
        let from = match basis.take() {
            Some(b) => Start::Basis(Box::new(b)),
            None => Start::Tree(&start),
        };
        let sol = network_simplex::solve(&arcs, &supply, from, &opts)?;
        let b = basis.insert(sol.basis);
        pivots += sol.iterations;
        let (u, v) = duals(&sol.potentials, n);
        let priced = pricer.price(&u, &v, eps);
        let mut violated = priced.violated(eps);
        if let Some(near) = near
            && !violated.is_empty()
        {
            violated.extend(near.violated(&arcs, &sol.flows, &sol.potentials, eps));
            violated.sort_unstable();
            violated.dedup();
        }
        let min_reduced_cost = priced.min_reduced_cost();
        let solved_arcs = arcs.arc_count();
        if !violated.is_empty() && round <= DROP_ROUNDS {
            let keep_below = (keep_ratio(pricer) * -min_reduced_cost).max(eps);
            arcs.drop_slack(&sol.potentials, keep_below, b);
        }
        let mut added = 0;
        for &(i, j) in &violated {
            arcs.push(i, j);
            added += 1;
        }
        progress(&Round {
            round,
            arcs: solved_arcs,
            cost: sol.cost,
            added,
            min_reduced_cost,
            pivots: sol.iterations,
            seconds: started.elapsed().as_secs_f64(),
        });
        if added == 0 {
            let plan: Vec<(usize, usize, f64)> = sol
                .flows
                .iter()
                .map(|&(e, f)| (arcs.from[e] as usize, arcs.to[e] as usize, f))
                .collect();
            let dual = problem.dual_objective(&u, &v);
            return Ok(Transport {
                cost: sol.cost,
                plan,
                certificate: Certificate {
                    max_violation: (-min_reduced_cost).max(0.0),
                    gap: (sol.cost - dual).abs(),
                    rounds: round,
                    arcs: arcs.arc_count(),
                    pivots,
                    pricing: pricer.name(),
                },
                u,
                v,
            });
        }
    }
    Err(Error::RoundCap { rounds: max_rounds })
}

/// Checks duals `u`, `v` against *every* pair of `problem`, as the last round of [`solve`]
/// does: returns `(max_violation, gap)` for a plan of total cost `cost` (see [`Certificate`]).
pub fn certify(problem: &Problem<'_>, cost: f64, u: &[f64], v: &[f64]) -> (f64, f64) {
    if problem.sources.is_empty() || problem.targets.is_empty() {
        return (0.0, cost.abs());
    }
    let pricer = Pricer::new(problem.sources, problem.targets, problem.ground);
    let priced = pricer.price(u, v, problem.eps());
    let dual = problem.dual_objective(u, v);
    ((-priced.min_reduced_cost()).max(0.0), (cost - dual).abs())
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

/// A feasible basic plan over the arcs listed so far, taken in order: each pair moves as much
/// as both its ends still have (so every pair that moves mass exhausts a source or a target, and
/// the pairs used form a forest); what is left is matched by the north-west-corner rule over the
/// unmatched points, with new arcs. Returns the forest as a start for the simplex, each tree
/// hanging from its first point.
fn greedy_start(wa: &[f64], wb: &[f64], arcs: &mut SparseArcs<'_>) -> StartTree {
    let (n, m) = (wa.len(), wb.len());
    let (mut ra, mut rb) = (wa.to_vec(), wb.to_vec());
    let mut used: Vec<usize> = Vec::with_capacity(n + m);
    for e in 0..arcs.arc_count() {
        let (i, j) = (arcs.from[e] as usize, arcs.to[e] as usize);
        let f = ra[i].min(rb[j]);
        if f > 0.0 {
            ra[i] -= f;
            rb[j] -= f;
            used.push(e);
        }
    }
    // Leftovers, in index order; rounding tails tie to the other side's last leftover.
    match_leftovers(&mut ra, &mut rb, 0.0, arcs, &mut used);
    forest(n, m, arcs, &used).0
}

/// Matches the masses `ra`, `rb` still above `tiny` by the north-west-corner rule over the
/// points in index order, with new arcs (their indices appended to `used`).
fn match_leftovers(
    ra: &mut [f64],
    rb: &mut [f64],
    tiny: f64,
    arcs: &mut SparseArcs<'_>,
    used: &mut Vec<usize>,
) {
    let left_a: Vec<usize> = (0..ra.len()).filter(|&i| ra[i] > tiny).collect();
    let left_b: Vec<usize> = (0..rb.len()).filter(|&j| rb[j] > tiny).collect();
    let (mut p, mut q) = (0, 0);
    while p < left_a.len() && q < left_b.len() {
        let (i, j) = (left_a[p], left_b[q]);
        used.push(arcs.arc_count());
        arcs.push(i, j);
        let f = ra[i].min(rb[j]);
        ra[i] -= f;
        rb[j] -= f;
        if ra[i] <= tiny {
            p += 1;
        } else {
            q += 1;
        }
    }
    // Rounding can leave one side's tail unmatched once the other side is used up: the point
    // the loop stopped at is already matched to the other side's last point, the rest join it.
    if let (Some(&i), Some(&j)) = (left_a.last(), left_b.last()) {
        for &k in left_a.get(p + 1..).unwrap_or(&[]) {
            used.push(arcs.arc_count());
            arcs.push(k, j);
        }
        for &k in left_b.get(q + 1..).unwrap_or(&[]) {
            used.push(arcs.arc_count());
            arcs.push(i, k);
        }
    }
}

/// The forest of arcs `used`, each tree hung from its lowest-numbered node, and the order in
/// which its search reached the nodes (every node after its parent).
fn forest(n: usize, m: usize, arcs: &SparseArcs<'_>, used: &[usize]) -> (StartTree, Vec<usize>) {
    let none = usize::MAX;
    let mut adjacent: Vec<Vec<usize>> = vec![Vec::new(); n + m];
    for &e in used {
        let (i, j) = (arcs.from[e] as usize, n + arcs.to[e] as usize);
        adjacent[i].push(e);
        adjacent[j].push(e);
    }
    let mut tree = StartTree {
        parent: vec![none; n + m],
        up_arc: vec![none; n + m],
        down_arc: vec![none; n + m],
    };
    let mut seen = vec![false; n + m];
    let mut stack = Vec::new();
    let mut order = Vec::with_capacity(n + m);
    for top in 0..n + m {
        if seen[top] {
            continue;
        }
        seen[top] = true;
        stack.push(top);
        while let Some(x) = stack.pop() {
            order.push(x);
            for &e in &adjacent[x] {
                let (i, j) = (arcs.from[e] as usize, n + arcs.to[e] as usize);
                let y = if x == i { j } else { i };
                if seen[y] {
                    continue;
                }
                seen[y] = true;
                tree.parent[y] = x;
                if y < n {
                    tree.up_arc[y] = e;
                } else {
                    tree.down_arc[y] = e;
                }
                stack.push(y);
            }
        }
    }
    (tree, order)
}

/// A basic feasible start from a guessed plan: the first `caps.len()` arcs each move up to
/// their cap (as much as both ends still have), then the other arcs listed so far, in order,
/// each move as much as both ends still have, and what is left is matched by the
/// north-west-corner rule with new arcs (as in [`greedy_start`]). Masses below a rounding
/// threshold count as used up. Returns the forest of the arcs that moved mass, or `None` when
/// they are not a forest whose tree flows are feasible (the caps did not describe such a plan).
fn planned_start(
    wa: &[f64],
    wb: &[f64],
    caps: &[f64],
    arcs: &mut SparseArcs<'_>,
) -> Option<StartTree> {
    let (n, m) = (wa.len(), wb.len());
    let (mut ra, mut rb) = (wa.to_vec(), wb.to_vec());
    let scale = wa.iter().sum::<f64>() + wb.iter().sum::<f64>();
    // Far above the rounding of the plan's sums, and far below what `network_simplex` accepts
    // as a rounding-sized imbalance of a subtree, even summed over every node.
    let tiny = 1e-16 * scale;
    let mut used: Vec<usize> = Vec::with_capacity(n + m);
    for e in 0..arcs.arc_count() {
        let (i, j) = (arcs.from[e] as usize, arcs.to[e] as usize);
        let cap = caps.get(e).copied().unwrap_or(f64::INFINITY);
        let f = cap.min(ra[i]).min(rb[j]);
        if f > tiny {
            ra[i] -= f;
            rb[j] -= f;
            used.push(e);
        }
    }
    match_leftovers(&mut ra, &mut rb, tiny, arcs, &mut used);
    if used.len() >= n + m {
        return None;
    }
    let (tree, order) = forest(n, m, arcs, &used);
    // A forest has one arc fewer than nodes per tree: otherwise some arc closed a cycle.
    let trees = order
        .iter()
        .filter(|&&u| tree.parent[u] == usize::MAX)
        .count();
    if used.len() + trees != n + m {
        return None;
    }
    // Tree flows: a source's arc to its parent carries its subtree's net supply, a target's arc
    // from its parent carries its subtree's net demand; both must be non-negative.
    let mut sub: Vec<f64> = wa.iter().copied().chain(wb.iter().map(|w| -w)).collect();
    let tol = 1e-10 * scale;
    for &u in order.iter().rev() {
        let parent = tree.parent[u];
        if parent == usize::MAX {
            continue;
        }
        if (u < n && sub[u] < -tol) || (u >= n && sub[u] > tol) {
            return None;
        }
        sub[parent] += sub[u];
    }
    Some(tree)
}

#[cfg(test)]
mod tests {
    use super::super::arcs::Bipartite;
    use super::*;

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
        let w: Vec<f64> = (0..n)
            .map(|_| {
                if rng.random::<f64>() < 0.2 {
                    0.0
                } else {
                    rng.random::<f64>()
                }
            })
            .collect();
        (pts, normalised(w))
    }

    /// The dense simplex's optimal cost, the reference.
    fn dense_cost(
        xs: &[(f64, f64)],
        wa: &[f64],
        ys: &[(f64, f64)],
        wb: &[f64],
        ground: Ground,
    ) -> f64 {
        let mut supply = wa.to_vec();
        supply.extend(wb.iter().map(|w| -w));
        network_simplex::solve(
            &Bipartite::new(xs, ys, ground),
            &supply,
            Start::Cold,
            &Options::default(),
        )
        .unwrap()
        .cost
    }

    fn normalised(mut w: Vec<f64>) -> Vec<f64> {
        let s: f64 = w.iter().sum();
        w.iter_mut().for_each(|x| *x /= s);
        w
    }

    #[test]
    fn equals_the_dense_simplex_and_certifies_itself() {
        for ground in [Ground::Euclidean, Ground::SqEuclidean, Ground::Cityblock] {
            for seed in 0..4 {
                let (xs, wa) = cloud(60, seed);
                let (ys, wb) = cloud(45, seed + 100);
                let problem = Problem::new(&xs, &wa, &ys, &wb, ground);
                let t = solve(&problem, &[], |_| {}).unwrap();
                let dense = dense_cost(&xs, &wa, &ys, &wb, ground);
                assert!(
                    (t.cost - dense).abs() <= 1e-12 * dense.max(1.0),
                    "{ground:?} {seed}: {} vs {}",
                    t.cost,
                    dense
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

    /// Points on a 9×8 lattice with some cells missing, with random masses.
    fn lattice_cloud(seed: u64) -> (Vec<(f64, f64)>, Vec<f64>) {
        use rand::rngs::ChaCha8Rng;
        use rand::{RngExt, SeedableRng};
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let pts: Vec<(f64, f64)> = (0..72)
            .filter(|_| rng.random::<f64>() < 0.8)
            .map(|k| ((k / 8) as f64, (k % 8) as f64))
            .collect();
        let w = pts.iter().map(|_| rng.random::<f64>()).collect();
        (pts, normalised(w))
    }

    /// The scan over explicit arcs agrees with the arc-by-arc reference for every way the
    /// solver stores potentials: by node, by slot, by slot with block tags.
    #[test]
    fn sparse_pricing_reads_potentials_as_stored() {
        use rand::rngs::ChaCha8Rng;
        use rand::{RngExt, SeedableRng};
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (sources, _) = cloud(90, 1);
        let (targets, _) = cloud(110, 2);
        let mut arcs = SparseArcs {
            sources: &sources,
            targets: &targets,
            ground: Ground::Euclidean,
            from: Vec::new(),
            to: Vec::new(),
            cost: Vec::new(),
            bound: 10.0,
        };
        for _ in 0..3000 {
            arcs.push(rng.random_range(0..90), rng.random_range(0..110));
        }
        let nodes = 200 + 1;
        let by_slot: Vec<f64> = (0..nodes)
            .map(|_| 20.0 * rng.random::<f64>() - 10.0)
            .collect();
        let mut slot_of: Vec<u32> = (0..nodes as u32).collect();
        for k in (1..nodes).rev() {
            slot_of.swap(k, rng.random_range(0..=k));
        }
        let tag: Vec<f64> = (0..nodes / 64 + 1)
            .map(|_| 20.0 * rng.random::<f64>() - 10.0)
            .collect();
        for pi in [
            Potentials {
                by_slot: &by_slot,
                slot_of: None,
                tag: &[],
            },
            Potentials {
                by_slot: &by_slot,
                slot_of: Some(&slot_of),
                tag: &[],
            },
            Potentials {
                by_slot: &by_slot,
                slot_of: Some(&slot_of),
                tag: &tag,
            },
        ] {
            for range in [0..3000, 17..1234, 2999..3000] {
                let want = network_simplex::scan_arcs(&arcs, range.clone(), pi);
                assert!(
                    range.len() < 100 || want.1 != usize::MAX,
                    "some arc is negative"
                );
                assert_eq!(arcs.most_negative(range, pi), want);
            }
        }
    }

    /// A full `side × side` lattice with two sets of random masses on it.
    fn full_lattices(side: usize, seed: u64) -> (Vec<(f64, f64)>, Vec<f64>, Vec<f64>) {
        use rand::rngs::ChaCha8Rng;
        use rand::{RngExt, SeedableRng};
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let pts: Vec<(f64, f64)> = (0..side * side)
            .map(|k| ((k / side) as f64, (k % side) as f64))
            .collect();
        let wa = normalised(pts.iter().map(|_| rng.random::<f64>()).collect());
        let wb = normalised(pts.iter().map(|_| rng.random::<f64>()).collect());
        (pts, wa, wb)
    }

    /// Large enough (two 24 × 24 lattices) that subtree walks shift whole 64-slot blocks, whose
    /// tags pricing must add back.
    #[test]
    fn renumbered_solves_with_block_tags_reach_the_dense_optimum() {
        let (pts, wa, wb) = full_lattices(24, 17);
        for ground in [Ground::Euclidean, Ground::SqEuclidean] {
            let dense = dense_cost(&pts, &wa, &pts, &wb, ground);
            let problem = Problem::new(&pts, &wa, &pts, &wb, ground);
            let pricer = Pricer::new(&pts, &pts, ground);
            let t = solve_priced(&problem, &[], &pricer, true, |_| {}).unwrap();
            assert!(
                (t.cost - dense).abs() <= 1e-12 * dense.max(1.0),
                "{ground:?}: {} vs {dense}",
                t.cost
            );
            assert!(t.certificate.max_violation < 1e-10 && t.certificate.gap < 1e-10);
            assert!(
                t.certificate.rounds > 1,
                "warm restarts of a renumbered basis"
            );
        }
    }

    #[test]
    fn every_pricer_and_start_reaches_the_dense_optimum() {
        for ground in [Ground::Euclidean, Ground::SqEuclidean, Ground::Cityblock] {
            for seed in 0..3 {
                let (xs, wa) = lattice_cloud(seed);
                let (ys, wb) = lattice_cloud(seed + 50);
                let dense = dense_cost(&xs, &wa, &ys, &wb, ground);
                // A guess of pairs (every third pair, in a scrambled order) exercises the
                // greedy start; none exercises the north-west corner.
                let guess: Vec<(usize, usize)> = (0..xs.len() * ys.len())
                    .map(|k| (k * 7919) % (xs.len() * ys.len()))
                    .filter(|k| k % 3 == 0)
                    .map(|k| (k / ys.len(), k % ys.len()))
                    .collect();
                let problem = Problem::new(&xs, &wa, &ys, &wb, ground);
                let mut pricers = vec![
                    Pricer::all_pairs(&xs, &ys, ground),
                    Pricer::bounded(&xs, &ys, ground),
                ];
                if ground == Ground::SqEuclidean {
                    pricers.push(Pricer::new(&xs, &ys, ground));
                    assert_eq!(pricers[2].name(), "separable");
                }
                for pricer in &pricers {
                    // Renumbering (large problems) across warm restarts, and without it.
                    for (initial, renumber) in
                        [(&guess[..], false), (&[], false), (&guess[..], true)]
                    {
                        let t = solve_priced(&problem, initial, pricer, renumber, |_| {}).unwrap();
                        assert!(
                            (t.cost - dense).abs() <= 1e-12 * dense.max(1.0),
                            "{ground:?} {seed} {} {renumber}: {} vs {}",
                            pricer.name(),
                            t.cost,
                            dense
                        );
                        assert!(t.certificate.max_violation < 1e-10 && t.certificate.gap < 1e-10);
                    }
                }
            }
        }
    }

    /// Column deletion: dropping slack arcs keeps the optimal basis optimal (no pivot needed),
    /// the arcs of the tree survive under their new indices, and adding arcs back later warm
    /// starts from the compacted basis.
    #[test]
    fn dropping_slack_arcs_keeps_the_basis_and_the_optimum() {
        let (xs, wa) = lattice_cloud(4);
        let (ys, wb) = lattice_cloud(5);
        let ground = Ground::SqEuclidean;
        let mut arcs = SparseArcs::new(&xs, &ys, ground);
        // Every other pair, in the north-west corner's staircase first.
        let (stairs, start) = north_west_corner(&wa, &wb);
        for &(i, j) in &stairs {
            arcs.push(i, j);
        }
        for k in (0..xs.len() * ys.len()).step_by(2) {
            arcs.push(k / ys.len(), k % ys.len());
        }
        let mut supply = wa.to_vec();
        supply.extend(wb.iter().map(|w| -w));
        let opts = Options::default();
        let mut sol = network_simplex::solve(&arcs, &supply, Start::Tree(&start), &opts).unwrap();
        let mut basis = std::mem::take(&mut sol.basis);
        let before = arcs.arc_count();
        let eps = 1e-12 * arcs.bound;
        arcs.drop_slack(&sol.potentials, eps, &mut basis);
        assert!(
            arcs.arc_count() < before / 2,
            "{} of {before} arcs kept",
            arcs.arc_count()
        );
        let n = xs.len();
        for e in 0..arcs.arc_count() {
            let (i, j) = (arcs.from[e] as usize, arcs.to[e] as usize);
            let rc = arcs.cost[e] + sol.potentials[i] - sol.potentials[n + j];
            assert!(rc <= eps, "only tight arcs stay: {rc}");
        }
        let again =
            network_simplex::solve(&arcs, &supply, Start::Basis(Box::new(basis)), &opts).unwrap();
        assert_eq!(again.iterations, 0, "the compacted basis is still optimal");
        assert!((again.cost - sol.cost).abs() <= 1e-12 * sol.cost);
        // Every pair now: the warm start from the compacted basis reaches the full optimum.
        for k in 0..xs.len() * ys.len() {
            arcs.push(k / ys.len(), k % ys.len());
        }
        let full =
            network_simplex::solve(&arcs, &supply, Start::Basis(Box::new(again.basis)), &opts)
                .unwrap();
        let dense = dense_cost(&xs, &wa, &ys, &wb, ground);
        assert!(
            (full.cost - dense).abs() <= 1e-12 * dense,
            "{} vs {dense}",
            full.cost
        );
    }

    /// With the separable pricer every slack arc is dropped between rounds; arcs come back when
    /// priced again, and the optimum and certificate are those of the full problem.
    #[test]
    fn column_generation_drops_arcs_between_rounds() {
        let (pts, wa, wb) = full_lattices(20, 23);
        for ground in [Ground::SqEuclidean, Ground::Euclidean] {
            let problem = Problem::new(&pts, &wa, &pts, &wb, ground);
            let pricer = Pricer::new(&pts, &pts, ground);
            let mut listed = 0;
            let mut solved = Vec::new();
            let t = solve_priced(&problem, &[], &pricer, false, |r| {
                solved.push(r.arcs);
                listed += r.added;
            })
            .unwrap();
            // Without dropping, the last round would solve the first round's arcs plus every
            // pair pricing added.
            let initial = solved[0];
            assert!(
                t.certificate.arcs < initial + listed,
                "{ground:?}: {} arcs at the end, {} listed",
                t.certificate.arcs,
                initial + listed
            );
            let dense = dense_cost(&pts, &wa, &pts, &wb, ground);
            assert!(
                (t.cost - dense).abs() <= 1e-12 * dense,
                "{ground:?}: {} vs {dense}",
                t.cost
            );
            assert!(t.certificate.max_violation < 1e-10 && t.certificate.gap < 1e-10);
        }
    }

    #[test]
    fn greedy_start_is_a_feasible_forest_over_the_guess() {
        let (wa, wb) = ([0.5, 0.25, 0.25], [0.25, 0.25, 0.5]);
        let pts = [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)];
        let mut arcs = SparseArcs {
            sources: &pts,
            targets: &pts,
            ground: Ground::Euclidean,
            from: vec![0, 0, 1, 2],
            to: vec![0, 1, 2, 2],
            cost: vec![0.0, 1.0, 1.0, 0.0],
            bound: 2.0,
        };
        let tree = greedy_start(&wa, &wb, &mut arcs);
        // (0,0) and (0,1) empty source 0 into targets 0 and 1; (1,2) and (2,2) fill target 2:
        // no leftovers, so no arcs are added, and the pairs form two balanced trees.
        assert_eq!(arcs.arc_count(), 4);
        let none = usize::MAX;
        assert_eq!(tree.parent, [none, none, 5, 0, 0, 1]);
        assert_eq!(tree.down_arc[3..], [0, 1, 2]);
        assert_eq!(tree.up_arc[2], 3);
        // Unmatched mass (the guess misses target 0) is matched by new arcs.
        let mut arcs = SparseArcs {
            sources: &pts,
            targets: &pts,
            ground: Ground::Euclidean,
            from: vec![0],
            to: vec![2],
            cost: vec![2.0],
            bound: 2.0,
        };
        let tree = greedy_start(&wa, &wb, &mut arcs);
        assert!(arcs.arc_count() > 1);
        let mut supply = wa.to_vec();
        supply.extend(wb.iter().map(|w| -w));
        let sol = network_simplex::solve(&arcs, &supply, Start::Tree(&tree), &Options::default())
            .unwrap();
        // Started feasible: it never needs artificial flow, and it reaches the optimum over
        // these arcs.
        let total: f64 = sol.flows.iter().map(|&(_, f)| f).sum();
        assert!((total - 1.0).abs() < 1e-12, "{sol:?}");
    }

    /// A plan that is a feasible forest is the start as it stands; one whose caps leave a
    /// cycle is refused (and the solve falls back to the greedy start); either way the solve
    /// reaches the dense optimum.
    #[test]
    fn planned_starts_take_feasible_forests_and_refuse_cycles() {
        for ground in [Ground::SqEuclidean, Ground::Euclidean] {
            let (xs, wa) = lattice_cloud(7);
            let (ys, wb) = lattice_cloud(8);
            let problem = Problem::new(&xs, &wa, &ys, &wb, ground);
            let dense = dense_cost(&xs, &wa, &ys, &wb, ground);
            let optimal = solve(&problem, &[], |_| {}).unwrap();
            let arcs = || SparseArcs::new(&xs, &ys, ground);
            // The optimal plan: a forest that moves every mass; the solve needs no pivot.
            let mut listed = arcs();
            for &(i, j, _) in &optimal.plan {
                listed.push(i, j);
            }
            let caps: Vec<f64> = optimal.plan.iter().map(|&(_, _, f)| f).collect();
            assert!(planned_start(&wa, &wb, &caps, &mut listed).is_some());
            let mut first = None;
            let t = solve_planned(&problem, &optimal.plan, &[], None, |r| {
                first.get_or_insert(r.pivots);
            })
            .unwrap();
            assert_eq!(first, Some(0), "{ground:?}: started at the optimum");
            assert!((t.cost - dense).abs() <= 1e-12 * dense.max(1.0));
            // A square of pairs whose caps each move half of what both ends have: a cycle.
            let (i0, i1, j0, j1) = (0, 1, 0, 1);
            let half = 0.5 * wa[i0].min(wa[i1]).min(wb[j0]).min(wb[j1]);
            let square = [
                (i0, j0, half),
                (i0, j1, half),
                (i1, j1, half),
                (i1, j0, half),
            ];
            let mut listed = arcs();
            for &(i, j, _) in &square {
                listed.push(i, j);
            }
            assert!(planned_start(&wa, &wb, &[half; 4], &mut listed).is_none());
            // With and without the lattice's neighbours.
            let near = |pts: &[(f64, f64)], k: usize| {
                let p = pts[k];
                (0..pts.len())
                    .filter(move |&l| (pts[l].0 - p.0).abs() + (pts[l].1 - p.1).abs() == 1.0)
                    .collect::<Vec<usize>>()
            };
            let lattice = Neighbours::new(xs.len(), |i| near(&xs, i), ys.len(), |j| near(&ys, j));
            assert!(lattice.source_list.len() > xs.len() && lattice.target_list.len() > ys.len());
            for neighbours in [None, Some(&lattice)] {
                let t = solve_planned(&problem, &square, &[(2, 2), (3, 1)], neighbours, |_| {})
                    .unwrap();
                assert!(
                    (t.cost - dense).abs() <= 1e-12 * dense.max(1.0),
                    "{ground:?}: {} vs {dense}",
                    t.cost
                );
                assert!(t.certificate.max_violation < 1e-10 && t.certificate.gap < 1e-10);
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
