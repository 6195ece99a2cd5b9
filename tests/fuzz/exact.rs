//! Exact EMD on arbitrary small pairs: every route against every other, and against an
//! independent solver.
//!
//! For each ground (euclidean, squared euclidean, cityblock): [`emd`] (grid flow for cityblock,
//! column generation otherwise), the metric asked for its plan (column generation for every
//! ground) and [`emd_dense`] (the complete bipartite graph) agree on the optimal cost within
//! 1e-9 relative to max(1, cost) (the cost, not W₂ = √cost, whose square root would magnify
//! rounding near 0), and each value is the cost or its square root; the plan of column generation is checked optimal by this test alone (its
//! marginals are the two masses within 1e-12, its cost is the reported one, and the duals are
//! feasible over every pair within 1e-9 and tight wherever mass moves); and when the raw
//! values are whole numbers, the cost equals that of successive shortest paths in exact
//! integer flows written here ([`integer_transport`]), within 1e-9 relative.

use imgdist::Mass;
use imgdist::metric::emd::{Ground, emd, emd_dense, emd_sparse};
use imgdist::metric::{Details, EmdPlan, Extras, MetricKind, Params};
use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;

use crate::driver::run;
use crate::masses::{Grid, grid, relation};

const GROUNDS: [Ground; 3] = [Ground::Euclidean, Ground::SqEuclidean, Ground::Cityblock];

fn tol(v: f64) -> f64 {
    1e-9 * v.abs().max(1.0)
}

fn cost(ground: Ground, x: (f64, f64), y: (f64, f64)) -> f64 {
    let (dr, dc) = (x.0 - y.0, x.1 - y.1);
    match ground {
        Ground::Euclidean => dr.hypot(dc),
        Ground::SqEuclidean => dr * dr + dc * dc,
        Ground::Cityblock => dr.abs() + dc.abs(),
    }
}

/// The cells of a grid with positive block sums, as (row, column) in pixels and whole-number
/// mass, from the raw values (block centres worked out here, not taken from [`Mass`]).
fn integer_support(g: &Grid) -> Vec<((f64, f64), u64)> {
    let k = g.downscale;
    let centre = |b: usize, n: usize| (b * k + ((b + 1) * k).min(n) - 1) as f64 / 2.0;
    let (rows, cols) = (g.rows.div_ceil(k), g.cols.div_ceil(k));
    let mut sums = vec![0u64; rows * cols];
    for (idx, v) in g.values.iter().enumerate() {
        sums[(idx / g.cols / k) * cols + (idx % g.cols) / k] += *v as u64;
    }
    sums.iter()
        .enumerate()
        .filter(|(_, s)| **s > 0)
        .map(|(idx, &s)| ((centre(idx / cols, g.rows), centre(idx % cols, g.cols)), s))
        .collect()
}

/// `min Σ f_ij c_ij` over flows from supplies `a` to demands `b` (equal totals), by successive
/// shortest paths: Dijkstra with potentials over the residual graph, augmenting whole numbers
/// along each path. Flows stay integral and every augmentation keeps the reduced costs
/// non-negative, so the result is optimal; the test checks its marginals too.
fn integer_transport(a: &[((f64, f64), u64)], b: &[((f64, f64), u64)], ground: Ground) -> f64 {
    let (n, m) = (a.len(), b.len());
    let c: Vec<Vec<f64>> = a
        .iter()
        .map(|(x, _)| b.iter().map(|(y, _)| cost(ground, *x, *y)).collect())
        .collect();
    let mut flow = vec![vec![0u64; m]; n];
    let mut left_a: Vec<u64> = a.iter().map(|p| p.1).collect();
    let mut left_b: Vec<u64> = b.iter().map(|p| p.1).collect();
    let (mut pa, mut pb) = (vec![0.0f64; n], vec![0.0f64; m]);
    while left_a.iter().any(|&s| s > 0) {
        let (mut da, mut db) = (vec![f64::INFINITY; n], vec![f64::INFINITY; m]);
        let (mut from_a, mut from_b) = (vec![usize::MAX; n], vec![usize::MAX; m]);
        let (mut done_a, mut done_b) = (vec![false; n], vec![false; m]);
        for i in 0..n {
            if left_a[i] > 0 {
                da[i] = 0.0;
            }
        }
        loop {
            let next_a = (0..n)
                .filter(|&i| !done_a[i])
                .min_by(|&x, &y| da[x].total_cmp(&da[y]));
            let next_b = (0..m)
                .filter(|&j| !done_b[j])
                .min_by(|&x, &y| db[x].total_cmp(&db[y]));
            let va = next_a.map_or(f64::INFINITY, |i| da[i]);
            let vb = next_b.map_or(f64::INFINITY, |j| db[j]);
            if va.is_infinite() && vb.is_infinite() {
                break;
            }
            if va <= vb {
                let i = next_a.unwrap();
                done_a[i] = true;
                for j in 0..m {
                    let d = da[i] + (c[i][j] + pa[i] - pb[j]).max(0.0);
                    if d < db[j] {
                        db[j] = d;
                        from_b[j] = i;
                    }
                }
            } else {
                let j = next_b.unwrap();
                done_b[j] = true;
                for i in 0..n {
                    if flow[i][j] > 0 {
                        let d = db[j] + (pb[j] - pa[i] - c[i][j]).max(0.0);
                        if d < da[i] {
                            da[i] = d;
                            from_a[i] = j;
                        }
                    }
                }
            }
        }
        let t = (0..m)
            .filter(|&j| left_b[j] > 0)
            .min_by(|&x, &y| db[x].total_cmp(&db[y]))
            .unwrap();
        // Walk back to a source with supply left: forward arcs i → j, and reverse arcs j → i
        // that take back flow; the bottleneck bounds the augmentation.
        let mut path = Vec::new();
        let (mut j, mut delta) = (t, left_b[t]);
        let root = loop {
            let i = from_b[j];
            path.push((i, j, true));
            if from_a[i] == usize::MAX {
                break i;
            }
            j = from_a[i];
            delta = delta.min(flow[i][j]);
            path.push((i, j, false));
        };
        delta = delta.min(left_a[root]);
        for &(i, j, forward) in &path {
            if forward {
                flow[i][j] += delta;
            } else {
                flow[i][j] -= delta;
            }
        }
        left_a[root] -= delta;
        left_b[t] -= delta;
        let dt = db[t];
        pa.iter_mut().zip(&da).for_each(|(p, d)| *p += d.min(dt));
        pb.iter_mut().zip(&db).for_each(|(p, d)| *p += d.min(dt));
    }
    for i in 0..n {
        assert_eq!(
            flow[i].iter().sum::<u64>(),
            a[i].1,
            "reference: source {i} not emptied"
        );
    }
    for j in 0..m {
        assert_eq!(
            (0..n).map(|i| flow[i][j]).sum::<u64>(),
            b[j].1,
            "reference: target {j} not filled"
        );
    }
    (0..n)
        .flat_map(|i| (0..m).map(move |j| (i, j)))
        .map(|(i, j)| flow[i][j] as f64 * c[i][j])
        .sum()
}

/// The exact cost for whole-number raw values, when the problem is small enough for the
/// O((n + m)²) reference.
fn reference_value(ga: &Grid, gb: &Grid, ground: Ground) -> Option<f64> {
    if !(ga.integral() && gb.integral()) {
        return None;
    }
    let (a, b) = (integer_support(ga), integer_support(gb));
    if a.len() * b.len() > 5000 {
        return None;
    }
    let (ta, tb): (u64, u64) = (a.iter().map(|p| p.1).sum(), b.iter().map(|p| p.1).sum());
    // Both sides scaled to the total ta·tb, so the flows stay whole.
    let a: Vec<_> = a.into_iter().map(|(x, s)| (x, s * tb)).collect();
    let b: Vec<_> = b.into_iter().map(|(y, s)| (y, s * ta)).collect();
    Some(integer_transport(&a, &b, ground) / (ta as f64 * tb as f64))
}

/// The distance the metric reports for an optimal cost.
fn value_of(ground: Ground, cost: f64) -> f64 {
    if ground == Ground::SqEuclidean {
        cost.max(0.0).sqrt()
    } else {
        cost
    }
}

/// The plan and duals of column generation, shown optimal here.
fn check_certificate(a: &Mass, b: &Mass, ground: Ground) -> TestCaseResult {
    let (result, s) =
        emd_sparse(a, b, ground, |_| {}).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let t = &s.transport;
    let (sa, sb) = (a.support(), b.support());
    prop_assert_eq!(s.sources.len(), sa.len());
    prop_assert_eq!(s.targets.len(), sb.len());
    let (mut out, mut into) = (vec![0.0; sa.len()], vec![0.0; sb.len()]);
    let mut plan_cost = 0.0;
    for &(i, j, mass) in &t.plan {
        prop_assert!(mass >= 0.0, "negative mass {mass} on ({i}, {j})");
        out[i] += mass;
        into[j] += mass;
        let c = cost(ground, s.sources[i], s.targets[j]);
        plan_cost += mass * c;
        let slack = c - t.u[i] - t.v[j];
        prop_assert!(
            slack.abs() <= tol(c),
            "{ground:?}: mass moves on ({i}, {j}) with slack {slack:e}"
        );
    }
    for (i, &(r, c, w)) in sa.iter().enumerate() {
        prop_assert_eq!(s.sources[i], (r, c));
        prop_assert!(
            (out[i] - w).abs() <= 1e-12,
            "{ground:?}: source {i} sends {} of {w}",
            out[i]
        );
    }
    for (j, &(r, c, w)) in sb.iter().enumerate() {
        prop_assert_eq!(s.targets[j], (r, c));
        prop_assert!(
            (into[j] - w).abs() <= 1e-12,
            "{ground:?}: target {j} gets {} of {w}",
            into[j]
        );
    }
    prop_assert!(
        (plan_cost - result.cost).abs() <= tol(result.cost),
        "{ground:?}: plan cost {plan_cost} vs {}",
        result.cost
    );
    for (i, &x) in s.sources.iter().enumerate() {
        for (j, &y) in s.targets.iter().enumerate() {
            let c = cost(ground, x, y);
            prop_assert!(
                t.u[i] + t.v[j] <= c + tol(c),
                "{ground:?}: dual infeasible on ({i}, {j})"
            );
        }
    }
    Ok(())
}

fn check(ga: &Grid, gb: &Grid) -> TestCaseResult {
    let (a, b) = (ga.mass(), gb.mass());
    let fail = |e: imgdist::Error| TestCaseError::fail(e.to_string());
    for ground in GROUNDS {
        let fast = emd(&a, &b, ground).map_err(fail)?;
        let dense = emd_dense(&a, &b, ground).map_err(fail)?;
        let params = Params {
            ground,
            emd_plan: EmdPlan::Solve,
            ..Params::default()
        };
        let solved = MetricKind::Emd
            .build(&params)
            .map_err(fail)?
            .compute(&a, &b)
            .map_err(fail)?;
        prop_assert!(
            matches!(solved.extras, Extras::Emd(Ok(_))),
            "{ground:?}: no plan"
        );
        let Details::Emd(details) = &solved.details else {
            return Err(TestCaseError::fail("emd without its details"));
        };
        for (route, cost, value) in [
            ("emd", fast.cost, fast.value),
            ("plan", details.cost, solved.value),
            ("dense", dense.cost, dense.value),
        ] {
            prop_assert!(
                (cost - dense.cost).abs() <= tol(dense.cost),
                "{ground:?}: {route} cost {cost:.17e} ({}) vs dense {:.17e}",
                fast.algorithm,
                dense.cost
            );
            prop_assert_eq!(
                value,
                value_of(ground, cost),
                "{:?}: {} value",
                ground,
                route
            );
        }
        check_certificate(&a, &b, ground)?;
        if let Some(want) = reference_value(ga, gb, ground) {
            prop_assert!(
                (fast.cost - want).abs() <= tol(want),
                "{ground:?}: cost {:.17e} ({}) vs integer reference {want:.17e}",
                fast.cost,
                fast.algorithm
            );
        }
    }
    Ok(())
}

#[test]
fn fuzz_emd_exact() {
    let pair = (grid(), relation()).prop_map(|(a, r)| {
        let b = r.apply(&a);
        (a, b)
    });
    run("emd_exact", 500, pair, |(a, b)| check(&a, &b));
}

#[test]
fn integer_reference_on_closed_forms() {
    // One unit moved 3 down and 4 right: 5, 25 and 7 in the three grounds; and half of it
    // staying put halves the cost.
    let at = |r, c, s| ((r, c), s);
    let a = [at(0.0, 0.0, 2)];
    let b = [at(3.0, 4.0, 2)];
    assert_eq!(integer_transport(&a, &b, Ground::Euclidean), 10.0);
    assert_eq!(integer_transport(&a, &b, Ground::SqEuclidean), 50.0);
    assert_eq!(integer_transport(&a, &b, Ground::Cityblock), 14.0);
    let b = [at(0.0, 0.0, 1), at(3.0, 4.0, 1)];
    assert_eq!(integer_transport(&a, &b, Ground::Euclidean), 5.0);
    // Nearest first (1 → 2) would leave 3 → −1, a cost of 1 + 4 = 5; the optimum keeps the
    // order on the line, 1 → −1 and 3 → 2, a cost of 2 + 1 = 3.
    let a = [at(0.0, 1.0, 1), at(0.0, 3.0, 1)];
    let b = [at(0.0, 2.0, 1), at(0.0, -1.0, 1)];
    assert_eq!(integer_transport(&a, &b, Ground::Cityblock), 3.0);
}

/// Found by `metric_axioms`: `c` is `a` with two empty cells given 10⁻¹² and 10⁻¹⁵, which does
/// not change the rounded total, so every cell of `a − c` is ≤ 0: the whole difference is
/// rounding-level imbalance. Balancing it away left a residue of 5·10⁻³³ on one cell, which the
/// network simplex (rightly) could not route. The cost is 0 up to rounding.
#[test]
fn a_difference_that_is_all_imbalance_balances_to_nothing() {
    #[rustfmt::skip]
    let values: [f64; 120] = [
        0., 0., 0., 0., 63., 0., 7., 89., 85., 0., 0., 0., 0., 0., 0., 56., 222., 0., 0., 194., 0., 0.,
        169., 246., 0., 29., 0., 79., 166., 101., 179., 0., 108., 0., 86., 116., 211., 146., 0., 235.,
        19., 0., 0., 0., 0., 0., 129., 160., 0., 0., 195., 170., 163., 0., 0., 0., 171., 44., 83., 248.,
        245., 51., 0., 0., 159., 102., 114., 250., 0., 0., 0., 62., 136., 61., 84., 0., 0., 181., 0., 8.,
        0., 186., 69., 226., 219., 0., 0., 14., 0., 171., 47., 214., 0., 239., 0., 0., 233., 102., 0.,
        147., 0., 167., 70., 189., 4., 60., 58., 224., 172., 38., 220., 116., 182., 0., 0., 64., 149.,
        60., 0., 12.,
    ];
    let grid = |nudges: &[(usize, f64)]| {
        let mut values = values.to_vec();
        for &(k, v) in nudges {
            values[k] = v;
        }
        Grid {
            rows: 10,
            cols: 12,
            downscale: 1,
            values,
        }
    };
    let a = grid(&[]).mass();
    let c = grid(&[(9, 1e-15), (38, 1e-12)]).mass();
    assert!(
        a.as_slice().iter().zip(c.as_slice()).all(|(x, y)| x <= y),
        "every cell of a − c is ≤ 0"
    );
    for ground in GROUNDS {
        for (x, y) in [(&a, &c), (&c, &a)] {
            // The cost, as W₂ = √cost is far above rounding: 10⁻¹⁶ of the mass moves.
            let r = emd(x, y, ground).unwrap_or_else(|e| panic!("{ground:?}: {e}"));
            assert!(r.cost.abs() <= 1e-12, "{ground:?}: {}", r.cost);
            let dense = emd_dense(x, y, ground).unwrap();
            assert!(
                dense.cost.abs() <= 1e-12,
                "{ground:?} dense: {}",
                dense.cost
            );
        }
    }
}
