//! The soft c-transform on a grid: separable log-sum-exp passes along rows and columns, each
//! output summing only the blocks of terms that matter, a block in factored form (two
//! exponentials and a polynomial) where its positions are evenly spaced, with vectorised
//! exponentials.

use rayon::prelude::*;

use super::Grid;

/// `out(x) = −ε·ln Σ_y w(y)·exp((p(y) − |x − y|²)/ε)` for the cells `x` of `to`, where `p` is a
/// potential on the cells of `from` and `lw = ln w` its log weights.
pub(super) fn soft_transform(
    to: &Grid,
    from: &Grid,
    p: &[f64],
    lw: &[f64],
    eps: f64,
    out: &mut Vec<f64>,
) {
    let h: Vec<f64> = p.iter().zip(lw).map(|(p, l)| p / eps + l).collect();
    lse_grid(to, from, &h, 1.0 / eps, Weight::None, out);
    for v in out.iter_mut() {
        *v *= -eps;
    }
}

/// A factor in the kernel besides `exp(−|x − y|²/ε)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Weight {
    /// None.
    None,
    /// `(x_r − y_r)²`.
    Rows,
    /// `(x_c − y_c)²`.
    Cols,
}

/// `out(x) = ln Σ_y exp(h(y) − κ|x − y|²)·[weight]` for the cells `x` of `to` and `y` of
/// `from`: a pass along the rows of `from` (to the columns of `to`), then along the columns.
pub(super) fn lse_grid(
    to: &Grid,
    from: &Grid,
    h: &[f64],
    kappa: f64,
    weight: Weight,
    out: &mut Vec<f64>,
) {
    let (rb, cb) = (from.rows.len(), from.cols.len());
    let (ra, ca) = (to.rows.len(), to.cols.len());
    // Pass 1: each row of `from`, from its column positions to those of `to`.
    let mut t = vec![0.0; rb * ca];
    t.par_chunks_mut(ca)
        .zip(h.par_chunks(cb))
        .for_each_init(Work::default, |work, (o, v)| {
            lse_line(
                to.cols,
                from.cols,
                v,
                kappa,
                weight == Weight::Cols,
                work,
                o,
            );
        });
    let tt = transpose(&t, rb, ca);
    // Pass 2: each column (now a row of `tt`), from the row positions of `from` to those of `to`.
    let mut u = vec![0.0; ca * ra];
    u.par_chunks_mut(ra)
        .zip(tt.par_chunks(rb))
        .for_each_init(Work::default, |work, (o, v)| {
            lse_line(
                to.rows,
                from.rows,
                v,
                kappa,
                weight == Weight::Rows,
                work,
                o,
            );
        });
    *out = transpose(&u, ca, ra);
}

/// The `cols × rows` transpose of a row-major `rows × cols` matrix.
fn transpose(m: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    const TILE: usize = 32;
    let mut out = vec![0.0; m.len()];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    out[c * rows + r] = m[r * cols + c];
                }
            }
        }
    }
    out
}

/// Inputs per block: of the skipping test, and of one factored sum.
const BLOCK: usize = 8;

/// Blocks whose factored sums are taken side by side, in one vector.
const LANES: usize = 4;

/// The largest `|β|` for which a block's sum is factored (see [`Blocks`]): its powers `ρᵗ`,
/// `t < 8`, then lie within `e^±600`, far inside the range of `f64`.
const SLOPE_LIMIT: f64 = 85.0;

/// Scratch space of [`lse_line`].
#[derive(Debug, Default)]
struct Work {
    /// The parabolas of the upper envelope, by input index.
    hull: Vec<usize>,
    /// Where each parabola of the envelope starts to dominate.
    from: Vec<f64>,
    /// The largest term of each output.
    max: Vec<f64>,
    /// The input of each output's largest term.
    argmax: Vec<usize>,
    /// The largest input of each block.
    block_max: Vec<f64>,
    /// The largest `block_max` of the blocks up to each one, and from each one on.
    prefix_max: Vec<f64>,
    suffix_max: Vec<f64>,
    /// The blocks' factored forms.
    blocks: Blocks,
}

/// The blocks of a line in factored form, for the unweighted sums. In a block whose positions
/// are evenly spaced, counted from its first finite input at `c` (`y[lo + t] = c + t·h`), an
/// output at `x = c + u` has the terms `exp(v[lo + t] − κ(u − t·h)²) = exp(top − κu²)·α_t·ρᵗ`
/// with `ρ = e^β`, `β = σ + 2κh·u`, where `σ` is the block's slope (that of `v[lo + t] − κt²h²`
/// from its first finite input to its last), `a_t = v[lo + t] − κt²h² − σt`, `top = max a_t`
/// and `α_t = exp(a_t − top) ≤ 1`. The block's sum is then two exponentials and a polynomial in
/// `ρ`, not one exponential a term. Removing the slope keeps `β` small for the outputs the block
/// matters to; a block whose `|β|` exceeds [`SLOPE_LIMIT`] for an output, or whose positions are
/// not evenly spaced (`σ` is NaN), is summed term by term.
///
/// Each field holds one value a block, padded by `LANES − 1` blocks that add nothing, so that
/// a vector of blocks may start at any block.
#[derive(Debug, Default)]
struct Blocks {
    /// `c`.
    origin: Vec<f64>,
    /// `2κh`.
    rate: Vec<f64>,
    /// `σ`, or NaN where the block is summed term by term.
    slope: Vec<f64>,
    /// `top`.
    top: Vec<f64>,
    /// `α_t` of block `k` at `t·stride + k`.
    alpha: Vec<f64>,
    /// Blocks, the padding included.
    stride: usize,
}

impl Blocks {
    #[inline(always)]
    fn build<const FMA: bool>(&mut self, y: &[f64], v: &[f64], kappa: f64) {
        let nb = y.len().div_ceil(BLOCK);
        let stride = nb + LANES - 1;
        self.stride = stride;
        self.origin.clear();
        self.origin.resize(stride, 0.0);
        self.rate.clear();
        self.rate.resize(stride, 0.0);
        self.slope.clear();
        self.slope.resize(stride, 0.0);
        self.top.clear();
        self.top.resize(stride, f64::NEG_INFINITY);
        // The exponents of the α_t first, then their exponentials all at once.
        self.alpha.clear();
        self.alpha.resize(BLOCK * stride, f64::NEG_INFINITY);
        for (k, (yb, vb)) in y.chunks(BLOCK).zip(v.chunks(BLOCK)).enumerate() {
            let h = if yb.len() > 1 { yb[1] - yb[0] } else { 0.0 };
            let even = (0..yb.len()).all(|t| yb[t] == yb[0] + t as f64 * h);
            let finite = |t: &usize| vb[*t] > f64::NEG_INFINITY;
            let Some(first) = (0..vb.len()).find(finite) else {
                continue; // no weight: top stays −∞ and every α_t 0
            };
            let last = (0..vb.len()).rfind(finite).unwrap_or(first);
            // Counted from the first finite input, so that a block with one is summed exactly
            // as term by term.
            let a = |t: usize| {
                let d = (t - first) as f64 * h;
                vb[t] - kappa * d * d
            };
            let slope = if last > first {
                (a(last) - a(first)) / (last - first) as f64
            } else {
                0.0
            };
            let top = (first..=last)
                .filter(finite)
                .map(|t| a(t) - slope * (t - first) as f64)
                .fold(f64::NEG_INFINITY, f64::max);
            for t in (first..=last).filter(finite) {
                self.alpha[(t - first) * stride + k] = a(t) - slope * (t - first) as f64 - top;
            }
            self.origin[k] = yb[first];
            self.rate[k] = 2.0 * kappa * h;
            self.slope[k] = if even { slope } else { f64::NAN };
            self.top[k] = top;
        }
        exp_all::<FMA>(&mut self.alpha);
    }

    /// A bound on the largest term `v[j] − κ(x − y[j])²` of block `k`: `top − κu² + 7·max(0, β)`
    /// where the block is evenly spaced, else its largest input less `κ` times its squared
    /// distance from `x`.
    #[inline(always)]
    fn reach(&self, k: usize, x: f64, kappa: f64, block_max: f64, y: &[f64]) -> f64 {
        let u = x - self.origin[k];
        let beta = self.rate[k] * u + self.slope[k];
        if beta.is_nan() {
            let (first, last) = (y[k * BLOCK], y[((k + 1) * BLOCK).min(y.len()) - 1]);
            let gap = (first - x).max(x - last).max(0.0);
            block_max - kappa * gap * gap
        } else {
            self.top[k] - kappa * u * u + (BLOCK - 1) as f64 * beta.max(0.0)
        }
    }

    /// `Σ exp(v[j] − κ(x − y[j])² − m)` over the inputs of blocks `k0..k0 + LANES` whose `|β|`
    /// for `x` is at most [`SLOPE_LIMIT`], and which blocks are left to sum term by term.
    #[inline(always)]
    fn sum<const FMA: bool>(&self, k0: usize, x: f64, kappa: f64, m: f64) -> (f64, [bool; LANES]) {
        #[cfg(target_arch = "x86_64")]
        if FMA {
            // SAFETY: `FMA` is only set by `lse_line_fma`, which runs only on processors with
            // AVX2 and fused multiply-add.
            return unsafe { avx2::sum(self, k0, x, kappa, m) };
        }
        let lanes = |v: &[f64], at: usize| -> [f64; LANES] {
            v[at..at + LANES]
                .try_into()
                .expect("padded to whole vectors")
        };
        let (origin, rate, slope, top) = (
            lanes(&self.origin, k0),
            lanes(&self.rate, k0),
            lanes(&self.slope, k0),
            lanes(&self.top, k0),
        );
        let mut rho = [0.0; LANES];
        let mut scale = [0.0; LANES];
        let mut left = [false; LANES];
        for l in 0..LANES {
            let u = x - origin[l];
            let beta = rate[l] * u + slope[l];
            let ok = beta.abs() <= SLOPE_LIMIT;
            left[l] = !ok;
            rho[l] = exp_clamped::<FMA>(if ok { beta } else { 0.0 });
            scale[l] = if ok {
                exp_clamped::<FMA>(top[l] - kappa * u * u - m)
            } else {
                0.0
            };
        }
        let s = self.stride;
        let mut p = lanes(&self.alpha, (BLOCK - 1) * s + k0);
        for t in (0..BLOCK - 1).rev() {
            let alpha = lanes(&self.alpha, t * s + k0);
            for l in 0..LANES {
                p[l] = if FMA {
                    p[l].mul_add(rho[l], alpha[l])
                } else {
                    p[l] * rho[l] + alpha[l]
                };
            }
        }
        let mut sum = 0.0;
        for l in 0..LANES {
            sum += scale[l] * p[l];
        }
        (sum, left)
    }
}

/// `out[i] = ln Σ_j exp(v[j] − κ(x[i] − y[j])²)·[(x[i] − y[j])² if weighted]`, up to rounding:
/// inputs `v` at increasing positions `y` (`−∞` allowed), outputs at increasing positions `x`.
///
/// Terms are summed relative to each output's largest term `M`, found by the upper envelope of
/// the parabolas `v[j] − κ(· − y[j])²`. A block of inputs whose largest possible term is below
/// `M − θ` is skipped; there are at most `n` skipped terms each below `e^(M − θ)`, or
/// `e^(M − θ)·D²` weighted (`D` the span of positions), while the unweighted sum is at least
/// `e^M`, so with `θ = 40 + ln n` the skipped part is below `e⁻⁴⁰ ≈ 4·10⁻¹⁸` of the sum, and with
/// `θ = 40 + ln(n·(1 + D²))` the weighted sum's is below `e⁻⁴⁰·e^M`, which in the plan cost is
/// below `e⁻⁴⁰` of a unit of cost.
///
/// Unweighted, an output does not test every block: from the block of its largest term it
/// goes outwards while a block further on may pass (by the running maxima of the block maxima
/// beyond it), trims that range at both ends by each block's own, tighter bound
/// ([`Blocks::reach`]), and sums the range [`LANES`] blocks at a time ([`Blocks`]).
fn lse_line(
    x: &[f64],
    y: &[f64],
    v: &[f64],
    kappa: f64,
    weighted: bool,
    work: &mut Work,
    out: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the processor has the features `lse_line_fma` is compiled for.
        unsafe { lse_line_fma(x, y, v, kappa, weighted, work, out) };
        return;
    }
    lse_line_with::<false>(x, y, v, kappa, weighted, work, out);
}

/// [`lse_line`] compiled for processors with AVX2 and fused multiply-add, where a block's
/// exponentials are four to a vector.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn lse_line_fma(
    x: &[f64],
    y: &[f64],
    v: &[f64],
    kappa: f64,
    weighted: bool,
    work: &mut Work,
    out: &mut [f64],
) {
    lse_line_with::<true>(x, y, v, kappa, weighted, work, out);
}

/// [`lse_line`], with fused multiply-adds in the exponential if `FMA`.
#[inline(always)]
fn lse_line_with<const FMA: bool>(
    x: &[f64],
    y: &[f64],
    v: &[f64],
    kappa: f64,
    weighted: bool,
    work: &mut Work,
    out: &mut [f64],
) {
    let n = y.len();
    upper_envelope(x, y, v, kappa, work);
    if work.hull.is_empty() {
        out.fill(f64::NEG_INFINITY);
        return;
    }
    let span = (x[x.len() - 1].max(y[n - 1]) - x[0].min(y[0])).max(0.0);
    let bound = if weighted { 1.0 + span * span } else { 1.0 };
    let theta = 40.0 + (n as f64 * bound).ln();
    let Work {
        max,
        argmax,
        block_max,
        prefix_max,
        suffix_max,
        blocks,
        ..
    } = work;
    block_max.clear();
    block_max.extend(
        v.chunks(BLOCK)
            .map(|c| c.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
    );
    let nb = block_max.len();
    if weighted {
        for (i, (&xi, o)) in x.iter().zip(out.iter_mut()).enumerate() {
            let (m, mut sum) = (max[i], 0.0);
            for (k, &bm) in block_max.iter().enumerate() {
                let (lo, hi) = (k * BLOCK, ((k + 1) * BLOCK).min(n));
                let gap = (y[lo] - xi).max(xi - y[hi - 1]).max(0.0);
                if bm - kappa * gap * gap >= m - theta {
                    sum += direct::<FMA>(k, xi, y, v, kappa, m, weighted);
                }
            }
            *o = m + sum.ln();
        }
        return;
    }
    // Unweighted, each output sums the blocks from its largest term's outwards, up to the first
    // beyond which no block reaches the floor (by the running maxima of the block maxima), with
    // factored sums.
    prefix_max.clear();
    prefix_max.extend(block_max.iter().scan(f64::NEG_INFINITY, |run, &b| {
        *run = run.max(b);
        Some(*run)
    }));
    suffix_max.clear();
    suffix_max.resize(nb, f64::NEG_INFINITY);
    let mut run = f64::NEG_INFINITY;
    for k in (0..nb).rev() {
        run = run.max(block_max[k]);
        suffix_max[k] = run;
    }
    blocks.build::<FMA>(y, v, kappa);
    for (i, (&xi, o)) in x.iter().zip(out.iter_mut()).enumerate() {
        let m = max[i];
        let floor = m - theta;
        let mut hi = argmax[i] / BLOCK;
        let mut lo = hi;
        while hi + 1 < nb {
            let gap = y[(hi + 1) * BLOCK] - xi;
            if gap >= 0.0 && suffix_max[hi + 1] - kappa * gap * gap < floor {
                break;
            }
            hi += 1;
        }
        while lo > 0 {
            let gap = xi - y[lo * BLOCK - 1];
            if gap >= 0.0 && prefix_max[lo - 1] - kappa * gap * gap < floor {
                break;
            }
            lo -= 1;
        }
        // Trimmed at both ends to the blocks that may reach the floor.
        while lo < hi && blocks.reach(lo, xi, kappa, block_max[lo], y) < floor {
            lo += 1;
        }
        while hi > lo && blocks.reach(hi, xi, kappa, block_max[hi], y) < floor {
            hi -= 1;
        }
        let mut sum = 0.0;
        for k0 in (lo..=hi).step_by(LANES) {
            let (part, left) = blocks.sum::<FMA>(k0, xi, kappa, m);
            sum += part;
            for (l, &left) in left.iter().enumerate() {
                let k = k0 + l;
                if left && k <= hi && blocks.reach(k, xi, kappa, block_max[k], y) >= floor {
                    sum += direct::<FMA>(k, xi, y, v, kappa, m, weighted);
                }
            }
        }
        *o = sum;
    }
    ln_add::<FMA>(out, max);
}

/// `out[i] ← m[i] + ln out[i]`, where each `out[i]` is a normal positive number (a line sum
/// relative to its largest term, which is 1).
#[inline(always)]
fn ln_add<const FMA: bool>(out: &mut [f64], m: &[f64]) {
    let mut chunks = out.chunks_exact_mut(LANES);
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if FMA {
        for c in &mut chunks {
            let c: &mut [f64; LANES] = c.try_into().expect("chunks of LANES");
            // SAFETY: as in `Blocks::sum`.
            unsafe { avx2::ln_add(c, &m[done..done + LANES]) };
            done += LANES;
        }
    }
    for (o, m) in out[done..].iter_mut().zip(&m[done..]) {
        *o = m + o.ln();
    }
}

/// The terms of block `k` of a line, one by one.
#[inline(always)]
fn direct<const FMA: bool>(
    k: usize,
    xi: f64,
    y: &[f64],
    v: &[f64],
    kappa: f64,
    m: f64,
    weighted: bool,
) -> f64 {
    let (lo, hi) = (k * BLOCK, ((k + 1) * BLOCK).min(y.len()));
    match (y[lo..hi].try_into(), v[lo..hi].try_into()) {
        (Ok(yb), Ok(vb)) => block_sum::<FMA>(xi, yb, vb, kappa, m, weighted),
        _ => (lo..hi)
            .map(|j| {
                let d2 = (xi - y[j]) * (xi - y[j]);
                let e = exp_clamped::<FMA>(v[j] - kappa * d2 - m);
                if weighted { e * d2 } else { e }
            })
            .sum(),
    }
}

/// `Σ_j exp(v[j] − κ(x − y[j])² − m)·[(x − y[j])² if weighted]` over one full block: the
/// terms are formed in a fixed-size array, where the exponentials vectorise, then summed in
/// order.
#[inline(always)]
fn block_sum<const FMA: bool>(
    x: f64,
    y: &[f64; BLOCK],
    v: &[f64; BLOCK],
    kappa: f64,
    m: f64,
    weighted: bool,
) -> f64 {
    let mut terms = [0.0; BLOCK];
    for j in 0..BLOCK {
        let d2 = (x - y[j]) * (x - y[j]);
        let e = exp_clamped::<FMA>(v[j] - kappa * d2 - m);
        terms[j] = if weighted { e * d2 } else { e };
    }
    terms.iter().sum()
}

/// `eˣ` within 2 ulp of `f64::exp` for `x` in `[−708, 709]`, `e⁻⁷⁰⁸ ≈ 3.3·10⁻³⁰⁸` for smaller `x`
/// (including `−∞`), where the exact value would be below that, and `e⁷⁰⁹` for larger `x`.
/// Branch-free, so that the exponentials of a block vectorise, unlike calls to the C library's
/// `exp`.
///
/// `x = k·ln 2 + r` with `k` the nearest integer to `x/ln 2` (found by adding `1.5·2⁵²`, which
/// leaves `k` in the low bits) and `|r| ≤ ln 2 / 2`, taken in two parts for precision (Cody &
/// Waite); `eʳ` is its Taylor polynomial of degree 13 (truncation below `10⁻¹⁷`), and `2ᵏ` is
/// built from its exponent bits. With `FMA`, Horner's steps are fused multiply-adds (only fast
/// where the processor has them).
#[inline(always)]
fn exp_clamped<const FMA: bool>(x: f64) -> f64 {
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5·2⁵²
    let x = x.clamp(-708.0, 709.0);
    let t = x * std::f64::consts::LOG2_E + SHIFT;
    let k = t - SHIFT;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = INVERSE_FACTORIALS[13];
    for c in INVERSE_FACTORIALS[..13].iter().rev() {
        p = if FMA { p.mul_add(r, *c) } else { p * r + c };
    }
    let bits = t.to_bits().wrapping_sub(SHIFT.to_bits()).wrapping_add(1023) << 52;
    p * f64::from_bits(bits)
}

/// `x ← eˣ` for every `x` of `v` by [`exp_clamped`], except `e^−∞ = 0` exactly.
#[inline(always)]
fn exp_all<const FMA: bool>(v: &mut [f64]) {
    let mut chunks = v.chunks_exact_mut(LANES);
    for c in &mut chunks {
        let c: &mut [f64; LANES] = c.try_into().expect("chunks of LANES");
        #[cfg(target_arch = "x86_64")]
        if FMA {
            // SAFETY: as in `Blocks::sum`.
            unsafe { avx2::exp_all(c) };
            continue;
        }
        for x in c {
            *x = if *x > f64::NEG_INFINITY {
                exp_clamped::<FMA>(*x)
            } else {
                0.0
            };
        }
    }
    for x in chunks.into_remainder() {
        *x = if *x > f64::NEG_INFINITY {
            exp_clamped::<FMA>(*x)
        } else {
            0.0
        };
    }
}

/// ln 2 to 32 bits, so that its products with small integers are exact.
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
/// The rest of ln 2.
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;

/// `1/i!` for `i` in `0..=13`.
const INVERSE_FACTORIALS: [f64; 14] = {
    let mut c = [1.0; 14];
    let mut i = 1;
    while i < 14 {
        c[i] = c[i - 1] / i as f64;
        i += 1;
    }
    c
};

/// `work.max[i] = max_j v[j] − κ(x[i] − y[j])²` over the finite `v[j]`, at `j = work.argmax[i]`, by the upper envelope of
/// the parabolas (Felzenszwalb & Huttenlocher, "Distance transforms of sampled functions"): the
/// envelope's parabolas are left in `work.hull`, empty when no input is finite.
fn upper_envelope(x: &[f64], y: &[f64], v: &[f64], kappa: f64, work: &mut Work) {
    let Work {
        hull,
        from,
        max,
        argmax,
        ..
    } = work;
    hull.clear();
    from.clear();
    // Where parabola q (to the right of p) overtakes p.
    let cross =
        |p: usize, q: usize| 0.5 * (y[p] + y[q]) - (v[q] - v[p]) / (2.0 * kappa * (y[q] - y[p]));
    for q in (0..y.len()).filter(|&q| v[q] > f64::NEG_INFINITY) {
        let mut s = f64::NEG_INFINITY;
        while let Some(&p) = hull.last() {
            s = cross(p, q);
            if s <= *from.last().expect("one start per parabola") {
                hull.pop();
                from.pop();
                s = f64::NEG_INFINITY;
            } else {
                break;
            }
        }
        hull.push(q);
        from.push(s);
    }
    max.clear();
    argmax.clear();
    if hull.is_empty() {
        return;
    }
    let mut k = 0;
    for &xi in x {
        while k + 1 < hull.len() && from[k + 1] <= xi {
            k += 1;
        }
        let p = hull[k];
        max.push(v[p] - kappa * (xi - y[p]) * (xi - y[p]));
        argmax.push(p);
    }
}

/// [`Blocks::sum`] four blocks to a vector, written with AVX2 intrinsics because the compiler
/// does not vectorise the portable version at that width.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256d, _CMP_GT_OQ, _CMP_LE_OQ, _mm256_add_epi64, _mm256_add_pd, _mm256_and_pd,
        _mm256_and_si256, _mm256_andnot_pd, _mm256_castpd_si256, _mm256_castsi256_pd,
        _mm256_cmp_pd, _mm256_div_pd, _mm256_fmadd_pd, _mm256_fnmadd_pd, _mm256_loadu_pd,
        _mm256_max_pd, _mm256_min_pd, _mm256_movemask_pd, _mm256_mul_pd, _mm256_or_si256,
        _mm256_set1_epi64x, _mm256_set1_pd, _mm256_slli_epi64, _mm256_srli_epi64, _mm256_storeu_pd,
        _mm256_sub_epi64, _mm256_sub_pd,
    };

    use super::{BLOCK, Blocks, INVERSE_FACTORIALS, LANES, LN2_HI, LN2_LO, SLOPE_LIMIT};

    /// Four lanes from `v[at..at + 4]`.
    #[inline(always)]
    fn load(v: &[f64], at: usize) -> __m256d {
        let lanes: &[f64; LANES] = v[at..at + LANES]
            .try_into()
            .expect("padded to whole vectors");
        // SAFETY: `lanes` holds the four values read.
        unsafe { _mm256_loadu_pd(lanes.as_ptr()) }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn sum(b: &Blocks, k0: usize, x: f64, kappa: f64, m: f64) -> (f64, [bool; LANES]) {
        let u = _mm256_sub_pd(_mm256_set1_pd(x), load(&b.origin, k0));
        let beta = _mm256_fmadd_pd(load(&b.rate, k0), u, load(&b.slope, k0));
        let sign = _mm256_set1_pd(-0.0);
        let ok =
            _mm256_cmp_pd::<_CMP_LE_OQ>(_mm256_andnot_pd(sign, beta), _mm256_set1_pd(SLOPE_LIMIT));
        let rho = exp(_mm256_and_pd(ok, beta));
        let exponent = _mm256_fnmadd_pd(
            _mm256_mul_pd(_mm256_set1_pd(kappa), u),
            u,
            _mm256_sub_pd(load(&b.top, k0), _mm256_set1_pd(m)),
        );
        let scale = _mm256_and_pd(ok, exp(exponent));
        let s = b.stride;
        let mut p = load(&b.alpha, (BLOCK - 1) * s + k0);
        for t in (0..BLOCK - 1).rev() {
            p = _mm256_fmadd_pd(p, rho, load(&b.alpha, t * s + k0));
        }
        let mut terms = [0.0; LANES];
        // SAFETY: `terms` has room for the four lanes written.
        unsafe { _mm256_storeu_pd(terms.as_mut_ptr(), _mm256_mul_pd(scale, p)) };
        let mask = _mm256_movemask_pd(ok);
        let left = std::array::from_fn(|l| mask & (1 << l) == 0);
        (terms.iter().sum(), left)
    }

    /// [`super::exp_all`] on four values.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn exp_all(v: &mut [f64; LANES]) {
        let x = load(v, 0);
        let finite = _mm256_cmp_pd::<_CMP_GT_OQ>(x, _mm256_set1_pd(f64::NEG_INFINITY));
        // SAFETY: `v` has room for the four lanes written.
        unsafe { _mm256_storeu_pd(v.as_mut_ptr(), _mm256_and_pd(finite, exp(x))) };
    }

    /// [`super::ln_add`] on four values.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn ln_add(out: &mut [f64; LANES], m: &[f64]) {
        let x = _mm256_add_pd(load(m, 0), ln(load(out, 0)));
        // SAFETY: `out` has room for the four lanes written.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), x) };
    }

    /// `ln x` for normal positive `x`, within 2 ulp: `x = 2ᵏ·f` with `f` in `[√½, √2)`, and
    /// `ln f = 2·atanh s = 2(s + s³/3 + … + s¹⁹/19)` with `s = (f − 1)/(f + 1)`, `|s| ≤ 0.172`
    /// (truncation below `10⁻¹⁷`).
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn ln(x: __m256d) -> __m256d {
        const SQRT_HALF_BITS: i64 = 0x3fe6_a09e_667f_3bcd; // √½
        const ONE_BITS: i64 = 0x3ff0_0000_0000_0000;
        const MANTISSA: i64 = 0x000f_ffff_ffff_ffff;
        const TWO_52_BITS: i64 = 0x4330_0000_0000_0000; // 2⁵²
        let u = _mm256_add_epi64(
            _mm256_castpd_si256(x),
            _mm256_set1_epi64x(ONE_BITS - SQRT_HALF_BITS),
        );
        // k + 1023 in the low bits of 2⁵², then k.
        let biased = _mm256_or_si256(_mm256_srli_epi64::<52>(u), _mm256_set1_epi64x(TWO_52_BITS));
        let k = _mm256_sub_pd(
            _mm256_castsi256_pd(biased),
            _mm256_set1_pd(4_503_599_627_371_519.0), // 2⁵² + 1023
        );
        let f = _mm256_castsi256_pd(_mm256_add_epi64(
            _mm256_and_si256(u, _mm256_set1_epi64x(MANTISSA)),
            _mm256_set1_epi64x(SQRT_HALF_BITS),
        ));
        let one = _mm256_set1_pd(1.0);
        let s = _mm256_div_pd(_mm256_sub_pd(f, one), _mm256_add_pd(f, one));
        let z = _mm256_mul_pd(s, s);
        let mut p = _mm256_set1_pd(2.0 / 19.0);
        for d in [17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0] {
            p = _mm256_fmadd_pd(p, z, _mm256_set1_pd(2.0 / d));
        }
        // ln f = 2s + s·z·p, then k·ln 2 in two parts.
        let lnf = _mm256_fmadd_pd(_mm256_mul_pd(s, z), p, _mm256_add_pd(s, s));
        let lo = _mm256_fmadd_pd(k, _mm256_set1_pd(LN2_LO), lnf);
        _mm256_fmadd_pd(k, _mm256_set1_pd(LN2_HI), lo)
    }

    /// [`super::exp_clamped`] on four lanes.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn exp(x: __m256d) -> __m256d {
        const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5·2⁵²
        let x = _mm256_min_pd(
            _mm256_max_pd(x, _mm256_set1_pd(-708.0)),
            _mm256_set1_pd(709.0),
        );
        let t = _mm256_fmadd_pd(
            x,
            _mm256_set1_pd(std::f64::consts::LOG2_E),
            _mm256_set1_pd(SHIFT),
        );
        let k = _mm256_sub_pd(t, _mm256_set1_pd(SHIFT));
        let r = _mm256_fnmadd_pd(k, _mm256_set1_pd(LN2_HI), x);
        let r = _mm256_fnmadd_pd(k, _mm256_set1_pd(LN2_LO), r);
        let mut p = _mm256_set1_pd(INVERSE_FACTORIALS[13]);
        for c in INVERSE_FACTORIALS[..13].iter().rev() {
            p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(*c));
        }
        let shift = _mm256_set1_epi64x(SHIFT.to_bits() as i64);
        let bits = _mm256_slli_epi64::<52>(_mm256_add_epi64(
            _mm256_sub_epi64(_mm256_castpd_si256(t), shift),
            _mm256_set1_epi64x(1023),
        ));
        _mm256_mul_pd(p, _mm256_castsi256_pd(bits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ln Σ_j exp(v_j − κ(x − y_j)²)·[(x − y_j)²]`, every term, plainly.
    fn plain(x: f64, y: &[f64], v: &[f64], kappa: f64, weighted: bool) -> f64 {
        let terms: Vec<f64> = (0..y.len())
            .map(|j| {
                let d2 = (x - y[j]) * (x - y[j]);
                v[j] - kappa * d2 + if weighted { d2.ln() } else { 0.0 }
            })
            .collect();
        let m = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            return m;
        }
        m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln()
    }

    #[test]
    fn line_sums_equal_the_plain_sums() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for case in 0..400 {
            let (n, m) = (1 + case % 37, 1 + (case * 7) % 41);
            // Irregular positions, or evenly spaced ones as on pixel grids and their blocks
            // (where the blocks' sums are factored).
            let even = case % 2 == 1;
            let mut pos = |k: usize, step: f64| -> Vec<f64> {
                let mut t = -5.0 * next();
                (0..k)
                    .map(|j| {
                        if even {
                            (t * 4.0).round() / 4.0 + j as f64 * step
                        } else {
                            t += step * (0.2 + next());
                            t
                        }
                    })
                    .collect()
            };
            let (x, y) = (pos(n, 1.0), pos(m, [1.0, 0.5, 2.0, 4.0][case / 2 % 4]));
            let kappa = [0.01, 0.3, 1.0, 25.0][case % 4];
            let spread = [1.0, 50.0, 5000.0][case % 3];
            // Noise, or a steep smooth potential such as transport gives (where the slopes of
            // distant blocks are large).
            let (slope, bend) = if case % 5 < 2 {
                (0.0, 0.0)
            } else {
                (spread * (next() - 0.5), kappa * (next() - 0.3))
            };
            let v: Vec<f64> = (0..m)
                .map(|j| {
                    if (case + j) % 5 == 0 {
                        f64::NEG_INFINITY
                    } else if slope != 0.0 {
                        slope * y[j] + bend * y[j] * y[j] + next()
                    } else {
                        spread * (next() - 0.5)
                    }
                })
                .collect();
            // The line as dispatched, and the portable variant whatever this processor has.
            type Line = fn(&[f64], &[f64], &[f64], f64, bool, &mut Work, &mut [f64]);
            let lines: [Line; 2] = [lse_line, lse_line_with::<false>];
            for (weighted, line) in [false, true]
                .into_iter()
                .flat_map(|w| lines.map(|l| (w, l)))
            {
                let mut out = vec![0.0; n];
                line(&x, &y, &v, kappa, weighted, &mut Work::default(), &mut out);
                for i in 0..n {
                    let want = plain(x[i], &y, &v, kappa, weighted);
                    // A weighted sum is exact to 10⁻¹² relative, or to 10⁻¹⁶ of the unweighted
                    // one (all the plan cost needs) where it is far smaller.
                    let unweighted = plain(x[i], &y, &v, kappa, false);
                    let ok = if unweighted == f64::NEG_INFINITY {
                        out[i] == unweighted
                    } else {
                        let close = (out[i] - want).abs() <= 1e-12 * want.abs().max(1.0);
                        let (got, small) = ((out[i] - unweighted).exp(), (want - unweighted).exp());
                        close || (weighted && (got - small).abs() <= 1e-16)
                    };
                    assert!(
                        ok,
                        "case {case} weighted {weighted} output {i}: {} vs {want}",
                        out[i]
                    );
                }
            }
        }
    }

    #[test]
    fn the_exponential_is_within_two_ulp_of_the_library_one() {
        // The scalar variants, and the vector one four at a time where the processor has it.
        let vector = |x: f64| -> f64 {
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                let mut v = [x, 0.0, x, -1.0];
                // SAFETY: the processor has the features checked above.
                unsafe { avx2::exp_all(&mut v) };
                assert_eq!((v[1], v[3]), (1.0, (-1.0f64).exp()));
                assert_eq!(v[0].to_bits(), v[2].to_bits());
                if x == f64::NEG_INFINITY {
                    // `exp_all` gives exactly 0 there; the common checks below are the scalar's.
                    assert_eq!(v[0], 0.0);
                    return exp_clamped::<false>(x);
                }
                return v[0];
            }
            exp_clamped::<false>(x)
        };
        let exps: [&dyn Fn(f64) -> f64; 3] = [&exp_clamped::<false>, &exp_clamped::<true>, &vector];
        for exp in exps {
            let mut worst: f64 = 0.0;
            for k in 0..=2_000_000 {
                // From −708 to 709, and the points at multiples of ln 2 / 2, where `r` is largest.
                let x = -708.0 + 1417.0 * f64::from(k) / 2e6;
                let half = 0.5 * std::f64::consts::LN_2;
                for x in [x, (x / half).round() * half] {
                    if (-708.0..=709.0).contains(&x) {
                        worst = worst.max((exp(x) - x.exp()).abs() / x.exp());
                    }
                }
            }
            assert!(worst <= 2.0 * f64::EPSILON, "relative error {worst:e}");
            for x in [-708.5, -1e4, f64::NEG_INFINITY] {
                let e = exp(x);
                assert!(e > 0.0 && e < 3.4e-308, "e^{x} gave {e:e}");
            }
            assert_eq!(exp(0.0), 1.0);
            assert_eq!(exp(800.0), exp(709.0));
        }
        assert!(exp_clamped::<false>(f64::NAN).is_nan());
    }

    #[test]
    fn the_vector_logarithm_is_within_two_ulp_of_the_library_one() {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            let mut worst: f64 = 0.0;
            let mut check = |x: [f64; LANES]| {
                let mut out = x;
                // SAFETY: the processor has the features checked above.
                unsafe { avx2::ln_add(&mut out, &[0.0, 1.0, -2.0, 1e4]) };
                for (l, (&x, o)) in x.iter().zip(out).enumerate() {
                    let want = x.ln();
                    let got = o - [0.0, 1.0, -2.0, 1e4][l];
                    if l == 0 {
                        worst = worst.max((o - want).abs() / want.abs().max(f64::MIN_POSITIVE));
                    } else {
                        assert!((got - want).abs() <= 1e-12 * want.abs().max(1.0));
                    }
                }
            };
            // Across the binades, and densely where ln x is near 0 and at the ends of [√½, √2).
            for k in 0..=200_000 {
                let t = f64::from(k) / 200_000.0;
                check([(2.0f64).powf(-1020.0 + 2040.0 * t); 4]);
                check([0.5 + 1.5 * t; 4]);
                check([1.0 + 1e-6 * (t - 0.5); 4]);
            }
            let sqrt_half = std::f64::consts::FRAC_1_SQRT_2;
            for x in [
                1.0,
                2.0,
                sqrt_half,
                2.0 * sqrt_half,
                f64::MIN_POSITIVE,
                f64::MAX,
            ] {
                check([x; 4]);
            }
            assert!(worst <= 2.0 * f64::EPSILON, "relative error {worst:e}");
        }
    }

    #[test]
    fn a_line_without_weight_gives_minus_infinity() {
        let (x, y) = ([0.0, 1.0], [0.0, 2.0, 3.0]);
        let mut out = [0.0; 2];
        lse_line(
            &x,
            &y,
            &[f64::NEG_INFINITY; 3],
            1.0,
            false,
            &mut Work::default(),
            &mut out,
        );
        assert_eq!(out, [f64::NEG_INFINITY; 2]);
    }
}
