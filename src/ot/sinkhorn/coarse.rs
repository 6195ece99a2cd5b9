//! 2×2-block sums of a grid, and potentials moved between a grid and its blocks: the coarse
//! problems of warm starts and multigrid corrections.

use super::Grid;

/// A grid's 2×2-block sums, each block at the mean of its cells' coordinates (a block on the
/// last row or column may be partial).
pub(super) struct Coarse {
    pub(super) rows: Vec<f64>,
    pub(super) cols: Vec<f64>,
    pub(super) weights: Vec<f64>,
    /// Columns of the fine grid.
    fine_cols: usize,
    /// Cells in each block.
    counts: Vec<f64>,
}

impl Coarse {
    pub(super) fn of(g: &Grid) -> Coarse {
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
    pub(super) fn halve(v: &[f64]) -> Vec<f64> {
        v.chunks(2)
            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            .collect()
    }

    /// The sum of the values of the fine cells in each block.
    pub(super) fn sums(&self, v: &[f64]) -> Vec<f64> {
        let (n, nc) = (self.fine_cols, self.cols.len());
        let mut out = vec![0.0; self.rows.len() * nc];
        for (k, x) in v.iter().enumerate() {
            out[(k / n / 2) * nc + (k % n) / 2] += x;
        }
        out
    }

    /// The mean of the values of the fine cells in each block.
    pub(super) fn means(&self, v: &[f64]) -> Vec<f64> {
        let mut out = self.sums(v);
        for (x, n) in out.iter_mut().zip(&self.counts) {
            *x /= n;
        }
        out
    }

    pub(super) fn grid(&self) -> Grid<'_> {
        Grid {
            rows: &self.rows,
            cols: &self.cols,
            weights: &self.weights,
        }
    }

    /// A potential on this grid's blocks, interpolated bilinearly to the cells of the fine grid
    /// it came from (held constant beyond the outermost block centres).
    pub(super) fn refine(&self, p: &[f64], fine: &Grid) -> Vec<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
