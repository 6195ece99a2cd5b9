//! The metrics: a small object-safe [`Metric`] trait, the closed [`MetricKind`] enum naming the
//! built-ins, and [`Params`], the parameters they take.
//!
//! ```
//! use imgdist::metric::{MetricKind, Params};
//! use imgdist::Mass;
//! use ndarray::array;
//!
//! let a = Mass::from_values(&array![[1.0, 0.0], [0.0, 1.0]], 1, "a")?;
//! let b = Mass::from_values(&array![[0.0, 1.0], [0.0, 1.0]], 1, "b")?;
//! let tv = MetricKind::Tv.build(&Params::default())?;
//! assert_eq!(tv.compute(&a, &b)?.value, 0.5);
//! # Ok::<(), imgdist::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::mass::Mass;

pub mod blur_l2;
pub mod divergence;
pub mod emd;
pub mod hist;
pub mod limits;
pub mod sinkhorn;
pub mod sliced;
pub mod tv;

pub use emd::{EmdPlan, Ground};
pub use sliced::{Angles, SlicedParams};

/// A distance (or divergence) between two masses.
pub trait Metric: Send + Sync {
    /// Which built-in this is.
    fn kind(&self) -> MetricKind;
    /// Computes the value for the pair `(a, b)`.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] for pixel-by-pixel metrics on grids of different sizes; solver
    /// errors for transport metrics.
    fn compute(&self, a: &Mass, b: &Mass) -> Result<Measurement>;

    /// [`Metric::compute`], telling `progress` how a long computation advances (the exact EMD
    /// reports each column-generation round, sinkhorn each iteration). The value is the same as
    /// without it.
    ///
    /// # Errors
    /// As [`Metric::compute`].
    fn compute_observed(&self, a: &Mass, b: &Mass, progress: &dyn Progress) -> Result<Measurement> {
        let _ = progress;
        self.compute(a, b)
    }
}

/// Receives progress from long computations; every method does nothing by default. The
/// metrics never print: the command line implements this to write progress lines.
pub trait Progress: Sync {
    /// The exact EMD finished a round of column generation.
    fn emd_round(&self, round: &emd::Round) {
        let _ = round;
    }

    /// The exact EMD's grid flow (cityblock) finished a level, coarsest first.
    fn emd_level(&self, level: &emd::Level) {
        let _ = level;
    }

    /// Sliced Wasserstein has computed `done` of its `total` directions. Called from the thread
    /// that asked for the value: with 0 when it starts, then with `done` increasing to `total`
    /// after every fraction of a second of work or so (at once for small inputs).
    fn sliced_directions(&self, done: usize, total: usize) {
        let _ = (done, total);
    }

    /// Sinkhorn finished an iteration of `problem`, on its grids or on those of a coarse warm
    /// start (see [`sinkhorn::Status`]). `OT_ε(a, b)` reports from the thread that asked for the
    /// value; the debiased value then solves `OT_ε(a, a)` and `OT_ε(b, b)` side by side
    /// (`rayon::join`), whose reports may come from other threads, two at once.
    fn sinkhorn_iteration(&self, problem: sinkhorn::Problem, status: &sinkhorn::Status) {
        let _ = (problem, status);
    }
}

/// Progress that goes nowhere.
impl Progress for () {}

/// The result of one metric on one pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The value; may be `+∞` (e.g. KL where B has no mass but A has).
    pub value: f64,
    /// The parameters the metric used, as the JSON report lists them.
    pub params: MetricParams,
    /// Further facts about the computation (standard errors, solver statistics…).
    pub details: Details,
    /// What the metric found besides its value (a plan, a profile), in memory only: the reports
    /// do not print it.
    pub extras: Extras,
}

impl Measurement {
    /// A measurement with the given value and parameters, no details and no extras.
    pub fn new(value: f64, params: MetricParams) -> Measurement {
        Measurement {
            value,
            params,
            details: Details::None(Empty {}),
            extras: Extras::None,
        }
    }
}

/// An empty JSON object, `{}`: the parameters or details of a metric that has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Empty {}

/// The parameters a metric used, typed per metric; serialized as the JSON report's `params`
/// object (the variant's fields, untagged).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum MetricParams {
    /// `tv`, `js`, `hellinger`, `hist`: no parameters, `{}`.
    None(Empty),
    /// `kl`: `{"eps": …}`.
    Kl(divergence::KlParams),
    /// `blur-l2`: `{"sigma": …, "truncate": …}`.
    BlurL2(blur_l2::BlurL2Params),
    /// `sliced`: `{"projections": …, "seed": …, "p": …, "angles": …}`.
    Sliced(SlicedParams),
    /// `emd`: `{"ground": …}`.
    Emd(emd::EmdParams),
    /// `sinkhorn`: `{"blur": …, "eps": …, "debias": …, "tol": …}`.
    Sinkhorn(sinkhorn::SinkhornParams),
}

/// Further facts about a computation, typed per metric; serialized as the JSON report's
/// `details` object (the variant's fields, untagged).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Details {
    /// Nothing to add, `{}`.
    None(Empty),
    /// `sliced`: `{"std_error": …}`.
    Sliced(sliced::SlicedDetails),
    /// `emd`: solver statistics and the certificate.
    Emd(emd::EmdDetails),
    /// `sinkhorn`: `ε`, the three transport values, iterations and the marginal error.
    Sinkhorn(sinkhorn::SinkhornDetails),
}

/// What a metric found on its way to the value, kept for pictures and further analysis.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub enum Extras {
    /// Nothing beyond the value (the pixel-by-pixel metrics).
    #[default]
    None,
    /// `sliced`: the distance along each direction, `W_p(θ)`.
    Sliced(Arc<sliced::Profile>),
    /// `emd`, when [`EmdPlan`] asks for it: an optimal plan with its duals and certificate, or
    /// (for [`EmdPlan::Picture`]) why there is none: a cityblock problem too large for column
    /// generation.
    Emd(std::result::Result<Arc<emd::Sparse>, String>),
}

/// The built-in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Total variation distance, ½ Σ |p − q|.
    Tv,
    /// Kullback–Leibler divergence KL(A‖B) in nats.
    Kl,
    /// Jensen–Shannon divergence in nats.
    Js,
    /// Hellinger distance.
    Hellinger,
    /// L2 distance between Gaussian-blurred masses.
    BlurL2,
    /// `W₁` between the distributions of pixel values (grey-level histogram EMD).
    Hist,
    /// Sliced Wasserstein distance over random or equispaced directions.
    Sliced,
    /// Exact earth mover's (Wasserstein) distance with locations.
    Emd,
    /// Sinkhorn divergence: entropic transport with squared euclidean cost, debiased.
    Sinkhorn,
}

impl MetricKind {
    /// Every built-in metric, in the order reports list them.
    pub const ALL: &'static [MetricKind] = &[
        MetricKind::Tv,
        MetricKind::Kl,
        MetricKind::Js,
        MetricKind::Hellinger,
        MetricKind::BlurL2,
        MetricKind::Hist,
        MetricKind::Sliced,
        MetricKind::Emd,
        MetricKind::Sinkhorn,
    ];

    /// The metrics computed when none are named.
    pub const DEFAULT: &'static [MetricKind] = &[MetricKind::Sliced];

    /// The name the user types.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Tv => "tv",
            MetricKind::Kl => "kl",
            MetricKind::Js => "js",
            MetricKind::Hellinger => "hellinger",
            MetricKind::BlurL2 => "blur-l2",
            MetricKind::Hist => "hist",
            MetricKind::Sliced => "sliced",
            MetricKind::Emd => "emd",
            MetricKind::Sinkhorn => "sinkhorn",
        }
    }

    /// The unit of the metric's values, as the README's table names it (empty for `hellinger`,
    /// which has none).
    pub fn unit(self) -> &'static str {
        match self {
            MetricKind::Tv => "probability",
            MetricKind::Kl | MetricKind::Js => "nats",
            MetricKind::Hellinger => "",
            MetricKind::BlurL2 => "mass per cell",
            MetricKind::Hist => "full scale",
            MetricKind::Sliced | MetricKind::Emd | MetricKind::Sinkhorn => "pixels",
        }
    }

    /// Builds the metric with validated parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when a parameter this metric uses is out of range.
    pub fn build(self, params: &Params) -> Result<Box<dyn Metric>> {
        Ok(match self {
            MetricKind::Tv => Box::new(tv::Tv),
            MetricKind::Kl => Box::new(divergence::Kl::new(params.eps)?),
            MetricKind::Js => Box::new(divergence::Js),
            MetricKind::Hellinger => Box::new(divergence::Hellinger),
            MetricKind::BlurL2 => Box::new(blur_l2::BlurL2::new(params.sigma)?),
            MetricKind::Hist => Box::new(hist::Hist),
            MetricKind::Sliced => Box::new(sliced::Sliced::new(params.sliced.clone())?),
            MetricKind::Emd => Box::new(emd::Emd::new(params.ground).with_plan(params.emd_plan)),
            MetricKind::Sinkhorn => Box::new(sinkhorn::Sinkhorn::new(
                params.blur,
                params.debias,
                params.tol,
            )?),
        })
    }

    /// Parses a comma-separated list of names (`all` for every metric), keeping the order given
    /// and dropping repeats.
    ///
    /// # Errors
    /// [`Error::UnknownMetric`] naming the first unknown entry.
    pub fn parse_list(list: &str) -> Result<Vec<MetricKind>> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim) {
            let kinds: Vec<MetricKind> = if name == "all" {
                MetricKind::ALL.to_vec()
            } else {
                vec![name.parse()?]
            };
            for k in kinds {
                if !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MetricKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        MetricKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::UnknownMetric {
                name: s.to_string(),
                known: MetricKind::ALL.iter().map(|k| k.as_str()).collect(),
            })
    }
}

/// Parameters of all metrics; each metric reads the fields it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// `kl`: pseudo-count added to every cell of both masses before renormalising. Default: 0.
    pub eps: f64,
    /// `blur-l2`: standard deviation of the Gaussian in original pixel units. Default: 2.
    pub sigma: f64,
    /// `sliced`: directions, seed and order. Default: [`SlicedParams::default`].
    pub sliced: SlicedParams,
    /// `emd`: ground cost. Default: [`Ground::Euclidean`].
    pub ground: Ground,
    /// `emd`: whether to return an optimal plan and duals besides the value. Default:
    /// [`EmdPlan::None`].
    pub emd_plan: EmdPlan,
    /// `sinkhorn`: the blur `√ε` in pixels, > 0. Default: 1 ([`sinkhorn::DEFAULT_BLUR`]).
    pub blur: f64,
    /// `sinkhorn`: whether to debias (`S_ε`) or report `√OT_ε`. Default: true.
    pub debias: bool,
    /// `sinkhorn`: tolerance on the L1 marginal error, in (0, 1). Default: 10⁻⁹
    /// ([`sinkhorn::DEFAULT_TOL`]).
    pub tol: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            eps: 0.0,
            sigma: 2.0,
            sliced: SlicedParams::default(),
            ground: Ground::Euclidean,
            emd_plan: EmdPlan::None,
            blur: sinkhorn::DEFAULT_BLUR,
            debias: true,
            tol: sinkhorn::DEFAULT_TOL,
        }
    }
}

impl Params {
    /// The parameters `kind` reports (the JSON report's `params`) when computed with these.
    /// Batch mode's `--skip-done` compares them with earlier records.
    pub fn reported(&self, kind: MetricKind) -> MetricParams {
        match kind {
            MetricKind::Tv | MetricKind::Js | MetricKind::Hellinger | MetricKind::Hist => {
                MetricParams::None(Empty {})
            }
            MetricKind::Kl => MetricParams::Kl(divergence::KlParams { eps: self.eps }),
            MetricKind::BlurL2 => MetricParams::BlurL2(blur_l2::BlurL2Params {
                sigma: self.sigma,
                truncate: blur_l2::TRUNCATE,
            }),
            MetricKind::Sliced => MetricParams::Sliced(self.sliced.clone()),
            MetricKind::Emd => MetricParams::Emd(emd::EmdParams {
                ground: self.ground,
            }),
            // Invalid parameters fail at build, before anything is reported.
            MetricKind::Sinkhorn => MetricParams::Sinkhorn(sinkhorn::SinkhornParams {
                blur: self.blur,
                eps: self.blur * self.blur,
                debias: self.debias,
                tol: self.tol,
            }),
        }
    }
}

/// The two weight slices of masses that must share one grid, or [`Error::SizeMismatch`].
pub(crate) fn same_shape<'m>(
    metric: MetricKind,
    a: &'m Mass,
    b: &'m Mass,
) -> Result<(&'m [f64], &'m [f64])> {
    if a.shape() != b.shape() {
        return Err(Error::SizeMismatch {
            metric: metric.as_str(),
            a: a.shape(),
            b: b.shape(),
        });
    }
    Ok((a.as_slice(), b.as_slice()))
}

/// Compensated (Neumaier) sum: accurate to a few ulps whatever the order and signs of the terms.
pub(crate) fn accurate_sum(terms: impl IntoIterator<Item = f64>) -> f64 {
    let (mut sum, mut comp) = (0.0f64, 0.0f64);
    for t in terms {
        let s = sum + t;
        if sum.abs() >= t.abs() {
            comp += (sum - s) + t;
        } else {
            comp += (t - s) + sum;
        }
        sum = s;
    }
    if sum.is_finite() {
        sum + comp
    } else {
        // An infinite term makes the compensation NaN; the plain sum is the answer.
        sum
    }
}

/// `Σ f(p_i, q_i)` with [`accurate_sum`], split over threads in fixed chunks whose partial sums
/// are combined in order, so the result does not depend on the thread count.
pub(crate) fn sum_cells<F>(p: &[f64], q: &[f64], f: F) -> f64
where
    F: Fn(f64, f64) -> f64 + Sync,
{
    use rayon::prelude::*;
    const CHUNK: usize = 8192;
    let partials: Vec<f64> = p
        .par_chunks(CHUNK)
        .zip(q.par_chunks(CHUNK))
        .map(|(pc, qc)| accurate_sum(pc.iter().zip(qc).map(|(&x, &y)| f(x, y))))
        .collect();
    accurate_sum(partials)
}

/// Parses one of a closed set of named choices, or says which names are allowed.
pub(crate) fn parse_choice<T: Copy>(
    param: &'static str,
    s: &str,
    choices: &[(&str, T)],
) -> Result<T> {
    choices
        .iter()
        .find(|(name, _)| *name == s)
        .map(|&(_, v)| v)
        .ok_or_else(|| Error::InvalidParameter {
            name: param,
            reason: format!(
                "'{s}' is not one of: {}",
                choices.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
            ),
        })
}

/// Checks that a parameter is finite and non-negative.
pub(crate) fn non_negative(name: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(Error::InvalidParameter {
            name,
            reason: format!("{v} must be a finite number ≥ 0"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_params_are_what_each_metric_reports() {
        let a = Mass::from_values(&ndarray::array![[1.0, 2.0], [0.0, 1.0]], 1, "a").unwrap();
        let b = Mass::from_values(&ndarray::array![[0.0, 1.0], [3.0, 1.0]], 1, "b").unwrap();
        let params = Params {
            eps: 0.25,
            sigma: 1.5,
            sliced: SlicedParams {
                projections: 7,
                seed: 3,
                p: 2.0,
                angles: Angles::Random,
            },
            ground: Ground::Cityblock,
            emd_plan: EmdPlan::None,
            blur: 0.75,
            debias: false,
            tol: 1e-7,
        };
        for &kind in MetricKind::ALL {
            let got = kind.build(&params).unwrap().compute(&a, &b).unwrap().params;
            assert_eq!(got, params.reported(kind), "{kind}");
        }
    }

    #[test]
    fn names_round_trip_and_unknown_lists_the_known() {
        for k in MetricKind::ALL {
            assert_eq!(k.as_str().parse::<MetricKind>().unwrap(), *k);
        }
        let err = "emdd".parse::<MetricKind>().unwrap_err().to_string();
        assert!(
            err.contains("unknown metric 'emdd'") && err.contains("tv, kl"),
            "{err}"
        );
    }

    #[test]
    fn lists_keep_order_and_drop_repeats() {
        assert_eq!(
            MetricKind::parse_list("js,tv,js").unwrap(),
            vec![MetricKind::Js, MetricKind::Tv]
        );
        assert_eq!(MetricKind::parse_list("all").unwrap(), MetricKind::ALL);
    }

    #[test]
    fn accurate_sum_survives_cancellation() {
        let s = accurate_sum([1e16, 1.0, -1e16, 1.0]);
        assert_eq!(s, 2.0);
        assert_eq!(accurate_sum([1.0, f64::INFINITY, 2.0]), f64::INFINITY);
    }
}
