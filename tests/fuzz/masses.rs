//! Arbitrary small masses for the metric targets: sizes 1–12 pixels a side, `--downscale`
//! 1–3, zeros, ties, sparse supports, huge and tiny raw values, and pairs that are equal,
//! equal up to rounding, nearly equal, shifted, or differently sized.

use imgdist::Mass;
use ndarray::Array2;
use proptest::prelude::*;
use proptest::sample::Index;

/// Raw pixel values on a `rows × cols` pixel grid, block-summed by `downscale`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub rows: usize,
    pub cols: usize,
    pub downscale: usize,
    pub values: Vec<f64>,
}

impl Grid {
    pub fn mass(&self) -> Mass {
        let values = Array2::from_shape_vec((self.rows, self.cols), self.values.clone()).unwrap();
        Mass::from_values(&values, self.downscale, "fuzz").expect("a grid has positive mass")
    }

    /// True when every raw value is a whole number small enough for exact integer transport.
    pub fn integral(&self) -> bool {
        self.values.iter().all(|v| v.fract() == 0.0 && *v <= 1e6)
    }
}

/// How raw values are drawn.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// 8-bit grey levels, a third of them black.
    Bytes,
    /// 0–3: many zeros and ties.
    Small,
    /// Almost all zero.
    Sparse,
    /// Uniform in (0, 1).
    Floats,
    /// Grey levels times a huge or tiny power of ten (normalisation must not overflow or
    /// underflow).
    Scaled(f64),
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => Just(Kind::Bytes),
        3 => Just(Kind::Small),
        2 => Just(Kind::Sparse),
        2 => Just(Kind::Floats),
        1 => prop::sample::select(vec![1e300, 1e-300, 1e-320]).prop_map(Kind::Scaled),
    ]
}

fn value(kind: Kind) -> BoxedStrategy<f64> {
    let byte = prop_oneof![1 => Just(0.0), 2 => (0u32..=255).prop_map(f64::from)];
    match kind {
        Kind::Bytes => byte.boxed(),
        Kind::Small => (0u32..=3).prop_map(f64::from).boxed(),
        Kind::Sparse => prop_oneof![12 => Just(0.0), 1 => (1u32..=9).prop_map(f64::from)].boxed(),
        Kind::Floats => (0.0f64..1.0).boxed(),
        Kind::Scaled(s) => byte.prop_map(move |v| v * s).boxed(),
    }
}

/// A grid of 1–12 × 1–12 pixels with positive mass.
pub fn grid() -> impl Strategy<Value = Grid> {
    (
        1usize..=12,
        1usize..=12,
        prop_oneof![3 => Just(1usize), 1 => 2usize..=3],
        kind(),
        any::<Index>(),
    )
        .prop_flat_map(|(rows, cols, downscale, kind, lit)| {
            prop::collection::vec(value(kind), rows * cols).prop_map(move |mut values| {
                if values.iter().all(|&v| v == 0.0) {
                    values[lit.index(rows * cols)] = match kind {
                        Kind::Scaled(s) => s,
                        _ => 1.0,
                    };
                }
                Grid {
                    rows,
                    cols,
                    downscale,
                    values,
                }
            })
        })
}

/// How a second (or third) mass relates to an earlier one.
#[derive(Debug, Clone)]
pub enum Relation {
    /// An unrelated grid.
    Independent(Grid),
    /// The same values.
    Same,
    /// All values times a factor: the same mass up to rounding (one picture stored two ways).
    Scaled(f64),
    /// One cell's value times `1 + rel` (or set to `rel` if it was 0).
    Nudged(Index, f64),
    /// Every value moved one pixel down or right (the last row or column wraps around).
    Shifted(bool),
    /// The same values on a grid grown or cut by up to 3 pixels each way (top-left aligned).
    Resized(i8, i8),
    /// The same values with another `--downscale`.
    Rescaled(usize),
}

pub fn relation() -> impl Strategy<Value = Relation> {
    prop_oneof![
        4 => grid().prop_map(Relation::Independent),
        1 => Just(Relation::Same),
        2 => prop::sample::select(vec![3.0, 1.0 / 255.0, 0.1, 1e-10]).prop_map(Relation::Scaled),
        3 => (any::<Index>(), prop::sample::select(vec![1e-15, 1e-12, 1e-6, 0.5])).prop_map(|(i, r)| Relation::Nudged(i, r)),
        2 => any::<bool>().prop_map(Relation::Shifted),
        2 => (-3i8..=3, -3i8..=3).prop_map(|(r, c)| Relation::Resized(r, c)),
        1 => (1usize..=3).prop_map(Relation::Rescaled),
    ]
}

impl Relation {
    /// The grid this relation makes from `g`.
    pub fn apply(&self, g: &Grid) -> Grid {
        let mut out = g.clone();
        match self {
            Relation::Independent(other) => return other.clone(),
            Relation::Same => {}
            Relation::Scaled(f) => out.values.iter_mut().for_each(|v| *v *= f),
            Relation::Nudged(i, rel) => {
                let v = &mut out.values[i.index(g.values.len())];
                *v = if *v == 0.0 { *rel } else { *v * (1.0 + rel) };
            }
            Relation::Shifted(down) => {
                let (r, c) = (g.rows, g.cols);
                for i in 0..r {
                    for j in 0..c {
                        let from = if *down {
                            ((i + r - 1) % r) * c + j
                        } else {
                            i * c + (j + c - 1) % c
                        };
                        out.values[i * c + j] = g.values[from];
                    }
                }
            }
            Relation::Resized(dr, dc) => {
                let rows = (g.rows as i64 + i64::from(*dr)).clamp(1, 12) as usize;
                let cols = (g.cols as i64 + i64::from(*dc)).clamp(1, 12) as usize;
                out = Grid {
                    rows,
                    cols,
                    downscale: g.downscale,
                    values: (0..rows * cols)
                        .map(|k| {
                            let (i, j) = (k / cols, k % cols);
                            if i < g.rows && j < g.cols {
                                g.values[i * g.cols + j]
                            } else {
                                0.0
                            }
                        })
                        .collect(),
                };
            }
            Relation::Rescaled(k) => out.downscale = *k,
        }
        if out.values.iter().all(|&v| v == 0.0 || !v.is_finite()) {
            // Cut away from all of its mass, or scaled to nothing: keep one lit pixel.
            out.values.iter_mut().for_each(|v| *v = 0.0);
            out.values[0] = 1.0;
        }
        out
    }
}

/// Three masses: `a`, `b` related to `a`, `c` related to `a` or `b`.
pub fn triple() -> impl Strategy<Value = [Grid; 3]> {
    (grid(), relation(), relation(), any::<bool>()).prop_map(|(a, rb, rc, from_b)| {
        let b = rb.apply(&a);
        let c = rc.apply(if from_b { &b } else { &a });
        [a, b, c]
    })
}
