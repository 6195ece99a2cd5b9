//! Exact earth mover's (Wasserstein) distance with locations.
//!
//! `W₁ = min_π Σ π_ij c(x_i, y_j)` over transport plans π between the two masses, with ground
//! cost `c` the euclidean or cityblock distance between cell positions (pixel units), and
//! `W₂ = sqrt(min_π Σ π_ij |x_i − y_j|²)` for the squared euclidean cost. Range `[0, diameter]`,
//! units: pixels; symmetric; a metric on masses. Cells sit where [`Mass`] puts them, so
//! `--downscale K` gives the "shrink and solve exactly" recipe with values in original pixels.
//!
//! Solvers (all exact, all [`crate::ot::network_simplex`]):
//! - **cityblock**: min-cost flow on the 4-neighbour grid graph with supplies `a − b` (about 4N
//!   arcs), solved coarse to fine ([`crate::ot::grid_flow`]) and certified over every pair of
//!   cells; grids up to [`super::limits::CITYBLOCK_CELL_LIMIT`]. Used whenever both masses share
//!   a grid (or one grid extends the other).
//! - **euclidean, sqeuclidean** (and cityblock on unrelated grids, or when the plan or duals
//!   are asked for): column generation ([`crate::ot::colgen`]) on the two supports (zero-mass
//!   cells dropped): the network simplex on a sparse arc set seeded by the plan between the
//!   2×2-block sums (solved the same way, recursively) and started from that plan refined to the
//!   fine cells; every pair priced with the duals each round, violated pairs added, until none is
//!   violated. No `n·m` costs or arc states are stored and, for large problems, not every pair
//!   is visited either: squared euclidean pricing is a distance transform (O(n + m) per round),
//!   euclidean pricing skips blocks of pairs by box bounds ([`crate::ot::pricing`]). The final
//!   duals certify optimality over all pairs. Memory is O(cells + arcs); time grows faster than
//!   the cell count, so supports together are limited to [`PRICED_CELL_LIMIT`] cells, and
//!   larger problems fail with a hint to use `--downscale`.
//!   [`emd_dense`] (the complete bipartite graph, up to [`DENSE_PAIR_LIMIT`]) remains for
//!   comparison.
//!
//! References: Rubner, Tomasi & Guibas, "The earth mover's distance as a metric for image
//! retrieval" (2000); Ling & Okada, "An efficient earth mover's distance algorithm for robust
//! histogram comparison" (2007); Bonneel et al. POT `ot.emd2`.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use serde::{Serialize, Serializer};

use super::{
    Details, Extras, Measurement, Metric, MetricKind, MetricParams, Progress, accurate_sum,
};
use crate::error::{Error, Result};
use crate::mass::Mass;
use crate::ot::arcs::Bipartite;
use crate::ot::colgen::{self, Certificate, Problem, Transport};
use crate::ot::grid_flow;
use crate::ot::network_simplex::{self, Options, Start};

pub use crate::ot::arcs::Ground;
pub use crate::ot::colgen::Round;
pub use crate::ot::grid_flow::Level;

/// Largest `support(A) × support(B)` the dense solver accepts: 2²⁵ = 33,554,432 pairs (two full
/// 64×64 images use half of it).
pub const DENSE_PAIR_LIMIT: u64 = 1 << 25;

/// Largest `support(A) + support(B)` column generation accepts: 2²¹ = 2,097,152 cells (two full
/// 1024×1024 images). Memory is O(cells + arcs), about 600 bytes a cell (301 MB for two 512²
/// images), so about 1.3 GB there; the limit bounds the time, which grows faster than the cell
/// count (about an hour at the limit, each round reporting its progress).
pub const PRICED_CELL_LIMIT: usize = 1 << 21;

impl FromStr for Ground {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let all = [Ground::Euclidean, Ground::SqEuclidean, Ground::Cityblock];
        super::parse_choice("--ground", s, &all.map(|g| (g.as_str(), g)))
    }
}

/// The exact EMD metric for one ground cost.
#[derive(Debug, Clone)]
pub struct Emd {
    ground: Ground,
    plan: EmdPlan,
}

/// Whether an EMD returns an optimal plan and duals besides its value (in the measurement's
/// [`Extras::Emd`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmdPlan {
    /// The value only.
    #[default]
    None,
    /// The value, and a plan for pictures: the value and details are exactly those without a
    /// plan. Cityblock's grid-graph flow moves mass between neighbours, not from cell to cell, so
    /// column generation then solves the problem a second time for its plan; if it cannot
    /// (too large), the extras say why instead of failing the metric.
    Picture,
    /// The value, plan and duals of one column-generation solve, for every ground: what
    /// `--dump-plan` and `--dump-duals` write. A failure to solve is the metric's error.
    Solve,
}

impl Emd {
    /// An exact EMD with the given ground cost.
    pub fn new(ground: Ground) -> Emd {
        Emd {
            ground,
            plan: EmdPlan::None,
        }
    }

    /// The same, also returning the plan `plan` asks for.
    pub fn with_plan(self, plan: EmdPlan) -> Emd {
        Emd { plan, ..self }
    }
}

/// Which exact solver computed an EMD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Min-cost flow on the 4-neighbour grid graph (cityblock on one grid).
    GridFlow,
    /// Column generation over the two supports, with a certificate.
    ColumnGeneration,
    /// The network simplex on the complete bipartite graph ([`emd_dense`]).
    Dense,
}

impl Algorithm {
    /// The name the JSON report uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::GridFlow => "grid-flow",
            Algorithm::ColumnGeneration => "column-generation",
            Algorithm::Dense => "dense",
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The parameters emd reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EmdParams {
    /// The ground cost, by the name the user types.
    #[serde(serialize_with = "ground_name")]
    pub ground: Ground,
}

fn ground_name<S: Serializer>(ground: &Ground, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(ground.as_str())
}

/// Further facts emd reports: the solver's statistics and the certificate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmdDetails {
    /// The optimal cost `min Σ π c` (W₂², not W₂, for squared euclidean).
    pub cost: f64,
    /// Which solver ran.
    pub algorithm: Algorithm,
    /// Network simplex pivots.
    pub iterations: u64,
    /// Nodes of the flow problem.
    pub nodes: usize,
    /// Arcs of the flow problem (for column generation: of the final sparse problem).
    pub arcs: usize,
    /// The duals' evidence of optimality over every pair.
    pub certificate: CertificateDetails,
    /// Wall-clock seconds of the solve.
    pub solve_seconds: f64,
}

/// The certificate as the report states it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CertificateDetails {
    /// How far the duals are from feasible over every pair (0 up to rounding).
    pub max_violation: f64,
    /// `|plan cost − dual value|` (0 up to rounding at an optimum).
    pub gap: f64,
    /// Rounds of pricing, the last of which found no violated pair (1 for the grid flow: the
    /// check at the end).
    pub rounds: usize,
    /// Every pair the final round checked: `support(A) × support(B)`, or every pair of cells
    /// for the grid flow.
    pub pairs_priced: u64,
    /// How pairs were priced: `all-pairs`, `separable`, `bounded` or `none` (column
    /// generation), `distance-transform` (the grid flow).
    pub pricing: &'static str,
}

/// An exact solve: the optimal cost and how it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct EmdResult {
    /// The distance: the optimal cost, or its square root for [`Ground::SqEuclidean`].
    pub value: f64,
    /// The optimal cost `min Σ π c`.
    pub cost: f64,
    /// Which solver ran.
    pub algorithm: Algorithm,
    /// Network simplex pivots.
    pub iterations: u64,
    /// Nodes and arcs of the flow problem.
    pub size: (usize, usize),
}

/// Solves the exact transport problem between `a` and `b`.
///
/// # Errors
/// [`Error::ProblemTooLarge`] above the cell limits
/// ([`PRICED_CELL_LIMIT`], [`super::limits::CITYBLOCK_CELL_LIMIT`]); [`Error::Solver`] if the
/// solver fails.
pub fn emd(a: &Mass, b: &Mass, ground: Ground) -> Result<EmdResult> {
    if let Some(grid) = emd_grid(a, b, ground, |_| {}) {
        return grid.map(|(r, _)| r);
    }
    emd_sparse(a, b, ground, |_| {}).map(|(r, _)| r)
}

/// The route [`emd`] takes for cityblock cost on one grid (one grid extending the other
/// included): the min-cost flow of `a − b` on the 4-neighbour grid graph, solved coarse to
/// fine ([`grid_flow`]), calling `progress` after each level. Its potentials certify it over
/// every pair of cells ([`grid_flow::certify`]). `None` for other grounds and grids.
fn emd_grid(
    a: &Mass,
    b: &Mass,
    ground: Ground,
    progress: impl FnMut(&Level),
) -> Option<Result<(EmdResult, CertificateDetails)>> {
    if ground != Ground::Cityblock {
        return None;
    }
    let (a, b) = Mass::on_common_grid(a, b)?;
    let solve = || {
        super::limits::check_cityblock_cells(a.len())?;
        let supply = difference(&a, &b);
        let (rows, cols) = (a.row_coords(), a.col_coords());
        let flow = grid_flow::solve(rows, cols, &supply, progress)?;
        let sol = &flow.solution;
        let (max_violation, gap) =
            grid_flow::certify(rows, cols, &supply, &sol.potentials, sol.cost);
        let result = EmdResult {
            value: distance(ground, sol.cost),
            cost: sol.cost,
            algorithm: Algorithm::GridFlow,
            iterations: flow.pivots,
            size: (a.len(), 4 * a.len()),
        };
        let certificate = CertificateDetails {
            max_violation,
            gap,
            rounds: 1,
            pairs_priced: (a.len() as u64).pow(2),
            pricing: "distance-transform",
        };
        Ok((result, certificate))
    };
    Some(solve())
}

/// Solves the exact transport problem by column generation over the two supports (the route
/// [`emd`] takes for euclidean and squared euclidean costs), calling `progress` after each
/// round. Returns the plan and duals with their certificate as well.
///
/// # Errors
/// [`Error::Solver`] if the solver fails.
pub fn emd_sparse(
    a: &Mass,
    b: &Mass,
    ground: Ground,
    mut progress: impl FnMut(&Round),
) -> Result<(EmdResult, Sparse)> {
    let support = |m: &Mass| m.as_slice().iter().filter(|&&w| w > 0.0).count();
    check_cells(ground, support(a), support(b))?;
    if ground != Ground::SqEuclidean
        && let Some((ca, cb)) = Mass::on_common_grid(a, b)
    {
        return emd_metric(&ca, &cb, ground, progress);
    }
    // On a common grid (padded with empty cells where one extends the other) the supports are
    // the same points in the same order, and the coarse guess's cells index that grid.
    let common = Mass::on_common_grid(a, b);
    let (a, b) = match &common {
        Some((ca, cb)) => (ca.as_ref(), cb.as_ref()),
        None => (a, b),
    };
    let guess = if common.is_some() && a.len() > COARSEST_CELLS {
        Some(coarse_guess(a, b, ground)?)
    } else {
        None
    };
    let (xs, wa, ids_a) = support_of(a);
    let (ys, wb, ids_b) = support_of(b);
    let problem = Problem::new(&xs, &wa, &ys, &wb, ground);
    let t = match guess {
        Some(guess) => {
            // Both masses are on the grid the guess indexes, so every plan pair has mass at
            // both ends.
            let plan: Vec<(usize, usize, f64)> = guess
                .plan
                .iter()
                .filter_map(|&(p, q, f)| {
                    let (i, j) = (ids_a[p], ids_b[q]);
                    (i != usize::MAX && j != usize::MAX).then_some((i, j, f))
                })
                .collect();
            let initial = to_support_pairs(&guess.pairs, &ids_a, &ids_b);
            let near = grid_neighbours(a.shape(), &ids_a, &ids_b);
            colgen::solve_planned(&problem, &plan, &initial, Some(&near), &mut progress)?
        }
        None => colgen::solve(&problem, &[], &mut progress)?,
    };
    let result = EmdResult {
        value: distance(ground, t.cost),
        cost: t.cost,
        algorithm: Algorithm::ColumnGeneration,
        iterations: t.certificate.pivots,
        size: (xs.len() + ys.len(), t.certificate.arcs),
    };
    Ok((
        result,
        Sparse {
            sources: xs,
            targets: ys,
            transport: t,
        },
    ))
}

/// `a − b` cell by cell (one grid), balanced so that it sums to zero up to rounding.
///
/// Each mass sums to 1 up to a few units in the last place, so `Σ (a − b)` is rounding, not
/// zero. That is harmless next to a real difference, but when the two masses are equal up to
/// rounding (the same picture stored in another format), the imbalance is as large as the
/// difference itself and no flow can route it. Then the excess is taken off the entries of its
/// sign, largest first: a change of the order of the rounding, which moves the cost by at most
/// the imbalance times the grid's diameter. Taking it off is itself rounded, and when the whole
/// difference was imbalance what is left is that rounding alone (10⁻³³ on a cell, with nothing
/// to balance it); so the sum that remains is taken off the largest entry, which leaves at most
/// half a unit in its last place: nothing, or far below what the solver tolerates.
fn difference(a: &Mass, b: &Mass) -> Vec<f64> {
    let mut d: Vec<f64> = a
        .as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(x, y)| x - y)
        .collect();
    let total = accurate_sum(d.iter().copied());
    let scale = accurate_sum(d.iter().map(|x| x.abs()));
    if total.abs() <= 1e-12 * scale {
        return d;
    }
    let mut order: Vec<usize> = (0..d.len())
        .filter(|&k| d[k] != 0.0 && (d[k] > 0.0) == (total > 0.0))
        .collect();
    order.sort_by(|&i, &j| d[j].abs().total_cmp(&d[i].abs()));
    // |total| ≤ the sum of the entries of its sign, so the excess is always used up.
    let mut excess = total.abs();
    for k in order {
        let take = excess.min(d[k].abs());
        d[k] -= take.copysign(total);
        excess -= take;
        if excess <= 0.0 {
            break;
        }
    }
    let left = accurate_sum(d.iter().copied());
    if let Some(k) = (0..d.len()).max_by(|&i, &j| d[i].abs().total_cmp(&d[j].abs())) {
        d[k] -= left;
    }
    d
}

/// [`emd_sparse`] for a metric ground cost (euclidean, cityblock) and masses on one grid.
///
/// For a metric cost, mass present in both images can stay where it is: the optimal cost
/// between `a` and `b` equals that between `(a − b)₊` and `(b − a)₊` (Kantorovich–Rubinstein:
/// W₁ depends on `a − b` only). So column generation solves the problem between the two parts
/// of the difference, which is about half as many cells and far fewer pivots, and the answer is
/// then stated for the full problem: the plan adds `min(a, b)` staying in place on every cell,
/// and the duals become `u = f`, `v = −f` with `f(x) = min_j c(x, y_j) − v_j` over the targets
/// of the difference (1-Lipschitz, so feasible for every pair; `f = u` on the sources and
/// `−v` on the targets of the difference). The certificate is checked again over every pair
/// of the full supports.
fn emd_metric(
    a: &Mass,
    b: &Mass,
    ground: Ground,
    progress: impl FnMut(&Round),
) -> Result<(EmdResult, Sparse)> {
    let (rows, cols) = (a.row_coords(), a.col_coords());
    let at = |k: usize| (rows[k / cols.len()], cols[k % cols.len()]);
    let (wa_cells, wb_cells) = (a.as_slice(), b.as_slice());
    // The difference's two parts, as cell lists.
    let (mut plus, mut minus) = (Vec::new(), Vec::new());
    let diff = difference(a, b);
    for (k, &d) in diff.iter().enumerate() {
        if d > 0.0 {
            plus.push((k, d));
        } else if d < 0.0 {
            minus.push((k, -d));
        }
    }
    let points = |cells: &[(usize, f64)]| -> (Vec<(f64, f64)>, Vec<f64>) {
        cells.iter().map(|&(k, w)| (at(k), w)).unzip()
    };
    let (px, pw) = points(&plus);
    let (mx, mw) = points(&minus);
    // The reduced problem, unless the masses are equal.
    let reduced = if plus.is_empty() || minus.is_empty() {
        None
    } else {
        let mut ids_p = vec![usize::MAX; a.len()];
        let mut ids_m = vec![usize::MAX; a.len()];
        plus.iter()
            .enumerate()
            .for_each(|(i, &(k, _))| ids_p[k] = i);
        minus
            .iter()
            .enumerate()
            .for_each(|(j, &(k, _))| ids_m[k] = j);
        let problem = Problem::new(&px, &pw, &mx, &mw, ground);
        if a.len() > COARSEST_CELLS {
            // The guess refines a plan between the two parts summed over blocks (not between
            // `a` and `b` summed over blocks, whose difference cancels within blocks).
            let part = |cells: &[(usize, f64)], name: &str| {
                let mut v = ndarray::Array2::<f64>::zeros(a.shape());
                let w = v.as_slice_mut().expect("standard layout");
                cells.iter().for_each(|&(k, x)| w[k] = x);
                Mass::from_values(&v, 1, name)
            };
            let guess = coarse_guess(&part(&plus, "A − B")?, &part(&minus, "B − A")?, ground)?;
            // The parts are normalised: their plan moves `Σ (a − b)₊` in all.
            let total: f64 = pw.iter().sum();
            let plan: Vec<(usize, usize, f64)> = guess
                .plan
                .iter()
                .filter_map(|&(p, q, f)| {
                    let (i, j) = (ids_p[p], ids_m[q]);
                    (i != usize::MAX && j != usize::MAX).then_some((i, j, f * total))
                })
                .collect();
            let initial = to_support_pairs(&guess.pairs, &ids_p, &ids_m);
            let near = grid_neighbours(a.shape(), &ids_p, &ids_m);
            Some(colgen::solve_planned(
                &problem,
                &plan,
                &initial,
                Some(&near),
                progress,
            )?)
        } else {
            Some(colgen::solve(&problem, &[], progress)?)
        }
    };
    // f on every cell with mass.
    let mut f = vec![0.0; a.len()];
    if let Some(t) = &reduced {
        for (&(k, _), &u) in plus.iter().zip(&t.u) {
            f[k] = u;
        }
        for (&(k, _), &v) in minus.iter().zip(&t.v) {
            f[k] = -v;
        }
        // Cells with mass outside the difference (equal in both, or balanced away).
        for (k, (&x, &y)) in wa_cells.iter().zip(wb_cells).enumerate() {
            if x.max(y) > 0.0 && diff[k] == 0.0 {
                let p = at(k);
                f[k] = mx
                    .iter()
                    .zip(&t.v)
                    .map(|(q, v)| ground.cost(p.0 - q.0, p.1 - q.1) - v)
                    .fold(f64::INFINITY, f64::min);
            }
        }
    }
    let (xs, wa, ids_a) = support_of(a);
    let (ys, wb, ids_b) = support_of(b);
    let u: Vec<f64> = support_cells(&ids_a).map(|k| f[k]).collect();
    let v: Vec<f64> = support_cells(&ids_b).map(|k| -f[k]).collect();
    let mut plan: Vec<(usize, usize, f64)> = reduced.as_ref().map_or_else(Vec::new, |t| {
        t.plan
            .iter()
            .map(|&(i, j, m)| (ids_a[plus[i].0], ids_b[minus[j].0], m))
            .collect()
    });
    let cost = reduced.as_ref().map_or(0.0, |t| t.cost);
    for (k, (&x, &y)) in wa_cells.iter().zip(wb_cells).enumerate() {
        if x.min(y) > 0.0 {
            plan.push((ids_a[k], ids_b[k], x.min(y)));
        }
    }
    let problem = Problem::new(&xs, &wa, &ys, &wb, ground);
    let (max_violation, gap) = colgen::certify(&problem, cost, &u, &v);
    let certificate = match &reduced {
        Some(t) => Certificate {
            max_violation,
            gap,
            ..t.certificate
        },
        None => Certificate {
            max_violation,
            gap,
            rounds: 0,
            arcs: 0,
            pivots: 0,
            pricing: "none",
        },
    };
    let result = EmdResult {
        value: distance(ground, cost),
        cost,
        algorithm: Algorithm::ColumnGeneration,
        iterations: certificate.pivots,
        size: (plus.len() + minus.len(), certificate.arcs),
    };
    Ok((
        result,
        Sparse {
            sources: xs,
            targets: ys,
            transport: Transport {
                cost,
                plan,
                u,
                v,
                certificate,
            },
        },
    ))
}

/// The grid cell of each support index, in order (the inverse of [`support_of`]'s ids).
fn support_cells(ids: &[usize]) -> impl Iterator<Item = usize> + '_ {
    ids.iter()
        .enumerate()
        .filter(|&(_, &i)| i != usize::MAX)
        .map(|(k, _)| k)
}

/// Grids of at most this many cells are solved without a coarser guess.
const COARSEST_CELLS: usize = 64;

/// A mass's cells with mass: positions, weights, and each grid cell's index among them
/// (`usize::MAX` for empty cells).
fn support_of(m: &Mass) -> (Vec<(f64, f64)>, Vec<f64>, Vec<usize>) {
    let (rows, cols) = (m.row_coords(), m.col_coords());
    let mut ids = vec![usize::MAX; m.len()];
    let (mut pts, mut w) = (Vec::new(), Vec::new());
    for (k, &x) in m.as_slice().iter().enumerate() {
        if x > 0.0 {
            ids[k] = pts.len();
            pts.push((rows[k / cols.len()], cols[k % cols.len()]));
            w.push(x);
        }
    }
    (pts, w, ids)
}

/// Grid-cell pairs mapped to support indices, dropping pairs with an empty cell.
fn to_support_pairs(
    pairs: &[(usize, usize)],
    ids_a: &[usize],
    ids_b: &[usize],
) -> Vec<(usize, usize)> {
    pairs
        .iter()
        .filter_map(|&(p, q)| {
            let (i, j) = (ids_a[p], ids_b[q]);
            (i != usize::MAX && j != usize::MAX).then_some((i, j))
        })
        .collect()
}

/// The 4-neighbours of each source and each target among the cells of a `shape` grid, given
/// each cell's source and target index (`usize::MAX` for none).
fn grid_neighbours(shape: (usize, usize), ids_a: &[usize], ids_b: &[usize]) -> colgen::Neighbours {
    let (rows, cols) = shape;
    let cells = |ids| support_cells(ids).collect::<Vec<usize>>();
    let (cell_a, cell_b) = (cells(ids_a), cells(ids_b));
    let near = |k: usize, ids: &[usize]| {
        let (r, c) = (k / cols, k % cols);
        let mut out = Vec::with_capacity(4);
        for (ok, k) in [
            (r > 0, k.wrapping_sub(cols)),
            (r + 1 < rows, k + cols),
            (c > 0, k.wrapping_sub(1)),
            (c + 1 < cols, k + 1),
        ] {
            if ok && ids[k] != usize::MAX {
                out.push(ids[k]);
            }
        }
        out
    };
    colgen::Neighbours::new(
        cell_a.len(),
        |i| near(cell_a[i], ids_a),
        cell_b.len(),
        |j| near(cell_b[j], ids_b),
    )
}

/// A guess of the optimal plan between two masses on one grid, from the optimal plan between
/// both masses summed over 2×2 blocks (solved the same way, recursively), in grid cells.
struct Guess {
    /// A refinement of the coarse plan: every coarse pair's mass split over the pairs of its
    /// fine cells, as a forest that moves each cell's mass.
    plan: Vec<(usize, usize, f64)>,
    /// The other pairs of fine cells of coarse pairs, cheapest first under the coarse duals
    /// lifted to the fine cells.
    pairs: Vec<(usize, usize)>,
}

/// The coarse-to-fine guess for masses `a` and `b` on one grid (see [`Guess`]).
///
/// Each coarse cell's mass is split over its coarse pairs by the north-west-corner rule, its
/// fine cells and its pairs both sorted along the axis on which the pairs' other ends spread
/// most; each coarse pair then moves its share from its source's fine cells to its target's
/// fine cells greedily, cheapest pair first. The order is the reduced cost under the coarse
/// duals lifted to first order: `u(x) = u(X) + ∇ₓc(X, T(X))·(x − X)` with `X` the coarse
/// cell's centre and `T(X)` where its plan sends its mass on average (and the same for
/// targets); plan pairs are tight, so this needs the coarse plan only. The split moves every
/// fine cell's mass exactly once, so that the pairs used form a forest (the coarse plan is
/// one, and a fine cell is shared by at most two consecutive pairs of its coarse cell).
fn coarse_guess(a: &Mass, b: &Mass, ground: Ground) -> Result<Guess> {
    let (ca, cb) = (
        Mass::from_values(a.weights(), 2, "coarse A")?,
        Mass::from_values(b.weights(), 2, "coarse B")?,
    );
    let (_, coarse) = emd_sparse(&ca, &cb, ground, |_| {})?;
    let (_, _, ids_a) = support_of(&ca);
    let (_, _, ids_b) = support_of(&cb);
    // Back from support indices to coarse grid cells.
    let cells = |ids| support_cells(ids).collect::<Vec<usize>>();
    let (cell_a, cell_b) = (cells(&ids_a), cells(&ids_b));
    let (rows, cols) = a.shape();
    let coarse_cols = ca.shape().1;
    let children = |k: usize| {
        let (r, c) = (k / coarse_cols, k % coarse_cols);
        [(0, 0), (0, 1), (1, 0), (1, 1)]
            .into_iter()
            .map(move |(dr, dc)| (2 * r + dr, 2 * c + dc))
            .filter(move |&(r, c)| r < rows && c < cols)
            .map(move |(r, c)| r * cols + c)
    };
    // Fine coordinates of fine cells, and of each coarse cell's centre (its children's mean).
    let (fine_rows, fine_cols) = (a.row_coords(), a.col_coords());
    let at = |k: usize| (fine_rows[k / cols], fine_cols[k % cols]);
    let centre = |k: usize| {
        let (mut s, mut c) = ((0.0, 0.0), 0.0);
        for p in children(k) {
            let x = at(p);
            s = (s.0 + x.0, s.1 + x.1);
            c += 1.0;
        }
        (s.0 / c, s.1 / c)
    };
    let centre_a: Vec<(f64, f64)> = cell_a.iter().map(|&k| centre(k)).collect();
    let centre_b: Vec<(f64, f64)> = cell_b.iter().map(|&k| centre(k)).collect();
    let coarse_plan = &coarse.transport.plan;
    // Each coarse cell's pairs, and where it sends (gets) its mass on average.
    let mut out = vec![Vec::new(); cell_a.len()];
    let mut into = vec![Vec::new(); cell_b.len()];
    let mut sent = vec![(0.0, 0.0, 0.0); cell_a.len()];
    let mut got = vec![(0.0, 0.0, 0.0); cell_b.len()];
    for (k, &(i, j, m)) in coarse_plan.iter().enumerate() {
        out[i].push(k);
        into[j].push(k);
        let (y, x) = (centre_b[j], centre_a[i]);
        sent[i] = (sent[i].0 + m * y.0, sent[i].1 + m * y.1, sent[i].2 + m);
        got[j] = (got[j].0 + m * x.0, got[j].1 + m * x.1, got[j].2 + m);
    }
    let mean = |(s0, s1, w): (f64, f64, f64)| (s0 / w, s1 / w);
    // Each coarse pair's share of its fine cells' masses.
    let share = |cell: &[usize],
                 lists: &[Vec<usize>],
                 weights: &[f64],
                 other: &dyn Fn(usize) -> (f64, f64)| {
        let mut parts: Vec<Vec<(usize, f64)>> = vec![Vec::new(); coarse_plan.len()];
        for (i, pairs) in lists.iter().enumerate() {
            if pairs.is_empty() {
                continue;
            }
            let mut pairs = pairs.clone();
            let mut kids: Vec<usize> = children(cell[i]).filter(|&p| weights[p] > 0.0).collect();
            // The axis along which the pairs' other ends spread most.
            let spread = |f: &dyn Fn((f64, f64)) -> f64| {
                let v: Vec<f64> = pairs.iter().map(|&k| f(other(k))).collect();
                let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                v.iter().copied().fold(f64::NEG_INFINITY, f64::max) - lo
            };
            let along_rows = spread(&|p| p.0) >= spread(&|p| p.1);
            let key = |p: (f64, f64)| if along_rows { (p.0, p.1) } else { (p.1, p.0) };
            let cmp = |x: (f64, f64), y: (f64, f64)| {
                let (x, y) = (key(x), key(y));
                x.0.total_cmp(&y.0).then(x.1.total_cmp(&y.1))
            };
            pairs.sort_by(|&k, &l| cmp(other(k), other(l)));
            kids.sort_by(|&p, &q| cmp(at(p), at(q)));
            let last = pairs.len() - 1;
            let (mut t, mut cap) = (0, coarse_plan[pairs[0]].2);
            for p in kids {
                let mut left = weights[p];
                loop {
                    if t == last {
                        parts[pairs[t]].push((p, left));
                        break;
                    }
                    let f = left.min(cap);
                    if f > 0.0 {
                        parts[pairs[t]].push((p, f));
                    }
                    left -= f;
                    cap -= f;
                    if left <= 0.0 {
                        break;
                    }
                    t += 1;
                    cap = coarse_plan[pairs[t]].2;
                }
            }
        }
        parts
    };
    let from = share(&cell_a, &out, a.as_slice(), &|k| centre_b[coarse_plan[k].1]);
    let to = share(&cell_b, &into, b.as_slice(), &|k| {
        centre_a[coarse_plan[k].0]
    });
    let mut plan = Vec::new();
    let mut pairs = Vec::new();
    let mut keys = Vec::new();
    let mut local = Vec::new();
    for (k, &(i, j, _)) in coarse_plan.iter().enumerate() {
        let (x0, y0) = (centre_a[i], centre_b[j]);
        let gx = ground_gradient(ground, x0, mean(sent[i]));
        let gy = ground_gradient(ground, mean(got[j]), y0);
        let c0 = ground.cost(x0.0 - y0.0, x0.1 - y0.1);
        let key = |p: usize, q: usize| {
            let (x, y) = (at(p), at(q));
            let du = gx.0 * (x.0 - x0.0) + gx.1 * (x.1 - x0.1);
            let dv = -(gy.0 * (y.0 - y0.0) + gy.1 * (y.1 - y0.1));
            ground.cost(x.0 - y.0, x.1 - y.1) - c0 - du - dv
        };
        // The pair's share, greedily over its fine pairs, cheapest first.
        local.clear();
        for (s, &(p, _)) in from[k].iter().enumerate() {
            for (t, &(q, _)) in to[k].iter().enumerate() {
                local.push((key(p, q), s, t));
            }
        }
        local.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut rs: Vec<f64> = from[k].iter().map(|&(_, f)| f).collect();
        let mut rt: Vec<f64> = to[k].iter().map(|&(_, f)| f).collect();
        let first = plan.len();
        for &(_, s, t) in &local {
            let f = rs[s].min(rt[t]);
            if f > 0.0 {
                rs[s] -= f;
                rt[t] -= f;
                plan.push((from[k][s].0, to[k][t].0, f));
            }
        }
        // The other pairs of fine cells.
        for p in children(cell_a[i]) {
            for q in children(cell_b[j]) {
                if !plan[first..].iter().any(|&(x, y, _)| (x, y) == (p, q)) {
                    pairs.push((p, q));
                    keys.push(key(p, q));
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by(|&e, &f| keys[e].total_cmp(&keys[f]));
    let pairs = order.into_iter().map(|e| pairs[e]).collect();
    Ok(Guess { plan, pairs })
}

/// The gradient of the ground cost `c(x − y)` with respect to `x` (zero where it has none).
fn ground_gradient(ground: Ground, x: (f64, f64), y: (f64, f64)) -> (f64, f64) {
    let (dx, dy) = (x.0 - y.0, x.1 - y.1);
    match ground {
        Ground::SqEuclidean => (2.0 * dx, 2.0 * dy),
        Ground::Euclidean => {
            let r = (dx * dx + dy * dy).sqrt();
            if r > 0.0 {
                (dx / r, dy / r)
            } else {
                (0.0, 0.0)
            }
        }
        Ground::Cityblock => (
            dx.signum() * f64::from(dx != 0.0),
            dy.signum() * f64::from(dy != 0.0),
        ),
    }
}

/// The full answer of [`emd_sparse`]: the support points of both sides and the optimal plan
/// and duals between them.
#[derive(Debug, Clone, PartialEq)]
pub struct Sparse {
    /// `(row, column)` of each source cell (A's cells with mass).
    pub sources: Vec<(f64, f64)>,
    /// `(row, column)` of each target cell (B's cells with mass).
    pub targets: Vec<(f64, f64)>,
    /// Plan, duals and certificate, indexed by those lists.
    pub transport: Transport,
}

/// Solves the exact transport problem on the complete bipartite graph between the supports,
/// whatever the ground cost: `support(A) × support(B)` arcs, so only for small problems. [`emd`]
/// never takes this route; it stays as an independent check of the sparse solvers.
///
/// # Errors
/// [`Error::ProblemTooLarge`] above [`DENSE_PAIR_LIMIT`]; [`Error::Solver`] if the solver fails.
pub fn emd_dense(a: &Mass, b: &Mass, ground: Ground) -> Result<EmdResult> {
    let (sa, sb) = (a.support(), b.support());
    check_pairs(ground, sa.len(), sb.len(), DENSE_PAIR_LIMIT, "dense")?;
    let xs: Vec<(f64, f64)> = sa.iter().map(|&(r, c, _)| (r, c)).collect();
    let ys: Vec<(f64, f64)> = sb.iter().map(|&(r, c, _)| (r, c)).collect();
    let mut supply: Vec<f64> = sa.iter().map(|&(_, _, w)| w).collect();
    supply.extend(sb.iter().map(|&(_, _, w)| -w));
    let arcs = Bipartite::new(&xs, &ys, ground);
    // Vectorised pricing makes long blocks cheap; 4·√arcs measured fastest on real 64² pairs.
    let opts = Options {
        block_size: 4 * (xs.len() as f64 * ys.len() as f64).sqrt() as usize,
        ..Options::default()
    };
    let sol = network_simplex::solve(&arcs, &supply, Start::Cold, &opts)?;
    Ok(EmdResult {
        value: distance(ground, sol.cost),
        cost: sol.cost,
        algorithm: Algorithm::Dense,
        iterations: sol.iterations,
        size: (xs.len() + ys.len(), xs.len() * ys.len()),
    })
}

/// The distance reported for an optimal cost: W₂ is the square root of the squared-euclidean
/// cost, W₁ the cost itself.
fn distance(ground: Ground, cost: f64) -> f64 {
    match ground {
        Ground::SqEuclidean => cost.max(0.0).sqrt(),
        _ => cost,
    }
}

/// [`Error::ProblemTooLarge`] when `n + m` cells exceed [`PRICED_CELL_LIMIT`], with the smallest
/// `--downscale` that brings them under it (cells shrink as K²).
fn check_cells(ground: Ground, n: usize, m: usize) -> Result<()> {
    let cells = n + m;
    if cells <= PRICED_CELL_LIMIT {
        return Ok(());
    }
    let mut k = 2;
    while cells / (k * k) > PRICED_CELL_LIMIT {
        k += 1;
    }
    Err(Error::ProblemTooLarge {
        reason: format!(
            "exact {} EMD between supports of {n} and {m} cells: {cells} cells are above the \
             column-generation limit of {PRICED_CELL_LIMIT}; use --downscale K (e.g. \
             --downscale {k}) or --ground cityblock",
            ground.as_str(),
        ),
    })
}

/// [`Error::ProblemTooLarge`] when `n × m` pairs exceed `limit`, with the smallest `--downscale`
/// that brings them under it (pairs shrink as K⁴).
fn check_pairs(ground: Ground, n: usize, m: usize, limit: u64, solver: &str) -> Result<()> {
    let pairs = n as u64 * m as u64;
    if pairs <= limit {
        return Ok(());
    }
    let mut k = 2;
    while pairs / (k * k * k * k) > limit {
        k += 1;
    }
    Err(Error::ProblemTooLarge {
        reason: format!(
            "exact {} EMD between supports of {n} and {m} cells needs {pairs} pairs, above the \
             {solver} limit of {limit}; use --downscale K (e.g. --downscale {k}) or \
             --ground cityblock",
            ground.as_str(),
        ),
    })
}

impl Metric for Emd {
    fn kind(&self) -> MetricKind {
        MetricKind::Emd
    }

    fn compute(&self, a: &Mass, b: &Mass) -> Result<Measurement> {
        self.compute_observed(a, b, &())
    }

    fn compute_observed(&self, a: &Mass, b: &Mass, progress: &dyn Progress) -> Result<Measurement> {
        let start = Instant::now();
        // A plan to solve for comes from column generation, which has one.
        let grid = match self.plan {
            EmdPlan::Solve => None,
            _ => emd_grid(a, b, self.ground, |l| progress.emd_level(l)),
        };
        let (r, certificate, sparse) = match grid {
            Some(solved) => {
                let (r, c) = solved?;
                (r, c, None)
            }
            None => {
                let (r, s) = emd_sparse(a, b, self.ground, |r| progress.emd_round(r))?;
                let c = &s.transport.certificate;
                let certificate = CertificateDetails {
                    max_violation: c.max_violation,
                    gap: c.gap,
                    rounds: c.rounds,
                    pairs_priced: (s.sources.len() as u64) * (s.targets.len() as u64),
                    pricing: c.pricing,
                };
                (r, certificate, Some(s))
            }
        };
        let params = MetricParams::Emd(EmdParams {
            ground: self.ground,
        });
        let mut m = Measurement::new(r.value, params);
        m.details = Details::Emd(EmdDetails {
            cost: r.cost,
            algorithm: r.algorithm,
            iterations: r.iterations,
            nodes: r.size.0,
            arcs: r.size.1,
            certificate,
            solve_seconds: start.elapsed().as_secs_f64(),
        });
        let plan = match (self.plan, sparse) {
            (EmdPlan::None, _) => None,
            (_, Some(s)) => Some(Ok(s)),
            // The grid-graph flow moves mass between neighbours, not from cell to cell.
            (_, None) => Some(
                emd_sparse(a, b, self.ground, |_| {})
                    .map(|(_, s)| s)
                    .map_err(|e| e.to_string()),
            ),
        };
        if let Some(plan) = plan {
            m.extras = Extras::Emd(plan.map(Arc::new));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mass::dot;
    use ndarray::Array2;

    #[test]
    fn moved_dot_closed_forms() {
        let (a, b) = (dot(6, 7, (1, 1)), dot(6, 7, (4, 5)));
        assert!((emd(&a, &b, Ground::Euclidean).unwrap().value - 5.0).abs() < 1e-12);
        assert!((emd(&a, &b, Ground::SqEuclidean).unwrap().value - 5.0).abs() < 1e-12);
        let city = emd(&a, &b, Ground::Cityblock).unwrap();
        assert_eq!(city.algorithm, Algorithm::GridFlow);
        assert!((city.value - 7.0).abs() < 1e-12);
    }

    #[test]
    fn one_row_grids_equal_the_1d_cdf_formula() {
        let a = Mass::from_values(
            &Array2::from_shape_vec((1, 6), vec![1., 0., 2., 3., 0., 1.]).unwrap(),
            1,
            "a",
        )
        .unwrap();
        let b = Mass::from_values(
            &Array2::from_shape_vec((1, 6), vec![0., 4., 0., 1., 1., 1.]).unwrap(),
            1,
            "b",
        )
        .unwrap();
        let x: Vec<f64> = (0..6).map(f64::from).collect();
        let w1 = crate::ot::one_d::wasserstein_pp_common(&x, a.as_slice(), b.as_slice(), 1.0);
        let w2 =
            crate::ot::one_d::wasserstein_pp_common(&x, a.as_slice(), b.as_slice(), 2.0).sqrt();
        for (ground, want) in [
            (Ground::Euclidean, w1),
            (Ground::Cityblock, w1),
            (Ground::SqEuclidean, w2),
        ] {
            let got = emd(&a, &b, ground).unwrap().value;
            assert!((got - want).abs() < 1e-12, "{ground:?}: {got} vs {want}");
        }
    }

    /// The metric route solves the difference's two parts; its answer must still be the full
    /// problem's: the dense optimum, a plan with both marginals, duals feasible for every pair
    /// and tight wherever mass moves.
    #[test]
    fn metric_costs_solve_the_difference_and_certify_the_full_problem() {
        let mut seed = 5u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) % 6
        };
        for (case, shape) in [(9, 11), (16, 16), (13, 7)].into_iter().enumerate() {
            let va = Array2::from_shape_fn(shape, |_| rnd() as f64);
            // B is A with the values of every third cell rotated among those cells: the same
            // integer total, so the normalised masses agree exactly on the other cells (and on
            // rotated cells whose value did not change).
            let moved: Vec<(usize, usize)> = (0..shape.0)
                .flat_map(|r| (0..shape.1).map(move |c| (r, c)))
                .filter(|&(r, c)| (r + c + case) % 3 == 0)
                .collect();
            let mut vb = va.clone();
            for (k, &cell) in moved.iter().enumerate() {
                vb[cell] = va[moved[(k + 1) % moved.len()]];
            }
            let (a, b) = (
                Mass::from_values(&va, 1, "a").unwrap(),
                Mass::from_values(&vb, 1, "b").unwrap(),
            );
            for ground in [Ground::Euclidean, Ground::Cityblock] {
                let (r, s, dense) = sparse_equals_dense(&a, &b, ground, shape);
                assert!(
                    r.size.0 < s.sources.len() + s.targets.len(),
                    "only the difference"
                );
                let t = &s.transport;
                assert!(t.certificate.max_violation < 1e-10 && t.certificate.gap < 1e-10);
                let c = |i: usize, j: usize| {
                    let (x, y) = (s.sources[i], s.targets[j]);
                    ground.cost(x.0 - y.0, x.1 - y.1)
                };
                let (mut ra, mut rb, mut cost) = (vec![0.0; t.u.len()], vec![0.0; t.v.len()], 0.0);
                for &(i, j, m) in &t.plan {
                    ra[i] += m;
                    rb[j] += m;
                    cost += m * c(i, j);
                    assert!(
                        (t.u[i] + t.v[j] - c(i, j)).abs() < 1e-10,
                        "tight where mass moves"
                    );
                }
                assert!((cost - dense.cost).abs() < 1e-12);
                let (_, wa, _) = support_of(&a);
                let (_, wb, _) = support_of(&b);
                assert!(ra.iter().zip(&wa).all(|(x, y)| (x - y).abs() < 1e-12));
                assert!(rb.iter().zip(&wb).all(|(x, y)| (x - y).abs() < 1e-12));
                for i in 0..t.u.len() {
                    for j in 0..t.v.len() {
                        assert!(
                            t.u[i] + t.v[j] <= c(i, j) + 1e-10,
                            "feasible for every pair"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn equal_masses_cost_nothing_with_a_certificate() {
        let v = Array2::from_shape_fn((10, 12), |(r, c)| ((r * 7 + c * 3) % 5) as f64);
        let a = Mass::from_values(&v, 1, "a").unwrap();
        for ground in [Ground::Euclidean, Ground::Cityblock] {
            let (r, s) = emd_sparse(&a, &a, ground, |_| {}).unwrap();
            assert_eq!(r.cost, 0.0);
            let t = &s.transport;
            assert_eq!(t.certificate.pricing, "none");
            assert_eq!(t.certificate.max_violation, 0.0);
            assert_eq!(t.plan.len(), s.sources.len(), "every cell keeps its mass");
            assert!(t.plan.iter().all(|&(i, j, _)| s.sources[i] == s.targets[j]));
        }
    }

    /// The column-generation solve and the dense one, after checking that their costs agree.
    fn sparse_equals_dense(
        a: &Mass,
        b: &Mass,
        ground: Ground,
        shape: (usize, usize),
    ) -> (EmdResult, Sparse, EmdResult) {
        let (r, s) = emd_sparse(a, b, ground, |_| {}).unwrap();
        let dense = emd_dense(a, b, ground).unwrap();
        assert!(
            (r.cost - dense.cost).abs() <= 1e-12 * dense.cost.max(1.0),
            "{ground:?} {shape:?}: {} vs {}",
            r.cost,
            dense.cost
        );
        (r, s, dense)
    }

    fn emd_details(m: &Measurement) -> &EmdDetails {
        match &m.details {
            Details::Emd(d) => d,
            other => panic!("not emd details: {other:?}"),
        }
    }

    #[test]
    fn keeping_the_plan_changes_no_value() {
        // Two dots and a spread-out blob: the plan must carry A's mass onto B's.
        let mut va = Array2::zeros((5, 6));
        va[[0, 0]] = 2.0;
        va[[4, 5]] = 1.0;
        let vb = Array2::from_shape_fn((5, 6), |(r, c)| ((r + c) % 3) as f64);
        let (a, b) = (
            Mass::from_values(&va, 1, "a").unwrap(),
            Mass::from_values(&vb, 1, "b").unwrap(),
        );
        for ground in [Ground::Euclidean, Ground::SqEuclidean, Ground::Cityblock] {
            let plain = Emd::new(ground).compute(&a, &b).unwrap();
            assert_eq!(plain.extras, Extras::None);
            for how in [EmdPlan::Picture, EmdPlan::Solve] {
                let kept = Emd::new(ground).with_plan(how).compute(&a, &b).unwrap();
                let (dk, dp) = (emd_details(&kept), emd_details(&plain));
                if how == EmdPlan::Picture || ground != Ground::Cityblock {
                    // The same solve as without a plan: identical value and statistics.
                    assert_eq!(kept.value.to_bits(), plain.value.to_bits(), "{ground:?}");
                    assert_eq!(
                        (dk.cost, dk.algorithm, dk.iterations, dk.certificate),
                        (dp.cost, dp.algorithm, dp.iterations, dp.certificate),
                        "{ground:?} {how:?}"
                    );
                } else {
                    // Cityblock solved by column generation: the same optimum, certified.
                    assert!((kept.value - plain.value).abs() < 1e-12, "{ground:?}");
                    assert_eq!(dk.algorithm, Algorithm::ColumnGeneration);
                    assert_eq!(dp.algorithm, Algorithm::GridFlow);
                    let c = dk.certificate;
                    assert!(c.max_violation < 1e-9 && c.gap < 1e-9, "{c:?}");
                    // Two cells of A with mass, two thirds of B's 30.
                    assert_eq!(c.pairs_priced, 2 * 20);
                }
                let Extras::Emd(Ok(plan)) = &kept.extras else {
                    panic!("{ground:?}: no plan in {:?}", kept.extras);
                };
                let mut from_a = vec![0.0; plan.sources.len()];
                let mut cost = 0.0;
                for &(i, j, f) in &plan.transport.plan {
                    from_a[i] += f;
                    let ((ar, ac), (br, bc)) = (plan.sources[i], plan.targets[j]);
                    let (dr, dc) = (ar - br, ac - bc);
                    cost += f * match ground {
                        Ground::Euclidean => dr.hypot(dc),
                        Ground::SqEuclidean => dr * dr + dc * dc,
                        Ground::Cityblock => dr.abs() + dc.abs(),
                    };
                }
                let support: Vec<f64> = a.support().iter().map(|s| s.2).collect();
                for (got, want) in from_a.iter().zip(&support) {
                    assert!((got - want).abs() < 1e-12, "{ground:?}: {got} vs {want}");
                }
                let want = dp.cost;
                assert!((cost - want).abs() < 1e-12, "{ground:?}: {cost} vs {want}");
            }
        }
    }

    #[test]
    fn progress_sees_every_round_of_column_generation() {
        struct Rounds(std::sync::Mutex<Vec<usize>>);
        impl Progress for Rounds {
            fn emd_round(&self, round: &Round) {
                self.0.lock().unwrap().push(round.round);
            }
        }
        let mut va = Array2::from_elem((6, 7), 1.0);
        va[[2, 3]] = 9.0;
        let a = Mass::from_values(&va, 1, "a").unwrap();
        let b = dot(6, 7, (4, 5));
        let seen = Rounds(Default::default());
        let m = Emd::new(Ground::Euclidean)
            .compute_observed(&a, &b, &seen)
            .unwrap();
        let rounds = seen.0.into_inner().unwrap();
        let c = emd_details(&m).certificate;
        assert_eq!(rounds.len(), c.rounds, "{rounds:?}");
        assert_eq!(rounds, (1..=c.rounds).collect::<Vec<_>>());
    }

    /// The coarse-to-fine guess's plan moves exactly every cell's mass of both sides, over
    /// pairs that form a forest (what the fine start needs), and the solves started from it
    /// reach the dense optimum with a certificate.
    #[test]
    fn the_coarse_guess_is_a_feasible_forest_and_leads_to_the_dense_optimum() {
        use rand::rngs::ChaCha8Rng;
        use rand::{RngExt, SeedableRng};
        for (seed, shape) in [(1, (17, 19)), (2, (24, 24)), (3, (9, 30))] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut values = || {
                Array2::from_shape_fn(shape, |_| {
                    if rng.random::<f64>() < 0.2 {
                        0.0
                    } else {
                        (rng.random::<f64>() * 255.0).floor()
                    }
                })
            };
            let a = Mass::from_values(&values(), 1, "a").unwrap();
            let b = Mass::from_values(&values(), 1, "b").unwrap();
            for ground in [Ground::SqEuclidean, Ground::Euclidean] {
                let guess = coarse_guess(&a, &b, ground).unwrap();
                let (mut ra, mut rb) = (vec![0.0; a.len()], vec![0.0; b.len()]);
                // Union-find over A's cells then B's: no pair may close a cycle.
                let mut root: Vec<usize> = (0..a.len() + b.len()).collect();
                fn find(root: &mut [usize], mut x: usize) -> usize {
                    while root[x] != x {
                        root[x] = root[root[x]];
                        x = root[x];
                    }
                    x
                }
                for &(p, q, f) in &guess.plan {
                    assert!(f > 0.0 && a.as_slice()[p] > 0.0 && b.as_slice()[q] > 0.0);
                    ra[p] += f;
                    rb[q] += f;
                    let (x, y) = (find(&mut root, p), find(&mut root, a.len() + q));
                    assert_ne!(x, y, "{ground:?} {shape:?}: the plan has a cycle");
                    root[x] = y;
                }
                for (got, want) in ra
                    .iter()
                    .zip(a.as_slice())
                    .chain(rb.iter().zip(b.as_slice()))
                {
                    assert!((got - want).abs() < 1e-12, "{ground:?}: {got} vs {want}");
                }
                assert!(
                    guess
                        .pairs
                        .iter()
                        .all(|pq| !guess.plan.iter().any(|&(p, q, _)| (p, q) == *pq)),
                    "the other pairs are other pairs"
                );
                let (_, s, _) = sparse_equals_dense(&a, &b, ground, shape);
                let c = &s.transport.certificate;
                assert!(c.max_violation < 1e-10 && c.gap < 1e-10, "{c:?}");
            }
        }
    }

    #[test]
    fn squared_euclidean_on_grids_of_different_sizes_equals_the_dense_optimum() {
        // One grid extends the other (top-left aligned), with more than COARSEST_CELLS cells,
        // so the coarse guess runs on the common grid.
        let va = Array2::from_shape_fn((9, 9), |(r, c)| ((r * 7 + c * 3) % 5) as f64);
        let vb = Array2::from_shape_fn((6, 11), |(r, c)| ((r + 2 * c) % 4) as f64);
        let row = Array2::from_shape_fn((1, 50), |(_, c)| (c % 3) as f64 + 0.5);
        let col = Array2::from_shape_fn((50, 1), |(r, _)| (r % 4) as f64);
        for (va, vb) in [(&va, &vb), (&vb, &va), (&row, &col)] {
            let a = Mass::from_values(va, 1, "a").unwrap();
            let b = Mass::from_values(vb, 1, "b").unwrap();
            let got = emd(&a, &b, Ground::SqEuclidean).unwrap().value;
            let want = emd_dense(&a, &b, Ground::SqEuclidean).unwrap().value;
            assert!((got - want).abs() <= 1e-9 * want, "{got} vs {want}");
        }
    }

    #[test]
    fn masses_equal_up_to_rounding_cost_nothing_and_certify() {
        // One picture stored as gray and as RGB: after the colour conversion and normalising,
        // the cells differ in the last bits and the totals by rounding.
        let load = |name: &str| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
            let source = crate::load::Source::Path(path.join(name));
            crate::load::load(&source, &crate::load::LoadOptions::default()).unwrap()
        };
        let (a, b) = (load("camera_32.png"), load("camera_32_rgb.png"));
        let raw: Vec<f64> = a
            .as_slice()
            .iter()
            .zip(b.as_slice())
            .map(|(x, y)| x - y)
            .collect();
        let imbalance = |d: &[f64]| {
            accurate_sum(d.iter().copied()).abs() / accurate_sum(d.iter().map(|x| x.abs()))
        };
        assert!(
            imbalance(&raw) > 1e-3,
            "the test needs an imbalance as large as the difference"
        );
        let d = difference(&a, &b);
        assert!(imbalance(&d) <= 1e-12, "balanced: {}", imbalance(&d));
        for ground in [Ground::Euclidean, Ground::SqEuclidean, Ground::Cityblock] {
            let r = emd(&a, &b, ground).unwrap();
            assert!(r.value < 1e-7, "{ground:?}: {}", r.value);
            let (_, s) = emd_sparse(&a, &b, ground, |_| {}).unwrap();
            let c = s.transport.certificate;
            assert!(c.max_violation < 1e-9 && c.gap < 1e-12, "{ground:?}: {c:?}");
        }
    }

    #[test]
    fn coarse_to_fine_grid_flow_equals_the_comb_started_flow_and_certifies() {
        use crate::ot::arcs::Grid4;
        let load = |name: &str| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
            let source = crate::load::Source::Path(path.join(name));
            crate::load::load(&source, &crate::load::LoadOptions::default()).unwrap()
        };
        // Real 128² pairs (three levels) and random masses on an odd grid.
        let mut pairs: Vec<(Mass, Mass)> =
            [("camera", "moon"), ("coins", "text"), ("moon", "text")]
                .iter()
                .map(|(a, b)| (load(&format!("{a}_128.png")), load(&format!("{b}_128.png"))))
                .collect();
        for seed in [1u64, 2] {
            let values = |k: u64| {
                Array2::from_shape_fn((101, 77), |(r, c)| {
                    let x = (r * 131 + c * 71 + (seed * 7 + k) as usize * 1009) as f64;
                    (x.sin() * 1e4).fract().abs().powi(3)
                })
            };
            pairs.push((
                Mass::from_values(&values(0), 1, "a").unwrap(),
                Mass::from_values(&values(1), 1, "b").unwrap(),
            ));
        }
        for (a, b) in &pairs {
            let grid = Grid4::new(a.row_coords(), a.col_coords());
            let supply = difference(a, b);
            let opts = Options::default();
            let comb =
                network_simplex::solve(&grid, &supply, Start::Tree(&grid.comb_tree()), &opts)
                    .unwrap();
            let m = Emd::new(Ground::Cityblock).compute(a, b).unwrap();
            let d = emd_details(&m);
            assert_eq!(d.algorithm, Algorithm::GridFlow);
            assert!(
                (m.value - comb.cost).abs() <= 1e-9 * comb.cost,
                "{} vs {}",
                m.value,
                comb.cost
            );
            let c = d.certificate;
            assert!(c.max_violation < 1e-9 && c.gap < 1e-9 * comb.cost, "{c:?}");
            assert_eq!(c.pairs_priced, (a.len() as u64).pow(2));
        }
    }

    #[test]
    fn a_balanced_difference_keeps_real_differences_as_they_are() {
        let a = dot(4, 4, (0, 0));
        let b = dot(4, 4, (3, 3));
        let d = difference(&a, &b);
        assert_eq!(d[0], 1.0);
        assert_eq!(d[15], -1.0);
        assert_eq!(d.iter().filter(|&&x| x != 0.0).count(), 2);
    }

    #[test]
    fn limits_suggest_a_downscale() {
        let a = Mass::from_values(&Array2::from_elem((128, 128), 1.0), 1, "a").unwrap();
        let err = emd_dense(&a, &a, Ground::Euclidean)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--downscale 2"), "{err}");
        let a = Mass::from_values(&Array2::from_elem((1100, 1000), 1.0), 1, "a").unwrap();
        let err = emd(&a, &a, Ground::SqEuclidean).unwrap_err().to_string();
        assert!(
            err.contains("--downscale 2") && err.contains("2200000 cells"),
            "{err}"
        );
        assert!("manhattan".parse::<Ground>().is_err());
    }
}
