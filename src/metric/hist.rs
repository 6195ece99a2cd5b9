//! Grey-level histogram EMD: `W₁` between the two inputs' distributions of pixel values,
//! ignoring where the pixels are.
//!
//! - **Definition**: with each pixel one unit of weight, `W₁(μ_A, μ_B) = ∫ |F_A(t) − F_B(t)| dt`,
//!   where `F` is the cumulative distribution of the input's pixel values. The values are the
//!   light on the `[0, 1]` scale of the input's format (`v / 255` for 8-bit, `v / 65535` for
//!   16-bit, kept exact), or a matrix's values as given. Equal to
//!   `scipy.stats.wasserstein_distance(A.ravel() / full, B.ravel() / full)`.
//! - **Range and units**: `[0, 1]` for images, in units of the full scale (0.01 means the tone
//!   distributions are one percent of the scale apart); 0 when the two hold the same values in
//!   the same proportions, in any arrangement.
//! - **Symmetry**: symmetric; a metric on distributions of values (not on images: a shuffled
//!   image is at distance 0).
//! - **Sizes**: defined for any two sizes (each distribution is normalised by its pixel count);
//!   `--downscale` does not change it (it reads the pixels, not the cells). Ignored pixels of a
//!   mask are left out.
//! - **Cost**: a sort of each input's values when it is loaded, then O(distinct values).
//! - **References**: Peleg, Werman & Rom, "A unified approach to the change of resolution:
//!   space and gray-level", IEEE PAMI 1989; Rubner, Tomasi & Guibas, "The earth mover's distance
//!   as a metric for image retrieval", IJCV 2000.

use crate::error::{Error, Result};
use crate::mass::{Levels, Mass};
use crate::metric::{Empty, Measurement, Metric, MetricKind, MetricParams};
use crate::ot::one_d::wasserstein_pp_sorted;

/// The grey-level histogram EMD.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hist;

impl Metric for Hist {
    fn kind(&self) -> MetricKind {
        MetricKind::Hist
    }

    fn compute(&self, a: &Mass, b: &Mass) -> Result<Measurement> {
        let value = histogram_w1(levels_of(a, "A")?, levels_of(b, "B")?);
        Ok(Measurement::new(value, MetricParams::None(Empty {})))
    }
}

fn levels_of<'m>(m: &'m Mass, side: &str) -> Result<&'m Levels> {
    m.levels().ok_or_else(|| Error::InvalidParameter {
        name: "hist",
        reason: format!(
            "input {side} was loaded without its pixel values (set LoadOptions::levels, or \
             build it with Mass::from_values)"
        ),
    })
}

/// `W₁` between two distributions of values, each pixel one unit of weight.
pub fn histogram_w1(a: &Levels, b: &Levels) -> f64 {
    let weights = |l: &Levels| -> Vec<f64> {
        let n = l.pixels() as f64;
        l.counts().iter().map(|&c| c as f64 / n).collect()
    };
    wasserstein_pp_sorted(a.values(), &weights(a), b.values(), &weights(b), 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// `∫|F_A − F_B|` on the union of breakpoints, written out.
    fn cdf_distance(a: &[f64], b: &[f64]) -> f64 {
        let mut all: Vec<f64> = a.iter().chain(b).copied().collect();
        all.sort_by(f64::total_cmp);
        let cdf =
            |xs: &[f64], t: f64| xs.iter().filter(|&&x| x <= t).count() as f64 / xs.len() as f64;
        all.windows(2)
            .map(|w| (cdf(a, w[0]) - cdf(b, w[0])).abs() * (w[1] - w[0]))
            .sum()
    }

    #[test]
    fn equals_the_cdf_distance_for_any_sizes() {
        let a = [0.0, 0.5, 0.5, 1.0, 0.25];
        let b = [0.75, 0.1, 0.1];
        let got = histogram_w1(&Levels::new(a), &Levels::new(b));
        let want = cdf_distance(&a, &b);
        assert!((got - want).abs() < 1e-15, "{got} vs {want}");
    }

    #[test]
    fn ignores_where_the_values_are() {
        let a = Mass::from_values(&array![[0.2, 0.4], [0.6, 0.8]], 1, "a").unwrap();
        let b = Mass::from_values(&array![[0.8, 0.6], [0.4, 0.2]], 1, "b").unwrap();
        assert_eq!(Hist.compute(&a, &b).unwrap().value, 0.0);
        // Scaling every value moves the distribution: |0.1 − 0.2| on average.
        let c = Mass::from_values(&array![[0.1, 0.2], [0.3, 0.4]], 1, "c").unwrap();
        let got = Hist.compute(&a, &c).unwrap().value;
        assert!((got - 0.25).abs() < 1e-15, "{got}");
    }

    #[test]
    fn needs_the_levels() {
        let v = array![[1.0, 2.0]];
        let bare = Mass::from_pixels(&v, 1, None, false, "a").unwrap();
        let err = Hist.compute(&bare, &bare).unwrap_err().to_string();
        assert!(err.contains("without its pixel values"), "{err}");
    }
}
