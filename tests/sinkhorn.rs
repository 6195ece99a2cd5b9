//! The Sinkhorn divergence: the separable solver against a plain dense log-domain Sinkhorn,
//! closed forms on one-dimensional grids, POT's values frozen in
//! `tests/reference/pot_sinkhorn.json` (made by `tests/reference/make_pot_sinkhorn.py`), and
//! `S_ε → W₂²` as the blur shrinks.

mod common;

use common::{assert_rel, mass, reference};
use imgdist::metric::emd::{Ground, emd};
use imgdist::metric::sinkhorn::{SinkhornParams, ot_eps, ot_eps_self};
use imgdist::metric::{Details, MetricKind, Params};
use imgdist::ot::sinkhorn::{Grid, Options, Status, plan_cost, solve, solve_symmetric};

/// A small deterministic generator (xorshift64*), so that the cases need no seed plumbing.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `n` increasing coordinates with random gaps in [0.5, 2).
    fn coords(&mut self, n: usize) -> Vec<f64> {
        let mut x = self.next() * 3.0;
        (0..n)
            .map(|_| {
                x += 0.5 + 1.5 * self.next();
                x
            })
            .collect()
    }

    /// A `rows × cols` grid of [`Rng::coords`] and [`Rng::weights`].
    fn grid(&mut self, rows: usize, cols: usize) -> RandomGrid {
        RandomGrid {
            rows: self.coords(rows),
            cols: self.coords(cols),
            w: self.weights(rows * cols),
        }
    }

    /// `n` weights summing to 1, about a quarter of them zero (never all).
    fn weights(&mut self, n: usize) -> Vec<f64> {
        let mut w: Vec<f64> = (0..n)
            .map(|_| if self.next() < 0.25 { 0.0 } else { self.next() })
            .collect();
        w[n / 2] += 0.5;
        let total: f64 = w.iter().sum();
        w.iter().map(|v| v / total).collect()
    }
}

/// A grid that owns its coordinates and weights.
struct RandomGrid {
    rows: Vec<f64>,
    cols: Vec<f64>,
    w: Vec<f64>,
}

impl RandomGrid {
    fn grid(&self) -> Grid<'_> {
        Grid {
            rows: &self.rows,
            cols: &self.cols,
            weights: &self.w,
        }
    }

    fn points(&self) -> Points {
        points(&self.rows, &self.cols, &self.w)
    }
}

/// A dense problem: every cell's position and weight.
struct Points {
    at: Vec<(f64, f64)>,
    w: Vec<f64>,
}

fn points(rows: &[f64], cols: &[f64], w: &[f64]) -> Points {
    let at = rows
        .iter()
        .flat_map(|&r| cols.iter().map(move |&c| (r, c)))
        .collect();
    Points { at, w: w.to_vec() }
}

/// `−ε ln Σ_j w_j exp((p_j − c(x, y_j))/ε)`, plainly, over the cells of positive weight.
fn softmin(x: (f64, f64), ys: &Points, p: &[f64], eps: f64) -> f64 {
    let terms: Vec<f64> = (0..ys.at.len())
        .filter(|&j| ys.w[j] > 0.0)
        .map(|j| {
            let (dr, dc) = (x.0 - ys.at[j].0, x.1 - ys.at[j].1);
            ys.w[j].ln() + (p[j] - dr * dr - dc * dc) / eps
        })
        .collect();
    let m = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    -eps * (m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln())
}

/// The obviously correct reference: log-domain Sinkhorn over all pairs, run until the row
/// marginal's L1 error is below 1e-14. Returns `OT_ε` (dual value) and `⟨π, C⟩`.
fn dense(xs: &Points, ys: &Points, eps: f64) -> (f64, f64) {
    let mut f = vec![0.0; xs.at.len()];
    let mut g = vec![0.0; ys.at.len()];
    for _ in 0..1_000_000 {
        for (gj, &y) in g.iter_mut().zip(&ys.at) {
            *gj = softmin(y, xs, &f, eps);
        }
        let ft: Vec<f64> = xs.at.iter().map(|&x| softmin(x, ys, &g, eps)).collect();
        let error: f64 = (0..f.len())
            .filter(|&i| xs.w[i] > 0.0)
            .map(|i| xs.w[i] * (((f[i] - ft[i]) / eps).exp() - 1.0).abs())
            .sum();
        if error < 1e-14 {
            let dot = |w: &[f64], p: &[f64]| (0..w.len()).map(|i| w[i] * p[i]).sum::<f64>();
            let mut cost = 0.0;
            for (i, x) in xs.at.iter().enumerate() {
                for (j, y) in ys.at.iter().enumerate() {
                    let (dr, dc) = (x.0 - y.0, x.1 - y.1);
                    let c = dr * dr + dc * dc;
                    cost += xs.w[i] * ys.w[j] * ((f[i] + g[j] - c) / eps).exp() * c;
                }
            }
            return (dot(&xs.w, &f) + dot(&ys.w, &g), cost);
        }
        f = ft;
    }
    panic!("the dense reference did not converge");
}

fn tight(eps: f64) -> Options {
    Options {
        tol: 1e-13,
        ..Options::new(eps)
    }
}

#[test]
fn separable_solver_equals_a_dense_sinkhorn_on_random_grids() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for case in 0..12 {
        let (ra, ca, rb, cb) = [(3, 4, 5, 2), (1, 7, 2, 3), (4, 4, 4, 4), (6, 1, 3, 5)][case % 4];
        let (ga, gb) = (rng.grid(ra, ca), rng.grid(rb, cb));
        let eps = [0.3, 1.0, 4.0, 20.0][case % 4] * (1.0 + rng.next());
        let (a, b) = (ga.grid(), gb.grid());
        let (pa, pb) = (ga.points(), gb.points());
        let what = format!("case {case}, ε {eps}");
        let fast = solve(a, b, &tight(eps), |_| {}).unwrap();
        let (value, cost) = dense(&pa, &pb, eps);
        assert_rel(fast.value, value, 1e-11, &format!("OT_ε(a, b), {what}"));
        let sharp = plan_cost(a, b, &fast.f, &fast.g, eps);
        assert_rel(sharp, cost, 1e-9, &format!("⟨π, C⟩, {what}"));
        let sym = solve_symmetric(a, &tight(eps), |_| {}).unwrap();
        let (value, _) = dense(&pa, &pa, eps);
        assert_rel(sym.value, value, 1e-11, &format!("OT_ε(a, a), {what}"));
        // Zero-weight cells keep finite potentials.
        assert!(
            fast.f.iter().chain(&fast.g).all(|v| v.is_finite()),
            "{what}"
        );
    }
}

#[test]
fn multigrid_cycles_equal_a_dense_sinkhorn_on_irregular_grids() {
    // Grids of 16 rows or more are corrected by coarse problems between their 2×2 blocks:
    // here with odd sides (a partial block), uneven gaps and zero weights.
    let mut rng = Rng(0x6d75_6c74_6967_7264);
    for (case, (ra, ca, rb, cb)) in [(17, 18, 16, 19), (20, 16, 17, 17)].into_iter().enumerate() {
        let (ga, gb) = (rng.grid(ra, ca), rng.grid(rb, cb));
        let eps = 2.5;
        let (a, b) = (ga.grid(), gb.grid());
        let mut corrections = 0;
        let fast = solve(a, b, &tight(eps), |s| {
            corrections += usize::from(s.correction)
        })
        .unwrap();
        assert!(corrections > 0, "case {case}: corrected");
        let (value, _) = dense(&ga.points(), &gb.points(), eps);
        assert_rel(
            fast.value,
            value,
            1e-11,
            &format!("OT_ε(a, b), case {case}"),
        );
    }
}

#[test]
fn multigrid_cycles_solve_a_one_pixel_blur_in_few_iterations() {
    // Over-relaxed Sinkhorn iterations alone take over 300 on this pair.
    let (a, b) = (mass("camera_64.png"), mass("coins_64.png"));
    let params = SinkhornParams::new(1.0, true, 1e-9).unwrap();
    let solved = ot_eps(&a, &b, &params).unwrap();
    assert!(solved.marginal_error <= 1e-9);
    assert!(solved.iterations <= 100, "{} iterations", solved.iterations);
}

#[test]
fn self_transport_converges_in_few_iterations_where_the_plan_spreads() {
    // The averaged update f ← (f + f̃)/2 alone takes 24 iterations on this pair at blur 2.
    let a = mass("camera_64.png");
    let params = SinkhornParams::new(2.0, true, 1e-9).unwrap();
    let solved = ot_eps_self(&a, &params).unwrap();
    assert!(solved.marginal_error <= 1e-9);
    assert!(solved.iterations <= 19, "{} iterations", solved.iterations);
}

/// A 1×n (or n×1) grid with cells at 0, 1, …, n − 1.
fn line(n: usize) -> Vec<f64> {
    (0..n).map(|i| i as f64).collect()
}

#[test]
fn a_dirac_against_anything_costs_the_mean_squared_distance() {
    // The only plan from a single point is δ_x ⊗ b, whose KL to a ⊗ b is 0.
    let mut rng = Rng(77);
    let n = 9;
    let (one, pos) = (vec![0.0], line(n));
    let b = rng.weights(n);
    for x in [0usize, 3, 8] {
        let mut a = vec![0.0; n];
        a[x] = 1.0;
        let want: f64 = (0..n).map(|y| b[y] * (x as f64 - y as f64).powi(2)).sum();
        for eps in [0.2, 1.0, 5.0] {
            let opts = Options {
                tol: 1e-12,
                ..Options::new(eps)
            };
            // Along a row, then along a column.
            let row = |w: &[f64]| -> Vec<f64> { w.to_vec() };
            let (ga, gb) = (row(&a), row(&b));
            let along_row = solve(
                Grid {
                    rows: &one,
                    cols: &pos,
                    weights: &ga,
                },
                Grid {
                    rows: &one,
                    cols: &pos,
                    weights: &gb,
                },
                &opts,
                |_| {},
            )
            .unwrap();
            let along_col = solve(
                Grid {
                    rows: &pos,
                    cols: &one,
                    weights: &gb,
                },
                Grid {
                    rows: &pos,
                    cols: &one,
                    weights: &ga,
                },
                &opts,
                |_| {},
            )
            .unwrap();
            let what = format!("δ at {x}, ε {eps}");
            assert_rel(along_row.value, want, 1e-12, &format!("row: {what}"));
            assert_rel(along_col.value, want, 1e-12, &format!("column: {what}"));
        }
    }
}

/// The entropic plan between two two-point masses: `π11 = t` with the other entries fixed by
/// the marginals, and `π11·π22 / (π12·π21) = exp(−(c11 + c22 − c12 − c21)/ε)` (a quadratic in
/// `t`), solved by bisection on the logarithm of the cross ratio, which increases with `t`.
/// Returns `OT_ε = ⟨π, C⟩ + ε·KL(π ‖ a⊗b)`.
fn two_point_closed_form(p: f64, q: f64, c: [[f64; 2]; 2], eps: f64) -> f64 {
    let log_k = -(c[0][0] + c[1][1] - c[0][1] - c[1][0]) / eps;
    let excess = |t: f64| t.ln() + (1.0 - p - q + t).ln() - (p - t).ln() - (q - t).ln() - log_k;
    let (mut lo, mut hi) = ((p + q - 1.0).max(0.0), p.min(q));
    loop {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if excess(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let t = 0.5 * (lo + hi);
    let pi = [[t, p - t], [q - t, 1.0 - p - q + t]];
    let (a, b) = ([p, 1.0 - p], [q, 1.0 - q]);
    let mut value = 0.0;
    for i in 0..2 {
        for j in 0..2 {
            // An entry below rounding (e^(−Δ/ε) for tiny ε) contributes nothing: 0·ln 0 = 0.
            if pi[i][j] > 0.0 {
                value += pi[i][j] * c[i][j] + eps * pi[i][j] * (pi[i][j] / (a[i] * b[j])).ln();
            }
        }
    }
    value
}

#[test]
fn two_point_masses_match_the_closed_form_plan() {
    // a at cells 1 and 4 of a 1×8 line, b at cells 2 and 6: zero-weight cells everywhere else.
    let n = 8;
    let (one, pos) = (vec![0.0], line(n));
    let (xa, xb) = ([1usize, 4], [2usize, 6]);
    let c = |i: usize, j: usize| (xa[i] as f64 - xb[j] as f64).powi(2);
    let costs = [[c(0, 0), c(0, 1)], [c(1, 0), c(1, 1)]];
    for (p, q) in [(0.3, 0.6), (0.5, 0.5), (0.9, 0.2)] {
        let mut a = vec![0.0; n];
        let mut b = vec![0.0; n];
        (a[xa[0]], a[xa[1]]) = (p, 1.0 - p);
        (b[xb[0]], b[xb[1]]) = (q, 1.0 - q);
        for eps in [0.5, 2.0, 10.0, 60.0] {
            let want = two_point_closed_form(p, q, costs, eps);
            let opts = Options {
                tol: 1e-12,
                ..Options::new(eps)
            };
            let grid = |w: &[f64]| -> Vec<f64> { w.to_vec() };
            let (wa, wb) = (grid(&a), grid(&b));
            let got = solve(
                Grid {
                    rows: &one,
                    cols: &pos,
                    weights: &wa,
                },
                Grid {
                    rows: &one,
                    cols: &pos,
                    weights: &wb,
                },
                &opts,
                |_| {},
            )
            .unwrap();
            assert_rel(
                got.value,
                want,
                1e-10,
                &format!("two points p {p}, q {q}, ε {eps}"),
            );
        }
    }
}

#[test]
fn equals_pot_sinkhorn_log_to_1e8() {
    let fixture = reference("pot_sinkhorn.json");
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5, "cases in the fixture");
    let mut sizes = std::collections::BTreeSet::new();
    for case in cases {
        let (an, bn) = (case["a"].as_str().unwrap(), case["b"].as_str().unwrap());
        let blur = case["blur"].as_f64().unwrap();
        let (a, b) = (mass(an), mass(bn));
        sizes.insert((a.shape(), b.shape()));
        let params = SinkhornParams::new(blur, true, 1e-9).unwrap();
        let what = |k: &str| format!("{k} ({an}, {bn}), blur {blur}");
        let want = |k: &str| case[k]["value"].as_f64().unwrap();
        let ab = ot_eps(&a, &b, &params).unwrap();
        assert_rel(ab.value, want("ab"), 1e-8, &what("OT_ε(a, b)"));
        assert_rel(
            ot_eps_self(&a, &params).unwrap().value,
            want("aa"),
            1e-8,
            &what("OT_ε(a, a)"),
        );
        assert_rel(
            ot_eps_self(&b, &params).unwrap().value,
            want("bb"),
            1e-8,
            &what("OT_ε(b, b)"),
        );
        // The metric's value and its sharp cost, through the metric.
        let params = Params {
            blur,
            ..Params::default()
        };
        let m = MetricKind::Sinkhorn
            .build(&params)
            .unwrap()
            .compute(&a, &b)
            .unwrap();
        assert_rel(
            m.value,
            case["value"].as_f64().unwrap(),
            1e-8,
            &what("√S_ε"),
        );
        let Details::Sinkhorn(d) = &m.details else {
            panic!("sinkhorn details")
        };
        assert_rel(
            d.sharp_cost,
            case["ab"]["linear"].as_f64().unwrap(),
            1e-8,
            &what("⟨π, C⟩"),
        );
    }
    assert!(sizes.len() >= 2, "32² and mixed 32²/64² sizes: {sizes:?}");
}

#[test]
fn divergence_approaches_w2_squared_as_the_blur_shrinks() {
    let (a, b) = (mass("camera_32.png"), mass("coins_32.png"));
    let w2_sq = emd(&a, &b, Ground::SqEuclidean).unwrap().cost;
    let mut last_gap = f64::INFINITY;
    for blur in [8.0, 4.0, 2.0, 1.0, 0.5] {
        let metric = MetricKind::Sinkhorn
            .build(&Params {
                blur,
                ..Params::default()
            })
            .unwrap();
        let s = metric.compute(&a, &b).unwrap().value.powi(2);
        let gap = (w2_sq - s).abs();
        assert!(
            gap < last_gap,
            "blur {blur}: |W₂² − S_ε| = {gap} did not shrink from {last_gap} (W₂² {w2_sq}, S_ε {s})"
        );
        last_gap = gap;
    }
    assert!(
        last_gap < 0.02 * w2_sq,
        "blur 0.5: S_ε is {last_gap} from W₂² = {w2_sq}"
    );
}

#[test]
fn debiased_divergence_is_symmetric_and_zero_on_equal_masses() {
    let (a, b) = (mass("moon_32.png"), mass("text_32.png"));
    let metric = MetricKind::Sinkhorn.build(&Params::default()).unwrap();
    let ab = metric.compute(&a, &b).unwrap().value;
    let ba = metric.compute(&b, &a).unwrap().value;
    assert_rel(ba, ab, 1e-9, "S_ε(a, b) = S_ε(b, a)");
    assert_eq!(metric.compute(&a, &a).unwrap().value, 0.0);
}

#[test]
fn downscaled_cells_sit_at_block_centres() {
    // Downscaling by 2 solves on the block sums at their centres, in original pixels: the same
    // problem as the block sums placed by hand.
    let (a, b) = (mass("camera_32.png"), mass("coins_32.png"));
    let (a2, b2) = (
        common::mass_k("camera_32.png", 2),
        common::mass_k("coins_32.png", 2),
    );
    assert_eq!(a2.row_coords()[0], 0.5);
    let params = SinkhornParams::new(2.0, true, 1e-9).unwrap();
    let coarse = ot_eps(&a2, &b2, &params).unwrap().value;
    let by_hand = solve(
        Grid {
            rows: a2.row_coords(),
            cols: a2.col_coords(),
            weights: a2.as_slice(),
        },
        Grid {
            rows: b2.row_coords(),
            cols: b2.col_coords(),
            weights: b2.as_slice(),
        },
        &Options {
            tol: 1e-9,
            ..Options::new(4.0)
        },
        |_| {},
    )
    .unwrap()
    .value;
    assert_eq!(coarse, by_hand);
    // and it stays close to the full-resolution value (the blocks move mass by < 1 pixel).
    let full = ot_eps(&a, &b, &params).unwrap().value;
    assert!((coarse - full).abs() < 0.1 * full, "{coarse} vs {full}");
}

#[test]
fn the_iteration_cap_is_an_error_not_a_number() {
    let (a, b) = (mass("camera_32.png"), mass("coins_32.png"));
    let grid = |m: &imgdist::Mass| {
        (
            m.row_coords().to_vec(),
            m.col_coords().to_vec(),
            m.as_slice().to_vec(),
        )
    };
    let ((ar, ac, aw), (br, bc, bw)) = (grid(&a), grid(&b));
    let opts = Options {
        max_iterations: 30,
        ..Options::new(1.0)
    };
    let err = solve(
        Grid {
            rows: &ar,
            cols: &ac,
            weights: &aw,
        },
        Grid {
            rows: &br,
            cols: &bc,
            weights: &bw,
        },
        &opts,
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("cap of 30"), "{err}");
}

/// Checks the progress reports of one solve against its solution: the warm starts' grids come
/// first, coarsest first; the reports on each grid count its iterations 1, 2, 3, … over stages
/// of decreasing `ε` that end at the requested one; the marginal error is measured at the last
/// stage only; the given grids' count ends at the solution's. The reports of multigrid
/// corrections come between those, on coarser grids, at an `ε` at least the requested one,
/// each counting from 1. Returns the reports per grid, without the corrections'.
#[track_caller]
fn check_reports(
    reports: &[Status],
    solution: &imgdist::ot::sinkhorn::Solution,
    eps: f64,
    what: &str,
) -> Vec<Vec<Status>> {
    let corrections: Vec<&Status> = reports.iter().filter(|r| r.correction).collect();
    assert!(
        corrections
            .iter()
            .all(|r| r.coarsening >= 1 && r.eps >= eps && r.iterations >= 1),
        "{what}: corrections on coarser grids"
    );
    assert!(
        !reports.first().is_some_and(|r| r.correction),
        "{what}: a correction first"
    );
    let mut grids: Vec<Vec<Status>> = Vec::new();
    for r in reports.iter().filter(|r| !r.correction) {
        match grids.last_mut() {
            Some(g) if g[0].coarsening == r.coarsening => g.push(*r),
            _ => grids.push(vec![*r]),
        }
    }
    let order: Vec<usize> = grids.iter().map(|g| g[0].coarsening).collect();
    let want: Vec<usize> = (0..grids.len()).rev().collect();
    assert_eq!(order, want, "{what}: coarsenings, coarsest first");
    for g in &grids {
        let k = g[0].coarsening;
        let counts: Vec<u64> = g.iter().map(|r| r.iterations).collect();
        let want: Vec<u64> = (1..=g.len() as u64).collect();
        assert_eq!(counts, want, "{what}: iterations at coarsening {k}");
        assert!(
            g.iter().all(|r| r.shapes == g[0].shapes),
            "{what}: one problem at coarsening {k}"
        );
        assert!(
            g.windows(2).all(|w| w[1].eps <= w[0].eps),
            "{what}: ε grows at coarsening {k}"
        );
        let last = g.last().unwrap();
        // A warm start may be at a larger `ε` (that of the coarse problem of a correction).
        assert!(
            last.eps == eps || (k > 0 && last.eps > eps),
            "{what}: last stage at coarsening {k}"
        );
        assert!(
            last.marginal_error.is_finite(),
            "{what}: tested at coarsening {k}"
        );
        assert!(
            g.iter()
                .all(|r| r.eps == last.eps || r.marginal_error == f64::INFINITY),
            "{what}: marginal error before the last stage at coarsening {k}"
        );
    }
    let fine = grids.last().unwrap();
    assert_eq!(
        fine.last().unwrap().iterations,
        solution.iterations,
        "{what}"
    );
    grids
}

#[test]
fn the_solvers_report_every_iteration_on_every_grid() {
    // Two blobs 24 cells apart on 64×64 grids: one warm start on their 32×32 block sums,
    // which starts from ε-scaling.
    let side = line(64);
    let blob = |r0: f64, c0: f64| -> Vec<f64> {
        let w: Vec<f64> = side
            .iter()
            .flat_map(|&r| side.iter().map(move |&c| (r, c)))
            .map(|(r, c)| (-((r - r0).powi(2) + (c - c0).powi(2)) / 50.0).exp())
            .collect();
        let total: f64 = w.iter().sum();
        w.iter().map(|v| v / total).collect()
    };
    let (wa, wb) = (blob(20.0, 20.0), blob(44.0, 44.0));
    let (a, b) = (
        Grid {
            rows: &side,
            cols: &side,
            weights: &wa,
        },
        Grid {
            rows: &side,
            cols: &side,
            weights: &wb,
        },
    );
    let eps = 2.0;
    let opts = Options {
        tol: 1e-9,
        ..Options::new(eps)
    };
    let mut reports = Vec::new();
    let got = solve(a, b, &opts, |s| reports.push(*s)).unwrap();
    assert_eq!(
        got,
        solve(a, b, &opts, |_| {}).unwrap(),
        "reports change nothing"
    );
    let grids = check_reports(&reports, &got, eps, "OT_ε(a, b)");
    assert_eq!(grids.len(), 2, "one warm start");
    assert_eq!(grids[0][0].shapes, [(32, 32); 2]);
    assert_eq!(grids[1][0].shapes, [(64, 64); 2]);
    assert!(
        grids[0][0].eps > eps,
        "the warm start scales ε: {}",
        grids[0][0].eps
    );
    assert!(
        grids[1].len() >= 20,
        "many iterations on the given grids: {}",
        grids[1].len()
    );

    let mut reports = Vec::new();
    let got = solve_symmetric(a, &opts, |s| reports.push(*s)).unwrap();
    assert_eq!(got, solve_symmetric(a, &opts, |_| {}).unwrap(), "symmetric");
    let grids = check_reports(&reports, &got, eps, "OT_ε(a, a)");
    assert_eq!(grids.len(), 2, "symmetric: one warm start");
    assert_eq!(got.marginal_error, reports.last().unwrap().marginal_error);
}

#[test]
fn the_metric_reports_every_iteration_of_its_three_problems() {
    use imgdist::metric::Progress;
    use imgdist::metric::sinkhorn::Problem;
    use std::sync::Mutex;
    struct Seen(Mutex<Vec<(Problem, Status)>>);
    impl Progress for Seen {
        fn sinkhorn_iteration(&self, problem: Problem, status: &Status) {
            self.0.lock().unwrap().push((problem, *status));
        }
    }
    let (a, b) = (mass("camera_32.png"), mass("coins_32.png"));
    let metric = MetricKind::Sinkhorn.build(&Params::default()).unwrap();
    let seen = Seen(Mutex::default());
    let m = metric.compute_observed(&a, &b, &seen).unwrap();
    assert_eq!(m.value, metric.compute(&a, &b).unwrap().value);
    let Details::Sinkhorn(d) = &m.details else {
        panic!("sinkhorn details")
    };
    let seen = seen.0.into_inner().unwrap();
    let solved = d.iterations_per_problem;
    for (problem, want) in [
        (Problem::Ab, solved.ab),
        (Problem::Aa, solved.aa.unwrap()),
        (Problem::Bb, solved.bb.unwrap()),
    ] {
        let counts: Vec<u64> = seen
            .iter()
            .filter(|(p, s)| *p == problem && !s.correction)
            .map(|(_, s)| s.iterations)
            .collect();
        assert_eq!(counts, (1..=want).collect::<Vec<_>>(), "{problem:?}");
    }
    assert!(solved.ab >= 40, "a long problem: {solved:?}");
    assert!(
        seen.iter().any(|(p, s)| *p == Problem::Ab && s.correction),
        "multigrid corrections are reported"
    );
    assert_eq!(seen[0].0, Problem::Ab, "a against b first");
}

#[test]
fn a_tolerance_near_rounding_wastes_no_coarse_iterations() {
    // Far below 1e-9 the coarse problems cannot always be solved to a twentieth of the fine
    // error; multigrid then gives way at once instead of trying again.
    let (a, b) = (mass("camera_64.png"), mass("coins_64.png"));
    let (ga, gb) = (
        Grid {
            rows: a.row_coords(),
            cols: a.col_coords(),
            weights: a.as_slice(),
        },
        Grid {
            rows: b.row_coords(),
            cols: b.col_coords(),
            weights: b.as_slice(),
        },
    );
    let opts = Options {
        tol: 1e-12,
        ..Options::new(1.0)
    };
    let mut coarse = 0;
    let solved = solve(ga, gb, &opts, |s| coarse += u64::from(s.correction)).unwrap();
    assert!(solved.marginal_error <= 1e-12);
    // Tens of coarse iterations a cycle, on grids of a quarter of the cells and fewer.
    assert!(
        coarse <= 5_000,
        "{coarse} coarse iterations for {} on the given grids",
        solved.iterations
    );
}
