//! The last stage of a problem, at the requested `ε`: over-relaxed Sinkhorn iterations, or
//! multigrid cycles whose coarse problems are solved the same way.

use super::coarse::Coarse;
use super::lse::soft_transform;
use super::{Grid, Options, Result, Solution, Status, cap, dot, logs, marginal_error};

/// The two grids of a problem, their log weights, and how many times they were halved.
pub(super) struct Pair<'a> {
    a: Grid<'a>,
    b: Grid<'a>,
    pub(super) la: Vec<f64>,
    pub(super) lb: Vec<f64>,
    coarsening: usize,
    /// Whether this is the coarse problem of a multigrid correction.
    correction: bool,
}

impl<'a> Pair<'a> {
    pub(super) fn new(a: Grid<'a>, b: Grid<'a>, coarsening: usize, correction: bool) -> Pair<'a> {
        Pair {
            a,
            b,
            la: logs(a.weights),
            lb: logs(b.weights),
            coarsening,
            correction,
        }
    }

    pub(super) fn status(&self, eps: f64, iterations: u64, marginal_error: f64) -> Status {
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
    pub(super) fn transforms(
        &self,
        f: &[f64],
        t: &Target,
        eps: f64,
        g: &mut Vec<f64>,
        ft: &mut Vec<f64>,
    ) {
        soft_transform(&self.b, &self.a, f, &self.la, eps, g);
        soft_transform(&self.a, &self.b, g, &self.lb, eps, ft);
        t.shift_onto(ft);
    }
}

/// The row marginal a last stage iterates towards: the first grid's weights, or on the coarser
/// grids of a multigrid correction, other weights `t` of the same total, reached by shifting
/// each `f` update by `ε·ln(t/a)`.
pub(super) struct Target {
    weights: Vec<f64>,
    /// `ε·ln(t/a)` on the cells of weight `a > 0`; `None` when `t = a`.
    shift: Option<Vec<f64>>,
}

impl Target {
    pub(super) fn of(a: &[f64]) -> Target {
        Target {
            weights: a.to_vec(),
            shift: None,
        }
    }

    /// `t − t·exp((f − ft)/ε)`: by how much the row marginal of `f` misses the target, when
    /// `ft` is the `f` of the next iteration (see [`Pair::transforms`]); its L1 norm is the
    /// marginal error.
    fn residual(&self, f: &[f64], ft: &[f64], eps: f64) -> Vec<f64> {
        self.weights
            .iter()
            .zip(f.iter().zip(ft))
            .map(|(t, (f, ft))| {
                if *t > 0.0 {
                    -t * ((f - ft) / eps).exp_m1()
                } else {
                    0.0
                }
            })
            .collect()
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
pub(super) struct Stage<'a> {
    pub(super) pair: &'a Pair<'a>,
    pub(super) target: &'a Target,
    pub(super) tol: f64,
    pub(super) opts: &'a Options,
}

/// The last stage from `f`, `iterations` already made: by multigrid cycles where the grids are
/// fine enough for `ε` (see [`multigrid`]), otherwise by over-relaxed Sinkhorn iterations.
pub(super) fn last_stage(
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
pub(super) fn coarse_eps(ca: &Coarse, cb: &Coarse, eps: f64) -> f64 {
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
        let residual = target.residual(&f, &ft, eps);
        let error: f64 = residual.iter().map(|r| r.abs()).sum();
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
        let correction =
            coarse_correction(&coarse, &ca, &f, &residual, error, &coarse_opts, progress);
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
    f: &[f64],
    residual: &[f64],
    error: f64,
    opts: &Options,
    progress: &mut dyn FnMut(&Status),
) -> Correction {
    let eps = opts.eps;
    let start = blocks.means(f);
    let (mut g, mut gt) = (Vec::new(), Vec::new());
    soft_transform(&coarse.b, &coarse.a, &start, &coarse.la, eps, &mut g);
    soft_transform(&coarse.a, &coarse.b, &g, &coarse.lb, eps, &mut gt);
    let sums = blocks.sums(residual);
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
