//! [`Mass`]: a grid of non-negative weights that sum to one, with the coordinates of its cells.
//!
//! This is the only type the metrics see. A cell at grid row `i`, column `j` sits at the point
//! `(row_coords[i], col_coords[j])` in pixel units of the original input. Without downscaling the
//! coordinates are simply `(i, j)`; with a `K×K` block-sum downscale each cell sits at the
//! geometric centre of its block (edge blocks may be partial, so the last centre may be closer
//! than `K` to its neighbour). Distances over locations therefore stay comparable across `K`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use ndarray::Array2;

use crate::error::{Error, Result};
use crate::mask::Mask;

/// A normalised mass distribution over a rectangular grid of cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Mass {
    weights: Array2<f64>,
    row_coords: Vec<f64>,
    col_coords: Vec<f64>,
    raw_total: f64,
    pixel_shape: (usize, usize),
    downscale: usize,
    mask: Option<Arc<Mask>>,
    levels: Option<Arc<Levels>>,
}

/// Hashes the bits of an `f64` by one multiplication (the keys are not chosen by an adversary
/// who could gain from collisions: at worst counting slows down).
#[derive(Default)]
struct BitsHasher(u64);

impl Hasher for BitsHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u64(&mut self, v: u64) {
        // The high bits of the product mix every bit of the key; HashMap uses the high ones
        // for its control bytes and the low ones for the bucket, so fold them together.
        let m = u128::from(v) * 0x9e37_79b9_7f4a_7c15;
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }
}

/// The distribution of an input's pixel values (its light, on the `[0, 1]` scale of the
/// format, or a matrix's values as given), each pixel one unit of weight: the distinct values
/// in ascending order with how many pixels hold each. Ignored pixels are not in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Levels {
    values: Vec<f64>,
    counts: Vec<u64>,
    pixels: u64,
}

impl Levels {
    /// The distribution of `values` (any order).
    pub fn new(values: impl IntoIterator<Item = f64>) -> Levels {
        // Images hold few distinct values (at most 256 or 65,536): count them by their bits,
        // then sort only the distinct ones. −0 and +0 are one value.
        let mut counts: HashMap<u64, u64, BuildHasherDefault<BitsHasher>> = HashMap::default();
        let mut pixels = 0u64;
        for v in values {
            *counts.entry((v + 0.0).to_bits()).or_insert(0) += 1;
            pixels += 1;
        }
        let mut distinct: Vec<(f64, u64)> = counts
            .into_iter()
            .map(|(bits, n)| (f64::from_bits(bits), n))
            .collect();
        distinct.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
        let (values, counts) = distinct.into_iter().unzip();
        Levels {
            values,
            counts,
            pixels,
        }
    }

    /// The distinct values, ascending.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// How many pixels hold each value.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// How many pixels in all.
    pub fn pixels(&self) -> u64 {
        self.pixels
    }
}

impl Mass {
    /// Builds a mass from raw non-negative pixel values (rows × columns), block-summing
    /// `downscale × downscale` blocks first (`downscale = 1` keeps every pixel).
    ///
    /// `name` labels the input in error messages.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `downscale` is 0, [`Error::Decode`] if a value is negative or
    /// not finite, [`Error::ZeroMass`] if the values sum to zero.
    pub fn from_values(values: &Array2<f64>, downscale: usize, name: &str) -> Result<Mass> {
        Mass::from_pixels(values, downscale, None, true, name)
    }

    /// [`Mass::from_values`], ignoring the pixels `mask` names (their values are taken as 0),
    /// and keeping the distribution of the other pixels' values ([`Mass::levels`], what the
    /// `hist` metric compares) when `keep_levels` is set.
    ///
    /// # Errors
    /// As [`Mass::from_values`]; [`Error::MaskSize`] if the mask does not have the values' size.
    pub fn from_pixels(
        values: &Array2<f64>,
        downscale: usize,
        mask: Option<Arc<Mask>>,
        keep_levels: bool,
        name: &str,
    ) -> Result<Mass> {
        if downscale == 0 {
            return Err(Error::InvalidParameter {
                name: "--downscale",
                reason: "must be at least 1".into(),
            });
        }
        if let Some(((r, c), v)) = values
            .indexed_iter()
            .find(|(_, v)| !v.is_finite() || **v < 0.0)
        {
            return Err(Error::Decode {
                source_name: name.to_string(),
                reason: format!(
                    "value {v} at row {}, column {} is not a finite non-negative number",
                    r + 1,
                    c + 1
                ),
            });
        }
        let (height, width) = values.dim();
        if height == 0 || width == 0 {
            return Err(Error::Decode {
                source_name: name.to_string(),
                reason: "the input has no pixels".into(),
            });
        }
        let values: Cow<'_, Array2<f64>> = match &mask {
            None => Cow::Borrowed(values),
            Some(mask) => {
                mask.check_fits(name, (height, width))?;
                let mut kept = values.clone();
                kept.zip_mut_with(mask.ignore(), |v, &ignore| {
                    if ignore {
                        *v = 0.0;
                    }
                });
                Cow::Owned(kept)
            }
        };
        let levels = keep_levels.then(|| {
            Arc::new(match &mask {
                None => Levels::new(values.iter().copied()),
                Some(mask) => Levels::new(
                    values
                        .iter()
                        .zip(mask.ignore())
                        .filter(|(_, ignore)| !**ignore)
                        .map(|(v, _)| *v),
                ),
            })
        });
        let grid_rows = height.div_ceil(downscale);
        let grid_cols = width.div_ceil(downscale);
        // Values so large that their sum could overflow are divided by powers of two first
        // (exact: only exponents change), so the normalised weights stay right. Two divisors,
        // as their product may not be representable.
        let max = values.iter().copied().fold(0.0, f64::max);
        let cells = (height * width) as f64;
        let divisors = if max > f64::MAX / cells {
            let power = |x: f64| 2f64.powi((x.log2().ceil() as i32).min(1023));
            [power(max), power(cells)]
        } else {
            [1.0, 1.0]
        };
        let scaled = |v: f64| v / divisors[0] / divisors[1];
        let mut weights = Array2::<f64>::zeros((grid_rows, grid_cols));
        if downscale == 1 {
            weights.assign(&values);
            if divisors != [1.0, 1.0] {
                weights.mapv_inplace(scaled);
            }
        } else {
            for ((r, c), v) in values.indexed_iter() {
                weights[[r / downscale, c / downscale]] += scaled(*v);
            }
        }
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return Err(Error::ZeroMass {
                source_name: name.to_string(),
                mask: mask.map(|m| m.name().to_string()),
            });
        }
        weights.mapv_inplace(|v| v / total);
        // Beyond the largest finite number when the values' sum is.
        let raw_total = total * divisors[0] * divisors[1];
        Ok(Mass {
            weights,
            row_coords: block_centres(height, downscale),
            col_coords: block_centres(width, downscale),
            raw_total,
            pixel_shape: (height, width),
            downscale,
            mask,
            levels,
        })
    }

    /// The normalised weights, `rows × columns`; they sum to 1.
    pub fn weights(&self) -> &Array2<f64> {
        &self.weights
    }

    /// The weights in row-major order (cell `(i, j)` at index `i * cols + j`).
    pub fn as_slice(&self) -> &[f64] {
        self.weights
            .as_slice()
            .expect("Mass weights are always in standard layout")
    }

    /// Grid size as `(rows, columns)`.
    pub fn shape(&self) -> (usize, usize) {
        self.weights.dim()
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Always false: a mass has at least one cell.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// Row coordinate of each grid row, in original pixel units.
    pub fn row_coords(&self) -> &[f64] {
        &self.row_coords
    }

    /// Column coordinate of each grid column, in original pixel units.
    pub fn col_coords(&self) -> &[f64] {
        &self.col_coords
    }

    /// Sum of the raw values before normalisation (after inversion and alpha).
    pub fn raw_total(&self) -> f64 {
        self.raw_total
    }

    /// Size of the original input as `(height, width)` in pixels.
    pub fn pixel_shape(&self) -> (usize, usize) {
        self.pixel_shape
    }

    /// The block size `K` of the downscale (1 = none).
    pub fn downscale(&self) -> usize {
        self.downscale
    }

    /// The mask that applied when the input was loaded, if any.
    pub fn mask(&self) -> Option<&Mask> {
        self.mask.as_deref()
    }

    /// The distribution of the input's pixel values (each pixel one unit of weight, ignored
    /// pixels left out), when the mass was built keeping it (see [`Mass::from_pixels`]).
    pub fn levels(&self) -> Option<&Levels> {
        self.levels.as_deref()
    }

    /// With a mask, the cells whose every pixel it ignores (row-major, as [`Mass::as_slice`]);
    /// `None` without a mask. Cells added by [`Mass::padded_to`] have no pixels and are not
    /// ignored.
    pub fn ignored_cells(&self) -> Option<Vec<bool>> {
        let mask = self.mask.as_ref()?;
        let (rows, cols) = self.shape();
        let k = self.downscale;
        // Pixels per cell, less one for each that is ignored.
        let mut kept = vec![0u64; rows * cols];
        let mut pixels = vec![0u64; rows * cols];
        for ((r, c), &ignore) in mask.ignore().indexed_iter() {
            let cell = (r / k) * cols + c / k;
            pixels[cell] += 1;
            kept[cell] += u64::from(!ignore);
        }
        Some(
            pixels
                .iter()
                .zip(&kept)
                .map(|(&n, &k)| n > 0 && k == 0)
                .collect(),
        )
    }

    /// True when both masses sit on exactly the same cell positions.
    pub fn same_grid(&self, other: &Mass) -> bool {
        self.row_coords == other.row_coords && self.col_coords == other.col_coords
    }

    /// This mass embedded in a larger grid whose row and column coordinates extend its own
    /// (the new cells get zero weight). Returns `None` when this grid's coordinates are not a
    /// prefix of the given ones.
    pub fn padded_to(&self, row_coords: &[f64], col_coords: &[f64]) -> Option<Mass> {
        if !row_coords.starts_with(&self.row_coords) || !col_coords.starts_with(&self.col_coords) {
            return None;
        }
        let mut weights = Array2::<f64>::zeros((row_coords.len(), col_coords.len()));
        let (r, c) = self.shape();
        weights
            .slice_mut(ndarray::s![..r, ..c])
            .assign(&self.weights);
        Some(Mass {
            weights,
            row_coords: row_coords.to_vec(),
            col_coords: col_coords.to_vec(),
            raw_total: self.raw_total,
            pixel_shape: self.pixel_shape,
            downscale: self.downscale,
            mask: self.mask.clone(),
            levels: self.levels.clone(),
        })
    }

    /// Both masses on one grid: as given when they share it, padded with empty cells when one
    /// grid's coordinates extend the other's (e.g. images of different sizes, top-left aligned);
    /// `None` when neither extends the other.
    pub fn on_common_grid<'m>(a: &'m Mass, b: &'m Mass) -> Option<(Cow<'m, Mass>, Cow<'m, Mass>)> {
        if a.same_grid(b) {
            return Some((Cow::Borrowed(a), Cow::Borrowed(b)));
        }
        let longer = |x: &'m [f64], y: &'m [f64]| if x.len() >= y.len() { x } else { y };
        let rows = longer(a.row_coords(), b.row_coords());
        let cols = longer(a.col_coords(), b.col_coords());
        Some((
            Cow::Owned(a.padded_to(rows, cols)?),
            Cow::Owned(b.padded_to(rows, cols)?),
        ))
    }

    /// The cells with positive weight as `(row coordinate, column coordinate, weight)`,
    /// in row-major order.
    pub fn support(&self) -> Vec<(f64, f64, f64)> {
        self.weights
            .indexed_iter()
            .filter(|(_, w)| **w > 0.0)
            .map(|((i, j), w)| (self.row_coords[i], self.col_coords[j], *w))
            .collect()
    }
}

/// A unit mass on one cell of a `rows × cols` grid, for tests.
#[cfg(test)]
pub(crate) fn dot(rows: usize, cols: usize, at: (usize, usize)) -> Mass {
    let mut v = Array2::zeros((rows, cols));
    v[at] = 1.0;
    Mass::from_values(&v, 1, "dot").expect("one positive cell")
}

/// Centres of the blocks `[kK, min((k+1)K, n) - 1]` for `k = 0, 1, …`.
fn block_centres(n: usize, k: usize) -> Vec<f64> {
    (0..n.div_ceil(k))
        .map(|b| {
            let first = b * k;
            let last = ((b + 1) * k).min(n) - 1;
            (first + last) as f64 / 2.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn normalises_and_keeps_raw_total() {
        let m = Mass::from_values(&array![[1.0, 3.0], [0.0, 4.0]], 1, "t").unwrap();
        assert_eq!(m.raw_total(), 8.0);
        assert_eq!(m.as_slice(), &[0.125, 0.375, 0.0, 0.5]);
        assert_eq!(m.row_coords(), &[0.0, 1.0]);
    }

    #[test]
    fn block_sums_with_partial_edge_blocks_sit_at_block_centres() {
        let v = Array2::from_shape_fn((5, 3), |(r, c)| (r * 3 + c) as f64);
        let m = Mass::from_values(&v, 2, "t").unwrap();
        assert_eq!(m.shape(), (3, 2));
        // rows {0,1}, {2,3}, {4}; columns {0,1}, {2}
        assert_eq!(m.row_coords(), &[0.5, 2.5, 4.0]);
        assert_eq!(m.col_coords(), &[0.5, 2.0]);
        let total: f64 = v.iter().sum();
        let raw: Vec<f64> = m.as_slice().iter().map(|w| w * total).collect();
        assert_eq!(raw, vec![8.0, 7.0, 32.0, 19.0, 25.0, 14.0]);
    }

    #[test]
    fn values_whose_sum_overflows_normalise_exactly() {
        let huge = Mass::from_values(&array![[1e308, 1e308], [3e307, 0.0]], 1, "h").unwrap();
        let small = Mass::from_values(&array![[1e8, 1e8], [3e7, 0.0]], 1, "s").unwrap();
        for (h, s) in huge.as_slice().iter().zip(small.as_slice()) {
            assert!((h - s).abs() <= 1e-15, "{h} vs {s}");
        }
        assert_eq!(
            huge.raw_total(),
            f64::INFINITY,
            "the true sum is beyond f64"
        );
        // Block sums that overflow a cell.
        let blocks = Mass::from_values(&array![[f64::MAX, f64::MAX, 1.0]], 2, "b").unwrap();
        let w = blocks.as_slice();
        assert!(w[0] == 1.0 && w[1] > 0.0 && w[1] < 1e-300, "{w:?}");
    }

    #[test]
    fn zero_mass_and_bad_values_are_errors() {
        assert!(matches!(
            Mass::from_values(&Array2::zeros((2, 2)), 1, "z"),
            Err(Error::ZeroMass { .. })
        ));
        assert!(matches!(
            Mass::from_values(&array![[1.0, -1.0]], 1, "n"),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(
            Mass::from_values(&array![[1.0, f64::NAN]], 1, "n"),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(
            Mass::from_values(&array![[1.0]], 0, "n"),
            Err(Error::InvalidParameter { .. })
        ));
    }

    #[test]
    fn padding_extends_a_prefix_grid_only() {
        let small = Mass::from_values(&array![[1.0, 1.0]], 1, "s").unwrap();
        let big = small.padded_to(&[0.0, 1.0], &[0.0, 1.0, 2.0]).unwrap();
        assert_eq!(big.as_slice(), &[0.5, 0.5, 0.0, 0.0, 0.0, 0.0]);
        assert!(small.padded_to(&[0.5], &[0.0, 1.0]).is_none());
    }
}
