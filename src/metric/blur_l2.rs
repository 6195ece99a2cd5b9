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
//! cells. Both grids must have the same size. As σ grows past the image size the blurred masses
//! both approach their (equal) means and the value falls towards 0, as 1/σ at most (not
//! monotonically: which residues the cut-off taps land on changes the constant).
//!
//! Cost: two separable 1-D passes over the difference `p − q` (the filter is linear, so one
//! filtered image suffices). A kernel of at most [`DIRECT_TAPS`] taps is applied as it is,
//! O(N·σ). A wider one is folded onto the period `2n` of the reflection of each line of `n`
//! cells (module `folded`), whatever σ is, and applied by direct sums on short lines or by FFTs,
//! O(N log n) time and one extra image of memory.

mod folded;

use rayon::prelude::*;
use serde::Serialize;

use self::folded::{LineFilter, Ripple, scale};
use super::{
    Measurement, Metric, MetricKind, MetricParams, accurate_sum, non_negative, same_shape,
};
use crate::error::{Error, Result};
use crate::mass::Mass;

/// Where the Gaussian is cut, in standard deviations.
pub const TRUNCATE: f64 = 4.0;

/// Kernels of at most this many taps (σ ≤ 8) are applied tap by tap; wider ones are folded
/// onto the period of the reflection.
pub const DIRECT_TAPS: usize = 65;

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

/// The normalised kernel `exp(−x²/2σ²)`, `x = −r..=r`, `r = ⌊4σ + ½⌋` (scipy's rule), all
/// `2r + 1` taps of it: meant for moderate σ.
pub fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    let radius = (TRUNCATE * sigma + 0.5) as i64;
    let w: Vec<f64> = (-radius..=radius)
        .map(|x| (-0.5 * (x * x) as f64 / (sigma * sigma)).exp())
        .collect();
    let total: f64 = w.iter().sum();
    w.into_iter().map(|v| v / total).collect()
}

/// Whether the kernel for `sigma` cells has more than [`DIRECT_TAPS`] taps.
fn is_wide(sigma: f64) -> bool {
    2.0 * (TRUNCATE * sigma + 0.5).floor() + 1.0 > DIRECT_TAPS as f64
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
    if is_wide(sigma) {
        let mean = accurate_sum(d.iter().copied()) / d.len() as f64;
        let (columns, exp) = folded_columns(d.to_vec(), rows, cols, sigma, <[f64]>::to_vec);
        let mut out = vec![0.0; d.len()];
        for (j, column) in columns.iter().enumerate() {
            for (i, v) in column.iter().enumerate() {
                out[i * cols + j] = mean + scale(*v, exp);
            }
        }
        return out;
    }
    let kernel = gaussian_kernel(sigma);
    let once = filter_axis0_transposed(d, rows, cols, &kernel);
    // Filtering the transposed image along its axis 0 restores the original layout.
    filter_axis0_transposed(&once, cols, rows, &kernel)
}

/// Columns filtered together in the second folded pass: one row's stretch of them is read at
/// once.
const BLOCK: usize = 16;

/// `G_σ d − mean(d)` for a kernel folded on both axes, column by column.
///
/// Per axis the folded filter is `K = P + D` with `P` the line mean and `D` the ripple
/// ([`folded`]), so `K₀K₁d = P₀P₁d + P₀D₁d + D₀P₁d + D₀D₁d`. The first term is the constant
/// `mean(d)`; the others are each computed on their own, so none is lost in the rounding of a
/// larger one, and with `D = taps · 2^exp` they are summed scaled by `2^−top`,
/// `top = max(exp₀, exp₁)`. `column` gets each column of that scaled sum in turn (in
/// `rows` order) and its results are returned in column order, with `top`. The passes run
/// in parallel over lines; each line's result does not depend on the thread count.
fn folded_columns<T: Send>(
    mut d: Vec<f64>,
    rows: usize,
    cols: usize,
    sigma: f64,
    column: impl Fn(&[f64]) -> T + Sync,
) -> (Vec<T>, i32) {
    let (r0, r1) = (Ripple::new(rows, sigma), Ripple::new(cols, sigma));
    let (f0, f1) = (LineFilter::new(&r0.taps), LineFilter::new(&r1.taps));
    // P₁d, then D₁d row by row in place, then D₀P₁d.
    let row_means: Vec<f64> = d
        .par_chunks(cols)
        .map(|row| accurate_sum(row.iter().copied()) / cols as f64)
        .collect();
    d.par_chunks_mut(cols).for_each_init(
        || (f1.scratch(), vec![0.0; cols]),
        |(scratch, out), row| {
            f1.apply(row, out, scratch);
            row.copy_from_slice(out);
        },
    );
    let mut across = vec![0.0; rows];
    f0.apply(&row_means, &mut across, &mut f0.scratch());
    let top = r0.exp.max(r1.exp);
    let k0 = scale(1.0, r0.exp - top);
    let k1 = scale(1.0, r1.exp - top);
    let k01 = scale(1.0, r0.exp + r1.exp - top);
    let z = &d;
    let blocks: Vec<Vec<T>> = (0..cols.div_ceil(BLOCK))
        .into_par_iter()
        .map_init(
            || (f0.scratch(), vec![0.0; rows * BLOCK], vec![0.0; rows]),
            |(scratch, lines, filtered), b| {
                let (j0, width) = (b * BLOCK, BLOCK.min(cols - b * BLOCK));
                for i in 0..rows {
                    let stretch = &z[i * cols + j0..i * cols + j0 + width];
                    for (c, v) in stretch.iter().enumerate() {
                        lines[c * rows + i] = *v;
                    }
                }
                (0..width)
                    .map(|c| {
                        let line = &lines[c * rows..(c + 1) * rows];
                        // P₀D₁d for this column, then D₀D₁d.
                        let mean = accurate_sum(line.iter().copied()) / rows as f64;
                        f0.apply(line, filtered, scratch);
                        for (f, a) in filtered.iter_mut().zip(&across) {
                            *f = k0 * a + k1 * mean + k01 * *f;
                        }
                        column(filtered)
                    })
                    .collect()
            },
        )
        .collect();
    (blocks.into_iter().flatten().collect(), top)
}

impl Metric for BlurL2 {
    fn kind(&self) -> MetricKind {
        MetricKind::BlurL2
    }

    fn compute(&self, a: &Mass, b: &Mass) -> Result<Measurement> {
        let (p, q) = same_shape(self.kind(), a, b)?;
        if a.downscale() != b.downscale() {
            // σ is in original pixels: one grid of cells must stand for one size of pixel block.
            return Err(Error::InvalidParameter {
                name: "--downscale",
                reason: format!(
                    "blur-l2 needs both inputs summed over the same blocks, not {}×{} and {}×{}",
                    a.downscale(),
                    a.downscale(),
                    b.downscale(),
                    b.downscale()
                ),
            });
        }
        let (rows, cols) = a.shape();
        let diff: Vec<f64> = p.iter().zip(q).map(|(x, y)| x - y).collect();
        let sigma = self.sigma / a.downscale() as f64;
        let value = if sigma > 1e-15 && is_wide(sigma) {
            // The constant term mean(p − q) of the folded filter is 0 for two distributions
            // (any rounding residue of their totals is not part of the value), so it is left out.
            let (columns, exp) = folded_columns(diff, rows, cols, sigma, |column| {
                accurate_sum(column.iter().map(|v| v * v))
            });
            scale(accurate_sum(columns).sqrt(), exp)
        } else {
            let blurred = gaussian_filter(&diff, rows, cols, sigma);
            accurate_sum(blurred.iter().map(|d| d * d)).sqrt()
        };
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

    #[test]
    fn inputs_summed_over_different_blocks_are_refused() {
        let four = ndarray::Array2::from_shape_fn((4, 4), |(i, j)| (i + 2 * j) as f64);
        let eight = ndarray::Array2::from_shape_fn((8, 8), |(i, j)| (i * j % 5) as f64);
        let a = Mass::from_values(&four, 1, "a").unwrap();
        let b = Mass::from_values(&eight, 2, "b").unwrap();
        assert_eq!(a.shape(), b.shape());
        let err = BlurL2::new(2.0).unwrap().compute(&a, &b).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid --downscale: blur-l2 needs"),
            "{err}"
        );
    }

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

    /// The separable passes with the materialised 2R + 1 taps.
    fn materialised_filter(d: &[f64], rows: usize, cols: usize, sigma: f64) -> Vec<f64> {
        let kernel = gaussian_kernel(sigma);
        let once = filter_axis0_transposed(d, rows, cols, &kernel);
        filter_axis0_transposed(&once, cols, rows, &kernel)
    }

    /// Integer values summing to 0, as a difference of two distributions does.
    fn zero_sum(rows: usize, cols: usize) -> Vec<f64> {
        let mut d: Vec<f64> = (0..rows * cols)
            .map(|i| ((i * 7919) % 13) as f64 - 6.0)
            .collect();
        let total: f64 = d.iter().sum();
        d[0] -= total;
        d
    }

    fn folded_field(d: &[f64], rows: usize, cols: usize, sigma: f64) -> Vec<f64> {
        let (columns, exp) = folded_columns(d.to_vec(), rows, cols, sigma, <[f64]>::to_vec);
        let mut out = vec![0.0; d.len()];
        for (j, column) in columns.iter().enumerate() {
            for (i, v) in column.iter().enumerate() {
                out[i * cols + j] = scale(*v, exp);
            }
        }
        out
    }

    #[test]
    fn folded_filter_equals_the_materialised_kernel() {
        // Odd, even and one-cell sides; periods short (direct sums) and long (FFT); σ from
        // well inside a period to the side length, where the materialised kernel is still
        // accurate (beyond it its sums lose the ripple in rounding: see the reference tests).
        for (rows, cols) in [(5, 7), (6, 4), (1, 9), (8, 1), (1, 1), (12, 40), (45, 3)] {
            let d = zero_sum(rows, cols);
            let longest = rows.max(cols) as f64;
            let shortest = if rows.min(cols) == 1 {
                longest
            } else {
                rows.min(cols) as f64
            };
            for sigma in [0.7, 2.0, 3.3, 6.0, 10.0, 17.0, 40.0] {
                if sigma > shortest {
                    continue;
                }
                let fast = folded_field(&d, rows, cols, sigma);
                let slow = materialised_filter(&d, rows, cols, sigma);
                let top = slow.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                for (k, (f, s)) in fast.iter().zip(&slow).enumerate() {
                    assert!(
                        (f - s).abs() <= 1e-12 * top,
                        "{rows}×{cols} σ={sigma} cell {k}: {f} vs {s}"
                    );
                }
                if is_wide(sigma) {
                    let public = gaussian_filter(&d, rows, cols, sigma);
                    assert_eq!(public, fast, "{rows}×{cols} σ={sigma}");
                }
            }
        }
    }

    fn pair(rows: usize, cols: usize) -> (Mass, Mass) {
        let a = ndarray::Array2::from_shape_fn((rows, cols), |(i, j)| {
            ((i * 7919 + j * 104729) % 17) as f64 + 1.0
        });
        let b =
            ndarray::Array2::from_shape_fn((rows, cols), |(i, j)| ((i * 31 + j * 17) % 11) as f64);
        (
            Mass::from_values(&a, 1, "a").unwrap(),
            Mass::from_values(&b, 1, "b").unwrap(),
        )
    }

    #[test]
    fn kernels_wider_than_the_image_are_finite_and_fall_like_one_over_sigma() {
        // Past the image size the value is carried by the ripple D of each axis, whose weights
        // are at most about e⁻⁸/(σ√(2π)) (the kernel's cut-off taps over its total), so
        // ‖G(p − q)‖ ≤ √N · e⁻⁸/σ · (2·rows·max|row mean| + 2·cols·max|column mean|) with
        // room to spare. It is not monotone in σ: which residues the cut-off taps fall on
        // (R mod 2n) changes the constant.
        for (rows, cols) in [(4, 4), (5, 7), (1, 6), (32, 32)] {
            let (a, b) = pair(rows, cols);
            let d: Vec<f64> = a
                .as_slice()
                .iter()
                .zip(b.as_slice())
                .map(|(x, y)| x - y)
                .collect();
            let line_means = |count: usize, of: &dyn Fn(usize) -> Vec<f64>| {
                (0..count)
                    .map(|k| of(k).iter().sum::<f64>().abs() / of(k).len() as f64)
                    .fold(0.0f64, f64::max)
            };
            let row_mean = line_means(rows, &|i| d[i * cols..(i + 1) * cols].to_vec());
            let col_mean = line_means(cols, &|j| (0..rows).map(|i| d[i * cols + j]).collect());
            let bound = ((rows * cols) as f64).sqrt()
                * (-8f64).exp()
                * (2.0 * rows as f64 * row_mean + 2.0 * cols as f64 * col_mean);
            let value = |sigma: f64| BlurL2::new(sigma).unwrap().compute(&a, &b).unwrap().value;
            for decade in 3..=300 {
                let sigma = 10f64.powi(decade);
                let v = value(sigma);
                assert!(v.is_finite() && v > 0.0, "{rows}×{cols} σ={sigma}: {v}");
                assert!(
                    v * sigma <= bound,
                    "{rows}×{cols} σ={sigma}: σ·{v} > {bound}"
                );
            }
            assert!(value(1e300) < 1e-290, "{rows}×{cols}");
            let top = value(f64::MAX);
            assert!(top.is_finite() && top < 1e-300, "{rows}×{cols}: {top}");
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
