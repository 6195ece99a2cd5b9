//! The soft c-transform on a grid: separable log-sum-exp passes along rows and columns, each
//! output summing only the terms that matter, with vectorised exponentials.

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

/// Inputs per block of the skipping test.
const BLOCK: usize = 8;

/// Scratch space of [`lse_line`].
#[derive(Debug, Default)]
struct Work {
    /// The parabolas of the upper envelope, by input index.
    hull: Vec<usize>,
    /// Where each parabola of the envelope starts to dominate.
    from: Vec<f64>,
    /// The largest term of each output.
    max: Vec<f64>,
    /// The largest input of each block.
    block_max: Vec<f64>,
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
    work.block_max.clear();
    work.block_max.extend(
        v.chunks(BLOCK)
            .map(|c| c.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
    );
    for (i, (&xi, o)) in x.iter().zip(out.iter_mut()).enumerate() {
        let m = work.max[i];
        let floor = m - theta;
        let mut sum = 0.0;
        for (k, &bm) in work.block_max.iter().enumerate() {
            let (lo, hi) = (k * BLOCK, ((k + 1) * BLOCK).min(n));
            let gap = (y[lo] - xi).max(xi - y[hi - 1]).max(0.0);
            if bm - kappa * gap * gap < floor {
                continue;
            }
            sum += match (y[lo..hi].try_into(), v[lo..hi].try_into()) {
                (Ok(yb), Ok(vb)) => block_sum::<FMA>(xi, yb, vb, kappa, m, weighted),
                _ => (lo..hi)
                    .map(|j| {
                        let d2 = (xi - y[j]) * (xi - y[j]);
                        let e = exp_nonpositive::<FMA>(v[j] - kappa * d2 - m);
                        if weighted { e * d2 } else { e }
                    })
                    .sum(),
            };
        }
        *o = m + sum.ln();
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
        let e = exp_nonpositive::<FMA>(v[j] - kappa * d2 - m);
        terms[j] = if weighted { e * d2 } else { e };
    }
    terms.iter().sum()
}

/// `eˣ` for the terms of a line sum, which are at most about 0 (their largest is 0 up to
/// rounding): within 2 ulp of `f64::exp` for `x` in `[−708, 1]`, `e⁻⁷⁰⁸ ≈ 3.3·10⁻³⁰⁸` for smaller `x`
/// (including `−∞`), where the exact value would be below that. Branch-free, so that a block of
/// terms vectorises, unlike calls to the C library's `exp`.
///
/// `x = k·ln 2 + r` with `k` the nearest integer to `x/ln 2` (found by adding `1.5·2⁵²`, which
/// leaves `k` in the low bits) and `|r| ≤ ln 2 / 2`, taken in two parts for precision (Cody &
/// Waite); `eʳ` is its Taylor polynomial of degree 13 (truncation below `10⁻¹⁷`), and `2ᵏ` is
/// built from its exponent bits. With `FMA`, Horner's steps are fused multiply-adds (only fast
/// where the processor has them).
#[inline(always)]
fn exp_nonpositive<const FMA: bool>(x: f64) -> f64 {
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5·2⁵²
    const LN2_HI: f64 = 6.931_471_803_691_238e-1; // ln 2 to 32 bits
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10; // the rest
    let x = x.clamp(-708.0, 1.0);
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

/// `work.max[i] = max_j v[j] − κ(x[i] − y[j])²` over the finite `v[j]`, by the upper envelope of
/// the parabolas (Felzenszwalb & Huttenlocher, "Distance transforms of sampled functions"): the
/// envelope's parabolas are left in `work.hull`, empty when no input is finite.
fn upper_envelope(x: &[f64], y: &[f64], v: &[f64], kappa: f64, work: &mut Work) {
    let Work {
        hull, from, max, ..
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
        for case in 0..200 {
            let (n, m) = (1 + case % 37, 1 + (case * 7) % 41);
            let mut pos = |k: usize, step: f64| -> Vec<f64> {
                let mut t = -5.0 * next();
                (0..k)
                    .map(|_| {
                        t += step * (0.2 + next());
                        t
                    })
                    .collect()
            };
            let (x, y) = (pos(n, 1.0), pos(m, 1.3));
            let kappa = [0.01, 0.3, 1.0, 25.0][case % 4];
            let spread = [1.0, 50.0, 5000.0][case % 3];
            let v: Vec<f64> = (0..m)
                .map(|j| {
                    if (case + j) % 5 == 0 {
                        f64::NEG_INFINITY
                    } else {
                        spread * (next() - 0.5)
                    }
                })
                .collect();
            // The line as dispatched, and both variants whatever this processor has.
            type Line = fn(&[f64], &[f64], &[f64], f64, bool, &mut Work, &mut [f64]);
            let lines: [Line; 3] = [lse_line, lse_line_with::<false>, lse_line_with::<true>];
            for (weighted, line) in [false, true]
                .into_iter()
                .flat_map(|w| lines.map(|l| (w, l)))
            {
                let mut out = vec![0.0; n];
                line(&x, &y, &v, kappa, weighted, &mut Work::default(), &mut out);
                for i in 0..n {
                    let want = plain(x[i], &y, &v, kappa, weighted);
                    let ok = if want == f64::NEG_INFINITY {
                        out[i] == want
                    } else {
                        (out[i] - want).abs() <= 1e-12 * want.abs().max(1.0)
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
        for exp in [exp_nonpositive::<false>, exp_nonpositive::<true>] {
            let mut worst: f64 = 0.0;
            for k in 0..=2_000_000 {
                // From −708 to 1, and the points at multiples of ln 2 / 2, where `r` is largest.
                let x = -708.0 + 709.0 * f64::from(k) / 2e6;
                let half = 0.5 * std::f64::consts::LN_2;
                for x in [x, (x / half).round() * half] {
                    if (-708.0..=1.0).contains(&x) {
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
            assert!(exp(f64::NAN).is_nan());
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
