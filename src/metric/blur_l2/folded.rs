//! The truncated Gaussian folded onto one period of the reflecting boundary, for kernels too
//! wide to materialise.
//!
//! The reflection `… d c b a | a b c d | d c b a …` of a line of `n` cells has period `h = 2n`,
//! so filtering with the normalised taps `w(k)`, `|k| ≤ R`, is the same as filtering with the
//! `h` folded weights `S[r] = Σ_{k ≡ r (mod h)} w(k)`:
//! `out[i] = Σ_{r<h} S[r] · x[reflect(i + r)]`. The folded weights sum to 1, and the constant part
//! `1/h` of `S` maps every cell to the mean of the line (each cell is met twice in a period), so
//! the filter is `x ↦ mean(x) + D x` where `D` has the weights `δ[r] = S[r] − 1/h`, which sum to
//! 0. As σ grows `δ` shrinks towards 0 while the mean stays, so `δ` is computed on its own,
//! accurate relative to its own size, never as the small difference of two close numbers:
//!
//! - σ < n (the kernel is far from flat over a period): the `2R + 1 ≤ 8n + 3` taps are folded
//!   directly and `1/h` subtracted.
//! - σ ≥ n: with the untruncated Gaussian `g(k) = exp(−k²/2σ²)`, `Z = Σ_{|k|≤R} g(k)` and the
//!   class sums `U[r] = Σ_{|k|≤R, k≡r} g(k)`, `δ[r] = (U[r] − Ū)/Z`. `U[r]` is the class sum of
//!   the whole Gaussian, whose variation over `r` follows from Poisson summation
//!   (`(σ√(2π)/h) · 2 Σ_{q≥1} exp(−2π²σ²q²/h²) cos(2πqr/h)`, below 10⁻³⁰⁰ once σ > 6h), minus
//!   the class sums `T[r]` of the two cut-off tails `|k| > R`. The tail's variation over `r` is
//!   the truncation ripple that carries the whole value when σ ≫ n: summed term by term while
//!   σ < 16h (about 7σ terms), beyond that by the Euler–Maclaurin formula with shifted Bernoulli
//!   polynomials, whose terms fall like `(0.64 h/σ)^j`.
//!
//! `δ` can fall far below the smallest normal number (σ = 10³⁰⁰ gives about 10⁻³⁰⁴), so it is
//! kept as `taps · 2^exp` with taps of order one, and σ² is never formed.

use std::f64::consts::PI;
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::{TRUNCATE, gaussian_kernel};

/// From this many standard deviations per period on, the tail ripple comes from the
/// Euler–Maclaurin formula instead of a term-by-term sum.
const EM_FROM: f64 = 16.0;

/// Lines of a period up to this length are filtered by direct sums, longer ones through FFTs.
const DIRECT_PERIOD: usize = 64;

/// The scale of a ripple that is exactly 0: far below any other, so that combining scales
/// never picks it.
const NO_SCALE: i32 = -100_000;

/// `D` for one axis: `δ[r] = taps[r] · 2^exp`, `r < 2n`.
#[derive(Debug, Clone)]
pub(super) struct Ripple {
    /// The scaled weights, of order one (all zero for a line of one cell, where the filter is
    /// the identity).
    pub taps: Vec<f64>,
    /// The power of two that scales them.
    pub exp: i32,
}

impl Ripple {
    /// No ripple: the filter is the line mean. Its scale is below any other's.
    fn zero(h: usize) -> Ripple {
        Ripple {
            taps: vec![0.0; h],
            exp: NO_SCALE,
        }
    }

    /// `D` for a line of `n` cells and the Gaussian of standard deviation `sigma` cells.
    pub fn new(n: usize, sigma: f64) -> Ripple {
        let h = 2 * n;
        if n == 1 {
            // Every tap lands on the one cell: the filter is the identity, the mean.
            return Ripple::zero(2);
        }
        if sigma < n as f64 {
            let kernel = gaussian_kernel(sigma);
            let radius = kernel.len() / 2;
            let mut folded = vec![0.0; h];
            for (k, w) in kernel.iter().enumerate() {
                // Offset k − R, taken modulo h.
                folded[(k + h - radius % h) % h] += w;
            }
            let flat = 1.0 / h as f64;
            return Ripple {
                taps: folded.into_iter().map(|s| s - flat).collect(),
                exp: 0,
            };
        }
        // a = R + 1 is the first cut-off tap; u = a/σ ≈ 4.
        let (cut, u) = radius_mod(sigma, h);
        let ga = (-0.5 * u * u).exp();
        let (tail_ripple, tail_over_sigma) = if sigma < EM_FROM * h as f64 {
            tail_by_terms(h, sigma, ga)
        } else {
            tail_by_euler_maclaurin(h, sigma, u, ga)
        };
        // Z/σ = Σ_{k∈ℤ} g(k)/σ − 2 (tail)/σ, the first by Poisson summation with period 1.
        let z_over_sigma =
            (2.0 * PI).sqrt() * (1.0 + 2.0 * poisson_sum(sigma, |_| 1.0)) - 2.0 * tail_over_sigma;
        // The whole Gaussian's class sums vary only while σ is not large against the period.
        let period_ratio = sigma / h as f64;
        let whole = |r: usize| {
            let angle = |q: usize| 2.0 * PI * ((q * r) % h) as f64 / h as f64;
            (2.0 * PI).sqrt() * period_ratio * 2.0 * poisson_sum(period_ratio, |q| angle(q).cos())
        };
        // (U[r] − Ū)/(Z/σ). The right tail of class r starts at offset (r − a) mod h past the
        // cut, the mirrored left one at (−r − a) mod h.
        let scaled: Vec<f64> = (0..h)
            .map(|r| {
                let right = (r + 2 * h - cut - 1) % h;
                let left = (2 * h - r - cut - 1) % h;
                (whole(r) - tail_ripple[right] - tail_ripple[left]) / z_over_sigma
            })
            .collect();
        // δ = scaled / σ, kept as taps · 2^exp.
        let top = scaled.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if top == 0.0 {
            return Ripple::zero(h);
        }
        let (top_exp, sigma_exp) = (exponent(top), exponent(sigma));
        let sigma_mantissa = scale(sigma, -sigma_exp);
        let taps = scaled
            .iter()
            .map(|v| v * two_to(-top_exp) / sigma_mantissa)
            .collect();
        Ripple {
            taps,
            exp: top_exp - sigma_exp,
        }
    }
}

/// `R mod h` and `(R + 1)/σ` for scipy's radius `R = ⌊4σ + ½⌋` (evaluated in floating point, as
/// scipy does), also where `4σ` overflows (there `R = 4σ`, an integer).
fn radius_mod(sigma: f64, h: usize) -> (usize, f64) {
    let radius = (TRUNCATE * sigma + 0.5).floor();
    let hf = h as f64;
    if radius.is_finite() {
        // `%` on floats is exact.
        ((radius % hf) as usize, radius / sigma + 1.0 / sigma)
    } else {
        (((TRUNCATE * (sigma % hf)) % hf) as usize, TRUNCATE)
    }
}

/// `Σ_{q≥1} exp(−2π²s²q²) · f(q)`: the terms that Poisson summation adds for a Gaussian of
/// standard deviation `s` periods.
fn poisson_sum(s: f64, f: impl Fn(usize) -> f64) -> f64 {
    let mut sum = 0.0;
    for q in 1.. {
        let e = -2.0 * PI * PI * (s * q as f64).powi(2);
        if e < -745.0 {
            break;
        }
        sum += e.exp() * f(q);
    }
    sum
}

/// The ripple `τ(t) − mean τ` of the right tail's class sums `τ(t) = Σ_{m≥0} g(a + t + mh)`,
/// `t < h`, and the whole tail `Σ_{k≥a} g(k)` over σ, summed term by term (σ < 16h, so `a` is
/// exact and about 7σ terms reach below 10⁻²² of the first).
fn tail_by_terms(h: usize, sigma: f64, ga: f64) -> (Vec<f64>, f64) {
    let first = (TRUNCATE * sigma + 0.5).floor() + 1.0;
    let mut sums = vec![0.0; h];
    let mut k = 0usize;
    loop {
        let x = (first + k as f64) / sigma;
        let g = (-0.5 * x * x).exp();
        sums[k % h] += g;
        k += 1;
        if g < 1e-22 * ga && k >= h {
            break;
        }
    }
    let total = super::accurate_sum(sums.iter().copied());
    let mean = total / h as f64;
    (sums.iter().map(|s| s - mean).collect(), total / sigma)
}

/// As [`tail_by_terms`], by the Euler–Maclaurin formula for a sum over `θ + m`, `θ = t/h`:
/// `Σ_{m≥0} f(m + θ) = ∫_0^∞ f − Σ_{j≥1} B_j(θ)/j! · f^{(j−1)}(0)`, applied to
/// `f(s) = g(a + s h)`. Averaged over the `h` offsets, `B_j(t/h)` becomes `h^{−j} B_j`
/// (multiplication theorem) and the integral drops out of the ripple:
/// `τ(t) − τ̄ = −g(a) Σ_j (−h/σ)^{j−1} He_{j−1}(a/σ) [B_j(t/h) − h^{−j} B_j] / j!`
/// with the Hermite polynomials `He` of the Gaussian's derivatives. The whole tail is the same
/// formula with period 1, plus the integral `σ √(π/2) erfc(a/σ√2)`.
fn tail_by_euler_maclaurin(h: usize, sigma: f64, u: f64, ga: f64) -> (Vec<f64>, f64) {
    let hf = h as f64;
    // c[j] = (−h/σ)^{j−1} He_{j−1}(u)/j! for j ≥ 1, until the bound on |c_j B_j(θ)| (|B_j(θ)|
    // ≤ 4 j!/(2π)^j) has stayed below 10⁻²⁰ for two orders.
    let ratio = hf / sigma;
    let mut coeff = vec![0.0];
    let (mut he_prev, mut he) = (0.0, 1.0); // He_{m−1}, He_m at m = 0
    let (mut power, mut factorial) = (1.0, 1.0);
    let mut small = 0;
    for j in 1..BERNOULLI.len() {
        factorial *= j as f64;
        let c = power * he / factorial;
        coeff.push(if j % 2 == 1 { c } else { -c });
        let bound = (power * he).abs() * 4.0 / (2.0 * PI).powi(j as i32);
        small = if bound < 1e-20 { small + 1 } else { 0 };
        if small == 2 {
            break;
        }
        // He_{m+1} = u He_m − m He_{m−1}, m = j − 1.
        (he_prev, he) = (he, u * he - (j - 1) as f64 * he_prev);
        power *= ratio;
    }
    let order = coeff.len() - 1;
    let ripple = (0..h)
        .map(|t| {
            let theta = t as f64 / hf;
            let sum: f64 = (1..=order)
                .map(|j| coeff[j] * (bernoulli_poly(j, theta) - BERNOULLI[j] / hf.powi(j as i32)))
                .sum();
            -ga * sum
        })
        .collect();
    // Period 1: Σ_{k≥a} g(k) = ∫_a^∞ g + g(a)/2 − Σ_{j≥2} B_j/j! g^{(j−1)}(a), over σ.
    let mut correction = 0.5;
    let (mut he_prev, mut he) = (1.0, u); // He_0, He_1
    let (mut power, mut factorial) = (1.0 / sigma, 2.0);
    for (j, bernoulli) in BERNOULLI.iter().enumerate().skip(2) {
        // g^{(j−1)} = (−1/σ)^{j−1} He_{j−1} g; only even j contribute, where (−1)^{j−1} = −1.
        let term = bernoulli / factorial * power * he;
        correction += term;
        if j % 2 == 0 && term.abs() < 1e-20 {
            break;
        }
        (he_prev, he) = (he, u * he - (j - 1) as f64 * he_prev);
        factorial *= (j + 1) as f64;
        power /= sigma;
    }
    let integral = (PI / 2.0).sqrt() * libm::erfc(u / 2f64.sqrt());
    (ripple, integral + ga / sigma * correction)
}

/// Bernoulli numbers `B_0 … B_24` (`B_1 = −1/2`).
const BERNOULLI: [f64; 25] = [
    1.0,
    -0.5,
    1.0 / 6.0,
    0.0,
    -1.0 / 30.0,
    0.0,
    1.0 / 42.0,
    0.0,
    -1.0 / 30.0,
    0.0,
    5.0 / 66.0,
    0.0,
    -691.0 / 2730.0,
    0.0,
    7.0 / 6.0,
    0.0,
    -3617.0 / 510.0,
    0.0,
    43867.0 / 798.0,
    0.0,
    -174611.0 / 330.0,
    0.0,
    854513.0 / 138.0,
    0.0,
    -236364091.0 / 2730.0,
];

/// The Bernoulli polynomial `B_j(θ) = Σ_k C(j, k) B_k θ^{j−k}`.
fn bernoulli_poly(j: usize, theta: f64) -> f64 {
    let mut binomial = 1.0;
    let mut sum = 0.0;
    for (k, b) in BERNOULLI.iter().enumerate().take(j + 1) {
        sum += binomial * b * theta.powi((j - k) as i32);
        binomial = binomial * (j - k) as f64 / (k + 1) as f64;
    }
    sum
}

/// The binary exponent of a positive finite `x`: `x = m · 2^e`, `1 ≤ m < 2`.
fn exponent(x: f64) -> i32 {
    let e = ((x.to_bits() >> 52) & 0x7ff) as i32;
    if e == 0 {
        // Subnormal: scale into the normal range first.
        exponent(x * two_to(64)) - 64
    } else {
        e - 1023
    }
}

/// `2^e` for `e` in the normal range.
fn two_to(e: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&e));
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// `x · 2^e` for any `e`, rounded as a product would be (0 far below the subnormals, ∞ far
/// above).
pub(super) fn scale(x: f64, e: i32) -> f64 {
    let mut x = x;
    // Past ±2300 the result is 0 or ∞ (or x = 0) either way.
    let mut e = e.clamp(-2300, 2300);
    while e > 1000 {
        x *= two_to(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= two_to(-1000);
        e += 1000;
    }
    x * two_to(e)
}

/// Applies `D` to lines of `n` cells: `out[i] = Σ_{r<h} taps[r] · x[reflect(i + r)]`.
pub(super) struct LineFilter {
    n: usize,
    taps: Vec<f64>,
    fft: Option<Fft>,
}

/// The FFT route: `D` is a circular correlation of length `h` with the reflected line.
struct Fft {
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    /// The kernel's spectrum over `h` (the inverse transform is not normalised). The folded
    /// kernel is symmetric, `S[r] = S[h − r]`, so its spectrum is real.
    spectrum: Vec<f64>,
}

/// Buffers one thread reuses from line to line.
pub(super) struct Scratch {
    line: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    fft: Vec<Complex<f64>>,
}

impl LineFilter {
    /// The filter of the weights `taps` (length `2n`).
    pub fn new(taps: &[f64]) -> LineFilter {
        let h = taps.len();
        let n = h / 2;
        let fft = (h > DIRECT_PERIOD).then(|| {
            let mut planner = RealFftPlanner::<f64>::new();
            let forward = planner.plan_fft_forward(h);
            let inverse = planner.plan_fft_inverse(h);
            let mut input = taps.to_vec();
            let mut out = forward.make_output_vec();
            forward
                .process(&mut input, &mut out)
                .expect("buffers made by the plan");
            let spectrum = out.iter().map(|c| c.re / h as f64).collect();
            Fft {
                forward,
                inverse,
                spectrum,
            }
        });
        LineFilter {
            n,
            taps: taps.to_vec(),
            fft,
        }
    }

    /// Buffers for [`LineFilter::apply`].
    pub fn scratch(&self) -> Scratch {
        let h = self.taps.len();
        let (spectrum, fft) = match &self.fft {
            Some(f) => (
                f.forward.make_output_vec(),
                vec![
                    Complex::default();
                    f.forward.get_scratch_len().max(f.inverse.get_scratch_len())
                ],
            ),
            None => (Vec::new(), Vec::new()),
        };
        Scratch {
            line: vec![0.0; h + self.n],
            spectrum,
            fft,
        }
    }

    /// `out = D x` for a line `x` of `n` cells.
    pub fn apply(&self, x: &[f64], out: &mut [f64], s: &mut Scratch) {
        let (n, h) = (self.n, self.taps.len());
        debug_assert!(x.len() == n && out.len() == n);
        // One period of the reflected line, `x` then `x` reversed.
        s.line[..n].copy_from_slice(x);
        for (m, v) in s.line[n..h].iter_mut().zip(x.iter().rev()) {
            *m = *v;
        }
        match &self.fft {
            None => {
                // Continue the period so that every window `i..i + h` is contiguous.
                let (period, rest) = s.line.split_at_mut(h);
                rest.copy_from_slice(&period[..n]);
                for (i, o) in out.iter_mut().enumerate() {
                    *o = self
                        .taps
                        .iter()
                        .zip(&s.line[i..i + h])
                        .map(|(w, v)| w * v)
                        .sum();
                }
            }
            Some(f) => {
                let line = &mut s.line[..h];
                f.forward
                    .process_with_scratch(line, &mut s.spectrum, &mut s.fft)
                    .expect("buffers made by the plan");
                for (c, k) in s.spectrum.iter_mut().zip(&f.spectrum) {
                    *c *= *k;
                }
                // The first and last bins of a real line's spectrum are real.
                s.spectrum[0].im = 0.0;
                s.spectrum[h / 2].im = 0.0;
                f.inverse
                    .process_with_scratch(&mut s.spectrum, line, &mut s.fft)
                    .expect("buffers made by the plan");
                out.copy_from_slice(&line[..n]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_abs(v: &[f64]) -> f64 {
        v.iter().fold(0.0, |m, x| m.max(x.abs()))
    }

    #[test]
    fn euler_maclaurin_tails_equal_term_by_term_sums() {
        for h in [2, 14, 64, 130] {
            for per_period in [16.0, 20.0, 50.0, 300.0] {
                let sigma = per_period * h as f64 + 0.37;
                let (_, u) = radius_mod(sigma, h);
                let ga = (-0.5 * u * u).exp();
                let (terms, terms_total) = tail_by_terms(h, sigma, ga);
                let (em, em_total) = tail_by_euler_maclaurin(h, sigma, u, ga);
                let scale = max_abs(&terms);
                for (t, (a, b)) in terms.iter().zip(&em).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-12 * scale,
                        "h={h} σ={sigma} t={t}: {a} vs {b}"
                    );
                }
                assert!(
                    (terms_total - em_total).abs() <= 1e-13 * terms_total,
                    "h={h} σ={sigma}: {terms_total} vs {em_total}"
                );
            }
        }
    }

    #[test]
    fn the_ripple_is_continuous_where_its_method_changes() {
        // σ = n: folded taps below, Poisson sums and tails from there on.
        for n in [7, 12, 40] {
            let sigma = n as f64;
            let below = Ripple::new(n, sigma * (1.0 - 1e-13));
            let at = Ripple::new(n, sigma);
            let (a, b): (Vec<f64>, Vec<f64>) = (
                below.taps.iter().map(|t| scale(*t, below.exp)).collect(),
                at.taps.iter().map(|t| scale(*t, at.exp)).collect(),
            );
            let top = max_abs(&b);
            for (r, (x, y)) in a.iter().zip(&b).enumerate() {
                assert!((x - y).abs() <= 1e-11 * top, "n={n} r={r}: {x} vs {y}");
            }
            // The weights of D sum to 0 and are symmetric, S[r] = S[h − r].
            assert!(b.iter().sum::<f64>().abs() <= 1e-13 * top * b.len() as f64);
            for r in 1..2 * n {
                assert!((b[r] - b[2 * n - r]).abs() <= 1e-14 * top, "n={n} r={r}");
            }
        }
    }

    #[test]
    fn fft_and_direct_sums_agree() {
        // A period past DIRECT_PERIOD goes through FFTs; check it against the plain sum.
        for (n, sigma) in [(50, 3.0), (50, 30.0), (50, 1e6), (333, 1e12)] {
            let ripple = Ripple::new(n, sigma);
            let filter = LineFilter::new(&ripple.taps);
            assert!(filter.fft.is_some());
            let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % 13) as f64 - 6.0).collect();
            let mut out = vec![0.0; n];
            filter.apply(&x, &mut out, &mut filter.scratch());
            let h = 2 * n;
            let reflected = |m: usize| {
                if m % h < n {
                    x[m % h]
                } else {
                    x[h - 1 - m % h]
                }
            };
            let want: Vec<f64> = (0..n)
                .map(|i| (0..h).map(|r| ripple.taps[r] * reflected(i + r)).sum())
                .collect();
            let top = max_abs(&want);
            for (i, (a, b)) in out.iter().zip(&want).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-13 * top,
                    "n={n} σ={sigma} i={i}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn radius_follows_scipy_also_past_the_integers_of_i64() {
        assert_eq!(radius_mod(2.0, 10), (8, 9.0 / 2.0));
        // R = 4·10⁹ = 2¹¹·5⁹ ≡ 0 (mod 64); for σ = 2¹⁰⁰⁰·3, R = 4σ ≡ 0 (mod 2^k), and
        // 4σ overflows at σ = f64::MAX, where R is still 4σ.
        assert_eq!(radius_mod(1e9, 64).0, 0);
        assert_eq!(radius_mod(1e9, 14).0, (4_000_000_000u64 % 14) as usize);
        let (cut, u) = radius_mod(f64::MAX, 6);
        assert_eq!(u, 4.0);
        // f64::MAX = (2⁵³ − 1)·2⁹⁷¹ ≡ 2 (mod 3) and ≡ 0 (mod 2); 4·MAX ≡ 2 (mod 6).
        assert_eq!(cut, 2);
    }
}
