//! `hist` against SciPy values frozen in `tests/reference/scipy_hist.json` (made by
//! `tests/reference/make_scipy_hist.py`), and masks: what an ignored pixel holds has no effect
//! on any metric, and inputs identical outside the mask are at distance 0.

mod common;

use std::sync::Arc;

use common::{assert_rel, data, imgdist, mass_levels, mass_with, reference};
use imgdist::metric::Ground;
use imgdist::{LoadOptions, Mask, Mass, MetricKind, Params, Settings};
use ndarray::Array2;
use serde_json::Value;

fn hist(a: &Mass, b: &Mass) -> f64 {
    MetricKind::Hist
        .build(&Params::default())
        .unwrap()
        .compute(a, b)
        .unwrap()
        .value
}

fn masked(mask: &Arc<Mask>) -> LoadOptions {
    LoadOptions {
        mask: Some(mask.clone()),
        levels: true,
        ..LoadOptions::default()
    }
}

#[test]
fn hist_equals_scipy_on_8_and_16_bit_images_sizes_and_matrices() {
    let fixture = reference("scipy_hist.json");
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 8);
    for case in cases {
        let (an, bn) = (case["a"].as_str().unwrap(), case["b"].as_str().unwrap());
        let (a, b) = match case["mask"].as_str() {
            None => (mass_levels(an), mass_levels(bn)),
            Some(m) => {
                let mask = Arc::new(
                    imgdist::load::load_mask(&imgdist::Source::Path(data(m)), 1 << 20).unwrap(),
                );
                (mass_with(an, &masked(&mask)), mass_with(bn, &masked(&mask)))
            }
        };
        let want = case["hist"].as_f64().unwrap();
        assert_rel(
            hist(&a, &b),
            want,
            1e-12,
            &format!("hist({an}, {bn}, mask {})", case["mask"]),
        );
        assert_rel(
            hist(&b, &a),
            want,
            1e-12,
            &format!("hist({bn}, {an}) symmetric"),
        );
    }
}

#[test]
fn sixteen_bit_values_are_not_rounded_to_eight() {
    let deep = mass_levels("camera_16bit_64.png");
    let levels = deep.levels().unwrap();
    assert_eq!(levels.pixels(), 64 * 64);
    assert!(
        levels.counts().len() > 256,
        "{} distinct values: more than 8 bits can hold",
        levels.counts().len()
    );
    assert!(hist(&deep, &mass_levels("camera_64.png")) > 0.0);
}

/// Every metric, with parameters small enough for 32×32 inputs.
fn every_metric() -> Settings {
    Settings {
        metrics: MetricKind::ALL.to_vec(),
        params: Params {
            eps: 1e-3,
            ground: Ground::SqEuclidean,
            ..Params::default()
        },
        ..Settings::default()
    }
}

fn values_of(name: &str) -> Array2<f64> {
    // The light of each pixel, read back from a mass of known total.
    let m = mass_with(name, &LoadOptions::default());
    m.weights() * m.raw_total()
}

/// A mask ignoring rows 4..14 and columns 6..20 of a 32×32 input.
fn block_mask() -> Arc<Mask> {
    let ignore = Array2::from_shape_fn((32, 32), |(r, c)| {
        (4..14).contains(&r) && (6..20).contains(&c)
    });
    Arc::new(Mask::new(ignore, "block"))
}

fn report_values(a: &Mass, b: &Mass) -> Vec<(MetricKind, f64)> {
    let settings = every_metric();
    let report = settings.report(&settings.params, ["a", "b"], a, b).unwrap();
    report
        .metrics
        .iter()
        .map(|m| (m.kind, m.measurement.value))
        .collect()
}

fn with_mask(values: &Array2<f64>, mask: &Arc<Mask>, name: &str) -> Mass {
    Mass::from_pixels(values, 1, Some(mask.clone()), true, name).unwrap()
}

#[test]
fn what_a_masked_region_holds_has_no_effect_on_any_metric() {
    let mask = block_mask();
    let (a, b) = (values_of("camera_32.png"), values_of("coins_32.png"));
    // A copy of A with other content (bright noise, then black) in the masked block.
    let mut rng = 12345u64;
    let mut noisy = a.clone();
    let mut black = a.clone();
    for ((r, c), v) in noisy.indexed_iter_mut() {
        if mask.ignore()[[r, c]] {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *v = (rng >> 11) as f64 / (1u64 << 53) as f64;
            black[[r, c]] = 0.0;
        }
    }
    let base = report_values(&with_mask(&a, &mask, "a"), &with_mask(&b, &mask, "b"));
    assert_eq!(base.len(), MetricKind::ALL.len());
    for other in [&noisy, &black] {
        let got = report_values(&with_mask(other, &mask, "a'"), &with_mask(&b, &mask, "b"));
        assert_eq!(got, base, "a masked region changed a value");
    }
    // Unmasked, the region does matter (the test can fail).
    let unmasked = |v: &Array2<f64>| Mass::from_pixels(v, 1, None, true, "x").unwrap();
    let plain = report_values(&unmasked(&a), &unmasked(&b));
    let changed = report_values(&unmasked(&noisy), &unmasked(&b));
    for ((kind, x), (_, y)) in plain.iter().zip(&changed) {
        assert_ne!(
            x, y,
            "{kind}: the block's content should change the unmasked value"
        );
    }
}

#[test]
fn inputs_identical_outside_the_mask_are_at_distance_zero() {
    let mask = block_mask();
    let a = values_of("camera_32.png");
    let mut b = a.clone();
    for ((r, c), v) in b.indexed_iter_mut() {
        if mask.ignore()[[r, c]] {
            *v = 1.0 - *v;
        }
    }
    for (kind, v) in report_values(&with_mask(&a, &mask, "a"), &with_mask(&b, &mask, "b")) {
        assert!(v.abs() <= 1e-12, "{kind} = {v}, want 0");
    }
}

#[test]
fn masking_trailing_columns_equals_cropping_them() {
    // Ignoring the last 8 columns leaves the same cells at the same positions as cutting them
    // off: every metric but blur-l2 (whose blur reaches into the ignored cells) agrees.
    let ignore = Array2::from_shape_fn((32, 32), |(_, c)| c >= 24);
    let mask = Arc::new(Mask::new(ignore, "right"));
    let (a, b) = (values_of("camera_32.png"), values_of("coins_32.png"));
    let crop = |v: &Array2<f64>| {
        Mass::from_pixels(
            &v.slice(ndarray::s![.., ..24]).to_owned(),
            1,
            None,
            true,
            "c",
        )
        .unwrap()
    };
    let got = report_values(&with_mask(&a, &mask, "a"), &with_mask(&b, &mask, "b"));
    let want = report_values(&crop(&a), &crop(&b));
    for ((kind, x), (_, y)) in got.iter().zip(&want) {
        if *kind == MetricKind::BlurL2 {
            continue;
        }
        assert_rel(*x, *y, 1e-9, &format!("{kind}: masked vs cropped"));
    }
}

fn json(out: &[u8]) -> Value {
    serde_json::from_slice(out).unwrap()
}

/// The JSON report of a run that must succeed.
fn report_of(args: &[&str]) -> Value {
    let out = imgdist().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out.stdout)
}

#[test]
fn cli_hist_and_mask() {
    let j = report_of(&[
        "camera_32.png",
        "coins_32.png",
        "-m",
        "hist",
        "--format",
        "json",
    ]);
    assert_rel(
        j["metrics"]["hist"]["value"].as_f64().unwrap(),
        0.16632582720588235,
        1e-12,
        "hist",
    );
    assert_eq!(j["metrics"]["hist"]["params"], serde_json::json!({}));
    assert!(j["inputs"]["a"].get("mask").is_none() && j["options"].get("mask").is_none());

    let j = report_of(&[
        "camera_32.png",
        "coins_32.png",
        "-m",
        "hist,tv",
        "--mask",
        "quarter_mask_32.png",
        "--format",
        "json",
    ]);
    assert_eq!(
        j["inputs"]["a"]["mask"],
        serde_json::json!({"path": "quarter_mask_32.png", "ignored": 256})
    );
    assert_eq!(j["options"]["mask"], "quarter_mask_32.png");
    let fixture = reference("scipy_hist.json");
    let want = fixture["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["mask"].is_string())
        .unwrap()["hist"]
        .as_f64()
        .unwrap();
    assert_rel(
        j["metrics"]["hist"]["value"].as_f64().unwrap(),
        want,
        1e-12,
        "masked hist",
    );
}

#[test]
fn cli_mask_errors_are_exit_2_with_the_reason() {
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "camera_64.png",
                "coins_64.png",
                "--mask",
                "quarter_mask_32.png",
            ],
            "mask quarter_mask_32.png is 32x32 pixels but camera_64.png is 64x64 (rows x columns)",
        ),
        (
            &[
                "camera_32.png",
                "coins_64.png",
                "--mask-a",
                "quarter_mask_32.png",
                "--mask-b",
                "quarter_mask_32.png",
            ],
            "but coins_64.png is 64x64",
        ),
        (
            &["camera_32.png", "coins_32.png", "--mask", "-"],
            "a mask cannot be read from standard input",
        ),
        (
            &[
                "camera_32.png",
                "coins_32.png",
                "--mask",
                "x.png",
                "--mask-a",
                "y.png",
            ],
            "cannot be used with",
        ),
    ];
    for (args, want) in cases {
        let out = imgdist().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn cli_mask_a_alone_masks_a_only() {
    let run = |extra: &[&str]| {
        let base = [
            "camera_32.png",
            "camera_32.png",
            "-m",
            "tv",
            "--format",
            "json",
        ];
        report_of(&[&base[..], extra].concat())
    };
    let j = run(&["--mask-a", "quarter_mask_32.png"]);
    assert!(j["inputs"]["a"]["mask"].is_object() && j["inputs"]["b"].get("mask").is_none());
    assert!(j["options"].get("mask").is_none());
    // A lost the light of its top-left quarter, B did not: they differ.
    assert!(j["metrics"]["tv"]["value"].as_f64().unwrap() > 0.01);
    let both = run(&[
        "--mask-a",
        "quarter_mask_32.png",
        "--mask-b",
        "quarter_mask_32.png",
    ]);
    assert_eq!(both["metrics"]["tv"]["value"], 0.0);
}

#[test]
fn batch_applies_the_mask_to_every_pair_and_fails_pairs_of_another_size() {
    let out = imgdist()
        .args([
            "batch",
            "--all-pairs",
            "camera_32.png",
            "coins_32.png",
            "moon_64.png",
            "-m",
            "hist",
            "--mask",
            "quarter_mask_32.png",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let records: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["status"], "ok");
    assert_eq!(records[0]["options"]["mask"], "quarter_mask_32.png");
    assert_eq!(records[0]["inputs"]["b"]["mask"]["ignored"], 256);
    for r in &records[1..] {
        assert_eq!(r["status"], "error");
        assert!(
            r["error"]
                .as_str()
                .unwrap()
                .contains("moon_64.png is 64x64"),
            "{r}"
        );
    }
}
