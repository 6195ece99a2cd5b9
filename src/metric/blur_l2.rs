//! L2 distance between Gaussian-blurred masses.
//!
//! `blur-l2(p, q) = sqrt(Σ (G_σ p − G_σ q)²)` where `G_σ` is a Gaussian filter of standard
//! deviation σ, truncated at 4σ (radius `⌊4σ + ½⌋` cells) and normalised to sum 1, with the
//! reflecting boundary `d c b a | a b c d | d c b a`. This is numerically
//! `scipy.ndimage.gaussian_filter(p, σ, mode='reflect', truncate=4.0)`.
//!
//! It sits between the pixel-by-pixel metrics (σ = 0 gives the plain L2 distance of the masses)
//! and the transport distances: mass moved by much less than σ barely counts, mass moved by much
//! more than σ counts fully. Since `Σ (G p − G q)² ≈ ∫ (p̂ − q̂)²` for the kernel density
//! estimates `p̂, q̂`, it is a smoothed density distance. Units: mass per cell; symmetric, a metric
//! for σ > 0. σ is given in original pixel units; on a `K`-downscaled grid the filter uses σ/K
//! cells. Both grids must have the same size. Cost O(N·σ): two separable 1-D passes over the
//! difference `p − q` (the filter is linear, so one filtered image suffices).

use serde::Serialize;

use super::{
    Measurement, Metric, MetricKind, MetricParams, accurate_sum, non_negative, same_shape,
};
use crate::error::Result;
use crate::mass::Mass;

/// Where the Gaussian is cut, in standard deviations.
pub const TRUNCATE: f64 = 4.0;

/// The parameters blur-l2 reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BlurL2Params {
    /// Standard deviation of the Gaussian in original pixels.
    pub sigma: f64,
    /// Where the Gaussian is cut, in standard deviations: always [`TRUNCATE`].
    pub truncate: f64,
}

/// Gaussian-blurred L2 distance.
#[derive(Debug, Clone, Copy)]
pub struct BlurL2 {
    sigma: f64,
}

impl BlurL2 {
    /// A blurred L2 distance with standard deviation `sigma` in original pixels (0 for none).
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] if `sigma` is negative or not finite.
    pub fn new(sigma: f64) -> Result<BlurL2> {
        Ok(BlurL2 {
            sigma: non_negative("--sigma", sigma)?,
        })
    }
}

/// The normalised kernel `exp(−x²/2σ²)`, `x = −r..=r`, `r = ⌊4σ + ½⌋` (scipy's rule).
pub fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    let radius = (TRUNCATE * sigma + 0.5) as i64;
    let w: Vec<f64> = (-radius..=radius)
        .map(|x| (-0.5 * (x * x) as f64 / (sigma * sigma)).exp())
        .collect();
    let total: f64 = w.iter().sum();
    w.into_iter().map(|v| v / total).collect()
}

/// Index of the reflected position `i` on a line of length `n`: `… d c b a | a b c d | d c b a …`.
fn reflect(i: i64, n: i64) -> usize {
    let m = i.rem_euclid(2 * n);
    (if m < n { m } else { 2 * n - 1 - m }) as usize
}

/// Filters the columns of a `rows × cols` row-major image (i.e. along axis 0) with `kernel`,
/// writing the result transposed (`cols × rows`), so that two calls filter both axes.
fn filter_axis0_transposed(src: &[f64], rows: usize, cols: usize, kernel: &[f64]) -> Vec<f64> {
    let radius = (kernel.len() / 2) as i64;
    let mut out = vec![0.0; rows * cols];
    let mut acc = vec![0.0; cols];
    for i in 0..rows {
        acc.iter_mut().for_each(|v| *v = 0.0);
        for (k, &w) in kernel.iter().enumerate() {
            let r = reflect(i as i64 + k as i64 - radius, rows as i64);
            let line = &src[r * cols..(r + 1) * cols];
            for (a, &v) in acc.iter_mut().zip(line) {
                *a += w * v;
            }
        }
        for (j, &v) in acc.iter().enumerate() {
            out[j * rows + i] = v;
        }
    }
    out
}

/// `G_σ d` for a row-major `rows × cols` image (σ in cells), in the same layout.
pub fn gaussian_filter(d: &[f64], rows: usize, cols: usize, sigma: f64) -> Vec<f64> {
    if sigma <= 1e-15 {
        // As scipy: a vanishing σ leaves the image unfiltered.
        return d.to_vec();
    }
    let kernel = gaussian_kernel(sigma);
    let once = filter_axis0_transposed(d, rows, cols, &kernel);
    // Filtering the transposed image along its axis 0 restores the original layout.
    filter_axis0_transposed(&once, cols, rows, &kernel)
}

impl Metric for BlurL2 {
    fn kind(&self) -> MetricKind {
        MetricKind::BlurL2
    }

    fn compute(&self, a: &Mass, b: &Mass) -> Result<Measurement> {
        let (p, q) = same_shape(self.kind(), a, b)?;
        let (rows, cols) = a.shape();
        let diff: Vec<f64> = p.iter().zip(q).map(|(x, y)| x - y).collect();
        let blurred = gaussian_filter(&diff, rows, cols, self.sigma / a.downscale() as f64);
        let value = accurate_sum(blurred.iter().map(|d| d * d)).sqrt();
        let params = BlurL2Params {
            sigma: self.sigma,
            truncate: TRUNCATE,
        };
        Ok(Measurement::new(value, MetricParams::BlurL2(params)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct 2-D correlation with an explicit reflect, for checking the separable passes.
    fn reference_filter(d: &[f64], rows: usize, cols: usize, sigma: f64) -> Vec<f64> {
        let k = gaussian_kernel(sigma);
        let r = (k.len() / 2) as i64;
        let mut out = vec![0.0; d.len()];
        for i in 0..rows as i64 {
            for j in 0..cols as i64 {
                let mut s = 0.0;
                for a in -r..=r {
                    for b in -r..=r {
                        let (ii, jj) = (reflect(i + a, rows as i64), reflect(j + b, cols as i64));
                        s += k[(a + r) as usize] * k[(b + r) as usize] * d[ii * cols + jj];
                    }
                }
                out[i as usize * cols + j as usize] = s;
            }
        }
        out
    }

    #[test]
    fn reflect_matches_the_half_sample_rule() {
        let n = 4;
        let got: Vec<usize> = (-6..10).map(|i| reflect(i, n)).collect();
        assert_eq!(got, vec![2, 3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0, 1]);
    }

    #[test]
    fn kernel_matches_scipy_rule() {
        let k = gaussian_kernel(1.0);
        assert_eq!(k.len(), 9);
        assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert_eq!(gaussian_kernel(0.1).len(), 1);
    }

    #[test]
    fn separable_passes_equal_direct_2d_filter_even_with_wide_kernels() {
        let (rows, cols) = (5, 7);
        let d: Vec<f64> = (0..rows * cols)
            .map(|i| ((i * 7919) % 13) as f64 - 6.0)
            .collect();
        for sigma in [0.7, 2.0, 3.3] {
            let fast = gaussian_filter(&d, rows, cols, sigma);
            let slow = reference_filter(&d, rows, cols, sigma);
            for i in 0..rows {
                for j in 0..cols {
                    let (f, s) = (fast[i * cols + j], slow[i * cols + j]);
                    assert!((f - s).abs() < 1e-12, "σ={sigma} ({i},{j}): {f} vs {s}");
                }
            }
        }
    }

    #[test]
    fn far_apart_dots_give_sqrt2_times_the_kernel_norm() {
        let mut a = ndarray::Array2::<f64>::zeros((1, 200));
        let mut b = a.clone();
        a[[0, 20]] = 1.0;
        b[[0, 180]] = 1.0;
        let (ma, mb) = (
            Mass::from_values(&a, 1, "a").unwrap(),
            Mass::from_values(&b, 1, "b").unwrap(),
        );
        let sigma = 2.0;
        let v = BlurL2::new(sigma).unwrap().compute(&ma, &mb).unwrap().value;
        // One row: the axis-0 pass reflects every tap onto the row itself and sums the
        // kernel's weights (1), so the profile is the 1-D kernel; ‖G δ‖² = Σ k² per bump and
        // the two bumps do not overlap.
        let norm2: f64 = gaussian_kernel(sigma).iter().map(|k| k * k).sum::<f64>();
        let want = (2.0 * norm2).sqrt();
        assert!((v - want).abs() < 1e-14, "{v} vs {want}");
        assert_eq!(
            BlurL2::new(0.0).unwrap().compute(&ma, &mb).unwrap().value,
            2f64.sqrt()
        );
        assert!(BlurL2::new(-1.0).is_err());
    }
}
