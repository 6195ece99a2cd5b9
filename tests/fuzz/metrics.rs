//! Every metric on arbitrary small masses ([`crate::masses`]): the axioms and documented bounds.
//!
//! For three masses a, b, c and every metric (tv, kl with and without `eps`, js, hellinger,
//! blur-l2, sliced for p = 1 and 2 with both angle modes, emd with all three grounds):
//! - no panic; a pixel-by-pixel metric on grids of different sizes is a size-mismatch error;
//! - d(x, x) = 0 within 1e-12, d ≥ 0 within 1e-12, and the README's range;
//! - symmetry (all but kl) and the triangle inequality over the three masses for the
//!   metrics: tv, hellinger, blur-l2, √js, sliced (a fixed set of directions) and emd
//!   (W₁ for euclidean and cityblock, W₂ for squared euclidean);
//! - between metrics: SW₁ ≤ W₁ and SW₂ ≤ W₂ (projection shortens every move);
//!   W₁(euclidean) ≤ W₁(cityblock) ≤ √2 W₁(euclidean); W₁ ≤ W₂; W₁ ≤ diameter × tv on one grid;
//!   Pinsker's KL ≥ 2 tv²; hellinger² ≤ tv ≤ √2 hellinger; js ≤ ln 2 × tv; kl is +∞ exactly
//!   when some cell has q = 0 < p; blur-l2 with σ = 0 is the plain L2 distance.
//!
//! Tolerances: 1e-12 absolute for the pixel-by-pixel metrics (values of order 1, compensated
//! sums); 1e-9 relative to max(1, value) for the transport metrics, whose values are up to about
//! 50 pixels and whose solvers are exact up to rounding. Values for p = 2 (sliced p = 2, emd
//! squared euclidean) are square roots of costs: a rounding error of 1e-12 in a cost near 0
//! becomes 1e-6 in the value, so they get 1e-6 absolute on top, and SW₂ ≤ W₂ is compared on
//! the costs (the squares); for the same reason the triangle inequality of √js allows 1e-6. d(x, x) = 0 holds within 1e-12 for every metric.

use imgdist::metric::sliced::{Angles, SlicedParams};
use imgdist::metric::{Ground, MetricKind, Params};
use imgdist::{Error, Mass};
use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;

use crate::driver::run;
use crate::masses::{Grid, triple};

const PIXEL_TOL: f64 = 1e-12;

fn transport_tol(v: f64) -> f64 {
    1e-9 * v.abs().max(1.0)
}

/// The tolerance of a value of metric `name`.
fn tolerance(name: &str, v: f64) -> f64 {
    match name {
        "tv" | "kl" | "kl-eps" | "js" | "hellinger" | "blur-l2" => PIXEL_TOL,
        "emd-sqeuclidean" | "sliced-p2-uniform" | "sliced-p2-random" => transport_tol(v) + 1e-6,
        // Raw values span up to 1e300: relative.
        "hist" => 1e-12 * v.abs(),
        _ => transport_tol(v),
    }
}

/// One metric with its parameters, as the table of values names it.
#[derive(Debug, Clone)]
struct Named {
    name: String,
    kind: MetricKind,
    params: Params,
}

/// The parameters a case draws: blur σ, kl's eps, sliced directions and seed.
#[derive(Debug, Clone)]
struct Draw {
    sigma: f64,
    eps: f64,
    projections: usize,
    seed: u64,
}

fn draw() -> impl Strategy<Value = Draw> {
    (
        prop::sample::select(vec![0.0, 0.5, 1.0, 2.5]),
        prop::sample::select(vec![1e-6, 0.01, 1.0]),
        1usize..=24,
        any::<u64>(),
    )
        .prop_map(|(sigma, eps, projections, seed)| Draw {
            sigma,
            eps,
            projections,
            seed,
        })
}

fn metrics(d: &Draw) -> Vec<Named> {
    let base = Params {
        sigma: d.sigma,
        ..Params::default()
    };
    let named = |name: &str, kind, params: Params| Named {
        name: name.to_string(),
        kind,
        params,
    };
    let mut out = vec![
        named("tv", MetricKind::Tv, base.clone()),
        named("kl", MetricKind::Kl, base.clone()),
        named(
            "kl-eps",
            MetricKind::Kl,
            Params {
                eps: d.eps,
                ..base.clone()
            },
        ),
        named("js", MetricKind::Js, base.clone()),
        named("hellinger", MetricKind::Hellinger, base.clone()),
        named("blur-l2", MetricKind::BlurL2, base.clone()),
        named("hist", MetricKind::Hist, base.clone()),
    ];
    for p in [1.0, 2.0] {
        for angles in [Angles::Uniform, Angles::Random] {
            let sliced = SlicedParams {
                projections: d.projections,
                seed: d.seed,
                p,
                angles,
            };
            let name = format!("sliced-p{p}-{}", angles.as_str());
            out.push(named(
                &name,
                MetricKind::Sliced,
                Params {
                    sliced,
                    ..base.clone()
                },
            ));
        }
    }
    for ground in [Ground::Euclidean, Ground::SqEuclidean, Ground::Cityblock] {
        let name = format!("emd-{}", ground.as_str());
        out.push(named(
            &name,
            MetricKind::Emd,
            Params {
                ground,
                ..base.clone()
            },
        ));
    }
    out
}

fn pixel_by_pixel(kind: MetricKind) -> bool {
    !matches!(
        kind,
        MetricKind::Sliced | MetricKind::Emd | MetricKind::Hist
    )
}

/// d(x, y) for every ordered pair of the three masses; `None` where the sizes do not allow it.
type Table = [[Option<f64>; 3]; 3];

fn table(m: &Named, masses: &[Mass; 3]) -> Result<Table, TestCaseError> {
    let metric = m
        .kind
        .build(&m.params)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut t = [[None; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            let (x, y) = (&masses[i], &masses[j]);
            let got = metric.compute(x, y);
            // σ is in original pixels, so blur-l2 refuses two `--downscale`s (the command line
            // gives both inputs the same).
            if m.kind == MetricKind::BlurL2
                && x.shape() == y.shape()
                && x.downscale() != y.downscale()
            {
                prop_assert!(
                    matches!(
                        got,
                        Err(Error::InvalidParameter {
                            name: "--downscale",
                            ..
                        })
                    ),
                    "blur-l2 across downscales must be refused, got {:?}",
                    got
                );
                continue;
            }
            if pixel_by_pixel(m.kind) && x.shape() != y.shape() {
                prop_assert!(
                    matches!(got, Err(Error::SizeMismatch { .. })),
                    "{}: {:?} vs {:?} must be a size mismatch, got {:?}",
                    m.name,
                    x.shape(),
                    y.shape(),
                    got
                );
                continue;
            }
            let v = got
                .map_err(|e| TestCaseError::fail(format!("{} ({i}, {j}): {e}", m.name)))?
                .value;
            prop_assert!(!v.is_nan(), "{} ({i}, {j}) is NaN", m.name);
            t[i][j] = Some(v);
        }
    }
    Ok(t)
}

/// The largest distance between cells of the three masses in the ground `ground`.
fn diameter(masses: &[Mass; 3], ground: Ground) -> f64 {
    let span = |f: fn(&Mass) -> &[f64]| {
        let lo = masses.iter().map(|m| f(m)[0]).fold(f64::INFINITY, f64::min);
        let hi = masses
            .iter()
            .map(|m| *f(m).last().unwrap())
            .fold(0.0, f64::max);
        hi - lo
    };
    let (r, c) = (span(Mass::row_coords), span(Mass::col_coords));
    match ground {
        Ground::Cityblock => r + c,
        _ => r.hypot(c),
    }
}

fn check(grids: &[Grid; 3], d: &Draw) -> TestCaseResult {
    let masses = [grids[0].mass(), grids[1].mass(), grids[2].mass()];
    let mut tables = std::collections::HashMap::new();
    for m in metrics(d) {
        let t = table(&m, &masses)?;
        let kl = m.kind == MetricKind::Kl;
        let tol = |v: f64| tolerance(&m.name, v);
        let upper = match m.name.as_str() {
            "tv" | "hellinger" => 1.0,
            "js" => std::f64::consts::LN_2,
            "blur-l2" => 2f64.sqrt(),
            "kl" | "kl-eps" => f64::INFINITY,
            // The values' range: raw values, as a matrix's are taken as given.
            "hist" => masses
                .iter()
                .flat_map(|m| m.levels().expect("kept").values().last().copied())
                .fold(0.0, f64::max),
            "emd-cityblock" => diameter(&masses, Ground::Cityblock),
            _ => diameter(&masses, Ground::Euclidean),
        };
        for (i, row) in t.iter().enumerate() {
            for (j, &cell) in row.iter().enumerate() {
                let Some(v) = cell else { continue };
                if i == j {
                    prop_assert!(v.abs() <= 1e-12, "{}: d(x, x) = {v:e} for mass {i}", m.name);
                }
                prop_assert!(v >= -1e-12, "{} ({i}, {j}) = {v:e} < 0", m.name);
                prop_assert!(
                    v <= upper + tol(upper),
                    "{} ({i}, {j}) = {v} above {upper}",
                    m.name
                );
                if !kl && let Some(w) = t[j][i] {
                    prop_assert!(
                        (v - w).abs() <= tol(v),
                        "{} not symmetric: ({i}, {j}) = {v:.17e}, ({j}, {i}) = {w:.17e}",
                        m.name
                    );
                }
            }
        }
        // The triangle inequality for the metrics (js through its square root).
        if !kl {
            let root = m.name == "js";
            let f = |v: f64| if root { v.max(0.0).sqrt() } else { v };
            for (i, j, k) in [(0, 1, 2), (0, 2, 1), (1, 0, 2)] {
                if let (Some(ik), Some(ij), Some(jk)) = (t[i][k], t[i][j], t[j][k]) {
                    let (ik, ij, jk) = (f(ik), f(ij), f(jk));
                    // √ turns an error of 1e-12 in js near 0 into 1e-6.
                    let slack = if root { PIXEL_TOL.sqrt() } else { tol(ik) };
                    prop_assert!(
                        ik <= ij + jk + slack,
                        "{}: triangle d({i},{k}) = {ik:.17e} > d({i},{j}) + d({j},{k}) = {ij:.17e} + {jk:.17e}",
                        m.name
                    );
                }
            }
        }
        tables.insert(m.name, t);
    }
    let get = |name: &str, i: usize, j: usize| tables[name][i][j];
    for i in 0..3 {
        for j in 0..3 {
            if i == j {
                continue;
            }
            let w1 = get("emd-euclidean", i, j).unwrap();
            let w2 = get("emd-sqeuclidean", i, j).unwrap();
            let city = get("emd-cityblock", i, j).unwrap();
            for angles in ["uniform", "random"] {
                let sw1 = get(&format!("sliced-p1-{angles}"), i, j).unwrap();
                let sw2 = get(&format!("sliced-p2-{angles}"), i, j).unwrap();
                prop_assert!(
                    sw1 <= w1 + transport_tol(w1),
                    "SW1 {angles} {sw1:.17e} > W1 {w1:.17e} ({i}, {j})"
                );
                prop_assert!(
                    sw2 * sw2 <= w2 * w2 + transport_tol(w2 * w2),
                    "SW2 {angles} {sw2:.17e} > W2 {w2:.17e} ({i}, {j})"
                );
            }
            prop_assert!(
                w1 <= city + transport_tol(city),
                "W1 euclidean {w1} > cityblock {city}"
            );
            prop_assert!(
                city <= 2f64.sqrt() * w1 + transport_tol(city),
                "W1 cityblock {city} > √2 × euclidean {w1}"
            );
            prop_assert!(
                w1 <= w2 + tolerance("emd-sqeuclidean", w2),
                "W1 {w1} > W2 {w2} ({i}, {j})"
            );
            let Some(tv) = get("tv", i, j) else { continue };
            let (x, y) = (&masses[i], &masses[j]);
            if x.same_grid(y) {
                let bound = diameter(&masses, Ground::Euclidean) * tv;
                prop_assert!(
                    w1 <= bound + transport_tol(w1),
                    "W1 {w1} > diameter × tv = {bound}"
                );
            }
            let h = get("hellinger", i, j).unwrap();
            let js = get("js", i, j).unwrap();
            let kl = get("kl", i, j).unwrap();
            let kl_eps = get("kl-eps", i, j).unwrap();
            prop_assert!(
                h * h <= tv + PIXEL_TOL && tv <= 2f64.sqrt() * h + PIXEL_TOL,
                "hellinger {h} vs tv {tv}"
            );
            prop_assert!(
                js <= std::f64::consts::LN_2 * tv + PIXEL_TOL,
                "js {js} > ln 2 × tv {tv}"
            );
            prop_assert!(
                kl >= 2.0 * tv * tv - PIXEL_TOL,
                "Pinsker: kl {kl} < 2 tv² ({tv})"
            );
            let (p, q) = (x.as_slice(), y.as_slice());
            let unbounded = p.iter().zip(q).any(|(&p, &q)| q == 0.0 && p > 0.0);
            prop_assert_eq!(kl.is_infinite(), unbounded, "kl = {} ({}, {})", kl, i, j);
            prop_assert!(kl_eps.is_finite(), "kl with eps {} is {}", d.eps, kl_eps);
            if d.sigma == 0.0 && x.downscale() == y.downscale() {
                let l2 = p
                    .iter()
                    .zip(q)
                    .map(|(p, q)| (p - q) * (p - q))
                    .sum::<f64>()
                    .sqrt();
                let blur = get("blur-l2", i, j).unwrap();
                prop_assert!(
                    (blur - l2).abs() <= PIXEL_TOL,
                    "blur-l2 σ = 0 {blur} vs L2 {l2}"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn fuzz_metric_axioms() {
    run("metric_axioms", 300, (triple(), draw()), |(grids, d)| {
        check(&grids, &d)
    });
}
