//! `W₁` of a grid's projection on a direction, read strip by strip so that the working set stays
//! in cache however large the grid.
//!
//! A cell `(i, j)` projects to `t = r_i + c_j`, with `r` and `c` monotone (a direction's row and
//! column parts), and carries the signed difference `d` of two weightings. `W₁ = ∫ |D(t)| dt`,
//! `D(t)` the sum of `d` over the cells at positions `≤ t`. The range of `t` is cut into strips
//! of equal width holding about [`STRIP_CELLS`] cells each. In every row the cells of a strip are
//! one contiguous run, which starts where the previous strip's run ended, so one cursor per row
//! walks the grid strip after strip and every cell is read once, in short contiguous runs.
//!
//! Per strip, one pass over its runs gives `S = Σ d`, `A = Σ |d|` and `U = Σ d (R − t)` (`R`
//! the strip's right end). With `D₀` the value of `D` entering the strip,
//! `∫_strip D = D₀·width + U` whatever the order of the cells inside, and when `|D₀| ≥ A` the
//! sign of `D` cannot change inside, so `∫_strip |D| = |D₀·width + U|`. The other strips, where
//! `D` may cross zero, are resolved exactly by [`W1Unsorted`] over their cells (still in cache),
//! starting from `D₀`. Exact up to rounding, like the sorted formula; O(cells + rows · strips)
//! time, O(rows + [`STRIP_CELLS`]) memory. Rows lie far apart in memory, so each run is asked
//! for a few rows ahead of its use (a prefetch hint on x86-64).

use super::one_d::W1Unsorted;

/// Cells per strip, about: enough that each row's run is several cache lines long (a strip of
/// a 4000 × 4000 grid spans at least 32 cells of every row it crosses), few enough that a
/// strip resolved cell by cell is still cached when it is read a second time.
pub const STRIP_CELLS: usize = 1 << 17;

/// While reading a run, the run that the row this many rows on will give to the same strip is
/// requested from memory: rows are far apart, so no hardware prefetcher foresees them.
const PREFETCH_ROWS: usize = 16;

/// Reusable buffers for [`StripW1::compute`].
#[derive(Debug, Clone)]
pub struct StripW1 {
    /// Cells per strip, about.
    strip_cells: usize,
    /// Per row (in ascending order of `r`), the next cell to read, counted along ascending `c`.
    cursor: Vec<usize>,
    /// The current strip's runs: row, first and past-the-last column.
    runs: Vec<(usize, usize, usize)>,
    fine: W1Unsorted,
}

impl Default for StripW1 {
    fn default() -> Self {
        StripW1 {
            strip_cells: STRIP_CELLS,
            cursor: Vec::new(),
            runs: Vec::new(),
            fine: W1Unsorted::default(),
        }
    }
}

impl StripW1 {
    /// Buffers for strips of about `strip_cells` cells (at least one).
    pub fn with_strip_cells(strip_cells: usize) -> StripW1 {
        StripW1 {
            strip_cells: strip_cells.max(1),
            ..StripW1::default()
        }
    }

    /// `W₁ = ∫ |D|` for the grid whose cell `(i, j)` sits at `row_part[i] + col_part[j]` and
    /// carries `row(i)[j]` (a − b); `row_part` and `col_part` are each monotone (ascending or
    /// descending), and `row(i)` has `col_part.len()` entries.
    ///
    /// # Panics
    /// If a row has the wrong length.
    pub fn compute<'d>(
        &mut self,
        row_part: &[f64],
        col_part: &[f64],
        row: impl Fn(usize) -> &'d [f64],
    ) -> f64 {
        let (h, w) = (row_part.len(), col_part.len());
        if h == 0 || w == 0 {
            return 0.0;
        }
        // Walk rows and columns in ascending order of their parts.
        let rows_up = row_part[0] <= row_part[h - 1];
        let cols_up = col_part[0] <= col_part[w - 1];
        let row_at = |r: usize| if rows_up { r } else { h - 1 - r };
        let rp = |r: usize| row_part[row_at(r)];
        let cp = |k: usize| col_part[if cols_up { k } else { w - 1 - k }];
        let (lo, hi) = (rp(0) + cp(0), rp(h - 1) + cp(w - 1));
        let strips = (h * w / self.strip_cells).max(1);
        let width = (hi - lo) / strips as f64;

        self.cursor.clear();
        self.cursor.resize(h, 0);
        // Rows `first..end` may hold cells of the current strip: the rows before `first` are
        // read to their end, the rows from `end` on start right of the strip.
        let (mut first, mut end) = (0, 0);
        let (mut running, mut total) = (0.0f64, 0.0f64);
        for m in 0..strips {
            let left = lo + m as f64 * width;
            let right = lo + (m + 1) as f64 * width;
            // The last strip takes every remaining cell, whatever the rounding of its end.
            let limit = if m + 1 == strips {
                f64::INFINITY
            } else {
                right
            };
            while end < h && rp(end) + cp(0) < limit {
                end += 1;
            }
            self.runs.clear();
            let (mut sum, mut abs, mut moment, mut count) = (0.0f64, 0.0f64, 0.0f64, 0usize);
            for r in first..end {
                let k0 = self.cursor[r];
                let base = rp(r);
                let mut k1 = k0;
                while k1 < w && base + cp(k1) < limit {
                    k1 += 1;
                }
                if k1 == k0 {
                    continue;
                }
                self.cursor[r] = k1;
                let (j0, j1) = if cols_up { (k0, k1) } else { (w - k1, w - k0) };
                if r + PREFETCH_ROWS < end {
                    let ahead = r + PREFETCH_ROWS;
                    let k = self.cursor[ahead];
                    // About as long as this run, and at least the rest of a cache line.
                    let len = (k1 - k0 + 8).min(w - k);
                    if len > 0 {
                        let (a0, a1) = if cols_up {
                            (k, k + len)
                        } else {
                            (w - k - len, w - k)
                        };
                        prefetch(&row(row_at(ahead))[a0..a1]);
                    }
                }
                let i = row_at(r);
                let d = &row(i)[j0..j1];
                // R − t = (R − r_i) − c_j.
                let offset = right - base;
                for (&d, &c) in d.iter().zip(&col_part[j0..j1]) {
                    sum += d;
                    abs += d.abs();
                    moment += d * (offset - c);
                }
                count += j1 - j0;
                self.runs.push((i, j0, j1));
            }
            while first < end && self.cursor[first] == w {
                first += 1;
            }
            if running.abs() >= abs {
                total += (running * width + moment).abs();
            } else {
                let runs = &self.runs;
                let cells = || {
                    runs.iter().flat_map(|&(i, j0, j1)| {
                        let base = row_part[i];
                        row(i)[j0..j1]
                            .iter()
                            .zip(&col_part[j0..j1])
                            .map(move |(&d, &c)| (base + c, d))
                    })
                };
                total += self.fine.integrate(running, count, cells, left, right);
            }
            running += sum;
        }
        total
    }
}

/// Asks for the cache lines of `cells` ahead of their use: a hint, which changes no value.
#[cfg(target_arch = "x86_64")]
#[inline]
fn prefetch(cells: &[f64]) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    for line in cells.chunks(8) {
        // SAFETY: a prefetch only moves a cache line; it reads no value, cannot fault, and the
        // address is inside a live slice. SSE is part of every x86-64 target.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) }
    }
    if let Some(last) = cells.last() {
        // SAFETY: as above.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((last as *const f64).cast()) }
    }
}

/// Asks for the cache lines of `cells` ahead of their use: no hint on this target.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn prefetch(cells: &[f64]) {
    let _ = cells;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ot::one_d::w1_from_differences;
    use proptest::prelude::*;

    /// Sorting every cell, then the CDF-difference sum.
    fn sorted(row_part: &[f64], col_part: &[f64], d: &[f64]) -> f64 {
        let w = col_part.len();
        let mut cells: Vec<(f64, f64)> = d
            .iter()
            .enumerate()
            .map(|(k, &d)| (row_part[k / w] + col_part[k % w], d))
            .collect();
        cells.sort_by(|x, y| x.0.total_cmp(&y.0));
        let x: Vec<f64> = cells.iter().map(|c| c.0).collect();
        w1_from_differences(&x, cells.iter().map(|c| c.1))
    }

    /// Small strips, so that small grids have many.
    fn strips(row_part: &[f64], col_part: &[f64], d: &[f64]) -> f64 {
        let w = col_part.len();
        StripW1::with_strip_cells(50).compute(row_part, col_part, |i| &d[i * w..(i + 1) * w])
    }

    fn parts(h: usize, w: usize, theta: f64) -> (Vec<f64>, Vec<f64>) {
        let (s, c) = theta.sin_cos();
        let rows = (0..h).map(|i| i as f64 * c).collect();
        let cols = (0..w).map(|j| j as f64 * s).collect();
        (rows, cols)
    }

    #[test]
    fn a_moved_dot_costs_the_projected_shift() {
        // Many strips: the dot at (2, 3) and its image at (300, 250) of a 320 × 260 grid.
        let (h, w) = (320, 260);
        let mut d = vec![0.0; h * w];
        d[2 * w + 3] = 1.0;
        d[300 * w + 250] = -1.0;
        for theta in [0.0, 0.3, 1.0, std::f64::consts::FRAC_PI_2, 2.0, 3.0] {
            let (rows, cols) = parts(h, w, theta);
            let want = (298.0 * theta.cos() + 247.0 * theta.sin()).abs();
            let got = strips(&rows, &cols, &d);
            assert!(
                (got - want).abs() <= 1e-9 * want.max(1.0),
                "θ={theta}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn noise_around_zero_is_resolved_cell_by_cell() {
        // Two nearly equal weightings: D hovers around zero, so almost every strip needs its
        // cells sorted.
        let (h, w) = (300, 411);
        let d: Vec<f64> = (0..h * w)
            .map(|k| ((k * 7919 % 1013) as f64 - 506.0) * 1e-9)
            .collect();
        let mean = d.iter().sum::<f64>() / d.len() as f64;
        let d: Vec<f64> = d.iter().map(|x| x - mean).collect();
        for theta in [0.1, 0.8, 1.6, 2.5] {
            let (rows, cols) = parts(h, w, theta);
            let (got, want) = (strips(&rows, &cols, &d), sorted(&rows, &cols, &d));
            assert!(
                (got - want).abs() <= 1e-12 * want,
                "θ={theta}: {got} vs {want}"
            );
        }
    }

    proptest! {
        #[test]
        fn equals_the_sorted_formula(
            h in 1usize..90,
            w in 1usize..90,
            theta in prop_oneof![Just(0.0), Just(std::f64::consts::FRAC_PI_2), 0.0f64..std::f64::consts::PI],
            seed in 0u64..1000,
            zero in 0.0f64..0.7,
        ) {
            // Some cells empty; repeated weights so that ties and near-balance occur.
            let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let mut next = || {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64
            };
            let mut wa: Vec<f64> = (0..h * w).map(|_| if next() < zero { 0.0 } else { next() }).collect();
            let mut wb: Vec<f64> = (0..h * w).map(|_| if next() < zero { 0.0 } else { next() }).collect();
            let (sa, sb): (f64, f64) = (wa.iter().sum(), wb.iter().sum());
            prop_assume!(sa > 0.0 && sb > 0.0);
            wa.iter_mut().for_each(|x| *x /= sa);
            wb.iter_mut().for_each(|x| *x /= sb);
            let d: Vec<f64> = wa.iter().zip(&wb).map(|(x, y)| x - y).collect();
            // Stretched coordinates, as after a downscale.
            let (rows, cols) = parts(h, w, theta);
            let rows: Vec<f64> = rows.iter().map(|x| 2.0 * x + 0.5).collect();
            let (got, want) = (strips(&rows, &cols, &d), sorted(&rows, &cols, &d));
            // Positions are rounded to their own magnitude: when the projections all but
            // coincide (θ = π/2 on one column), that rounding is the whole value.
            let scale = rows.iter().chain(&cols).fold(0.0f64, |m, x| m.max(x.abs()));
            let tolerance = 1e-12 * want + 8.0 * f64::EPSILON * scale;
            prop_assert!((got - want).abs() <= tolerance, "{got} vs {want}");
        }
    }
}
