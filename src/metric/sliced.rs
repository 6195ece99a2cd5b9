//! Sliced Wasserstein distance.
//!
//! `SW_p = ((1/L) Σ_l W_p^p(θ_l))^(1/p)`, where `W_p(θ)` is the exact 1-D Wasserstein distance
//! between the two masses projected on the direction `(cos θ, sin θ)`: a cell at (row x, column y)
//! projects to `t = x cos θ + y sin θ`, in pixel units. Given the same directions this equals POT's
//! `ot.sliced_wasserstein_distance(X, X, a, b, projections=…, p=p)`.
//!
//! Range `[0, W_p]` (never above the exact Wasserstein distance), units: pixels; symmetric; for
//! enough directions a metric on masses. Directions θ and θ + π give the same value, so angles are
//! drawn from `[0, π)`: either uniformly at random (`random`), or equispaced
//! `θ_l = (l + u)π/L` with one random offset `u` (`uniform`, the default), which in 2-D converges
//! far faster. The Monte-Carlo standard error of the mean of `W_p^p` (sample standard deviation
//! over directions / √L) is carried to `SW_p` by the delta method; for `uniform` it is a
//! conservative (too large) bound, since stratified angles err much less than random ones.
//!
//! Any finite p ≥ 1: `SW_p` grows with p towards the largest `W_∞(θ)`, never past the largest
//! distance on the grid. While `W_p^p` stays well inside the floating-point range (always for the
//! usual p = 1, 2) it is summed as the definition reads; when it would over- or underflow
//! (`300^200`), each direction's `W_p(θ)` is computed scaled by its largest matched displacement
//! and the directions are combined as `SW_p = M · ((1/L) Σ (W_p(θ)/M)^p)^(1/p)`,
//! `M = max W_p(θ)`, the standard error likewise.
//!
//! Cost: both masses live on one grid, so per direction ONE ordering of the projected cell
//! positions serves both. For p = 1 no full ordering is needed (an O(N) bucketed pass, see
//! [`W1Unsorted`]); on large grids the same sums are taken strip by strip across the projection
//! axis, each strip a short run of every row, so that the working set stays in cache
//! ([`StripW1`]). For p > 1 the ordering of a grid with uniform spacing comes straight from its
//! lattice structure in O(N) with no comparisons between cells ([`LatticeOrder`]); other grids
//! (a partial edge block after `--downscale`) use an O(N) bucket sort. Then one gather of the
//! weights (as 16-bit grey-level counts when they are such, so it stays in cache) and a
//! branch-free quantile merge in four interleaved lanes — `O(L·N)` in all, parallel over
//! directions. Grids of different sizes (top-left aligned, in pixel coordinates) share a common
//! grid when one extends the other (padded, or for the strip route read without padding),
//! otherwise each side is sorted separately (`O(L·N log N)`).
//!
//! References: Rabin, Peyré, Delon & Bernot, "Wasserstein barycenter and its application to
//! texture mixing" (2011); Bonneel, Rabin, Peyré & Pfister, "Sliced and Radon Wasserstein
//! barycenters of measures" (2015).

use std::str::FromStr;
use std::sync::{Arc, Mutex};

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;

use super::{Details, Extras, Measurement, Metric, MetricKind, MetricParams, Progress};
use crate::error::{Error, Result};
use crate::mass::Mass;
use crate::ot::lattice::LatticeOrder;
use crate::ot::one_d::{
    BucketGroups, W1Unsorted, wasserstein_p_cumulative_scaled, wasserstein_p_sorted_scaled,
    wasserstein_pp_cumulative, wasserstein_pp_sorted,
};
use crate::ot::strips::StripW1;

/// How projection directions are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Angles {
    /// `θ_l = (l + u)π/L` with one seeded offset `u ∈ [0, 1)`.
    #[default]
    Uniform,
    /// `θ_l` independent and uniform on `[0, π)`, seeded.
    Random,
}

impl Angles {
    /// The name the user types.
    pub fn as_str(self) -> &'static str {
        match self {
            Angles::Uniform => "uniform",
            Angles::Random => "random",
        }
    }

    /// The `count` angles for `seed`. Deterministic: the same on every machine and thread count.
    pub fn generate(self, count: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let pi = std::f64::consts::PI;
        match self {
            Angles::Random => (0..count).map(|_| pi * rng.random::<f64>()).collect(),
            Angles::Uniform => {
                let u: f64 = rng.random();
                (0..count)
                    .map(|l| (l as f64 + u) * pi / count as f64)
                    .collect()
            }
        }
    }
}

impl FromStr for Angles {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let all = [Angles::Uniform, Angles::Random];
        super::parse_choice("--angles", s, &all.map(|a| (a.as_str(), a)))
    }
}

/// Parameters of the sliced Wasserstein distance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlicedParams {
    /// Number of directions L. Default: 200.
    pub projections: usize,
    /// Seed of the directions. Default: 0.
    pub seed: u64,
    /// Order p ≥ 1. Default: 1.
    pub p: f64,
    /// How directions are chosen. Default: [`Angles::Uniform`].
    pub angles: Angles,
}

impl Default for SlicedParams {
    fn default() -> Self {
        SlicedParams {
            projections: 200,
            seed: 0,
            p: 1.0,
            angles: Angles::Uniform,
        }
    }
}

/// Further facts sliced reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SlicedDetails {
    /// Monte-Carlo standard error of the value, from the spread of `W_p^p(θ)` over the
    /// directions (delta method; computed scaled when `W_p^p` leaves the floating-point range).
    pub std_error: f64,
}

/// The sliced Wasserstein metric with validated parameters.
#[derive(Debug, Clone)]
pub struct Sliced {
    params: SlicedParams,
}

impl Sliced {
    /// Validates the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `projections` is 0 or above
    /// [`limits::MAX_PROJECTIONS`](super::limits::MAX_PROJECTIONS), or `p` is not a finite
    /// number ≥ 1.
    pub fn new(params: SlicedParams) -> Result<Sliced> {
        super::limits::check_projections(params.projections)?;
        if !(params.p.is_finite() && params.p >= 1.0) {
            return Err(Error::InvalidParameter {
                name: "--p",
                reason: format!("{} must be a finite number ≥ 1", params.p),
            });
        }
        Ok(Sliced { params })
    }
}

/// Sliced Wasserstein over given directions.
#[derive(Debug, Clone, PartialEq)]
pub struct SlicedResult {
    /// `SW_p`.
    pub value: f64,
    /// Monte-Carlo standard error of `value`.
    pub std_error: f64,
    /// `W_p(θ_l)` for each direction, in pixels, in the order of the angles.
    pub per_direction: Vec<f64>,
}

/// The distance along each direction: which directions separate the two masses most.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The directions θ_l in radians, in `[0, π)`, in the order they were drawn (not sorted
    /// for [`Angles::Random`]).
    pub angles: Vec<f64>,
    /// `W_p(θ_l)` for each direction, in pixels: `SW_p` is their power mean of order p.
    pub per_direction: Vec<f64>,
    /// The order p.
    pub p: f64,
}

/// `SW_p` between `a` and `b` over the directions `angles` (radians), with its standard error.
///
/// # Panics
/// If `angles` is empty or `p < 1`.
pub fn sliced_wasserstein(a: &Mass, b: &Mass, angles: &[f64], p: f64) -> SlicedResult {
    sliced_wasserstein_observed(a, b, angles, p, &())
}

/// [`sliced_wasserstein`], telling `progress` how many directions are done every fraction of a
/// second of work (see [`Progress::sliced_directions`]). The value is the same as without it.
///
/// # Panics
/// If `angles` is empty or `p < 1`.
pub fn sliced_wasserstein_observed(
    a: &Mass,
    b: &Mass,
    angles: &[f64],
    p: f64,
    progress: &dyn Progress,
) -> SlicedResult {
    assert!(!angles.is_empty(), "at least one direction");
    assert!(p >= 1.0, "p must be at least 1");
    let directions = Directions {
        angles,
        progress,
        chunk_work: CHUNK_WORK,
    };
    let fits = |m: &Mass| m.shape().0 <= 1 << PACK && m.shape().1 <= 1 << PACK;
    let strips = p == 1.0 && a.len().max(b.len()) >= STRIP_ROUTE_CELLS;
    let per_direction = match strips.then(|| Difference::new(a, b)).flatten() {
        Some(difference) => strip_profile(&difference, &directions),
        None => match Mass::on_common_grid(a, b) {
            Some((a, b)) if fits(&a) => shared_grid_profile(&a, &b, &directions, p),
            _ => separate_profile(a, b, &directions, p),
        },
    };
    summarise(per_direction, p)
}

/// Grids from this many cells on take the strip route for p = 1 ([`StripW1`]). Below, the
/// buckets of one streaming pass ([`W1Unsorted`], 6 bytes a cell) still fit in the shared
/// cache and a grid has only a few strips, each resolved cell by cell: one pass is quicker
/// (twice as fast at 700²). The two are about even at 1024²; at 1448² the strips take a third
/// of the time, and the gap widens with size.
const STRIP_ROUTE_CELLS: usize = 1 << 20;

/// Cell-directions of work between two progress reports, about: a fraction of a second on one
/// core.
const CHUNK_WORK: usize = 1 << 27;

/// The directions to compute, and who hears how far the computation is.
struct Directions<'a> {
    angles: &'a [f64],
    progress: &'a dyn Progress,
    /// Cell-directions between progress reports: [`CHUNK_WORK`].
    chunk_work: usize,
}

impl Directions<'_> {
    /// `f(workspace, θ)` for every direction, in parallel, in the order of the angles: in
    /// chunks of about `chunk_work` for grids of `cells` cells (and at least a few directions
    /// per thread), reporting progress after each chunk. The chunking does not change any
    /// value.
    fn map<W: Send, T: Send>(
        &self,
        cells: usize,
        init: impl Fn() -> W + Sync + Send,
        f: impl Fn(&mut W, f64) -> T + Sync + Send,
    ) -> Vec<T> {
        let total = self.angles.len();
        let chunk = (self.chunk_work / cells.max(1)).max(4 * rayon::current_num_threads());
        // Workspaces outlive a chunk: on large grids they hold hundreds of megabytes.
        let pool = Mutex::new(Vec::new());
        let lend = || Lent {
            workspace: pool
                .lock()
                .ok()
                .and_then(|mut p| p.pop())
                .or_else(|| Some(init())),
            pool: &pool,
        };
        let mut out = Vec::with_capacity(total);
        self.progress.sliced_directions(0, total);
        for part in self.angles.chunks(chunk) {
            out.par_extend(part.par_iter().map_init(lend, |lent, &theta| {
                f(lent.workspace.as_mut().expect("lent until dropped"), theta)
            }));
            self.progress.sliced_directions(out.len(), total);
        }
        out
    }
}

/// A workspace taken from a pool, given back when dropped.
struct Lent<'p, W> {
    workspace: Option<W>,
    pool: &'p Mutex<Vec<W>>,
}

impl<W> Drop for Lent<'_, W> {
    fn drop(&mut self) {
        if let (Some(w), Ok(mut pool)) = (self.workspace.take(), self.pool.lock()) {
            pool.push(w);
        }
    }
}

/// The signed difference of two masses on their common grid (one grid extending the other,
/// the new cells empty), read row by row without padding either mass: `tall − short` for the
/// mass with more rows (a when as tall as b), so that when it spans every column its rows
/// below the other mass are borrowed as they are. `W₁` does not depend on the sign.
struct Difference<'m> {
    rows: &'m [f64],
    cols: &'m [f64],
    /// The first rows, computed.
    head: Vec<f64>,
    /// The taller mass's weights, whose rows from `head`'s end on are the difference's.
    tall: &'m [f64],
}

impl<'m> Difference<'m> {
    /// `None` when neither grid extends the other.
    fn new(a: &'m Mass, b: &'m Mass) -> Option<Difference<'m>> {
        let longer = |x: &'m [f64], y: &'m [f64]| if x.len() >= y.len() { x } else { y };
        let rows = longer(a.row_coords(), b.row_coords());
        let cols = longer(a.col_coords(), b.col_coords());
        let nested =
            |m: &Mass| rows.starts_with(m.row_coords()) && cols.starts_with(m.col_coords());
        if !(nested(a) && nested(b)) {
            return None;
        }
        let (tall, short) = if a.shape().0 >= b.shape().0 {
            (a, b)
        } else {
            (b, a)
        };
        let ((th, tw), (sh, sw)) = (tall.shape(), short.shape());
        let width = cols.len();
        let head_rows = if tw == width { sh } else { th };
        let mut head = vec![0.0; head_rows * width];
        for (i, out) in head.chunks_exact_mut(width).enumerate() {
            if i < th {
                out[..tw].copy_from_slice(&tall.as_slice()[i * tw..(i + 1) * tw]);
            }
            if i < sh {
                let short_row = &short.as_slice()[i * sw..(i + 1) * sw];
                for (d, s) in out.iter_mut().zip(short_row) {
                    *d -= s;
                }
            }
        }
        Some(Difference {
            rows,
            cols,
            head,
            tall: tall.as_slice(),
        })
    }

    /// Row `i` of the difference.
    fn row(&self, i: usize) -> &[f64] {
        let w = self.cols.len();
        if (i + 1) * w <= self.head.len() {
            &self.head[i * w..(i + 1) * w]
        } else {
            &self.tall[i * w..(i + 1) * w]
        }
    }
}

/// `W₁` per direction, strip by strip ([`StripW1`]): for grids whose per-direction buckets
/// would not stay in cache.
fn strip_profile(difference: &Difference, directions: &Directions) -> Vec<Term> {
    let (rows, cols) = (difference.rows, difference.cols);
    directions.map(
        rows.len() * cols.len(),
        || (Vec::new(), Vec::new(), StripW1::default()),
        |(row_part, col_part, strips), theta| {
            projection_tables(rows, cols, theta, row_part, col_part);
            Term::w1(strips.compute(row_part, col_part, |i| difference.row(i)))
        },
    )
}

/// One direction's transport cost: `W_p^p` while it is comfortably inside the floating-point
/// range (its square too, for the spread), and `W_p` always.
#[derive(Debug, Clone, Copy)]
struct Term {
    power: Option<f64>,
    distance: f64,
}

/// `W_p^p` is used as it is between these bounds (or at exactly 0).
const PLAIN_RANGE: std::ops::RangeInclusive<f64> = 1e-150..=1e150;

/// Past this p the plain `W_p^p` is not tried: on any image of more than a few pixels it
/// leaves [`PLAIN_RANGE`] (`64^64 > 10¹¹⁵`, `300^64 > 10¹⁵⁰`).
const PLAIN_MAX_P: f64 = 64.0;

impl Term {
    /// `W₁`, which never leaves the range on a grid.
    fn w1(w: f64) -> Term {
        Term {
            power: Some(w),
            distance: w,
        }
    }

    /// From the plain `W_p^p` (computed by `plain()` for p up to [`PLAIN_MAX_P`]) when it is in
    /// range, else from `scaled()`, the distance computed scaled by the largest displacement.
    fn new(plain: impl FnOnce() -> f64, p: f64, scaled: impl FnOnce() -> f64) -> Term {
        let pp = if p <= PLAIN_MAX_P { plain() } else { f64::NAN };
        if PLAIN_RANGE.contains(&pp) {
            return Term {
                power: Some(pp),
                distance: if p == 1.0 { pp } else { pp.powf(1.0 / p) },
            };
        }
        // Out of range, or 0: exactly 0 only when nothing moves.
        let distance = scaled();
        Term {
            power: (distance == 0.0).then_some(0.0),
            distance,
        }
    }
}

fn summarise(terms: Vec<Term>, p: f64) -> SlicedResult {
    let per_direction: Vec<f64> = terms.iter().map(|t| t.distance).collect();
    let (value, std_error) = match terms.iter().map(|t| t.power).collect::<Option<Vec<f64>>>() {
        Some(powers) => plain_summary(&powers, p),
        None => scaled_summary(&per_direction, p),
    };
    SlicedResult {
        value,
        std_error,
        per_direction,
    }
}

/// The mean of `v` and its Monte-Carlo standard error (sample standard deviation / √L).
fn mean_and_se(v: &[f64]) -> (f64, f64) {
    let l = v.len() as f64;
    let mean = v.iter().sum::<f64>() / l;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (l - 1.0)
    } else {
        0.0
    };
    (mean, (var / l).sqrt())
}

/// `SW_p` and its standard error from the `W_p^p(θ)`.
fn plain_summary(powers: &[f64], p: f64) -> (f64, f64) {
    let (mean, se_mean) = mean_and_se(powers);
    let value = mean.max(0.0).powf(1.0 / p);
    // d(m^(1/p))/dm = m^(1/p - 1)/p; at m = 0 the value is 0 with no spread.
    let std_error = if mean > 0.0 {
        se_mean * mean.powf(1.0 / p - 1.0) / p
    } else {
        0.0
    };
    (value, std_error)
}

/// [`plain_summary`] from the `W_p(θ)` themselves, for any p: with `M = max W_p(θ)` and
/// `v = (W_p(θ)/M)^p ∈ [0, 1]` (the largest is 1, so `mean v ≥ 1/L`),
/// `SW_p = M · (mean v)^(1/p)` and the standard error `M · se(mean v) · (mean v)^(1/p − 1)/p`.
fn scaled_summary(distances: &[f64], p: f64) -> (f64, f64) {
    let top = distances.iter().fold(0.0f64, |m, &w| m.max(w));
    if top == 0.0 {
        return (0.0, 0.0);
    }
    let v: Vec<f64> = distances.iter().map(|w| (w / top).powf(p)).collect();
    let (mean, se_mean) = mean_and_se(&v);
    (
        top * mean.powf(1.0 / p),
        top * se_mean * mean.powf(1.0 / p - 1.0) / p,
    )
}

/// Per-direction buffers, reused across the directions a thread handles.
#[derive(Default)]
struct Workspace {
    row_part: Vec<f64>,
    col_part: Vec<f64>,
    groups: BucketGroups,
    scratch: Vec<(f64, u32)>,
    order: Vec<u32>,
    /// Positions in ascending order and both running sums.
    sorted: [Vec<f64>; 3],
    lattice: LatticeOrder,
}

/// Cells are named by `row << 16 | column` while sorting, so a projection is recomputed from two
/// small tables instead of being stored.
const PACK: u32 = 16;

/// Fills the tables `x cos θ` per row and `y sin θ` per column (a cell projects to the sum of
/// its two entries) and returns the range of the projections.
fn projection_tables(
    rows: &[f64],
    cols: &[f64],
    theta: f64,
    row_part: &mut Vec<f64>,
    col_part: &mut Vec<f64>,
) -> (f64, f64) {
    let (s, c) = theta.sin_cos();
    row_part.clear();
    row_part.extend(rows.iter().map(|x| x * c));
    col_part.clear();
    col_part.extend(cols.iter().map(|y| y * s));
    // Coordinates ascend, so the extreme projections sit at the grid's corners.
    let span = |v: &[f64]| (v[0].min(v[v.len() - 1]), v[0].max(v[v.len() - 1]));
    let ((rlo, rhi), (clo, chi)) = (span(row_part), span(col_part));
    (rlo + clo, rhi + chi)
}

/// Orders the cells of a grid by their projection on θ (grouped into buckets in `ws.groups`)
/// and returns the function that recomputes a cell's projection from its packed name.
fn group_projection<'w>(
    rows: &[f64],
    cols: &[f64],
    theta: f64,
    ws: &'w mut Workspace,
) -> (
    &'w BucketGroups,
    impl Fn(u32) -> f64 + 'w,
    &'w mut Vec<(f64, u32)>,
) {
    let (lo, hi) = projection_tables(rows, cols, theta, &mut ws.row_part, &mut ws.col_part);
    let (row_part, col_part) = (&ws.row_part, &ws.col_part);
    let cells = || {
        row_part.iter().enumerate().flat_map(move |(i, &xc)| {
            col_part
                .iter()
                .enumerate()
                .map(move |(j, &ys)| (xc + ys, (i as u32) << PACK | j as u32))
        })
    };
    ws.groups.build(rows.len() * cols.len(), cells, lo, hi);
    let key_of = move |id: u32| row_part[(id >> PACK) as usize] + col_part[(id & 0xffff) as usize];
    (&ws.groups, key_of, &mut ws.scratch)
}

fn shared_grid_profile(a: &Mass, b: &Mass, directions: &Directions, p: f64) -> Vec<Term> {
    let (rows, cols) = (a.row_coords(), a.col_coords());
    let (wa, wb) = (a.as_slice(), b.as_slice());
    if p == 1.0 {
        // W₁ = ∫ |D| needs only the signed difference a − b per cell, and no full sort.
        let diff: Vec<f64> = wa.iter().zip(wb).map(|(x, y)| x - y).collect();
        directions.map(
            diff.len(),
            || (Vec::new(), Vec::new(), W1Unsorted::default()),
            |(row_part, col_part, w1), theta| {
                let (lo, hi) = projection_tables(rows, cols, theta, row_part, col_part);
                let cells = || {
                    row_part
                        .iter()
                        .flat_map(|&xc| col_part.iter().map(move |&ys| xc + ys))
                        .zip(diff.iter().copied())
                };
                Term::w1(w1.compute(diff.len(), cells, lo, hi))
            },
        )
    } else {
        match (counts(a), counts(b)) {
            (Some((ca, qa)), Some((cb, qb))) => {
                let counts: Vec<[u16; 2]> = ca.into_iter().zip(cb).map(|(x, y)| [x, y]).collect();
                sorted_profile(rows, cols, directions, p, |k| {
                    let [x, y] = counts[k];
                    (f64::from(x) * qa, f64::from(y) * qb)
                })
            }
            _ => {
                let pairs: Vec<(f64, f64)> = wa.iter().copied().zip(wb.iter().copied()).collect();
                sorted_profile(rows, cols, directions, p, |k| pairs[k])
            }
        }
    }
}

/// A mass's weights as 16-bit multiples of one quantum, when they are that up to rounding
/// (8- and 16-bit images are: the quantum is one grey level over the total). Four bytes a cell
/// for both masses keep the gather in sorted order inside the L2 cache.
fn counts(m: &Mass) -> Option<(Vec<u16>, f64)> {
    [255.0, 65535.0, 1.0].into_iter().find_map(|levels| {
        let scale = m.raw_total() * levels;
        let quantum = 1.0 / scale;
        m.as_slice()
            .iter()
            .map(|&w| {
                let count = (w * scale).round();
                let close = (count * quantum - w).abs() <= 4.0 * f64::EPSILON * w;
                (count <= f64::from(u16::MAX) && close).then_some(count as u16)
            })
            .collect::<Option<Vec<u16>>>()
            .map(|counts| (counts, quantum))
    })
}

/// The cost per direction through a full ordering of the cells, `weight(k)` giving both masses'
/// weights of cell `k` (row-major).
fn sorted_profile(
    rows: &[f64],
    cols: &[f64],
    directions: &Directions,
    p: f64,
    weight: impl Fn(usize) -> (f64, f64) + Sync,
) -> Vec<Term> {
    let width = cols.len();
    let index = move |id: u32| (id >> PACK) as usize * width + (id & 0xffff) as usize;
    let steps = uniform_step(rows).zip(uniform_step(cols));
    directions.map(rows.len() * width, Workspace::default, |ws, theta| {
        // First the order of the cells (packed names), then one tight pass that gathers
        // their weights: the gathers' addresses do not wait on each other.
        let mut order = std::mem::take(&mut ws.order);
        order.clear();
        let (s, c) = theta.sin_cos();
        let plan =
            steps.and_then(|(hx, hy)| LatticeOrder::plan(rows.len(), cols.len(), hx * c, hy * s));
        if let Some(plan) = plan {
            projection_tables(rows, cols, theta, &mut ws.row_part, &mut ws.col_part);
            ws.lattice
                .for_each(&plan, |i, j| order.push((i as u32) << PACK | j as u32));
        } else {
            let (groups, key_of, scratch) = group_projection(rows, cols, theta, ws);
            groups.for_each_sorted(key_of, scratch, |_, id| order.push(id));
        }
        let (row_part, col_part) = (&ws.row_part, &ws.col_part);
        let [x, ca, cb] = &mut ws.sorted;
        for v in [&mut *x, &mut *ca, &mut *cb] {
            v.resize(order.len(), 0.0);
        }
        // A plain loop keeps the running sums in registers.
        let (mut sa, mut sb) = (0.0, 0.0);
        for (k, &id) in order.iter().enumerate() {
            let (wa, wb) = weight(index(id));
            sa += wa;
            sb += wb;
            x[k] = row_part[(id >> PACK) as usize] + col_part[(id & 0xffff) as usize];
            ca[k] = sa;
            cb[k] = sb;
        }
        ws.order = order;
        Term::new(
            || wasserstein_pp_cumulative(x, ca, cb, p),
            p,
            || wasserstein_p_cumulative_scaled(x, ca, cb, p),
        )
    })
}

/// The spacing of equally spaced coordinates (any for a single one), or `None`.
fn uniform_step(coords: &[f64]) -> Option<f64> {
    match coords {
        [] => None,
        [_] => Some(1.0),
        [first, second, ..] => {
            let h = second - first;
            coords.windows(2).all(|w| w[1] - w[0] == h).then_some(h)
        }
    }
}

/// Grids that do not nest: sort each side's projections on its own.
fn separate_profile(a: &Mass, b: &Mass, directions: &Directions, p: f64) -> Vec<Term> {
    let sorted = |m: &Mass, theta: f64| {
        let (s, c) = theta.sin_cos();
        let keys = m
            .row_coords()
            .iter()
            .flat_map(|&x| m.col_coords().iter().map(move |&y| x * c + y * s));
        let mut pairs: Vec<(f64, f64)> = keys.zip(m.as_slice().iter().copied()).collect();
        pairs.sort_by(|x, y| x.0.total_cmp(&y.0));
        pairs.into_iter().unzip::<f64, f64, Vec<f64>, Vec<f64>>()
    };
    directions.map(
        a.len() + b.len(),
        || (),
        |(), theta| {
            let (xa, wa) = sorted(a, theta);
            let (xb, wb) = sorted(b, theta);
            Term::new(
                || wasserstein_pp_sorted(&xa, &wa, &xb, &wb, p),
                p,
                || wasserstein_p_sorted_scaled(&xa, &wa, &xb, &wb, p),
            )
        },
    )
}

impl Metric for Sliced {
    fn kind(&self) -> MetricKind {
        MetricKind::Sliced
    }

    fn compute(&self, a: &Mass, b: &Mass) -> Result<Measurement> {
        self.compute_observed(a, b, &())
    }

    fn compute_observed(&self, a: &Mass, b: &Mass, progress: &dyn Progress) -> Result<Measurement> {
        let p = &self.params;
        let (rows, cols) = (a.shape().0.max(b.shape().0), a.shape().1.max(b.shape().1));
        super::limits::check_sliced_work(rows * cols, p.projections)?;
        super::limits::check_sliced_memory(rows * cols, p.p, rayon::current_num_threads())?;
        let angles = p.angles.generate(p.projections, p.seed);
        let result = sliced_wasserstein_observed(a, b, &angles, p.p, progress);
        let mut m = Measurement::new(result.value, MetricParams::Sliced(p.clone()));
        m.details = Details::Sliced(SlicedDetails {
            std_error: result.std_error,
        });
        m.extras = Extras::Sliced(Arc::new(Profile {
            angles,
            per_direction: result.per_direction,
            p: p.p,
        }));
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distances(terms: &[Term]) -> Vec<f64> {
        terms.iter().map(|t| t.distance).collect()
    }
    use crate::mass::dot;
    use ndarray::Array2;

    #[test]
    fn moved_dot_closed_form_per_direction() {
        // A dot moved by (dx, dy) = (2, 3): W_p(θ) = |2 cos θ + 3 sin θ| for every p.
        let (a, b) = (dot(6, 6, (1, 1)), dot(6, 6, (3, 4)));
        let angles = [0.0, 0.4, 1.3, 2.9];
        for p in [1.0, 2.0, 3.5] {
            let r = sliced_wasserstein(&a, &b, &angles, p);
            for (w, t) in r.per_direction.iter().zip(angles) {
                let want = (2.0 * t.cos() + 3.0 * t.sin()).abs();
                assert!((w - want).abs() < 1e-12, "p={p} θ={t}: {w} vs {want}");
            }
        }
    }

    #[test]
    fn moved_dot_dense_quadrature_matches_the_integral() {
        // (1/π)∫₀^π |r cos(θ − φ)| dθ = 2r/π for a shift of length r (p = 1).
        let (a, b) = (dot(8, 8, (0, 0)), dot(8, 8, (3, 4)));
        let angles = Angles::Uniform.generate(4000, 7);
        let v = sliced_wasserstein(&a, &b, &angles, 1.0).value;
        let want = 2.0 * 5.0 / std::f64::consts::PI;
        assert!((v - want).abs() < 1e-5, "{v} vs {want}");
    }

    #[test]
    fn different_sizes_nested_and_not_nested_agree() {
        // The same dot in a small and a large image: nested grids (padding) …
        let small = dot(4, 5, (2, 3));
        let big = dot(9, 7, (2, 3));
        let angles = Angles::Random.generate(16, 3);
        let r = sliced_wasserstein(&small, &big, &angles, 2.0);
        assert!(r.value.abs() < 1e-12, "{}", r.value);
        // … and a downscaled grid whose centres do not extend the other (sorted separately).
        let mut v = Array2::zeros((5, 5));
        v[[4, 4]] = 1.0;
        let coarse = Mass::from_values(&v, 2, "coarse").unwrap(); // cell centre (4, 4)
        assert!(Mass::on_common_grid(&coarse, &dot(6, 6, (4, 4))).is_none());
        let r = sliced_wasserstein(&coarse, &dot(6, 6, (4, 4)), &angles, 1.0);
        assert!(r.value.abs() < 1e-12, "{}", r.value);
        let r = sliced_wasserstein(&coarse, &dot(6, 6, (1, 0)), &angles, 1.0);
        let want: f64 = angles
            .iter()
            .map(|t| (3.0 * t.cos() + 4.0 * t.sin()).abs())
            .sum::<f64>()
            / angles.len() as f64;
        assert!((r.value - want).abs() < 1e-12, "{} vs {want}", r.value);
    }

    #[test]
    fn every_ordering_route_agrees_with_a_full_sort() {
        // Uneven masses on a uniform grid (lattice order) and on a grid with a partial edge
        // block (bucket sort), with weights stored as they come or as grey-level counts, each
        // against sorting both sides outright.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut values = || Array2::from_shape_fn((37, 23), |_| rng.random::<f64>().powi(3));
        let (va, vb) = (values(), values());
        // Grey levels of an 8-bit image take the compact-weights route.
        let grey = |v: &Array2<f64>| v.mapv(|x| (x * 255.0).round() / 255.0);
        let (ga, gb) = (grey(&va), grey(&vb));
        let angles = Angles::Random.generate(40, 5);
        for ((va, vb), downscale) in [(&va, &vb), (&ga, &gb)]
            .into_iter()
            .flat_map(|pair| [1, 2, 4].map(|k| (pair, k)))
        {
            let a = Mass::from_values(va, downscale, "a").unwrap();
            let b = Mass::from_values(vb, downscale, "b").unwrap();
            for p in [1.0, 1.5, 2.0, 3.0] {
                let directions = Directions {
                    angles: &angles,
                    progress: &(),
                    chunk_work: CHUNK_WORK,
                };
                let fast = shared_grid_profile(&a, &b, &directions, p);
                let slow = separate_profile(&a, &b, &directions, p);
                for (f, s) in fast.iter().zip(&slow) {
                    let (f, s) = (f.distance, s.distance);
                    assert!((f - s).abs() <= 1e-12 * s, "{downscale} {p}: {f} vs {s}");
                }
            }
        }
    }

    /// Random masses on `rows × cols` cells, some empty.
    fn uneven(rows: usize, cols: usize, seed: u64) -> Mass {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let v = Array2::from_shape_fn((rows, cols), |_| {
            let x: f64 = rng.random();
            if x < 0.2 { 0.0 } else { x.powi(3) }
        });
        Mass::from_values(&v, 1, "uneven").unwrap()
    }

    #[test]
    fn the_strip_route_agrees_with_one_bucketed_pass() {
        // Past the route's threshold (eight strips): one grid, and grids padded on either side
        // or both (the taller one spanning every column or not).
        let big = uneven(1030, 1024, 1);
        let pairs = [
            (big.clone(), uneven(1030, 1024, 2)),
            (big.clone(), uneven(37, 1000, 3)),
            (uneven(37, 1000, 3), big.clone()),
            (uneven(1100, 20, 4), big.clone()),
            (big, uneven(1, 1, 5)),
        ];
        let angles = Angles::Random.generate(6, 6);
        let directions = Directions {
            angles: &angles,
            progress: &(),
            chunk_work: CHUNK_WORK,
        };
        for (a, b) in &pairs {
            assert!(a.len().max(b.len()) >= STRIP_ROUTE_CELLS);
            let difference = Difference::new(a, b).expect("nested grids");
            let strips = strip_profile(&difference, &directions);
            let (pa, pb) = Mass::on_common_grid(a, b).unwrap();
            let buckets = shared_grid_profile(&pa, &pb, &directions, 1.0);
            let strips = distances(&strips);
            for (s, w) in strips.iter().zip(&distances(&buckets)) {
                assert!(
                    (s - w).abs() <= 1e-12 * w,
                    "{:?} {:?}: {s} vs {w}",
                    a.shape(),
                    b.shape()
                );
            }
            let value = sliced_wasserstein(a, b, &angles, 1.0).per_direction;
            assert_eq!(value, strips);
        }
    }

    #[test]
    fn progress_counts_directions_up_to_the_total() {
        struct Counts(std::sync::Mutex<Vec<(usize, usize)>>);
        impl Progress for Counts {
            fn sliced_directions(&self, done: usize, total: usize) {
                self.0.lock().unwrap().push((done, total));
            }
        }
        let (a, b) = (uneven(30, 20, 1), uneven(30, 20, 2));
        let angles = Angles::Uniform.generate(500, 3);
        for p in [1.0, 2.0] {
            // Small chunks, so that there are several; the values do not change.
            let seen = Counts(Default::default());
            let directions = Directions {
                angles: &angles,
                progress: &seen,
                chunk_work: 600 * 30,
            };
            let chunked = distances(&shared_grid_profile(&a, &b, &directions, p));
            assert_eq!(
                chunked,
                sliced_wasserstein(&a, &b, &angles, p).per_direction
            );
            let counts = seen.0.into_inner().unwrap();
            assert!(counts.len() > 3, "{counts:?}");
            assert_eq!(counts[0], (0, 500));
            assert_eq!(counts[counts.len() - 1], (500, 500));
            assert!(counts.windows(2).all(|w| w[0].0 < w[1].0 && w[1].1 == 500));
        }
        // Through the metric: at least the start and the end.
        let seen = Counts(Default::default());
        Sliced::new(SlicedParams::default())
            .unwrap()
            .compute_observed(&a, &b, &seen)
            .unwrap();
        assert_eq!(seen.0.into_inner().unwrap(), [(0, 200), (200, 200)]);
    }

    /// Uneven masses on a `size²` grid, as 8-bit grey levels (compact route) or as they come.
    fn uneven_pair(size: usize, seed: u64, grey: bool) -> (Mass, Mass) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut values = || {
            Array2::from_shape_fn((size, size), |_| {
                let v = rng.random::<f64>().powi(3);
                if grey { (v * 255.0).round() } else { v }
            })
        };
        let (va, vb) = (values(), values());
        (
            Mass::from_values(&va, 1, "a").unwrap(),
            Mass::from_values(&vb, 1, "b").unwrap(),
        )
    }

    #[test]
    fn large_p_is_finite_monotone_and_bounded_by_the_grid() {
        // W_p^p leaves the floating-point range long before p = 200 here (distances up to
        // 44 px); SW_p must still grow with p up to the largest distance on the grid.
        let angles = Angles::Uniform.generate(64, 1);
        let diagonal = 31f64.hypot(31.0);
        for grey in [true, false] {
            let (a, b) = uneven_pair(32, 3, grey);
            let sweep = [1.0, 2.0, 3.0, 10.0, 20.0, 50.0, 200.0, 450.0, 1000.0, 1e6];
            let results: Vec<SlicedResult> = sweep
                .iter()
                .map(|&p| sliced_wasserstein(&a, &b, &angles, p))
                .collect();
            for (p, r) in sweep.iter().zip(&results) {
                assert!(
                    r.value.is_finite() && r.value > 0.0 && r.value <= diagonal,
                    "grey={grey} p={p}: {}",
                    r.value
                );
                assert!(
                    r.std_error.is_finite() && r.std_error >= 0.0,
                    "p={p}: {r:?}"
                );
                assert!(
                    r.per_direction
                        .iter()
                        .all(|w| w.is_finite() && *w <= diagonal)
                );
            }
            for (w, r) in sweep.windows(2).zip(results.windows(2)) {
                let (lo, hi) = (r[0].value, r[1].value);
                assert!(
                    hi >= lo * (1.0 - 1e-12),
                    "grey={grey} p={} → {}: {lo} > {hi}",
                    w[0],
                    w[1]
                );
            }
            // Per direction too: W_p(θ) grows with p.
            for r in results.windows(2) {
                for (lo, hi) in r[0].per_direction.iter().zip(&r[1].per_direction) {
                    assert!(hi >= &(lo * (1.0 - 1e-12)), "{lo} > {hi}");
                }
            }
        }
        // Grids that do not nest take the separately sorted route.
        let (a, b) = uneven_pair(32, 4, true);
        let coarse = Mass::from_values(b.weights(), 2, "coarse").unwrap();
        assert!(Mass::on_common_grid(&a, &coarse).is_none());
        let mut last = 0.0;
        for p in [1.0, 2.0, 10.0, 200.0, 450.0, 1e6] {
            let v = sliced_wasserstein(&a, &coarse, &angles, p).value;
            assert!(
                v.is_finite() && v >= last * (1.0 - 1e-12) && v <= 2.0 * diagonal,
                "p={p}: {v}"
            );
            last = v;
        }
    }

    #[test]
    fn scaled_path_equals_the_plain_one_for_moderate_p() {
        let angles = Angles::Random.generate(40, 2);
        for grey in [true, false] {
            let (a, b) = uneven_pair(23, 5, grey);
            for p in [1.5, 2.0, 3.0, 7.0, 10.0] {
                let plain = sliced_wasserstein(&a, &b, &angles, p);
                // Per direction: the scaled merge against the plain p-th root.
                let (rows, cols) = (a.row_coords(), a.col_coords());
                let (wa, wb) = (a.as_slice(), b.as_slice());
                let scaled: Vec<f64> = angles
                    .iter()
                    .map(|&theta| {
                        let (s, c) = theta.sin_cos();
                        let mut cells: Vec<(f64, f64, f64)> = rows
                            .iter()
                            .flat_map(|&x| cols.iter().map(move |&y| x * c + y * s))
                            .zip(wa.iter().zip(wb))
                            .map(|(t, (&u, &v))| (t, u, v))
                            .collect();
                        cells.sort_by(|x, y| x.0.total_cmp(&y.0));
                        let x: Vec<f64> = cells.iter().map(|c| c.0).collect();
                        let running = |k: usize| {
                            cells
                                .iter()
                                .scan(0.0, |sum, c| {
                                    *sum += if k == 1 { c.1 } else { c.2 };
                                    Some(*sum)
                                })
                                .collect::<Vec<f64>>()
                        };
                        wasserstein_p_cumulative_scaled(&x, &running(1), &running(2), p)
                    })
                    .collect();
                for (f, s) in scaled.iter().zip(&plain.per_direction) {
                    assert!((f - s).abs() <= 1e-12 * s, "p={p}: {f} vs {s}");
                }
                // Combining directions: the scaled summary against the plain one.
                let (value, std_error) = scaled_summary(&plain.per_direction, p);
                assert!(
                    (value - plain.value).abs() <= 1e-12 * plain.value,
                    "p={p}: {value} vs {}",
                    plain.value
                );
                assert!(
                    (std_error - plain.std_error).abs() <= 1e-10 * plain.std_error,
                    "p={p}: {std_error} vs {}",
                    plain.std_error
                );
            }
        }
    }

    #[test]
    fn the_metric_keeps_its_profile() {
        let (a, b) = (dot(6, 6, (1, 1)), dot(6, 6, (3, 4)));
        for p in [1.0, 2.0] {
            let params = SlicedParams {
                projections: 12,
                seed: 4,
                p,
                angles: Angles::Random,
            };
            let m = Sliced::new(params.clone())
                .unwrap()
                .compute(&a, &b)
                .unwrap();
            let Extras::Sliced(profile) = &m.extras else {
                panic!("no profile: {:?}", m.extras);
            };
            let angles = Angles::Random.generate(12, 4);
            let direct = sliced_wasserstein(&a, &b, &angles, p);
            assert_eq!(profile.angles, angles);
            assert_eq!(profile.per_direction, direct.per_direction);
            assert_eq!(m.value.to_bits(), direct.value.to_bits());
            for (w, t) in profile.per_direction.iter().zip(&angles) {
                let want = (2.0 * t.cos() + 3.0 * t.sin()).abs();
                assert!((w - want).abs() < 1e-12, "p={p} θ={t}: {w} vs {want}");
            }
        }
    }

    #[test]
    fn angles_are_seeded_and_in_range() {
        for mode in [Angles::Uniform, Angles::Random] {
            let a = mode.generate(50, 11);
            assert_eq!(a, mode.generate(50, 11));
            assert_ne!(a, mode.generate(50, 12));
            assert!(a.iter().all(|t| (0.0..std::f64::consts::PI).contains(t)));
        }
        let u = Angles::Uniform.generate(4, 0);
        let step = std::f64::consts::PI / 4.0;
        assert!(((u[3] - u[2]) - step).abs() < 1e-15);
    }

    #[test]
    fn parameters_are_validated() {
        let bad = |params| Sliced::new(params).is_err();
        assert!(bad(SlicedParams {
            projections: 0,
            ..Default::default()
        }));
        assert!(bad(SlicedParams {
            p: 0.5,
            ..Default::default()
        }));
        assert!(bad(SlicedParams {
            p: f64::NAN,
            ..Default::default()
        }));
        assert!("sideways".parse::<Angles>().is_err());
    }
}
