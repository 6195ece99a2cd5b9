//! Sliced Wasserstein against POT (same directions), dense quadrature, closed forms and thread
//! count invariance. POT values are frozen in `tests/reference/pot_sliced.json`, made by
//! `tests/reference/make_reference.py`.

mod common;

use common::{assert_rel, mass, mass_k, reference};
use imgdist::metric::sliced::{SlicedDetails, SlicedParams, sliced_wasserstein};
use imgdist::metric::{Angles, Details, MetricKind, MetricParams, Params};

#[test]
fn equals_pot_given_the_same_directions() {
    let fixture = reference("pot_sliced.json");
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 12);
    for case in cases {
        let (an, bn) = (case["a"].as_str().unwrap(), case["b"].as_str().unwrap());
        let p = case["p"].as_f64().unwrap();
        let angles: Vec<f64> = case["angles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let got = sliced_wasserstein(&mass(an), &mass(bn), &angles, p).value;
        assert_rel(
            got,
            case["value"].as_f64().unwrap(),
            1e-9,
            &format!("sliced p={p} ({an}, {bn}, {} directions)", angles.len()),
        );
    }
}

#[test]
fn estimates_agree_with_dense_quadrature_within_their_standard_error() {
    let (a, b) = (mass("camera_64.png"), mass("moon_64.png"));
    for p in [1.0, 2.0] {
        let dense = sliced_wasserstein(&a, &b, &Angles::Uniform.generate(20_000, 1), p).value;
        for (mode, seed) in [
            (Angles::Random, 3),
            (Angles::Random, 4),
            (Angles::Uniform, 5),
        ] {
            let r = sliced_wasserstein(&a, &b, &mode.generate(200, seed), p);
            assert!(r.std_error > 0.0);
            assert!(
                (r.value - dense).abs() <= 4.0 * r.std_error,
                "p={p} {mode:?}: {} vs dense {dense}, std error {}",
                r.value,
                r.std_error
            );
        }
        // Equispaced directions are far more accurate than their (random-sampling) error bar.
        let u = sliced_wasserstein(&a, &b, &Angles::Uniform.generate(200, 9), p);
        assert!(
            (u.value - dense).abs() <= 1e-3 * dense,
            "p={p}: uniform {} vs dense {dense}",
            u.value
        );
    }
}

#[test]
fn result_does_not_depend_on_the_thread_count() {
    let (a, b) = (mass("camera_299.png"), mass("coins_299.png"));
    let angles = Angles::Random.generate(24, 42);
    let run = |threads: usize, p: f64| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| sliced_wasserstein(&a, &b, &angles, p))
    };
    for p in [1.0, 2.0] {
        let one = run(1, p);
        for threads in [2, 3, 8] {
            assert_eq!(run(threads, p), one, "p={p}, {threads} threads");
        }
    }
}

#[test]
fn metric_reports_its_parameters_and_standard_error() {
    let (a, b) = (mass("camera_64.png"), mass("moon_64.png"));
    let params = Params {
        sliced: SlicedParams {
            projections: 50,
            seed: 7,
            p: 2.0,
            angles: Angles::Random,
        },
        ..Params::default()
    };
    let m = MetricKind::Sliced
        .build(&params)
        .unwrap()
        .compute(&a, &b)
        .unwrap();
    let direct = sliced_wasserstein(&a, &b, &Angles::Random.generate(50, 7), 2.0);
    assert_eq!(m.value, direct.value);
    assert_eq!(
        m.details,
        Details::Sliced(SlicedDetails {
            std_error: direct.std_error
        })
    );
    assert_eq!(m.params, MetricParams::Sliced(params.sliced.clone()));
    // As the JSON report writes them.
    assert_eq!(
        serde_json::to_string(&m.params).unwrap(),
        r#"{"projections":50,"seed":7,"p":2.0,"angles":"random"}"#
    );
}

#[test]
fn sliced_never_exceeds_the_exact_distance_and_swapping_is_symmetric() {
    let fixture = reference("pot_emd.json");
    let angles = Angles::Uniform.generate(100, 0);
    for case in fixture["cases"].as_array().unwrap() {
        let ground = case["ground"].as_str().unwrap();
        let p = match ground {
            "euclidean" => 1.0,
            "sqeuclidean" => 2.0,
            _ => continue,
        };
        let (a, b) = (
            mass(case["a"].as_str().unwrap()),
            mass(case["b"].as_str().unwrap()),
        );
        let ab = sliced_wasserstein(&a, &b, &angles, p).value;
        let ba = sliced_wasserstein(&b, &a, &angles, p).value;
        assert_rel(ba, ab, 1e-12, "symmetry");
        let exact = case["value"].as_f64().unwrap();
        assert!(ab <= exact * (1.0 + 1e-12), "SW_{p} {ab} > W_{p} {exact}");
    }
}

#[test]
fn downscaled_inputs_keep_pixel_units() {
    // Block sums with cells at block centres: a 4x coarser grid changes the value only a little.
    let angles = Angles::Uniform.generate(64, 0);
    let full = sliced_wasserstein(
        &mass_k("camera_64.png", 1),
        &mass_k("moon_64.png", 1),
        &angles,
        1.0,
    );
    let coarse = sliced_wasserstein(
        &mass_k("camera_64.png", 4),
        &mass_k("moon_64.png", 4),
        &angles,
        1.0,
    );
    assert!(
        (full.value - coarse.value).abs() < 0.05 * full.value,
        "{} vs {}",
        full.value,
        coarse.value
    );
}
