//! Sinkhorn divergence: entropic optimal transport with squared euclidean cost, debiased.
//!
//! With cost `C(x, y) = |x − y|²` between cell positions (pixels², cells where [`Mass`] puts
//! them, so grids of different sizes and `--downscale` work as for `emd`) and `ε = blur²`,
//!
//! ```text
//! OT_ε(a, b) = min_π ⟨π, C⟩ + ε·KL(π ‖ a⊗b)
//! S_ε(a, b)  = OT_ε(a, b) − ½·OT_ε(a, a) − ½·OT_ε(b, b)
//! ```
//!
//! each `OT_ε` computed as its dual value `⟨a, f⟩ + ⟨b, g⟩` at convergence. The value is
//! `√S_ε` in pixels (`√OT_ε` without debiasing), comparable to `emd --ground sqeuclidean`:
//! `S_ε → W₂²` as `blur → 0`, and `S_ε ≈ W₂²` when the blur is small next to the distances
//! mass travels; a blur comparable to the image blurs away detail, and `S_ε → 0` as `blur → ∞`
//! (MMD-like behaviour). Range `[0, diameter)`; symmetric; `S_ε(a, a) = 0`, `S_ε ≥ 0` and
//! `S_ε(a, b) = 0` only for `a = b` (Feydy et al. 2019). Without debiasing, `OT_ε(a, a) > 0`:
//! the value is biased upwards by the blur.
//!
//! Cost: the solver ([`crate::ot::sinkhorn`]) never forms the `N×N` cost matrix: each Sinkhorn
//! half-step is two passes of one-dimensional log-sum-exp convolutions over the grid, skipping
//! only terms provably below rounding, with ε-scaling from the grid's diameter down to `blur`.
//! Memory is O(N); time grows as the blur shrinks (more iterations at small `ε`). The iterations
//! stop when the L1 error of the plan's marginal is at most `tol`; reaching the iteration cap is
//! an error, never a number. Every iteration of every problem is a progress report
//! ([`Progress::sinkhorn_iteration`]).
//!
//! References: Cuturi, "Sinkhorn distances: lightspeed computation of optimal transport" (2013);
//! Schmitzer, "Stabilized sparse scaling algorithms for entropy regularized transport problems"
//! (2019); Feydy, Séjourné, Vialard, Amari, Trouvé & Peyré, "Interpolating between optimal
//! transport and MMD using Sinkhorn divergences" (2019).

use std::time::Instant;

use serde::Serialize;

use super::{Details, Measurement, Metric, MetricKind, MetricParams, Progress};
use crate::error::{Error, Result};
use crate::mass::Mass;
use crate::ot::sinkhorn::{self as solver, Grid, Options};

pub use crate::ot::sinkhorn::Status;

/// Default blur, in pixels (`ε = 1`).
pub const DEFAULT_BLUR: f64 = 1.0;
/// Default tolerance on the L1 marginal error.
pub const DEFAULT_TOL: f64 = 1e-9;

/// The parameters sinkhorn reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SinkhornParams {
    /// The blur `√ε` in pixels.
    pub blur: f64,
    /// `ε = blur²` in pixels².
    pub eps: f64,
    /// Whether the value is debiased (`S_ε`) or not (`OT_ε`).
    pub debias: bool,
    /// The tolerance on the L1 marginal error of each problem.
    pub tol: f64,
}

impl SinkhornParams {
    /// Validated parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `blur` is finite and > 0 (with `blur²` a positive
    /// finite number) and `0 < tol < 1`.
    pub fn new(blur: f64, debias: bool, tol: f64) -> Result<SinkhornParams> {
        let eps = blur * blur;
        if !(blur.is_finite() && blur > 0.0 && eps.is_finite() && eps > 0.0) {
            return Err(Error::InvalidParameter {
                name: "--blur",
                reason: format!("{blur} must be a finite number > 0 (pixels)"),
            });
        }
        if !(tol > 0.0 && tol < 1.0) {
            return Err(Error::InvalidParameter {
                name: "--tol",
                reason: format!("{tol} must be in (0, 1)"),
            });
        }
        Ok(SinkhornParams {
            blur,
            eps,
            debias,
            tol,
        })
    }
}

/// Further facts sinkhorn reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SinkhornDetails {
    /// `ε` in pixels².
    pub eps: f64,
    /// `S_ε` (or `OT_ε` without debiasing) in pixels²: the square of the value.
    pub divergence: f64,
    /// `OT_ε(a, b)`.
    pub ot_ab: f64,
    /// `OT_ε(a, a)` (debiased only).
    pub ot_aa: Option<f64>,
    /// `OT_ε(b, b)` (debiased only).
    pub ot_bb: Option<f64>,
    /// `⟨π, C⟩` of the entropic plan `π` between `a` and `b`: its transport cost without the
    /// entropy term, in pixels².
    pub sharp_cost: f64,
    /// Iterations of the three problems together.
    pub iterations: u64,
    /// Iterations of each problem: `ab`, `aa`, `bb`.
    pub iterations_per_problem: Iterations,
    /// The largest final L1 marginal error of the problems.
    pub marginal_error: f64,
    /// Wall-clock seconds of the solve.
    pub solve_seconds: f64,
}

/// Iterations of each problem. Equal masses are solved once, as the symmetric problem, which
/// counts for `ab`; `aa` and `bb` are then 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Iterations {
    /// `OT_ε(a, b)`.
    pub ab: u64,
    /// `OT_ε(a, a)` (debiased only).
    pub aa: Option<u64>,
    /// `OT_ε(b, b)` (debiased only).
    pub bb: Option<u64>,
}

/// One of the transport problems of the divergence, as progress reports name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Problem {
    /// `OT_ε(a, b)`; also the one symmetric problem of equal masses.
    Ab,
    /// `OT_ε(a, a)` (debiased only).
    Aa,
    /// `OT_ε(b, b)` (debiased only).
    Bb,
}

impl Problem {
    /// `"ab"`, `"aa"` or `"bb"`, as the JSON details name the problems' iterations.
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Ab => "ab",
            Problem::Aa => "aa",
            Problem::Bb => "bb",
        }
    }
}

/// The Sinkhorn divergence metric.
#[derive(Debug, Clone)]
pub struct Sinkhorn {
    params: SinkhornParams,
}

impl Sinkhorn {
    /// The metric with validated parameters (see [`SinkhornParams::new`]).
    ///
    /// # Errors
    /// As [`SinkhornParams::new`].
    pub fn new(blur: f64, debias: bool, tol: f64) -> Result<Sinkhorn> {
        Ok(Sinkhorn {
            params: SinkhornParams::new(blur, debias, tol)?,
        })
    }
}

fn grid(m: &Mass) -> Grid<'_> {
    Grid {
        rows: m.row_coords(),
        cols: m.col_coords(),
        weights: m.as_slice(),
    }
}

/// `OT_ε(a, b)` for masses `a`, `b` and `ε = params.eps`.
///
/// # Errors
/// [`Error::Solver`] when the iterations reach their cap.
pub fn ot_eps(a: &Mass, b: &Mass, params: &SinkhornParams) -> Result<solver::Solution> {
    solve(a, b, &options(params), |_| {})
}

/// `OT_ε(a, a)`, by the symmetric update.
///
/// # Errors
/// [`Error::Solver`] when the iterations reach their cap.
pub fn ot_eps_self(a: &Mass, params: &SinkhornParams) -> Result<solver::Solution> {
    solve_self(a, &options(params), |_| {})
}

/// `OT_ε(a, b)` with `opts`, each iteration's status passed to `report`.
fn solve(
    a: &Mass,
    b: &Mass,
    opts: &Options,
    report: impl FnMut(&Status),
) -> Result<solver::Solution> {
    Ok(solver::solve(grid(a), grid(b), opts, report)?)
}

/// `OT_ε(a, a)` with `opts`, by the symmetric update, each iteration's status passed to `report`.
fn solve_self(a: &Mass, opts: &Options, report: impl FnMut(&Status)) -> Result<solver::Solution> {
    Ok(solver::solve_symmetric(grid(a), opts, report)?)
}

fn options(params: &SinkhornParams) -> Options {
    Options {
        tol: params.tol,
        ..Options::new(params.eps)
    }
}

/// The largest squared distance between cells of `a` and `b`.
fn diameter_sq(a: &Mass, b: &Mass) -> f64 {
    let span = |u: &[f64], v: &[f64]| u[u.len() - 1].max(v[v.len() - 1]) - u[0].min(v[0]);
    span(a.row_coords(), b.row_coords()).powi(2) + span(a.col_coords(), b.col_coords()).powi(2)
}

impl Metric for Sinkhorn {
    fn kind(&self) -> MetricKind {
        MetricKind::Sinkhorn
    }

    fn compute(&self, a: &Mass, b: &Mass) -> Result<Measurement> {
        self.compute_observed(a, b, &())
    }

    fn compute_observed(&self, a: &Mass, b: &Mass, progress: &dyn Progress) -> Result<Measurement> {
        let start = Instant::now();
        let p = &self.params;
        let opts = options(p);
        let report = |problem: Problem| move |s: &Status| progress.sinkhorn_iteration(problem, s);
        // Equal masses are one symmetric problem: solved once, it is all three, and S_ε is
        // exactly 0.
        let same = a.same_grid(b) && a.as_slice() == b.as_slice();
        let ab = if same {
            solve_self(a, &opts, report(Problem::Ab))?
        } else {
            solve(a, b, &opts, report(Problem::Ab))?
        };
        let sharp_cost = solver::plan_cost(grid(a), grid(b), &ab.f, &ab.g, p.eps);
        let (divergence, aa, bb) = if p.debias {
            let (aa, bb) = if same {
                let mut solved = ab.clone();
                solved.iterations = 0;
                (solved.clone(), solved)
            } else {
                let (aa, bb) = rayon::join(
                    || solve_self(a, &opts, report(Problem::Aa)),
                    || solve_self(b, &opts, report(Problem::Bb)),
                );
                (aa?, bb?)
            };
            let s = ab.value - 0.5 * aa.value - 0.5 * bb.value;
            // Each value is within about tol·diameter² of its optimum (the dual gap is at most
            // the marginal error times the potentials' oscillation), plus rounding.
            let slack = 3.0 * p.tol * diameter_sq(a, b)
                + 1e-12 * (ab.value.abs() + aa.value.abs() + bb.value.abs());
            if s < -slack {
                return Err(Error::Internal {
                    message: format!(
                        "negative Sinkhorn divergence {s:e} (OT_ab {}, OT_aa {}, OT_bb {})",
                        ab.value, aa.value, bb.value
                    ),
                });
            }
            (s.max(0.0), Some(aa), Some(bb))
        } else {
            (ab.value.max(0.0), None, None)
        };
        let errors = [Some(&ab), aa.as_ref(), bb.as_ref()];
        let marginal_error = errors
            .iter()
            .flatten()
            .map(|s| s.marginal_error)
            .fold(0.0, f64::max);
        let iterations = Iterations {
            ab: ab.iterations,
            aa: aa.as_ref().map(|s| s.iterations),
            bb: bb.as_ref().map(|s| s.iterations),
        };
        let mut m = Measurement::new(divergence.sqrt(), MetricParams::Sinkhorn(*p));
        m.details = Details::Sinkhorn(SinkhornDetails {
            eps: p.eps,
            divergence,
            ot_ab: ab.value,
            ot_aa: aa.as_ref().map(|s| s.value),
            ot_bb: bb.as_ref().map(|s| s.value),
            sharp_cost,
            iterations: iterations.ab + iterations.aa.unwrap_or(0) + iterations.bb.unwrap_or(0),
            iterations_per_problem: iterations,
            marginal_error,
            solve_seconds: start.elapsed().as_secs_f64(),
        });
        Ok(m)
    }
}
