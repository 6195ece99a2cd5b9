//! The cells of a regular grid in the order of their projection on a direction — without
//! sorting them.
//!
//! A cell `(i, j)` of an `rows × cols` grid with uniform spacing projects to
//! `t = t₀ + i·a + j·b` (`a`, `b` the projected row and column steps). Take one index as the
//! *outer* one, say `i` with `a > 0` (negative steps are handled by walking that index
//! backwards), and write `t/a = i + j·ρ` with `ρ = b/a`. Splitting `j·ρ = n_j + f_j` into its
//! integer and fractional parts puts every cell in the band `m = i + n_j`, at offset `f_j`
//! inside it. So the order of all cells is: bands ascending, and inside every band the *same*
//! order of the inner index `j` by `f_j`. One sort of the inner index (`cols log cols` per
//! direction) orders all `rows × cols` cells, emitted in one pass over
//! `(bands) × (inner length)` slots, of which the out-of-range ones are skipped. Of the two
//! orientations the one with fewer slots is taken; it never needs more than `2·cells + inner`
//! (the two orientations' excess factors `cols·ρ/rows` and `rows/(cols·ρ)` multiply to one).

/// Reusable buffers for emitting a grid's cells in projection order.
#[derive(Debug, Default, Clone)]
pub struct LatticeOrder {
    /// Inner indices sorted by the fractional part of their band shift: `(shift, index)`.
    inner: Vec<(usize, usize)>,
    keyed: Vec<(f64, usize, usize)>,
}

/// How one direction is walked: found by [`LatticeOrder::plan`].
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    rows: usize,
    cols: usize,
    inner_is_col: bool,
    rho: f64,
    flip_row: bool,
    flip_col: bool,
    bands: usize,
}

impl LatticeOrder {
    /// The cheaper orientation for a grid of `rows × cols` cells whose row index moves the
    /// projection by `row_step` and whose column index by `col_step`; `None` for an empty grid
    /// or steps that are not finite.
    pub fn plan(rows: usize, cols: usize, row_step: f64, col_step: f64) -> Option<Plan> {
        if rows == 0 || cols == 0 || !row_step.is_finite() || !col_step.is_finite() {
            return None;
        }
        let (ra, ca) = (row_step.abs(), col_step.abs());
        let flip_row = row_step < 0.0;
        let flip_col = col_step < 0.0;
        // Slots when `inner` is the inner index: (outer + inner·ρ + 1) bands × inner.
        let slots = |outer: usize, inner: usize, rho: f64| {
            (outer as f64 + (inner - 1) as f64 * rho + 1.0) * inner as f64
        };
        let mut best: Option<(f64, Plan)> = None;
        for inner_is_col in [true, false] {
            let (outer_n, inner_n, outer_step, inner_step) = if inner_is_col {
                (rows, cols, ra, ca)
            } else {
                (cols, rows, ca, ra)
            };
            if outer_step == 0.0 && inner_step != 0.0 {
                continue;
            }
            // Both steps zero: every cell projects to the same point, any order is sorted.
            let rho = if outer_step == 0.0 {
                0.0
            } else {
                inner_step / outer_step
            };
            let cost = slots(outer_n, inner_n, rho);
            if best.is_none_or(|(c, _)| cost < c) {
                // Saturates for a hopeless orientation, which the other one then beats.
                let bands = outer_n.saturating_add(((inner_n - 1) as f64 * rho).floor() as usize);
                let plan = Plan {
                    rows,
                    cols,
                    inner_is_col,
                    rho,
                    flip_row,
                    flip_col,
                    bands,
                };
                best = Some((cost, plan));
            }
        }
        best.map(|(_, plan)| plan)
    }

    /// Calls `visit(i, j)` for every cell, in ascending order of `i·row_step + j·col_step`
    /// (computed exactly from the steps; cells whose projections differ by a rounding error may
    /// come in either order).
    pub fn for_each(&mut self, plan: &Plan, mut visit: impl FnMut(usize, usize)) {
        let (outer_n, inner_n) = if plan.inner_is_col {
            (plan.rows, plan.cols)
        } else {
            (plan.cols, plan.rows)
        };
        self.keyed.clear();
        self.keyed.extend((0..inner_n).map(|v| {
            let q = v as f64 * plan.rho;
            let shift = q.floor();
            (q - shift, shift as usize, v)
        }));
        self.keyed.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
        self.inner.clear();
        self.inner
            .extend(self.keyed.iter().map(|&(_, shift, v)| (shift, v)));
        let (flip_outer, flip_inner) = if plan.inner_is_col {
            (plan.flip_row, plan.flip_col)
        } else {
            (plan.flip_col, plan.flip_row)
        };
        let orient = |u: usize, n: usize, flip: bool| if flip { n - 1 - u } else { u };
        for band in 0..plan.bands {
            for &(shift, v) in &self.inner {
                // `band − shift` wraps to a huge value when negative, so one test covers both ends.
                let u = band.wrapping_sub(shift);
                if u < outer_n {
                    let (o, n) = (
                        orient(u, outer_n, flip_outer),
                        orient(v, inner_n, flip_inner),
                    );
                    if plan.inner_is_col {
                        visit(o, n);
                    } else {
                        visit(n, o);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn order(rows: usize, cols: usize, a: f64, b: f64) -> Option<Vec<(usize, usize)>> {
        let plan = LatticeOrder::plan(rows, cols, a, b)?;
        let mut out = Vec::new();
        LatticeOrder::default().for_each(&plan, |i, j| out.push((i, j)));
        Some(out)
    }

    fn check(rows: usize, cols: usize, a: f64, b: f64) {
        let Some(seen) = order(rows, cols, a, b) else {
            return;
        };
        let mut cells = seen.clone();
        cells.sort_unstable();
        cells.dedup();
        assert_eq!(cells.len(), rows * cols, "every cell exactly once");
        assert_eq!(seen.len(), rows * cols);
        let key = |(i, j): (usize, usize)| i as f64 * a + j as f64 * b;
        let scale = (rows as f64 * a.abs() + cols as f64 * b.abs()).max(1.0);
        for w in seen.windows(2) {
            assert!(
                key(w[0]) <= key(w[1]) + 1e-12 * scale,
                "{:?} then {:?} for steps {a}, {b}",
                w[0],
                w[1]
            );
        }
    }

    #[test]
    fn axis_aligned_diagonal_and_degenerate_directions() {
        for (a, b) in [
            (1.0, 0.0),
            (0.0, 1.0),
            (-1.0, 0.0),
            (0.0, -1.0),
            (1.0, 1.0),
            (1.0, -1.0),
            (0.0, 0.0),
            (std::f64::consts::FRAC_PI_2.cos(), 1.0),
        ] {
            check(7, 5, a, b);
            check(1, 9, a, b);
            check(9, 1, a, b);
        }
        assert_eq!(
            order(2, 3, 1.0, 10.0).unwrap()[..3],
            [(0, 0), (1, 0), (0, 1)]
        );
    }

    #[test]
    fn the_cheaper_orientation_visits_at_most_two_slots_per_cell() {
        let slots = |rows: usize, cols: usize, a: f64, b: f64| {
            let plan = LatticeOrder::plan(rows, cols, a, b).unwrap();
            let inner = if plan.inner_is_col { cols } else { rows };
            plan.bands * inner
        };
        for (rows, cols, a, b) in [
            (3, 1000, 1.0, 0.3),
            (1000, 3, 1.0, 0.3),
            (1, 1000, 1.0, 1e-3),
            (300, 300, 1.0, 0.999),
            (300, 300, 1e-17, 1.0),
        ] {
            assert!(slots(rows, cols, a, b) <= 2 * rows * cols + rows.max(cols));
        }
        assert!(LatticeOrder::plan(10, 10, f64::NAN, 1.0).is_none());
        assert!(LatticeOrder::plan(0, 10, 1.0, 1.0).is_none());
    }

    proptest! {
        #[test]
        fn emits_every_cell_once_in_projection_order(
            rows in 1usize..40,
            cols in 1usize..40,
            theta in 0.0f64..std::f64::consts::PI,
        ) {
            let (s, c) = theta.sin_cos();
            check(rows, cols, c, s);
            check(rows, cols, 2.0 * c, s);
        }
    }
}
