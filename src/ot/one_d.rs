//! Exact one-dimensional optimal transport between weighted points.
//!
//! On a line the optimal plan is monotone: it matches the quantile functions of the two
//! measures. For `p = 1` this gives `W₁ = ∫ |F_a(t) − F_b(t)| dt`, which on a common sorted
//! support is `Σ_k |A_k − B_k| (t_{k+1} − t_k)` with `A, B` the running sums; for `p ≥ 1` in
//! general, `W_p^p = ∫₀¹ |F_a⁻¹(u) − F_b⁻¹(u)|^p du`, computed by merging the two quantile
//! functions in one pass. Both are exact (no binning) and cost O(n) once the points are sorted.
//!
//! Weights need not be normalised, but both sides must carry the same total (up to rounding):
//! the merge stops when either side is exhausted.

/// `W_p^p` between `Σ wa_i δ(xa_i)` and `Σ wb_j δ(xb_j)`, both with positions in ascending order.
///
/// Zero weights are allowed. Cost O(len a + len b).
pub fn wasserstein_pp_sorted(xa: &[f64], wa: &[f64], xb: &[f64], wb: &[f64], p: f64) -> f64 {
    debug_assert_eq!(xa.len(), wa.len());
    debug_assert_eq!(xb.len(), wb.len());
    debug_assert!(xa.windows(2).all(|w| w[0] <= w[1]));
    debug_assert!(xb.windows(2).all(|w| w[0] <= w[1]));
    merge_quantiles(
        xa.iter().copied().zip(wa.iter().copied()),
        xb.iter().copied().zip(wb.iter().copied()),
        p,
    )
}

/// `W_p^p` between two weightings `wa`, `wb` of the same points `x` (ascending).
///
/// For `p = 1` this is the CDF-difference sum, otherwise the quantile merge
/// [`wasserstein_pp_cumulative`].
pub fn wasserstein_pp_common(x: &[f64], wa: &[f64], wb: &[f64], p: f64) -> f64 {
    if p == 1.0 {
        let diff = wa.iter().zip(wb).map(|(a, b)| a - b);
        w1_from_differences(x, diff)
    } else {
        let running = |w: &[f64]| {
            w.iter()
                .scan(0.0, |sum, v| {
                    *sum += v;
                    Some(*sum)
                })
                .collect::<Vec<f64>>()
        };
        wasserstein_pp_cumulative(x, &running(wa), &running(wb), p)
    }
}

/// Independent merge lanes in [`wasserstein_pp_cumulative`].
const LANES: usize = 4;

/// `W_p^p` between two weightings of the same points `x` (ascending), given by their running
/// sums `ca` and `cb` (non-decreasing, both ending at the same total up to rounding).
///
/// The quantile merge on cumulative levels: between consecutive levels of the union of both
/// running sums, each quantile function sits at one point. The level range is cut into
/// four slices holding about equal numbers of steps, merged side by side with no
/// data-dependent branch: each step's only dependency is its own lane's previous step, so the
/// lanes overlap in the pipeline instead of stalling on mispredicted branches.
///
/// # Panics
/// If the three slices differ in length.
pub fn wasserstein_pp_cumulative(x: &[f64], ca: &[f64], cb: &[f64], p: f64) -> f64 {
    assert!(
        ca.len() == x.len() && cb.len() == x.len(),
        "one running sum per point"
    );
    // The common exponents get a loop of their own, free of the general power.
    if p == 1.0 {
        merge_lanes(x, ca, cb, f64::abs)
    } else if p == 2.0 {
        merge_lanes(x, ca, cb, |d| d * d)
    } else {
        merge_lanes(x, ca, cb, |d| d.abs().powf(p))
    }
}

/// `W_p` itself (not its p-th power) between two weightings of the same points `x`
/// (ascending) given by their running sums, for any finite `p ≥ 1`.
///
/// `W_p^p = Σ m_k |d_k|^p` over- or underflows once `p` is large (`|d|^p` for `|d| = 300` and
/// `p = 200`), so this first finds the largest displacement `M` carried by positive mass, then
/// returns `M · (Σ m_k (|d_k|/M)^p)^(1/p)`, whose terms lie in `[0, m_k]`. Two merges instead
/// of one: meant for when [`wasserstein_pp_cumulative`] leaves the floating-point range.
pub fn wasserstein_p_cumulative_scaled(x: &[f64], ca: &[f64], cb: &[f64], p: f64) -> f64 {
    let top = largest_displacement(x, ca, cb);
    if top == 0.0 {
        return 0.0;
    }
    let negligible = negligible_ratio(p);
    // Steps that move no mass may join points farther apart than `top` (a point of weight 0
    // past the others): their ratio is capped at 1, so that a large p cannot turn their zero
    // mass times an infinite power into NaN.
    let cost = |d: f64| {
        let r = d.abs() / top;
        if r < negligible {
            0.0
        } else {
            r.min(1.0).powf(p)
        }
    };
    top * merge_lanes(x, ca, cb, cost).powf(1.0 / p)
}

/// Below this `|d|/M` a term `(|d|/M)^p` is under 10⁻⁴⁰ and is taken as 0 without computing the
/// power (most of them, for large p); the largest term is 1 times its mass, which is never
/// that small.
fn negligible_ratio(p: f64) -> f64 {
    (1e-40f64).powf(1.0 / p)
}

/// The largest `|x_i − x_j|` over the steps of positive mass of the quantile merge on running
/// sums: the same steps, in one lane, as [`merge_lanes`] takes.
fn largest_displacement(x: &[f64], ca: &[f64], cb: &[f64]) -> f64 {
    let n = x.len();
    if n == 0 {
        return 0.0;
    }
    let total = ca[n - 1].min(cb[n - 1]);
    let (mut i, mut j, mut at, mut top) = (0, 0, 0.0, 0.0f64);
    loop {
        let (u, v) = (ca[i], cb[j]);
        let next = u.min(v).min(total);
        if next > at {
            top = top.max((x[i] - x[j]).abs());
            at = next;
        }
        // As in the lanes: a side moves on when its atom ends first and before the total
        // (then it is not the last point).
        let (step_i, step_j) = (u <= v && u < total, v <= u && v < total);
        if !(step_i || step_j) {
            return top;
        }
        i += usize::from(step_i);
        j += usize::from(step_j);
    }
}

fn merge_lanes(x: &[f64], ca: &[f64], cb: &[f64], cost: impl Fn(f64) -> f64) -> f64 {
    let n = x.len();
    if n == 0 {
        return 0.0;
    }
    let total = ca[n - 1].min(cb[n - 1]);
    // First index whose running sum exceeds `level`: where that side's quantile function sits
    // just above `level`.
    let above_a = |level: f64| ca.partition_point(|&c| c <= level);
    let above_b = |level: f64| cb.partition_point(|&c| c <= level);
    // Split levels, taken from side A so that the lanes hold about equal numbers of steps.
    let mut levels = [total; LANES + 1];
    levels[0] = 0.0;
    for (k, level) in levels.iter_mut().enumerate().take(LANES).skip(1) {
        let target = k * 2 * n / LANES;
        let i = partition(n, |i| i + above_b(ca[i]) < target);
        *level = if i < n { ca[i].min(total) } else { total };
    }
    for k in 1..=LANES {
        levels[k] = levels[k].max(levels[k - 1]);
    }
    let mut i = [0usize; LANES];
    let mut j = [0usize; LANES];
    let mut at = [0.0f64; LANES];
    let mut end = [0.0f64; LANES];
    let mut sum = [0.0f64; LANES];
    let mut steps = 0;
    for l in 0..LANES {
        // Only an empty lane (at the total) can start past the last point.
        (i[l], j[l]) = (above_a(levels[l]).min(n - 1), above_b(levels[l]).min(n - 1));
        (at[l], end[l]) = (levels[l], levels[l + 1]);
        let (ie, je) = (above_a(levels[l + 1]), above_b(levels[l + 1]));
        // Every step but the last moves at least one side on.
        steps = usize::max(steps, ie.saturating_sub(i[l]) + je.saturating_sub(j[l]) + 1);
    }
    // Plain comparisons instead of `f64::min` and `&&`: no NaN handling or short-circuit
    // branches in the loop (the running sums are finite).
    let lesser = |x: f64, y: f64| if x < y { x } else { y };
    for _ in 0..steps {
        for l in 0..LANES {
            let (u, v, e) = (ca[i[l]], cb[j[l]], end[l]);
            let next = lesser(lesser(u, v), e);
            sum[l] += (next - at[l]) * cost(x[i[l]] - x[j[l]]);
            at[l] = next;
            // A side moves on when its atom ends first and before the lane's end; once both
            // atoms reach past the end the lane stands still, adding zero.
            i[l] += usize::from((u <= v) & (u < e));
            j[l] += usize::from((v <= u) & (v < e));
        }
    }
    sum.iter().sum()
}

/// The first `i` in `0..n` where `below(i)` is false, for a `below` that is true then false.
fn partition(n: usize, below: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// `W₁ = Σ_k |D_k| (x_{k+1} − x_k)` where `D_k` is the running sum of the signed mass
/// differences `a_k − b_k` over ascending positions `x`.
pub fn w1_from_differences(x: &[f64], diff: impl IntoIterator<Item = f64>) -> f64 {
    let mut running = 0.0;
    let mut total = 0.0;
    let mut diff = diff.into_iter();
    for w in x.windows(2) {
        running += diff.next().unwrap_or(0.0);
        total += running.abs() * (w[1] - w[0]);
    }
    total
}

/// `|d|^p` with the common exponents computed exactly.
#[inline]
fn pow_abs(d: f64, p: f64) -> f64 {
    let d = d.abs();
    if p == 1.0 {
        d
    } else if p == 2.0 {
        d * d
    } else {
        d.powf(p)
    }
}

/// Walks two sorted weighted sequences in step, matching mass in quantile order.
pub(crate) fn merge_quantiles(
    a: impl IntoIterator<Item = (f64, f64)>,
    b: impl IntoIterator<Item = (f64, f64)>,
    p: f64,
) -> f64 {
    let mut total = 0.0;
    for_each_match(a, b, |m, d| total += m * pow_abs(d, p));
    total
}

/// `W_p` itself between `Σ wa_i δ(xa_i)` and `Σ wb_j δ(xb_j)` (positions ascending) for any
/// finite `p ≥ 1`, scaled by the largest matched displacement as in
/// [`wasserstein_p_cumulative_scaled`].
pub fn wasserstein_p_sorted_scaled(xa: &[f64], wa: &[f64], xb: &[f64], wb: &[f64], p: f64) -> f64 {
    let a = || xa.iter().copied().zip(wa.iter().copied());
    let b = || xb.iter().copied().zip(wb.iter().copied());
    let mut top = 0.0f64;
    for_each_match(a(), b(), |_, d| top = top.max(d.abs()));
    if top == 0.0 {
        return 0.0;
    }
    let mut total = 0.0;
    let negligible = negligible_ratio(p);
    for_each_match(a(), b(), |m, d| {
        let r = d.abs() / top;
        if r >= negligible {
            total += m * r.powf(p);
        }
    });
    top * total.powf(1.0 / p)
}

/// Calls `visit(mass, xa − xb)` for each piece of mass the monotone plan moves, in order.
fn for_each_match(
    a: impl IntoIterator<Item = (f64, f64)>,
    b: impl IntoIterator<Item = (f64, f64)>,
    mut visit: impl FnMut(f64, f64),
) {
    let mut a = a.into_iter().filter(|(_, w)| *w > 0.0);
    let mut b = b.into_iter().filter(|(_, w)| *w > 0.0);
    let (Some((mut xa, mut ra)), Some((mut xb, mut rb))) = (a.next(), b.next()) else {
        return;
    };
    loop {
        let m = ra.min(rb);
        visit(m, xa - xb);
        ra -= m;
        rb -= m;
        if ra <= 0.0 {
            match a.next() {
                Some((x, w)) => (xa, ra) = (x, w),
                None => break,
            }
        }
        if rb <= 0.0 {
            match b.next() {
                Some((x, w)) => (xb, rb) = (x, w),
                None => break,
            }
        }
    }
}

/// `W₁` between two weightings of the same points given in any order, in O(n) without sorting.
///
/// `W₁ = ∫ |D(t)| dt`, where `D(t)` is the mass of `a − b` at positions `≤ t`. The range
/// `[lo, hi]` is cut into equal buckets; one streaming pass accumulates per bucket the sums
/// `S = Σ d`, `A = Σ |d|` and `U = Σ d (R − t)` (`R` the bucket's right end). With `D₀` the value
/// of `D` entering the bucket, `∫_bucket D = D₀·width + U` whatever the order of the points inside,
/// and when `|D₀| ≥ A` the sign of `D` cannot change inside, so `∫_bucket |D| = |D₀·width + U|`.
/// Only the few buckets where `D` may cross zero are resolved exactly by sorting their points,
/// found in a second pass. Exact up to rounding, like the sorted formula.
#[derive(Debug, Default, Clone)]
pub struct W1Unsorted {
    sums: Vec<[f64; 3]>,
    entering: Vec<f64>,
    flagged: Vec<bool>,
    points: Vec<(u32, f64, f64)>,
}

/// Average points per bucket in [`W1Unsorted`]: the bucket sums stay cache-resident while few
/// buckets hold a zero crossing of `D`.
const POINTS_PER_BUCKET: usize = 4;

impl W1Unsorted {
    /// `W₁` for the `n` points that `points()` yields as `(position, a − b)` — the same sequence
    /// on every call (it is called once, or twice when some bucket needs sorting) — with every
    /// position in `[lo, hi]`.
    pub fn compute<I>(&mut self, n: usize, points: impl Fn() -> I, lo: f64, hi: f64) -> f64
    where
        I: Iterator<Item = (f64, f64)>,
    {
        self.integrate(0.0, n, points, lo, hi)
    }

    /// `∫_lo^hi |D|` where `D` enters `[lo, hi]` at `entering` and the `n` points that
    /// `points()` yields as `(position, a − b)` (as for [`W1Unsorted::compute`]) are its steps
    /// inside: a piece of a longer line whose points left of `lo` sum to `entering`.
    pub fn integrate<I>(
        &mut self,
        entering: f64,
        n: usize,
        points: impl Fn() -> I,
        lo: f64,
        hi: f64,
    ) -> f64
    where
        I: Iterator<Item = (f64, f64)>,
    {
        let buckets = (n / POINTS_PER_BUCKET).max(1);
        let width = (hi - lo) / buckets as f64;
        let scale = if hi > lo { 1.0 / width } else { 0.0 };
        let last = (buckets - 1) as f64;
        let bucket_of = |t: f64| ((t - lo) * scale).min(last) as usize;
        let right = |m: usize| lo + (m + 1) as f64 * width;
        self.sums.clear();
        self.sums.resize(buckets, [0.0; 3]);
        for (t, d) in points() {
            let m = bucket_of(t);
            let s = &mut self.sums[m];
            s[0] += d;
            s[1] += d.abs();
            s[2] += d * (right(m) - t);
        }
        self.entering.clear();
        self.entering.resize(buckets, 0.0);
        self.flagged.clear();
        self.flagged.resize(buckets, false);
        let (mut running, mut total, mut any_flagged) = (entering, 0.0f64, false);
        for (m, [sum, abs, moment]) in self.sums.iter().copied().enumerate() {
            if running.abs() >= abs {
                total += (running * width + moment).abs();
            } else {
                self.entering[m] = running;
                self.flagged[m] = true;
                any_flagged = true;
            }
            running += sum;
        }
        if !any_flagged {
            return total;
        }
        self.points.clear();
        for (t, d) in points() {
            let m = bucket_of(t);
            if self.flagged[m] {
                self.points.push((m as u32, t, d));
            }
        }
        self.points
            .sort_unstable_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
        let mut k = 0;
        while k < self.points.len() {
            let m = self.points[k].0 as usize;
            let mut running = self.entering[m];
            let mut at = right(m) - width;
            while k < self.points.len() && self.points[k].0 as usize == m {
                let (_, t, d) = self.points[k];
                total += running.abs() * (t - at);
                running += d;
                at = t;
                k += 1;
            }
            total += running.abs() * (right(m) - at);
        }
        total
    }
}

/// Average items per bucket in [`BucketGroups`]: few enough that sorting a bucket is cheap, many
/// enough that the bucket offsets stay in the L1 cache while items are scattered.
pub const ITEMS_PER_BUCKET: usize = 8;

/// Items grouped by equal-width buckets of their keys: the O(n) first stage of sorting keys
/// that are spread roughly uniformly (as the projections of a grid are).
///
/// After [`BucketGroups::build`], bucket `m` holds the payloads
/// `order()[starts()[m]..starts()[m + 1]]`, in input order; every key in bucket `m` is below
/// every key in bucket `m + 1`, so sorting each (usually tiny) bucket sorts everything. Only
/// 4-byte payloads and offsets are moved, so the working set stays small.
#[derive(Debug, Default, Clone)]
pub struct BucketGroups {
    bucket: Vec<u32>,
    starts: Vec<u32>,
    order: Vec<u32>,
}

impl BucketGroups {
    /// Groups the `n` items that `items()` yields (the same `(key, payload)` sequence on every
    /// call; it is called twice) into `n` buckets spanning `[lo, hi]`. Keys outside the bounds
    /// go to the first or last bucket, which keeps the grouping correct.
    ///
    /// # Panics
    /// If `n` does not fit in `u32` offsets.
    pub fn build<I>(&mut self, n: usize, items: impl Fn() -> I, lo: f64, hi: f64)
    where
        I: Iterator<Item = (f64, u32)>,
    {
        assert!(n < u32::MAX as usize, "too many items for u32 offsets");
        let buckets = (n / ITEMS_PER_BUCKET).max(1);
        let scale = if hi > lo {
            buckets as f64 / (hi - lo) * (1.0 - 1e-12)
        } else {
            0.0
        };
        let last = (buckets - 1) as f64;
        self.bucket.clear();
        self.starts.clear();
        self.starts.resize(buckets + 1, 0);
        for (key, _) in items() {
            // The float-to-int cast saturates: NaN and negatives give 0.
            let b = ((key - lo) * scale).min(last) as u32;
            self.bucket.push(b);
            self.starts[b as usize + 1] += 1;
        }
        debug_assert_eq!(self.bucket.len(), n);
        for m in 0..buckets {
            self.starts[m + 1] += self.starts[m];
        }
        self.order.clear();
        self.order.resize(n, 0);
        // `starts[m]` runs ahead while bucket m fills, ending at the next bucket's start;
        // shifting back afterwards restores the starts.
        for ((_, payload), &b) in items().zip(&self.bucket) {
            let slot = &mut self.starts[b as usize];
            self.order[*slot as usize] = payload;
            *slot += 1;
        }
        for m in (1..=buckets).rev() {
            self.starts[m] = self.starts[m - 1];
        }
        self.starts[0] = 0;
    }

    /// Number of buckets.
    pub fn buckets(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// The payloads of bucket `m`, in input order.
    pub fn bucket(&self, m: usize) -> &[u32] {
        &self.order[self.starts[m] as usize..self.starts[m + 1] as usize]
    }

    /// Calls `visit` with every payload in ascending key order: each bucket of two or more is
    /// sorted through `scratch` (stable for equal keys) with keys from `key_of`.
    pub fn for_each_sorted(
        &self,
        key_of: impl Fn(u32) -> f64,
        scratch: &mut Vec<(f64, u32)>,
        mut visit: impl FnMut(f64, u32),
    ) {
        for m in 0..self.buckets() {
            match self.bucket(m) {
                [] => {}
                [only] => visit(key_of(*only), *only),
                many => {
                    scratch.clear();
                    scratch.extend(many.iter().map(|&id| (key_of(id), id)));
                    insertion_sort(scratch);
                    for &(key, id) in scratch.iter() {
                        visit(key, id);
                    }
                }
            }
        }
    }
}

/// Insertion sort by key, stable; fast on the tiny buckets it serves.
fn insertion_sort(v: &mut [(f64, u32)]) {
    for i in 1..v.len() {
        let cur = v[i];
        let mut j = i;
        while j > 0 && v[j - 1].0 > cur.0 {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = cur;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Slow reference: W_p^p from the quantile functions sampled at every breakpoint.
    fn reference(xa: &[f64], wa: &[f64], xb: &[f64], wb: &[f64], p: f64) -> f64 {
        let cum = |w: &[f64]| {
            let mut c = Vec::new();
            let mut s = 0.0;
            for v in w {
                s += v;
                c.push(s);
            }
            c
        };
        let (ca, cb) = (cum(wa), cum(wb));
        let mut qs: Vec<f64> = ca.iter().chain(&cb).copied().collect();
        qs.push(0.0);
        qs.sort_by(f64::total_cmp);
        let quantile = |x: &[f64], c: &[f64], u: f64| {
            let k = c.iter().position(|&v| v >= u).unwrap_or(x.len() - 1);
            x[k]
        };
        let mut total = 0.0;
        for w in qs.windows(2) {
            if w[1] > w[0] {
                let u = 0.5 * (w[0] + w[1]);
                total +=
                    (w[1] - w[0]) * (quantile(xa, &ca, u) - quantile(xb, &cb, u)).abs().powf(p);
            }
        }
        total
    }

    /// [`reference`] for `W_p` itself, scaled by the largest displacement between breakpoints.
    fn reference_scaled(xa: &[f64], wa: &[f64], xb: &[f64], wb: &[f64], p: f64) -> f64 {
        let cum = |w: &[f64]| {
            w.iter()
                .scan(0.0, |s, v| {
                    *s += v;
                    Some(*s)
                })
                .collect::<Vec<f64>>()
        };
        let (ca, cb) = (cum(wa), cum(wb));
        let mut qs: Vec<f64> = ca.iter().chain(&cb).copied().collect();
        qs.push(0.0);
        qs.sort_by(f64::total_cmp);
        let total = ca[ca.len() - 1].min(cb[cb.len() - 1]);
        let quantile = |x: &[f64], c: &[f64], u: f64| {
            let k = c.iter().position(|&v| v >= u).unwrap_or(x.len() - 1);
            x[k]
        };
        let pieces: Vec<(f64, f64)> = qs
            .windows(2)
            .filter(|w| w[1] > w[0] && w[0] < total)
            .map(|w| {
                let u = 0.5 * (w[0] + w[1].min(total));
                let d = (quantile(xa, &ca, u) - quantile(xb, &cb, u)).abs();
                (w[1].min(total) - w[0], d)
            })
            .collect();
        let top = pieces.iter().fold(0.0f64, |m, &(_, d)| m.max(d));
        if top == 0.0 {
            return 0.0;
        }
        let sum: f64 = pieces.iter().map(|&(m, d)| m * (d / top).powf(p)).sum();
        top * sum.powf(1.0 / p)
    }

    #[test]
    fn a_moved_dot_costs_its_distance_to_the_p() {
        assert_eq!(
            wasserstein_pp_sorted(&[1.0], &[1.0], &[4.0], &[1.0], 1.0),
            3.0
        );
        assert_eq!(
            wasserstein_pp_sorted(&[1.0], &[1.0], &[4.0], &[1.0], 2.0),
            9.0
        );
        assert_eq!(
            wasserstein_pp_common(&[0.0, 1.0, 5.0], &[1.0, 0.0, 0.0], &[0.0, 0.0, 1.0], 1.0),
            5.0
        );
    }

    #[test]
    fn splitting_mass_closed_form() {
        // Half the mass moves 1, half stays: W1 = 0.5, W2² = 0.5.
        let x = [0.0, 1.0];
        assert_eq!(
            wasserstein_pp_common(&x, &[1.0, 0.0], &[0.5, 0.5], 1.0),
            0.5
        );
        assert_eq!(
            wasserstein_pp_common(&x, &[1.0, 0.0], &[0.5, 0.5], 2.0),
            0.5
        );
    }

    /// Up to 120 points in `[0, span)` with two weights each; zero weights (empty cells) and
    /// fewer points than merge lanes on purpose.
    fn weighted_points(span: f64) -> impl Strategy<Value = Vec<(f64, f64, f64)>> {
        let weight = || prop_oneof![Just(0.0), 0.0f64..1.0];
        proptest::collection::vec((0.0f64..span, weight(), weight()), 1..120)
    }

    /// The points in ascending order with both weightings normalised, unless one is (nearly)
    /// empty.
    fn normalised(mut pts: Vec<(f64, f64, f64)>) -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (sa, sb): (f64, f64) = (pts.iter().map(|t| t.1).sum(), pts.iter().map(|t| t.2).sum());
        if sa <= 1e-3 || sb <= 1e-3 {
            return None;
        }
        Some((
            pts.iter().map(|t| t.0).collect(),
            pts.iter().map(|t| t.1 / sa).collect(),
            pts.iter().map(|t| t.2 / sb).collect(),
        ))
    }

    proptest! {
        #[test]
        fn merge_equals_the_quantile_reference(
            // Zero weights (empty cells) and short inputs (fewer points than merge lanes) on purpose.
            pts in weighted_points(10.0),
            p in prop_oneof![Just(1.0), Just(2.0), 1.0f64..4.0],
        ) {
            let normal = normalised(pts);
            prop_assume!(normal.is_some());
            let (x, wa, wb) = normal.unwrap();
            let want = reference(&x, &wa, &x, &wb, p);
            let got = wasserstein_pp_common(&x, &wa, &wb, p);
            prop_assert!((got - want).abs() <= 1e-9 * want.max(1e-9), "{got} vs {want}");
        }

        #[test]
        fn scaled_merges_equal_the_quantile_reference_for_any_p(
            pts in weighted_points(300.0),
            p in prop_oneof![Just(1.0), Just(2.0), 1.0f64..10.0, 10.0f64..1e3, Just(1e6)],
        ) {
            let normal = normalised(pts);
            prop_assume!(normal.is_some());
            let (x, wa, wb) = normal.unwrap();
            let want = reference_scaled(&x, &wa, &x, &wb, p);
            let running = |w: &[f64]| w.iter().scan(0.0, |s, v| { *s += v; Some(*s) }).collect::<Vec<f64>>();
            let common = wasserstein_p_cumulative_scaled(&x, &running(&wa), &running(&wb), p);
            let sorted = wasserstein_p_sorted_scaled(&x, &wa, &x, &wb, p);
            for got in [common, sorted] {
                prop_assert!((got - want).abs() <= 1e-11 * want.max(1e-9), "p={p}: {got} vs {want}");
            }
            if p <= 10.0 {
                // Where the plain p-th power is in range the two agree.
                let plain = wasserstein_pp_common(&x, &wa, &wb, p).powf(1.0 / p);
                prop_assert!((common - plain).abs() <= 1e-12 * plain.max(1e-9), "p={p}: {common} vs {plain}");
            }
        }

        #[test]
        fn unsorted_w1_equals_the_sorted_formula(
            pts in proptest::collection::vec((0.0f64..10.0, 0.0f64..1.0, 0.0f64..1.0), 1..400),
        ) {
            let sa: f64 = pts.iter().map(|t| t.1).sum();
            let sb: f64 = pts.iter().map(|t| t.2).sum();
            prop_assume!(sa > 1e-3 && sb > 1e-3);
            let items: Vec<(f64, f64)> = pts.iter().map(|t| (t.0, t.1 / sa - t.2 / sb)).collect();
            let mut sorted = items.clone();
            sorted.sort_by(|x, y| x.0.total_cmp(&y.0));
            let x: Vec<f64> = sorted.iter().map(|p| p.0).collect();
            let want = w1_from_differences(&x, sorted.iter().map(|p| p.1));
            let lo = x[0];
            let hi = x[x.len() - 1];
            let got = W1Unsorted::default().compute(items.len(), || items.iter().copied(), lo, hi);
            prop_assert!((got - want).abs() <= 1e-12 * want.max(1e-12), "{got} vs {want}");
        }

        #[test]
        fn bucket_sort_sorts_stably(keys in proptest::collection::vec(-5.0f64..5.0, 0..3000)) {
            // Round some keys so that ties occur.
            let keys: Vec<f64> = keys.iter().map(|k| if *k > 2.0 { k.round() } else { *k }).collect();
            let lo = keys.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = keys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut groups = BucketGroups::default();
            groups.build(keys.len(), || keys.iter().copied().zip(0u32..), lo, hi);
            let mut out = Vec::new();
            groups.for_each_sorted(|id| keys[id as usize], &mut Vec::new(), |k, id| out.push((k, id)));
            let mut want: Vec<(f64, u32)> = keys.iter().copied().zip(0u32..).collect();
            want.sort_by(|a, b| a.0.total_cmp(&b.0));
            prop_assert_eq!(out, want);
        }
    }
}
