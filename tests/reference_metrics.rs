//! Pixel-by-pixel metrics against SciPy values frozen in `tests/reference/scipy_metrics.json`
//! (made by `tests/reference/make_reference.py`).

mod common;

use common::{assert_rel, mass_k, reference};
use imgdist::{Mass, MetricKind, Params};

fn value(kind: MetricKind, params: &Params, a: &Mass, b: &Mass) -> f64 {
    kind.build(params).unwrap().compute(a, b).unwrap().value
}

#[test]
fn pixelwise_metrics_equal_scipy_to_1e9() {
    let fixture = reference("scipy_metrics.json");
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let (an, bn) = (case["a"].as_str().unwrap(), case["b"].as_str().unwrap());
        let k = case["downscale"].as_u64().unwrap() as usize;
        let (a, b) = (mass_k(an, k), mass_k(bn, k));
        let label = |m: &str| format!("{m}({an}, {bn}, downscale {k})");
        let p = Params::default();
        assert_rel(
            value(MetricKind::Tv, &p, &a, &b),
            case["tv"].as_f64().unwrap(),
            1e-9,
            &label("tv"),
        );
        assert_rel(
            value(MetricKind::Js, &p, &a, &b),
            case["js"].as_f64().unwrap(),
            1e-9,
            &label("js"),
        );
        assert_rel(
            value(MetricKind::Hellinger, &p, &a, &b),
            case["hellinger"].as_f64().unwrap(),
            1e-9,
            &label("hellinger"),
        );
        let kl = value(MetricKind::Kl, &p, &a, &b);
        match case["kl"].as_f64() {
            Some(want) => assert_rel(kl, want, 1e-9, &label("kl")),
            None => assert_eq!(case["kl"], "inf", "{}", label("kl")),
        }
        if case["kl"] == "inf" {
            assert_eq!(kl, f64::INFINITY, "{}", label("kl"));
        }
        let eps = case["kl_eps"]["eps"].as_f64().unwrap();
        let kl_eps = value(MetricKind::Kl, &Params { eps, ..p.clone() }, &a, &b);
        assert_rel(
            kl_eps,
            case["kl_eps"]["value"].as_f64().unwrap(),
            1e-9,
            &label("kl eps"),
        );
        for blur in case["blur_l2"].as_array().unwrap() {
            let sigma = blur["sigma"].as_f64().unwrap();
            let got = value(MetricKind::BlurL2, &Params { sigma, ..p.clone() }, &a, &b);
            assert_rel(
                got,
                blur["value"].as_f64().unwrap(),
                1e-9,
                &label(&format!("blur-l2 σ={sigma}")),
            );
        }
    }
}

#[test]
fn downscaled_grid_matches_the_fixture_grid() {
    let fixture = reference("scipy_metrics.json");
    let case = fixture["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["downscale"].as_u64() != Some(1))
        .expect("a downscaled case");
    let k = case["downscale"].as_u64().unwrap() as usize;
    let a = mass_k(case["a"].as_str().unwrap(), k);
    let grid = case["grid"].as_array().unwrap();
    assert_eq!(
        a.shape(),
        (
            grid[0].as_u64().unwrap() as usize,
            grid[1].as_u64().unwrap() as usize
        )
    );
}

#[test]
fn blur_l2_with_kernels_far_wider_than_the_image_equals_50_digit_sums() {
    // The value is carried by the kernel's truncation ripple, some 10⁻⁴/σ of each weight, so
    // summing the taps in floating point would not resolve it; the fixture sums them per residue
    // class at 50 + log10(σ) digits (tests/reference/make_blur_reference.py).
    let fixture = reference("mpmath_blur_wide.json");
    for case in fixture["cases"].as_array().unwrap() {
        let matrix = |key: &str| {
            let rows = case[key].as_array().unwrap();
            let cols = rows[0].as_array().unwrap().len();
            let values = rows
                .iter()
                .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()));
            let array = ndarray::Array2::from_shape_vec((rows.len(), cols), values.collect());
            Mass::from_values(&array.unwrap(), 1, key).unwrap()
        };
        let (a, b) = (matrix("a"), matrix("b"));
        for blur in case["blur_l2"].as_array().unwrap() {
            let sigma = blur["sigma"].as_f64().unwrap();
            let want: f64 = blur["value"].as_str().unwrap().parse().unwrap();
            let params = Params {
                sigma,
                ..Params::default()
            };
            let got = value(MetricKind::BlurL2, &params, &a, &b);
            let what = format!("blur-l2 {} σ={sigma}", case["name"]);
            assert_rel(got, want, 1e-12, &what);
        }
    }
}
