//! Entropic optimal transport between two weighted rectangular grids with squared euclidean
//! cost, by Sinkhorn iterations in the log domain.
//!
//! For probability weights `a` on the cells `x` of one grid and `b` on the cells `y` of another,
//! with cost `C(x, y) = |x − y|²` and `ε > 0`,
//!
//! ```text
//! OT_ε(a, b) = min_π ⟨π, C⟩ + ε·KL(π ‖ a⊗b)
//!            = max_{f, g} ⟨a, f⟩ + ⟨b, g⟩ − ε·⟨a⊗b, exp((f ⊕ g − C)/ε) − 1⟩,
//! ```
//!
//! and the optimal plan is `π = a⊗b·exp((f ⊕ g − C)/ε)`. Sinkhorn's iteration alternates the
//! two "soft c-transforms"
//!
//! ```text
//! g(y) = −ε·ln Σ_x a(x)·exp((f(x) − |x − y|²)/ε),   f(x) = −ε·ln Σ_y b(y)·exp((g(y) − |x − y|²)/ε);
//! ```
//!
//! after a `g` update the plan has the column marginal `b` exactly, its row marginal is
//! `a·exp((f − f̃)/ε)` with `f̃` the next `f` update, and the dual objective is `⟨a, f⟩ + ⟨b, g⟩`.
//! The iteration stops when the L1 error of that row marginal is at most the tolerance, and the
//! value returned is the dual objective of that pair `(f, g)`.
//!
//! **Separable transforms.** On a grid, `|x − y|² = (x_r − y_r)² + (x_c − y_c)²`, so each soft
//! c-transform is two passes of one-dimensional log-sum-exp convolutions: along every row of the
//! source grid (to the target's column positions), then along every column. No `N×N` matrix is
//! formed; a pass over an `n×n` grid costs `O(n²·w)` exponentials with `w` the number of terms
//! that matter per output.
//!
//! **Which terms matter.** For each output the largest term `M = max_j v_j − (x − y_j)²/ε` is
//! found exactly in `O(n)` as an upper envelope of parabolas (Felzenszwalb & Huttenlocher's
//! distance transform), and inputs are visited in blocks: a block whose best possible term is
//! below `M − θ` is skipped, with `θ` chosen so that everything skipped is less than `e⁻⁴⁰` of
//! the sum. The result is the full sum up to floating-point rounding — the operator is not
//! approximated, so neither the stopping test nor the value depends on the skipping.
//!
//! **Over-relaxation.** Where the last stage runs no multigrid cycles (and on the coarsest grid
//! of a correction), both updates are over-relaxed,
//! `g ← g + ω(T f − g)`, `f ← f + ω(T g − f)` (Thibault, Chizat, Dossal & Papadakis 2017), with
//! `ω` raised from 1 towards the best value for the observed rate of convergence (Young's
//! adaptive SOR). Every 10 iterations the marginal error of `f` and its exact
//! transform is measured; only a pair that passes that test is returned.
//!
//! **ε-scaling.** The iteration starts at `ε` equal to the squared diameter of the two grids and
//! divides it by [`Options::scaling`] stage after stage, a few iterations per stage, down to the
//! requested `ε`, where it iterates until the tolerance is met (Kosowsky & Yuille 1994;
//! Schmitzer 2019; Feydy et al. 2019). Potentials carry over between stages.
//!
//! **Multigrid.** Sinkhorn iterations remove an error that changes from cell to cell in a few
//! steps, but an error that is smooth over the grid only slowly: the smaller `ε`, the slower.
//! Where both grids have at least 16 rows and columns and neighbouring cells are at most
//! `√(2ε)` apart, the last stage instead runs cycles of the full approximation scheme
//! (Brandt 1977): test `f`, which gives the residual `r` of the row marginal; correct `f` by
//! the solution of the same problem between the 2×2-block sums, started from the block means
//! `F` of `f`, whose target row marginal is the coarse one of `F` plus the block sums of `r`
//! (the change of that solution, interpolated bilinearly, is added to `f`); run 3 plain
//! iterations. The coarse problem is solved, by the same method, to 1/20 of the fine error (or
//! to the tolerance), at `ε` or at the squared distance between neighbouring blocks if that is
//! larger, so that its plan still spreads over neighbouring blocks. Its fixed point is the fine problem's
//! whatever its `ε`: a zero residual asks for no change. Each cycle divides the error by
//! about 2 to 30; the slowly converging part is left to grids of a quarter, a sixteenth, …
//! of the cells. Cycles that stop reducing the error, or whose coarse problem fails, hand over
//! to over-relaxed iterations.
//!
//! **Coarse to fine.** Grids with at least 64 rows and columns first solve the problem between
//! their 2×2-block sums (at the coarse `ε` of a multigrid correction), recursively, to a
//! tolerance of 10⁻⁶, and start the last stage from that potential interpolated bilinearly
//! between the block centres, instead of ε-scaling: the early stages, where `ε` is large and
//! no term can be skipped, then run on small grids only.
//! The warm start and the corrections only change the path of the iterations, never the test
//! they must pass.
//!
//! **Zero weights.** Cells of weight 0 take part with `ln 0 = −∞` and are skipped; a grid line
//! without weight yields `−∞` and is skipped in the next pass. Potentials stay finite on every
//! cell.
//!
//! **Progress.** Both solvers report a [`Status`] after every iteration, on every grid of the
//! warm start and at every stage, so that a caller can show how a long solve advances or stop
//! it (by unwinding from the report); the reports do not change the iterations.
//!
//! Every result comes from iterations that met the tolerance; reaching
//! [`Options::max_iterations`] is [`Error::SinkhornCap`].

mod coarse;
mod lse;
mod stage;

use super::{Error, Result};
use coarse::Coarse;
use lse::{Weight, lse_grid, soft_transform};
use stage::{Pair, Stage, Target, coarse_eps, last_stage};

/// A rectangular grid of weighted points: cell `(i, j)` sits at `(rows[i], cols[j])` with weight
/// `weights[i * cols.len() + j]`. Coordinates increase strictly; weights are non-negative and
/// sum to 1.
#[derive(Debug, Clone, Copy)]
pub struct Grid<'a> {
    /// The row coordinate of each grid row, increasing.
    pub rows: &'a [f64],
    /// The column coordinate of each grid column, increasing.
    pub cols: &'a [f64],
    /// The weights in row-major order.
    pub weights: &'a [f64],
}

impl Grid<'_> {
    fn len(&self) -> usize {
        self.rows.len() * self.cols.len()
    }

    fn shape(&self) -> (usize, usize) {
        (self.rows.len(), self.cols.len())
    }

    fn check(&self) {
        let increasing = |v: &[f64]| v.windows(2).all(|w| w[0] < w[1]);
        assert!(
            increasing(self.rows) && increasing(self.cols),
            "grid coordinates must increase strictly"
        );
        assert_eq!(self.weights.len(), self.len(), "one weight per cell");
    }
}

/// How the iterations run and when they stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// The regularisation `ε` (in squared coordinate units), > 0.
    pub eps: f64,
    /// Stop when the L1 error of the plan's marginal is at most this. Default: 10⁻⁹.
    pub tol: f64,
    /// Most iterations (each one update of both potentials, or of the one potential of a
    /// symmetric problem) over all stages; reaching it is an error. Default:
    /// [`DEFAULT_MAX_ITERATIONS`].
    pub max_iterations: u64,
    /// Factor by which `ε` shrinks from one stage to the next, > 1. Default: 4 (the blur
    /// `√ε` halves).
    pub scaling: f64,
    /// Iterations at each stage before the last. Default: 2.
    pub stage_iterations: u64,
    /// The largest over-relaxation `ω` of the last stage, in `[1, 2)`. The stage starts with
    /// plain iterations (`ω = 1`) and raises `ω` from the observed rate of convergence. Default:
    /// 1.95.
    pub relaxation: f64,
}

/// The default cap on iterations per problem.
pub const DEFAULT_MAX_ITERATIONS: u64 = 20_000;

impl Options {
    /// Options for `ε = eps` with the defaults otherwise.
    pub fn new(eps: f64) -> Options {
        Options {
            eps,
            tol: 1e-9,
            max_iterations: DEFAULT_MAX_ITERATIONS,
            scaling: 4.0,
            stage_iterations: 2,
            relaxation: 1.95,
        }
    }
}

/// A solved entropic transport problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// `OT_ε`: the dual objective `⟨a, f⟩ + ⟨b, g⟩` at the returned potentials.
    pub value: f64,
    /// The potential on the first grid's cells (row-major).
    pub f: Vec<f64>,
    /// The potential on the second grid's cells (for a symmetric problem, equal to `f`).
    pub g: Vec<f64>,
    /// Iterations over all stages on the given grids (those of a coarse-to-fine warm start
    /// or of multigrid corrections on smaller grids are not counted).
    pub iterations: u64,
    /// The L1 error of the plan's row marginal at the returned potentials (its column
    /// marginal is exact, or for a symmetric problem equal to the row marginal).
    pub marginal_error: f64,
}

/// Where a solve stands, for progress reports: [`solve`] and [`solve_symmetric`] give one
/// after every iteration, on the grids of each coarse-to-fine warm start (coarsest first) and
/// then on the given grids, with those of multigrid corrections in between.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Status {
    /// How many times the given grids were halved into 2×2-block sums for the problem being
    /// iterated: 0 for the given grids.
    pub coarsening: usize,
    /// Rows and columns of the problem's two grids (the same twice for a symmetric problem).
    pub shapes: [(usize, usize); 2],
    /// `ε` of the current stage (the requested `ε` at the last stage).
    pub eps: f64,
    /// Iterations on this problem's grids so far, over all its stages, this one included: the
    /// reports on one grid count 1, 2, 3, … up to the [`Solution::iterations`] it returns.
    pub iterations: u64,
    /// The L1 error of the plan's row marginal at the last test, `+∞` before the first (only
    /// the last stage tests it).
    pub marginal_error: f64,
    /// Whether this is an iteration of the coarse problem of a multigrid correction (see
    /// [`solve`]): such a problem's reports count its own iterations from 1, at its own `ε`
    /// and coarsening, between two reports of the problem it corrects, and its iterations
    /// are not counted in any [`Solution::iterations`].
    pub correction: bool,
}

/// Solves `OT_ε(a, b)`, calling `progress` after every iteration (see [`Status`]).
///
/// # Errors
/// [`Error::SinkhornCap`] when the tolerance is not met within `max_iterations`.
///
/// # Panics
/// If coordinates do not increase or the weights do not match the grid.
pub fn solve(
    a: Grid,
    b: Grid,
    opts: &Options,
    mut progress: impl FnMut(&Status),
) -> Result<Solution> {
    solve_at(a, b, opts, 0, &mut progress)
}

/// [`solve`] on grids `coarsening` halvings below those the caller gave.
fn solve_at(
    a: Grid,
    b: Grid,
    opts: &Options,
    coarsening: usize,
    progress: &mut dyn FnMut(&Status),
) -> Result<Solution> {
    a.check();
    b.check();
    let pair = Pair::new(a, b, coarsening, false);
    let warm = if refinable(&a) && refinable(&b) {
        let (ca, cb) = (Coarse::of(&a), Coarse::of(&b));
        solve_at(
            ca.grid(),
            cb.grid(),
            &coarse_options(opts, coarse_eps(&ca, &cb, opts.eps)),
            coarsening + 1,
            progress,
        )
        .ok()
        .map(|s| ca.refine(&s.f, &a))
    } else {
        None
    };
    let target = Target::of(a.weights);
    let mut iterations = 0;
    let f = match warm {
        Some(f) => f,
        None => {
            // ε-scaling: the stages before the last, a few plain iterations each.
            let mut f = vec![0.0; a.len()];
            let (mut g, mut ft) = (Vec::new(), Vec::new());
            let stages = schedule(diameter_sq(&a, &b), opts);
            for &eps in &stages[..stages.len() - 1] {
                for _ in 0..opts.stage_iterations {
                    if iterations >= opts.max_iterations {
                        return Err(cap(opts, f64::INFINITY));
                    }
                    pair.transforms(&f, &target, eps, &mut g, &mut ft);
                    std::mem::swap(&mut f, &mut ft);
                    iterations += 1;
                    progress(&pair.status(eps, iterations, f64::INFINITY));
                }
            }
            f
        }
    };
    let stage = Stage {
        pair: &pair,
        target: &target,
        tol: opts.tol,
        opts,
    };
    last_stage(&stage, f, iterations, progress)
}

/// Solves the symmetric problem `OT_ε(a, a)` with the averaged update `f ← (f + f̃)/2` (Feydy et
/// al. 2019), or the longer step `f ← f + ⅝(f̃ − f)` where neighbouring cells are within `√ε`
/// (the plan spreads over them), which converges in few iterations, calling `progress` after every iteration
/// (see [`Status`]).
///
/// # Errors
/// [`Error::SinkhornCap`] when the tolerance is not met within `max_iterations`.
///
/// # Panics
/// If coordinates do not increase or the weights do not match the grid.
pub fn solve_symmetric(
    a: Grid,
    opts: &Options,
    mut progress: impl FnMut(&Status),
) -> Result<Solution> {
    solve_symmetric_at(a, opts, 0, &mut progress)
}

/// [`solve_symmetric`] on a grid `coarsening` halvings below the one the caller gave.
fn solve_symmetric_at(
    a: Grid,
    opts: &Options,
    coarsening: usize,
    progress: &mut dyn FnMut(&Status),
) -> Result<Solution> {
    a.check();
    let la = logs(a.weights);
    let warm = if refinable(&a) {
        let ca = Coarse::of(&a);
        solve_symmetric_at(
            ca.grid(),
            &coarse_options(opts, opts.eps),
            coarsening + 1,
            progress,
        )
        .ok()
        .map(|s| ca.refine(&s.f, &a))
    } else {
        None
    };
    let stages = match warm {
        Some(_) => vec![opts.eps],
        None => schedule(diameter_sq(&a, &a), opts),
    };
    let mut f = warm.unwrap_or_else(|| vec![0.0; a.len()]);
    let mut ft = vec![0.0; a.len()];
    let mut iterations = 0;
    let mut error = f64::INFINITY;
    for (s, &eps) in stages.iter().enumerate() {
        let last = s + 1 == stages.len();
        let mut k = 0;
        while last || k < opts.stage_iterations {
            if iterations >= opts.max_iterations {
                return Err(cap(opts, error));
            }
            soft_transform(&a, &a, &f, &la, eps, &mut ft);
            iterations += 1;
            k += 1;
            if last {
                error = marginal_error(a.weights, &f, &ft, eps);
            }
            progress(&Status {
                coarsening,
                shapes: [a.shape(); 2],
                eps,
                iterations,
                marginal_error: error,
                correction: false,
            });
            if last && error <= opts.tol {
                let value = 2.0 * dot(a.weights, &f);
                return Ok(Solution {
                    value,
                    g: f.clone(),
                    f,
                    iterations,
                    marginal_error: error,
                });
            }
            let omega = symmetric_step(&a, eps);
            for (x, y) in f.iter_mut().zip(&ft) {
                *x += omega * (y - *x);
            }
        }
    }
    unreachable!("the last stage returns or fails")
}

/// The step `ω` of the symmetric update `f ← f + ω(f̃ − f)` at `eps` on grid `a`: near the
/// solution the error `e` becomes `(1 − ω)e − ωKe`, with `K` the plan's conditional, whose
/// eigenvalues lie in `[0, 1]`. Where the plan is nearly the identity (cells more than `√ε`
/// apart) they are near 1 and `ω = ½` cancels them; where it spreads over neighbours they fill
/// the interval, and `ω = 2/3` would balance both ends. `5/8` there measured best on real pairs
/// (blur 1–8: 15–18 iterations against 19–25 at `½` on 64² and 299² pairs, 22–29 against 30–33
/// at 32²).
fn symmetric_step(a: &Grid, eps: f64) -> f64 {
    let spread = [a.rows, a.cols]
        .iter()
        .all(|v| v.windows(2).all(|w| (w[1] - w[0]).powi(2) <= eps));
    if spread { 0.625 } else { 0.5 }
}

/// Grids with at least this many rows and columns start from the solution between their
/// 2×2-block sums.
const REFINE_SIDE: usize = 64;

/// The tolerance of the coarser problem that gives a warm start.
const COARSE_TOL: f64 = 1e-6;

fn refinable(g: &Grid) -> bool {
    g.rows.len() >= REFINE_SIDE && g.cols.len() >= REFINE_SIDE
}

/// The options of the coarser problem that gives a warm start, at `eps`.
fn coarse_options(opts: &Options, eps: f64) -> Options {
    Options {
        eps,
        tol: opts.tol.max(COARSE_TOL),
        ..*opts
    }
}

/// `⟨π, C⟩` for the plan `π = a⊗b·exp((f ⊕ g − C)/ε)` of potentials `f`, `g`: the transport cost
/// of the entropic plan without its entropy term.
///
/// # Panics
/// If coordinates do not increase or the weights or potentials do not match the grids.
pub fn plan_cost(a: Grid, b: Grid, f: &[f64], g: &[f64], eps: f64) -> f64 {
    a.check();
    b.check();
    assert!(
        f.len() == a.len() && g.len() == b.len(),
        "one potential per cell"
    );
    let lb = logs(b.weights);
    let h: Vec<f64> = g.iter().zip(&lb).map(|(g, l)| g / eps + l).collect();
    let mut total = 0.0;
    for weight in [Weight::Rows, Weight::Cols] {
        let mut s = Vec::new();
        lse_grid(&a, &b, &h, 1.0 / eps, weight, &mut s);
        total += a
            .weights
            .iter()
            .zip(f)
            .zip(&s)
            .filter(|((w, _), _)| **w > 0.0)
            .map(|((w, f), s)| w * (f / eps + s).exp())
            .sum::<f64>();
    }
    total
}

fn cap(opts: &Options, error: f64) -> Error {
    Error::SinkhornCap {
        iterations: opts.max_iterations,
        marginal_error: error,
        tol: opts.tol,
    }
}

/// The `ε` of each stage: from the squared diameter down by `scaling`, then `opts.eps`.
fn schedule(diameter_sq: f64, opts: &Options) -> Vec<f64> {
    assert!(
        opts.eps > 0.0 && opts.scaling > 1.0,
        "ε > 0 and scaling > 1"
    );
    let mut out = Vec::new();
    let mut eps = diameter_sq;
    while eps > opts.eps * opts.scaling {
        out.push(eps);
        eps /= opts.scaling;
    }
    out.push(opts.eps);
    out
}

/// The largest squared distance between a cell of `a` and one of `b`.
fn diameter_sq(a: &Grid, b: &Grid) -> f64 {
    let span = |u: &[f64], v: &[f64]| {
        let lo = u[0].min(v[0]);
        let hi = u[u.len() - 1].max(v[v.len() - 1]);
        hi - lo
    };
    span(a.rows, b.rows).powi(2) + span(a.cols, b.cols).powi(2)
}

fn logs(w: &[f64]) -> Vec<f64> {
    w.iter().map(|w| w.ln()).collect()
}

fn dot(w: &[f64], f: &[f64]) -> f64 {
    w.iter()
        .zip(f)
        .filter(|(w, _)| **w > 0.0)
        .map(|(w, f)| w * f)
        .sum()
}

/// `Σ_x a(x)·|exp((f(x) − f̃(x))/ε) − 1|`: the L1 error of the row marginal of the plan of
/// `(f, g)` when `f̃` is the soft c-transform of `g`.
fn marginal_error(a: &[f64], f: &[f64], ft: &[f64], eps: f64) -> f64 {
    a.iter()
        .zip(f.iter().zip(ft))
        .filter(|(w, _)| **w > 0.0)
        .map(|(w, (f, ft))| w * ((f - ft) / eps).exp_m1().abs())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_ends_at_eps_and_shrinks_by_the_factor() {
        let s = schedule(1000.0, &Options::new(1.0));
        assert_eq!(s, vec![1000.0, 250.0, 62.5, 15.625, 1.0]);
        assert_eq!(schedule(0.5, &Options::new(1.0)), vec![1.0]);
    }
}
