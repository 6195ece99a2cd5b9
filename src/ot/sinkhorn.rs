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

use rayon::prelude::*;

use super::{Error, Result};

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
                    soft_transform(&b, &a, &f, &pair.la, eps, &mut g);
                    soft_transform(&a, &b, &g, &pair.lb, eps, &mut ft);
                    std::mem::swap(&mut f, &mut ft);
                    iterations += 1;
                    progress(&pair.status(eps, iterations, f64::INFINITY));
                }
            }
            f
        }
    };
    let target = Target::of(a.weights);
    let stage = Stage {
        pair: &pair,
        target: &target,
        tol: opts.tol,
        opts,
    };
    last_stage(&stage, f, iterations, progress)
}

/// The two grids of a problem, their log weights, and how many times they were halved.
struct Pair<'a> {
    a: Grid<'a>,
    b: Grid<'a>,
    la: Vec<f64>,
    lb: Vec<f64>,
    coarsening: usize,
    /// Whether this is the coarse problem of a multigrid correction.
    correction: bool,
}

impl<'a> Pair<'a> {
    fn new(a: Grid<'a>, b: Grid<'a>, coarsening: usize, correction: bool) -> Pair<'a> {
        Pair {
            a,
            b,
            la: logs(a.weights),
            lb: logs(b.weights),
            coarsening,
            correction,
        }
    }

    fn status(&self, eps: f64, iterations: u64, marginal_error: f64) -> Status {
        Status {
            coarsening: self.coarsening,
            shapes: [self.a.shape(), self.b.shape()],
            eps,
            iterations,
            marginal_error,
            correction: self.correction,
        }
    }

    /// One Sinkhorn iteration's transforms from `f`: `g = T f` (exact column marginal), then
    /// `ft = T g + shift`, the `f` whose row marginal is the target.
    fn transforms(&self, f: &[f64], t: &Target, eps: f64, g: &mut Vec<f64>, ft: &mut Vec<f64>) {
        soft_transform(&self.b, &self.a, f, &self.la, eps, g);
        soft_transform(&self.a, &self.b, g, &self.lb, eps, ft);
        t.shift_onto(ft);
    }
}

/// The row marginal a last stage iterates towards: the first grid's weights, or on the coarser
/// grids of a multigrid correction, other weights `t` of the same total, reached by shifting
/// each `f` update by `ε·ln(t/a)`.
struct Target {
    weights: Vec<f64>,
    /// `ε·ln(t/a)` on the cells of weight `a > 0`; `None` when `t = a`.
    shift: Option<Vec<f64>>,
}

impl Target {
    fn of(a: &[f64]) -> Target {
        Target {
            weights: a.to_vec(),
            shift: None,
        }
    }

    fn shift_onto(&self, ft: &mut [f64]) {
        if let Some(s) = &self.shift {
            for (x, s) in ft.iter_mut().zip(s) {
                *x += s;
            }
        }
    }
}

/// The last stage of a problem: iterate at `opts.eps` until the row marginal is within `tol`
/// of the target.
#[derive(Clone, Copy)]
struct Stage<'a> {
    pair: &'a Pair<'a>,
    target: &'a Target,
    tol: f64,
    opts: &'a Options,
}

/// The last stage from `f`, `iterations` already made: by multigrid cycles where the grids are
/// fine enough for `ε` (see [`multigrid`]), otherwise by over-relaxed Sinkhorn iterations.
fn last_stage(
    stage: &Stage,
    f: Vec<f64>,
    iterations: u64,
    progress: &mut dyn FnMut(&Status),
) -> Result<Solution> {
    if multigrid_applies(stage.pair, stage.opts.eps) {
        multigrid(stage, f, iterations, progress)
    } else {
        relaxed(stage, f, iterations, progress)
    }
}

/// Over-relaxed Sinkhorn iterations at `opts.eps` from `f`, tested every [`CHECK_EVERY`].
fn relaxed(
    stage: &Stage,
    mut f: Vec<f64>,
    mut iterations: u64,
    progress: &mut dyn FnMut(&Status),
) -> Result<Solution> {
    let (pair, target, tol, opts) = (stage.pair, stage.target, stage.tol, stage.opts);
    let (a, b, eps) = (&pair.a, &pair.b, opts.eps);
    let mut g = vec![0.0; b.len()];
    let (mut gt, mut ft) = (Vec::new(), Vec::new());
    let mut error = f64::INFINITY;
    let mut omega = 1.0;
    // The error at the previous test, if ω has not changed since.
    let mut previous: Option<f64> = None;
    for k in 0.. {
        // The test: the row marginal of `f` and its exact transform.
        let tested = k % CHECK_EVERY == 0;
        if tested {
            pair.transforms(&f, target, eps, &mut gt, &mut ft);
            error = marginal_error(&target.weights, &f, &ft, eps);
            if error <= tol {
                return Ok(solution(pair, f, gt, iterations, error));
            }
            if let Some(before) = previous {
                let next = adapt_relaxation(omega, before, error, opts.relaxation);
                previous = if next != omega { None } else { Some(error) };
                omega = next;
            } else {
                previous = Some(error);
            }
        }
        if iterations >= opts.max_iterations {
            return Err(cap(opts, error));
        }
        // One (over-relaxed) Sinkhorn iteration: g ← g + ω(T f − g), f ← f + ω(T g − f).
        if !tested {
            soft_transform(b, a, &f, &pair.la, eps, &mut gt);
        }
        if k == 0 || omega == 1.0 {
            std::mem::swap(&mut g, &mut gt);
        } else {
            relax(&mut g, &gt, omega);
        }
        if !tested || omega != 1.0 {
            soft_transform(a, b, &g, &pair.lb, eps, &mut ft);
            target.shift_onto(&mut ft);
        }
        relax(&mut f, &ft, omega);
        iterations += 1;
        progress(&pair.status(eps, iterations, error));
    }
    unreachable!("the iterations return or fail")
}

/// The solution of potentials `f` and `g = T f`.
fn solution(pair: &Pair, f: Vec<f64>, g: Vec<f64>, iterations: u64, error: f64) -> Solution {
    Solution {
        value: dot(pair.a.weights, &f) + dot(pair.b.weights, &g),
        f,
        g,
        iterations,
        marginal_error: error,
    }
}

/// Plain Sinkhorn iterations between two multigrid corrections.
const SMOOTHING: u64 = 3;

/// A multigrid correction solves its coarse problem to this fraction of the fine error, or to
/// the tolerance if that is larger (far below it the rounding of the sums may swamp the
/// error), in at most [`COARSE_MAX_ITERATIONS`] iterations.
const COARSE_REDUCTION: f64 = 0.05;

/// The most iterations of a coarse problem of a multigrid correction (they take tens); if it
/// needs more, or cannot be posed, multigrid gives way to over-relaxed iterations.
const COARSE_MAX_ITERATIONS: u64 = 200;

/// Cycles in a row that reduce the error by less than 40% before multigrid gives way to
/// over-relaxed iterations.
const SLOW_CYCLES: u32 = 3;

/// Whether the last stage runs multigrid cycles at `eps`: both grids have at least
/// [`MULTIGRID_SIDE`] rows and columns, and no two neighbouring cells are more than `√(2ε)`
/// apart (on coarser grids the entropic plan hardly spreads beyond a cell, and a coarse
/// problem at the blocks' scale no longer moves potentials as the fine one does).
fn multigrid_applies(pair: &Pair, eps: f64) -> bool {
    [pair.a.rows, pair.a.cols, pair.b.rows, pair.b.cols]
        .iter()
        .all(|v| {
            v.len() >= MULTIGRID_SIDE && v.windows(2).all(|w| (w[1] - w[0]).powi(2) <= 2.0 * eps)
        })
}

/// The `ε` of the coarse problem of a multigrid correction: `ε`, or the squared largest
/// distance between neighbouring blocks if that is larger, so that the coarse plan still
/// spreads over neighbouring blocks and moves potentials as the fine one does at the scale of
/// the blocks.
fn coarse_eps(ca: &Coarse, cb: &Coarse, eps: f64) -> f64 {
    [&ca.rows, &ca.cols, &cb.rows, &cb.cols]
        .iter()
        .flat_map(|v| v.windows(2).map(|w| (w[1] - w[0]).powi(2)))
        .fold(eps, f64::max)
}

/// Grids with fewer rows or columns than this are not coarsened for a multigrid correction.
const MULTIGRID_SIDE: usize = 16;

/// The last stage by nonlinear multigrid (the full approximation scheme): each cycle tests `f`,
/// corrects it by the solution of the same problem between 2×2-block sums whose target row
/// marginal carries the fine residual, and runs [`SMOOTHING`] plain iterations. Sinkhorn
/// iterations damp an error that changes from cell to cell in a few steps but an error smooth
/// over the grid only slowly; the coarse problem removes the smooth part at a quarter of the
/// cost per iteration, recursively.
fn multigrid(
    stage: &Stage,
    mut f: Vec<f64>,
    mut iterations: u64,
    progress: &mut dyn FnMut(&Status),
) -> Result<Solution> {
    let (pair, target, tol, opts) = (stage.pair, stage.target, stage.tol, stage.opts);
    let eps = opts.eps;
    let (ca, cb) = (Coarse::of(&pair.a), Coarse::of(&pair.b));
    let coarse = Pair::new(ca.grid(), cb.grid(), pair.coarsening + 1, true);
    let coarse_opts = Options {
        eps: coarse_eps(&ca, &cb, eps),
        max_iterations: opts.max_iterations.min(COARSE_MAX_ITERATIONS),
        ..*opts
    };
    let (mut gt, mut ft) = (Vec::new(), Vec::new());
    let mut before = f64::INFINITY;
    let mut slow = 0;
    loop {
        if iterations >= opts.max_iterations {
            return Err(cap(opts, before));
        }
        pair.transforms(&f, target, eps, &mut gt, &mut ft);
        let error = marginal_error(&target.weights, &f, &ft, eps);
        iterations += 1;
        progress(&pair.status(eps, iterations, error));
        if error <= tol {
            return Ok(solution(pair, f, gt, iterations, error));
        }
        slow = if error > 0.6 * before { slow + 1 } else { 0 };
        if slow >= SLOW_CYCLES {
            return relaxed(stage, f, iterations, progress);
        }
        before = error;
        let correction = coarse_correction(
            &coarse,
            &ca,
            target,
            (&f, &ft, eps),
            error,
            &coarse_opts,
            progress,
        );
        match correction {
            Correction::Change(delta) => {
                for (x, d) in f.iter_mut().zip(ca.refine(&delta, &pair.a)) {
                    *x += d;
                }
            }
            // The residual is still too large for a coarse target: smooth first.
            Correction::Unposed => {}
            Correction::Failed => return relaxed(stage, f, iterations, progress),
        }
        for _ in 0..SMOOTHING {
            if iterations >= opts.max_iterations {
                return Err(cap(opts, error));
            }
            pair.transforms(&f, target, eps, &mut gt, &mut ft);
            std::mem::swap(&mut f, &mut ft);
            iterations += 1;
            progress(&pair.status(eps, iterations, error));
        }
    }
}

/// What the coarse problem of a multigrid cycle gives.
enum Correction {
    /// The change of the block potentials that solves it.
    Change(Vec<f64>),
    /// Nothing: a block's target would not be positive (the residual is larger than the
    /// block's marginal).
    Unposed,
    /// Nothing: it was not solved within [`COARSE_MAX_ITERATIONS`].
    Failed,
}

/// The [`Correction`] of a multigrid cycle.
///
/// The fine row marginal of `f` is `t·exp((f − ft)/ε)` and misses the target `t` by the
/// residual `r`. The coarse problem starts from the block means `F` of `f` and its target is
/// the coarse row marginal of `F` plus the block sums of `r` (the same total, 1), so that its
/// solution changes `F` by what the fine problem still lacks at the scale of the blocks.
fn coarse_correction(
    coarse: &Pair,
    blocks: &Coarse,
    target: &Target,
    (f, ft, fine_eps): (&[f64], &[f64], f64),
    error: f64,
    opts: &Options,
    progress: &mut dyn FnMut(&Status),
) -> Correction {
    let residual: Vec<f64> = target
        .weights
        .iter()
        .zip(f.iter().zip(ft))
        .map(|(t, (f, ft))| {
            if *t > 0.0 {
                -t * ((f - ft) / fine_eps).exp_m1()
            } else {
                0.0
            }
        })
        .collect();
    let eps = opts.eps;
    let start = blocks.means(f);
    let (mut g, mut gt) = (Vec::new(), Vec::new());
    soft_transform(&coarse.b, &coarse.a, &start, &coarse.la, eps, &mut g);
    soft_transform(&coarse.a, &coarse.b, &g, &coarse.lb, eps, &mut gt);
    let sums = blocks.sums(&residual);
    let mut weights = Vec::with_capacity(start.len());
    let mut shift = Vec::with_capacity(start.len());
    for (k, &a) in coarse.a.weights.iter().enumerate() {
        if a > 0.0 {
            let t = a * ((start[k] - gt[k]) / eps).exp() + sums[k];
            if t.is_nan() || t <= 0.0 {
                return Correction::Unposed;
            }
            weights.push(t);
            shift.push(eps * (t / a).ln());
        } else {
            weights.push(0.0);
            shift.push(0.0);
        }
    }
    let coarse_target = Target {
        weights,
        shift: Some(shift),
    };
    let stage = Stage {
        pair: coarse,
        target: &coarse_target,
        tol: (COARSE_REDUCTION * error).max(opts.tol),
        opts,
    };
    match last_stage(&stage, start.clone(), 0, progress) {
        Ok(solved) => Correction::Change(solved.f.iter().zip(&start).map(|(x, s)| x - s).collect()),
        Err(_) => Correction::Failed,
    }
}

/// The final stage tests the marginal error every this many iterations (a test costs one
/// transform more when the iterations are over-relaxed).
const CHECK_EVERY: u64 = 10;

/// The over-relaxation to use next, from the errors `before` and `after` of the last
/// [`CHECK_EVERY`] iterations at relaxation `omega` (Young's adaptive SOR: the observed rate
/// `μ` gives the rate `λ` of plain iterations by `(μ + ω − 1)² = ω²·λ·μ`, and the best
/// relaxation for that rate is `2/(1 + √(1 − λ))`), at most `limit`. A growing error halves
/// `ω − 1`.
fn adapt_relaxation(omega: f64, before: f64, after: f64, limit: f64) -> f64 {
    let mu = (after / before).powf(1.0 / CHECK_EVERY as f64);
    if mu.is_nan() || mu >= 1.0 {
        return 1.0 + 0.5 * (omega - 1.0);
    }
    let lambda = ((mu + omega - 1.0).powi(2) / (omega * omega * mu)).min(1.0);
    let best = 2.0 / (1.0 + (1.0 - lambda).sqrt());
    if best > omega + 0.01 {
        best.min(limit)
    } else {
        omega
    }
}

/// `p ← p + ω(t − p)`.
fn relax(p: &mut [f64], t: &[f64], omega: f64) {
    for (x, y) in p.iter_mut().zip(t) {
        *x += omega * (y - *x);
    }
}

/// Solves the symmetric problem `OT_ε(a, a)` with the averaged update `f ← (f + f̃)/2`, which
/// converges in few iterations (Feydy et al. 2019), calling `progress` after every iteration
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
            for (x, y) in f.iter_mut().zip(&ft) {
                *x = 0.5 * (*x + y);
            }
        }
    }
    unreachable!("the last stage returns or fails")
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

/// A grid's 2×2-block sums, each block at the mean of its cells' coordinates (a block on the
/// last row or column may be partial).
struct Coarse {
    rows: Vec<f64>,
    cols: Vec<f64>,
    weights: Vec<f64>,
    /// Columns of the fine grid.
    fine_cols: usize,
    /// Cells in each block.
    counts: Vec<f64>,
}

impl Coarse {
    fn of(g: &Grid) -> Coarse {
        let (rows, cols) = (Coarse::halve(g.rows), Coarse::halve(g.cols));
        let mut coarse = Coarse {
            rows,
            cols,
            weights: Vec::new(),
            fine_cols: g.cols.len(),
            counts: Vec::new(),
        };
        coarse.weights = coarse.sums(g.weights);
        coarse.counts = coarse.sums(&vec![1.0; g.len()]);
        coarse
    }

    /// The mean of each pair of coordinates (the last one alone if their number is odd).
    fn halve(v: &[f64]) -> Vec<f64> {
        v.chunks(2)
            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            .collect()
    }

    /// The sum of the values of the fine cells in each block.
    fn sums(&self, v: &[f64]) -> Vec<f64> {
        let (n, nc) = (self.fine_cols, self.cols.len());
        let mut out = vec![0.0; self.rows.len() * nc];
        for (k, x) in v.iter().enumerate() {
            out[(k / n / 2) * nc + (k % n) / 2] += x;
        }
        out
    }

    /// The mean of the values of the fine cells in each block.
    fn means(&self, v: &[f64]) -> Vec<f64> {
        let mut out = self.sums(v);
        for (x, n) in out.iter_mut().zip(&self.counts) {
            *x /= n;
        }
        out
    }

    fn grid(&self) -> Grid<'_> {
        Grid {
            rows: &self.rows,
            cols: &self.cols,
            weights: &self.weights,
        }
    }

    /// A potential on this grid's blocks, interpolated bilinearly to the cells of the fine grid
    /// it came from (held constant beyond the outermost block centres).
    fn refine(&self, p: &[f64], fine: &Grid) -> Vec<f64> {
        let nc = self.cols.len();
        // The two block centres around `x` and the weight of the second.
        let weights = |centres: &[f64], x: f64| -> (usize, usize, f64) {
            let k = centres.partition_point(|&c| c <= x);
            if k == 0 {
                (0, 0, 0.0)
            } else if k == centres.len() {
                (k - 1, k - 1, 0.0)
            } else {
                let t = (x - centres[k - 1]) / (centres[k] - centres[k - 1]);
                (k - 1, k, t)
            }
        };
        let rw: Vec<_> = fine.rows.iter().map(|&x| weights(&self.rows, x)).collect();
        let cw: Vec<_> = fine.cols.iter().map(|&x| weights(&self.cols, x)).collect();
        let mut out = Vec::with_capacity(fine.len());
        for &(r0, r1, s) in &rw {
            for &(c0, c1, t) in &cw {
                let top = p[r0 * nc + c0] * (1.0 - t) + p[r0 * nc + c1] * t;
                let bottom = p[r1 * nc + c0] * (1.0 - t) + p[r1 * nc + c1] * t;
                out.push(top * (1.0 - s) + bottom * s);
            }
        }
        out
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

/// `out(x) = −ε·ln Σ_y w(y)·exp((p(y) − |x − y|²)/ε)` for the cells `x` of `to`, where `p` is a
/// potential on the cells of `from` and `lw = ln w` its log weights.
fn soft_transform(to: &Grid, from: &Grid, p: &[f64], lw: &[f64], eps: f64, out: &mut Vec<f64>) {
    let h: Vec<f64> = p.iter().zip(lw).map(|(p, l)| p / eps + l).collect();
    lse_grid(to, from, &h, 1.0 / eps, Weight::None, out);
    for v in out.iter_mut() {
        *v *= -eps;
    }
}

/// A factor in the kernel besides `exp(−|x − y|²/ε)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weight {
    /// None.
    None,
    /// `(x_r − y_r)²`.
    Rows,
    /// `(x_c − y_c)²`.
    Cols,
}

/// `out(x) = ln Σ_y exp(h(y) − κ|x − y|²)·[weight]` for the cells `x` of `to` and `y` of
/// `from`: a pass along the rows of `from` (to the columns of `to`), then along the columns.
fn lse_grid(to: &Grid, from: &Grid, h: &[f64], kappa: f64, weight: Weight, out: &mut Vec<f64>) {
    let (rb, cb) = (from.rows.len(), from.cols.len());
    let (ra, ca) = (to.rows.len(), to.cols.len());
    // Pass 1: each row of `from`, from its column positions to those of `to`.
    let mut t = vec![0.0; rb * ca];
    t.par_chunks_mut(ca)
        .zip(h.par_chunks(cb))
        .for_each_init(Work::default, |work, (o, v)| {
            lse_line(
                to.cols,
                from.cols,
                v,
                kappa,
                weight == Weight::Cols,
                work,
                o,
            );
        });
    let tt = transpose(&t, rb, ca);
    // Pass 2: each column (now a row of `tt`), from the row positions of `from` to those of `to`.
    let mut u = vec![0.0; ca * ra];
    u.par_chunks_mut(ra)
        .zip(tt.par_chunks(rb))
        .for_each_init(Work::default, |work, (o, v)| {
            lse_line(
                to.rows,
                from.rows,
                v,
                kappa,
                weight == Weight::Rows,
                work,
                o,
            );
        });
    *out = transpose(&u, ca, ra);
}

/// The `cols × rows` transpose of a row-major `rows × cols` matrix.
fn transpose(m: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    const TILE: usize = 32;
    let mut out = vec![0.0; m.len()];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    out[c * rows + r] = m[r * cols + c];
                }
            }
        }
    }
    out
}

/// Inputs per block of the skipping test.
const BLOCK: usize = 8;

/// Scratch space of [`lse_line`].
#[derive(Debug, Default)]
struct Work {
    /// The parabolas of the upper envelope, by input index.
    hull: Vec<usize>,
    /// Where each parabola of the envelope starts to dominate.
    from: Vec<f64>,
    /// The largest term of each output.
    max: Vec<f64>,
    /// The largest input of each block.
    block_max: Vec<f64>,
}

/// `out[i] = ln Σ_j exp(v[j] − κ(x[i] − y[j])²)·[(x[i] − y[j])² if weighted]`, up to rounding:
/// inputs `v` at increasing positions `y` (`−∞` allowed), outputs at increasing positions `x`.
///
/// Terms are summed relative to each output's largest term `M`, found by the upper envelope of
/// the parabolas `v[j] − κ(· − y[j])²`. A block of inputs whose largest possible term is below
/// `M − θ` is skipped; there are at most `n` skipped terms each below `e^(M − θ)`, or
/// `e^(M − θ)·D²` weighted (`D` the span of positions), while the unweighted sum is at least
/// `e^M`, so with `θ = 40 + ln n` the skipped part is below `e⁻⁴⁰ ≈ 4·10⁻¹⁸` of the sum, and with
/// `θ = 40 + ln(n·(1 + D²))` the weighted sum's is below `e⁻⁴⁰·e^M`, which in the plan cost is
/// below `e⁻⁴⁰` of a unit of cost.
fn lse_line(
    x: &[f64],
    y: &[f64],
    v: &[f64],
    kappa: f64,
    weighted: bool,
    work: &mut Work,
    out: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the processor has the features `lse_line_fma` is compiled for.
        unsafe { lse_line_fma(x, y, v, kappa, weighted, work, out) };
        return;
    }
    lse_line_with::<false>(x, y, v, kappa, weighted, work, out);
}

/// [`lse_line`] compiled for processors with AVX2 and fused multiply-add, where a block's
/// exponentials are four to a vector.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn lse_line_fma(
    x: &[f64],
    y: &[f64],
    v: &[f64],
    kappa: f64,
    weighted: bool,
    work: &mut Work,
    out: &mut [f64],
) {
    lse_line_with::<true>(x, y, v, kappa, weighted, work, out);
}

/// [`lse_line`], with fused multiply-adds in the exponential if `FMA`.
#[inline(always)]
fn lse_line_with<const FMA: bool>(
    x: &[f64],
    y: &[f64],
    v: &[f64],
    kappa: f64,
    weighted: bool,
    work: &mut Work,
    out: &mut [f64],
) {
    let n = y.len();
    upper_envelope(x, y, v, kappa, work);
    if work.hull.is_empty() {
        out.fill(f64::NEG_INFINITY);
        return;
    }
    let span = (x[x.len() - 1].max(y[n - 1]) - x[0].min(y[0])).max(0.0);
    let bound = if weighted { 1.0 + span * span } else { 1.0 };
    let theta = 40.0 + (n as f64 * bound).ln();
    work.block_max.clear();
    work.block_max.extend(
        v.chunks(BLOCK)
            .map(|c| c.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
    );
    for (i, (&xi, o)) in x.iter().zip(out.iter_mut()).enumerate() {
        let m = work.max[i];
        let floor = m - theta;
        let mut sum = 0.0;
        for (k, &bm) in work.block_max.iter().enumerate() {
            let (lo, hi) = (k * BLOCK, ((k + 1) * BLOCK).min(n));
            let gap = (y[lo] - xi).max(xi - y[hi - 1]).max(0.0);
            if bm - kappa * gap * gap < floor {
                continue;
            }
            sum += match (y[lo..hi].try_into(), v[lo..hi].try_into()) {
                (Ok(yb), Ok(vb)) => block_sum::<FMA>(xi, yb, vb, kappa, m, weighted),
                _ => (lo..hi)
                    .map(|j| {
                        let d2 = (xi - y[j]) * (xi - y[j]);
                        let e = exp_nonpositive::<FMA>(v[j] - kappa * d2 - m);
                        if weighted { e * d2 } else { e }
                    })
                    .sum(),
            };
        }
        *o = m + sum.ln();
    }
}

/// `Σ_j exp(v[j] − κ(x − y[j])² − m)·[(x − y[j])² if weighted]` over one full block: the
/// terms are formed in a fixed-size array, where the exponentials vectorise, then summed in
/// order.
#[inline(always)]
fn block_sum<const FMA: bool>(
    x: f64,
    y: &[f64; BLOCK],
    v: &[f64; BLOCK],
    kappa: f64,
    m: f64,
    weighted: bool,
) -> f64 {
    let mut terms = [0.0; BLOCK];
    for j in 0..BLOCK {
        let d2 = (x - y[j]) * (x - y[j]);
        let e = exp_nonpositive::<FMA>(v[j] - kappa * d2 - m);
        terms[j] = if weighted { e * d2 } else { e };
    }
    terms.iter().sum()
}

/// `eˣ` for the terms of a line sum, which are at most about 0 (their largest is 0 up to
/// rounding): within 2 ulp of `f64::exp` for `x` in `[−708, 1]`, `e⁻⁷⁰⁸ ≈ 3.3·10⁻³⁰⁸` for smaller `x`
/// (including `−∞`), where the exact value would be below that. Branch-free, so that a block of
/// terms vectorises, unlike calls to the C library's `exp`.
///
/// `x = k·ln 2 + r` with `k` the nearest integer to `x/ln 2` (found by adding `1.5·2⁵²`, which
/// leaves `k` in the low bits) and `|r| ≤ ln 2 / 2`, taken in two parts for precision (Cody &
/// Waite); `eʳ` is its Taylor polynomial of degree 13 (truncation below `10⁻¹⁷`), and `2ᵏ` is
/// built from its exponent bits. With `FMA`, Horner's steps are fused multiply-adds (only fast
/// where the processor has them).
#[inline(always)]
fn exp_nonpositive<const FMA: bool>(x: f64) -> f64 {
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5·2⁵²
    const LN2_HI: f64 = 6.931_471_803_691_238e-1; // ln 2 to 32 bits
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10; // the rest
    let x = x.clamp(-708.0, 1.0);
    let t = x * std::f64::consts::LOG2_E + SHIFT;
    let k = t - SHIFT;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = INVERSE_FACTORIALS[13];
    for c in INVERSE_FACTORIALS[..13].iter().rev() {
        p = if FMA { p.mul_add(r, *c) } else { p * r + c };
    }
    let bits = t.to_bits().wrapping_sub(SHIFT.to_bits()).wrapping_add(1023) << 52;
    p * f64::from_bits(bits)
}

/// `1/i!` for `i` in `0..=13`.
const INVERSE_FACTORIALS: [f64; 14] = {
    let mut c = [1.0; 14];
    let mut i = 1;
    while i < 14 {
        c[i] = c[i - 1] / i as f64;
        i += 1;
    }
    c
};

/// `work.max[i] = max_j v[j] − κ(x[i] − y[j])²` over the finite `v[j]`, by the upper envelope of
/// the parabolas (Felzenszwalb & Huttenlocher, "Distance transforms of sampled functions"): the
/// envelope's parabolas are left in `work.hull`, empty when no input is finite.
fn upper_envelope(x: &[f64], y: &[f64], v: &[f64], kappa: f64, work: &mut Work) {
    let Work {
        hull, from, max, ..
    } = work;
    hull.clear();
    from.clear();
    // Where parabola q (to the right of p) overtakes p.
    let cross =
        |p: usize, q: usize| 0.5 * (y[p] + y[q]) - (v[q] - v[p]) / (2.0 * kappa * (y[q] - y[p]));
    for q in (0..y.len()).filter(|&q| v[q] > f64::NEG_INFINITY) {
        let mut s = f64::NEG_INFINITY;
        while let Some(&p) = hull.last() {
            s = cross(p, q);
            if s <= *from.last().expect("one start per parabola") {
                hull.pop();
                from.pop();
                s = f64::NEG_INFINITY;
            } else {
                break;
            }
        }
        hull.push(q);
        from.push(s);
    }
    max.clear();
    if hull.is_empty() {
        return;
    }
    let mut k = 0;
    for &xi in x {
        while k + 1 < hull.len() && from[k + 1] <= xi {
            k += 1;
        }
        let p = hull[k];
        max.push(v[p] - kappa * (xi - y[p]) * (xi - y[p]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ln Σ_j exp(v_j − κ(x − y_j)²)·[(x − y_j)²]`, every term, plainly.
    fn plain(x: f64, y: &[f64], v: &[f64], kappa: f64, weighted: bool) -> f64 {
        let terms: Vec<f64> = (0..y.len())
            .map(|j| {
                let d2 = (x - y[j]) * (x - y[j]);
                v[j] - kappa * d2 + if weighted { d2.ln() } else { 0.0 }
            })
            .collect();
        let m = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            return m;
        }
        m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln()
    }

    #[test]
    fn line_sums_equal_the_plain_sums() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for case in 0..200 {
            let (n, m) = (1 + case % 37, 1 + (case * 7) % 41);
            let mut pos = |k: usize, step: f64| -> Vec<f64> {
                let mut t = -5.0 * next();
                (0..k)
                    .map(|_| {
                        t += step * (0.2 + next());
                        t
                    })
                    .collect()
            };
            let (x, y) = (pos(n, 1.0), pos(m, 1.3));
            let kappa = [0.01, 0.3, 1.0, 25.0][case % 4];
            let spread = [1.0, 50.0, 5000.0][case % 3];
            let v: Vec<f64> = (0..m)
                .map(|j| {
                    if (case + j) % 5 == 0 {
                        f64::NEG_INFINITY
                    } else {
                        spread * (next() - 0.5)
                    }
                })
                .collect();
            // The line as dispatched, and both variants whatever this processor has.
            type Line = fn(&[f64], &[f64], &[f64], f64, bool, &mut Work, &mut [f64]);
            let lines: [Line; 3] = [lse_line, lse_line_with::<false>, lse_line_with::<true>];
            for (weighted, line) in [false, true]
                .into_iter()
                .flat_map(|w| lines.map(|l| (w, l)))
            {
                let mut out = vec![0.0; n];
                line(&x, &y, &v, kappa, weighted, &mut Work::default(), &mut out);
                for i in 0..n {
                    let want = plain(x[i], &y, &v, kappa, weighted);
                    let ok = if want == f64::NEG_INFINITY {
                        out[i] == want
                    } else {
                        (out[i] - want).abs() <= 1e-12 * want.abs().max(1.0)
                    };
                    assert!(
                        ok,
                        "case {case} weighted {weighted} output {i}: {} vs {want}",
                        out[i]
                    );
                }
            }
        }
    }

    #[test]
    fn the_exponential_is_within_two_ulp_of_the_library_one() {
        for exp in [exp_nonpositive::<false>, exp_nonpositive::<true>] {
            let mut worst: f64 = 0.0;
            for k in 0..=2_000_000 {
                // From −708 to 1, and the points at multiples of ln 2 / 2, where `r` is largest.
                let x = -708.0 + 709.0 * f64::from(k) / 2e6;
                let half = 0.5 * std::f64::consts::LN_2;
                for x in [x, (x / half).round() * half] {
                    if (-708.0..=1.0).contains(&x) {
                        worst = worst.max((exp(x) - x.exp()).abs() / x.exp());
                    }
                }
            }
            assert!(worst <= 2.0 * f64::EPSILON, "relative error {worst:e}");
            for x in [-708.5, -1e4, f64::NEG_INFINITY] {
                let e = exp(x);
                assert!(e > 0.0 && e < 3.4e-308, "e^{x} gave {e:e}");
            }
            assert_eq!(exp(0.0), 1.0);
            assert!(exp(f64::NAN).is_nan());
        }
    }

    #[test]
    fn a_coarse_potential_is_interpolated_bilinearly() {
        // 7 × 6 cells: the last block row is partial (centre 6), the block columns full.
        let (rows, cols): (Vec<f64>, Vec<f64>) = (
            (0..7).map(f64::from).collect(),
            (0..6).map(f64::from).collect(),
        );
        let weights = vec![1.0 / 42.0; 42];
        let fine = Grid {
            rows: &rows,
            cols: &cols,
            weights: &weights,
        };
        let coarse = Coarse::of(&fine);
        assert_eq!(coarse.rows, [0.5, 2.5, 4.5, 6.0]);
        assert_eq!(coarse.cols, [0.5, 2.5, 4.5]);
        let affine = |r: f64, c: f64| 3.0 + 2.0 * r - 5.0 * c;
        let p: Vec<f64> = coarse
            .rows
            .iter()
            .flat_map(|&r| coarse.cols.iter().map(move |&c| affine(r, c)))
            .collect();
        let refined = coarse.refine(&p, &fine);
        for (k, got) in refined.iter().enumerate() {
            // Inside the block centres the affine function is reproduced; beyond them the
            // nearest centre's value is kept.
            let (r, c) = (rows[k / 6].clamp(0.5, 6.0), cols[k % 6].clamp(0.5, 4.5));
            assert!(
                (got - affine(r, c)).abs() < 1e-12,
                "cell {k}: {got} vs {}",
                affine(r, c)
            );
        }
    }

    #[test]
    fn a_line_without_weight_gives_minus_infinity() {
        let (x, y) = ([0.0, 1.0], [0.0, 2.0, 3.0]);
        let mut out = [0.0; 2];
        lse_line(
            &x,
            &y,
            &[f64::NEG_INFINITY; 3],
            1.0,
            false,
            &mut Work::default(),
            &mut out,
        );
        assert_eq!(out, [f64::NEG_INFINITY; 2]);
    }

    #[test]
    fn the_schedule_ends_at_eps_and_shrinks_by_the_factor() {
        let s = schedule(1000.0, &Options::new(1.0));
        assert_eq!(s, vec![1000.0, 250.0, 62.5, 15.625, 1.0]);
        assert_eq!(schedule(0.5, &Options::new(1.0)), vec![1.0]);
    }
}
