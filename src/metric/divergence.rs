//! f-divergences that compare two masses cell by cell: Kullback–Leibler, Jensen–Shannon and
//! Hellinger. None of them knows about locations; both grids must have the same size. Each costs
//! O(N). Logarithms are natural, so KL and JS are in nats.
//!
//! - **KL**: `KL(p‖q) = Σ p ln(p/q)` over cells with `p > 0`; range `[0, ∞]`, not symmetric.
//!   It is `+∞` when some cell has `q = 0 < p` (as `scipy.stats.entropy`). The pseudo-count `eps`
//!   adds `eps` to every cell of both masses and renormalises first, which makes it finite
//!   (every cell a mask does not wholly ignore, when both inputs are masked).
//! - **JS**: `½ KL(p‖m) + ½ KL(q‖m)` with `m = (p + q)/2`; range `[0, ln 2]`, symmetric, always
//!   finite. This is the divergence itself, not its square root (the JS *distance*).
//! - **Hellinger**: `sqrt(½ Σ (√p − √q)²)`; range `[0, 1]`, symmetric, a metric.
//!
//! Reference: Cover & Thomas, *Elements of Information Theory* (KL, JS); Le Cam & Yang,
//! *Asymptotics in Statistics* (Hellinger).

use serde::Serialize;

use super::{
    Empty, Measurement, Metric, MetricKind, MetricParams, non_negative, same_shape, sum_cells,
};
use crate::error::Result;
use crate::mass::Mass;

/// Kullback–Leibler divergence KL(A‖B) with an optional pseudo-count.
#[derive(Debug, Clone, Copy)]
pub struct Kl {
    eps: f64,
}

impl Kl {
    /// A KL divergence with pseudo-count `eps` (0 for none).
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] if `eps` is negative or not finite.
    pub fn new(eps: f64) -> Result<Kl> {
        Ok(Kl {
            eps: non_negative("--eps", eps)?,
        })
    }
}

/// The parameters KL reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KlParams {
    /// The pseudo-count added to every cell of both masses (0 for none).
    pub eps: f64,
}

/// `x ln(x / y)` with the conventions `0 ln(0/y) = 0` and `x ln(x/0) = +∞` for `x > 0`.
/// A ratio beyond the floating-point range (a subnormal `y`) is taken as `ln x − ln y`.
fn rel_entr(x: f64, y: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else if y == 0.0 {
        f64::INFINITY
    } else {
        let ratio = x / y;
        if ratio.is_finite() && ratio > 0.0 {
            x * ratio.ln()
        } else {
            x * (x.ln() - y.ln())
        }
    }
}

impl Metric for Kl {
    fn kind(&self) -> MetricKind {
        MetricKind::Kl
    }

    fn compute(&self, a: &Mass, b: &Mass) -> Result<Measurement> {
        let (p, q) = same_shape(self.kind(), a, b)?;
        let eps = self.eps;
        let value = if eps == 0.0 {
            sum_cells(p, q, rel_entr)
        } else if let Some(counted) = counted_cells(a, b) {
            // Cells that every mask ignores are not there: no pseudo-count for them.
            let keep = |w: &[f64]| -> Vec<f64> {
                w.iter()
                    .zip(&counted)
                    .filter(|(_, c)| **c)
                    .map(|(w, _)| *w)
                    .collect()
            };
            let (p, q) = (keep(p), keep(q));
            let norm = 1.0 + eps * p.len() as f64;
            sum_cells(&p, &q, |x, y| rel_entr((x + eps) / norm, (y + eps) / norm))
        } else {
            let norm = 1.0 + eps * p.len() as f64;
            sum_cells(p, q, |x, y| rel_entr((x + eps) / norm, (y + eps) / norm))
        };
        // Rounding can leave a tiny negative value for (nearly) equal masses.
        Ok(Measurement::new(
            value.max(0.0),
            MetricParams::Kl(KlParams { eps }),
        ))
    }
}

/// The cells that count for either input when both were masked (all but those both masks
/// ignore wholly); `None` when every cell counts.
fn counted_cells(a: &Mass, b: &Mass) -> Option<Vec<bool>> {
    let (ia, ib) = (a.ignored_cells()?, b.ignored_cells()?);
    Some(ia.iter().zip(&ib).map(|(x, y)| !(x & y)).collect())
}

/// Jensen–Shannon divergence in nats.
#[derive(Debug, Clone, Copy, Default)]
pub struct Js;

impl Metric for Js {
    fn kind(&self) -> MetricKind {
        MetricKind::Js
    }

    fn compute(&self, a: &Mass, b: &Mass) -> Result<Measurement> {
        let (p, q) = same_shape(self.kind(), a, b)?;
        let value = 0.5
            * sum_cells(p, q, |x, y| {
                let m = 0.5 * (x + y);
                rel_entr(x, m) + rel_entr(y, m)
            });
        Ok(Measurement::new(
            value.clamp(0.0, std::f64::consts::LN_2),
            MetricParams::None(Empty {}),
        ))
    }
}

/// Hellinger distance.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hellinger;

impl Metric for Hellinger {
    fn kind(&self) -> MetricKind {
        MetricKind::Hellinger
    }

    fn compute(&self, a: &Mass, b: &Mass) -> Result<Measurement> {
        let (p, q) = same_shape(self.kind(), a, b)?;
        let sq = sum_cells(p, q, |x, y| {
            let d = x.sqrt() - y.sqrt();
            d * d
        });
        Ok(Measurement::new(
            (0.5 * sq).sqrt().clamp(0.0, 1.0),
            MetricParams::None(Empty {}),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn mass(v: &[f64]) -> Mass {
        Mass::from_values(
            &ndarray::Array2::from_shape_vec((1, v.len()), v.to_vec()).unwrap(),
            1,
            "m",
        )
        .unwrap()
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-14 * b.abs().max(1.0), "{a} != {b}");
    }

    #[test]
    fn kl_closed_form_and_asymmetry() {
        let (p, q) = (mass(&[0.5, 0.5]), mass(&[0.25, 0.75]));
        let kl = Kl::new(0.0).unwrap();
        close(
            kl.compute(&p, &q).unwrap().value,
            0.5 * (2.0f64).ln() + 0.5 * (2.0f64 / 3.0).ln(),
        );
        close(
            kl.compute(&q, &p).unwrap().value,
            0.25 * (0.5f64).ln() + 0.75 * (1.5f64).ln(),
        );
    }

    #[test]
    fn kl_is_infinite_without_eps_and_finite_with_it() {
        let (p, q) = (mass(&[1.0, 1.0]), mass(&[1.0, 0.0]));
        assert_eq!(
            Kl::new(0.0).unwrap().compute(&p, &q).unwrap().value,
            f64::INFINITY
        );
        // q has no mass where p has none: finite.
        close(
            Kl::new(0.0).unwrap().compute(&q, &p).unwrap().value,
            2.0f64.ln(),
        );
        // eps = 1: p' = (1.5, 1.5)/3, q' = (2, 1)/3 (in units of the renormalised total).
        let v = Kl::new(1.0).unwrap().compute(&p, &q).unwrap().value;
        close(v, 0.5 * (0.75f64).ln() + 0.5 * (1.5f64).ln());
        assert!(Kl::new(-1.0).is_err() && Kl::new(f64::NAN).is_err());
    }

    #[test]
    fn kl_is_finite_where_q_is_tiny_but_not_zero() {
        // q's first weight is 1e-314 (subnormal): p/q overflows, ln p − ln q does not.
        let (p, q) = (mass(&[1.0, 0.0]), mass(&[1e-320, 1e-6]));
        let q0 = q.as_slice()[0];
        assert!(q0 > 0.0 && (1.0 / q0).is_infinite(), "{q0:e}");
        close(
            Kl::new(0.0).unwrap().compute(&p, &q).unwrap().value,
            -q0.ln(),
        );
    }

    #[test]
    fn js_and_hellinger_reach_their_maxima_on_disjoint_supports() {
        let (p, q) = (mass(&[1.0, 0.0]), mass(&[0.0, 1.0]));
        close(Js.compute(&p, &q).unwrap().value, std::f64::consts::LN_2);
        close(Hellinger.compute(&p, &q).unwrap().value, 1.0);
        assert_eq!(Js.compute(&p, &p).unwrap().value, 0.0);
        assert_eq!(Hellinger.compute(&q, &q).unwrap().value, 0.0);
    }

    #[test]
    fn hellinger_closed_form() {
        let (p, q) = (mass(&[0.5, 0.5]), mass(&[0.25, 0.75]));
        let want = (0.5
            * ((0.5f64.sqrt() - 0.5).powi(2) + (0.5f64.sqrt() - 0.75f64.sqrt()).powi(2)))
        .sqrt();
        close(Hellinger.compute(&p, &q).unwrap().value, want);
    }

    #[test]
    fn pixelwise_metrics_reject_different_sizes() {
        let a = Mass::from_values(&array![[1.0, 2.0]], 1, "a").unwrap();
        let b = Mass::from_values(&array![[1.0], [2.0]], 1, "b").unwrap();
        let err = Js.compute(&a, &b).unwrap_err().to_string();
        assert!(err.contains("1x2") && err.contains("2x1"), "{err}");
    }
}
