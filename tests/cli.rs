//! The command line: output formats, the exit contract, and every bad input.

mod common;

use common::{data, imgdist};
use predicates::prelude::*;
use serde_json::Value;

fn json_of(args: &[&str]) -> Value {
    let out = imgdist()
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs with the given arguments and checks exit code 2, an empty stdout, and exactly one line
/// on stderr that contains `needle`.
#[track_caller]
fn fails_with(args: &[&str], needle: &str) {
    let out = imgdist().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "args {args:?}, stderr: {stderr}"
    );
    assert!(out.stdout.is_empty(), "stdout must stay empty on errors");
    assert_eq!(stderr.lines().count(), 1, "one-line reason, got: {stderr}");
    assert!(stderr.starts_with("imgdist: "), "{stderr}");
    assert!(stderr.contains(needle), "expected '{needle}' in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn text_output_is_one_tab_separated_line_per_metric() {
    imgdist()
        .args(["dot_at_1_2.png", "dot_at_3_5.png", "-m", "tv,js,hellinger"])
        .assert()
        .success()
        .stdout("tv\t1\njs\t0.6931471805599453\nhellinger\t1\n")
        .stderr("");
}

#[test]
fn default_metric_set_is_documented_one() {
    imgdist()
        .args(["camera_32.png", "camera_32.png"])
        .assert()
        .success()
        .stdout("sliced\t0\n");
}

#[test]
fn self_comparison_is_zero_for_every_metric() {
    for input in ["camera_64.png", "astronaut_rgba_64.png", "data32_1001.csv"] {
        let out = imgdist()
            .args([input, input, "-m", "all"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.lines().count(),
            imgdist::MetricKind::ALL.len(),
            "{text}"
        );
        for line in text.lines() {
            let (name, value) = line.split_once('\t').unwrap();
            assert_eq!(value, "0", "{input}: {name} should be 0, got {value}");
        }
    }
}

#[test]
fn json_report_schema() {
    let j = json_of(&[
        "dot_at_1_2.png",
        "dot_at_3_5.png",
        "-m",
        "tv,kl,blur-l2",
        "--sigma",
        "1.5",
    ]);
    assert_eq!(j["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(j["inputs"]["a"]["path"], "dot_at_1_2.png");
    assert_eq!(j["inputs"]["a"]["width"], 8);
    assert_eq!(j["inputs"]["a"]["height"], 8);
    assert_eq!(j["inputs"]["b"]["grid_rows"], 8);
    assert_eq!(j["inputs"]["b"]["total"], 1.0);
    assert_eq!(j["options"]["downscale"], 1);
    assert_eq!(j["options"]["invert"], false);
    let names: Vec<&String> = j["metrics"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["tv", "kl", "blur-l2"], "requested order is kept");
    assert_eq!(j["metrics"]["tv"]["value"], 1.0);
    assert_eq!(j["metrics"]["tv"]["finite"], true);
    assert_eq!(j["metrics"]["tv"]["pass"], true);
    assert_eq!(j["metrics"]["blur-l2"]["params"]["sigma"], 1.5);
    // Infinite KL: null with an explicit marker.
    assert_eq!(j["metrics"]["kl"]["value"], Value::Null);
    assert_eq!(j["metrics"]["kl"]["finite"], false);
    assert_eq!(j["metrics"]["kl"]["value_text"], "inf");
    assert_eq!(j["metrics"]["kl"]["params"]["eps"], 0.0);
    assert_eq!(j["pass"], true);
}

#[test]
fn infinite_kl_prints_inf_and_eps_makes_it_finite() {
    imgdist()
        .args(["dot_at_1_2.png", "dot_at_3_5.png", "-m", "kl"])
        .assert()
        .success()
        .stdout("kl\tinf\n");
    let j = json_of(&[
        "dot_at_1_2.png",
        "dot_at_3_5.png",
        "-m",
        "kl",
        "--eps",
        "1e-3",
    ]);
    // Two 8×8 dots plus ε = 1e-3 per cell, renormalised by Z = 1 + 64ε: only the two dots'
    // cells differ, and KL = ln((1 + ε)/ε) / Z.
    let v = j["metrics"]["kl"]["value"].as_f64().unwrap();
    let want = (1.001f64 / 1e-3).ln() / 1.064;
    assert!((v - want).abs() <= 1e-12 * want, "{v} vs {want}");
}

#[test]
fn max_thresholds_drive_the_exit_code() {
    // tv(camera, moon) = 0.234…
    let args = ["camera_64.png", "moon_64.png"];
    imgdist()
        .args(args)
        .args(["--max", "tv=0.3"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("tv\t0.234"));
    imgdist()
        .args(args)
        .args(["--max", "tv=0.2"])
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("tv\t0.234"))
        .stderr(
            predicate::str::contains("tv = 0.234").and(predicate::str::contains("above --max 0.2")),
        );
    // Several thresholds: any failure fails; JSON records each.
    let out = imgdist()
        .args(args)
        .args([
            "-m",
            "tv,hellinger",
            "--max",
            "tv=0.3",
            "--max",
            "hellinger=0.1",
            "--format",
            "json",
        ])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let j: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(j["metrics"]["tv"]["pass"], true);
    assert_eq!(j["metrics"]["tv"]["max"], 0.3);
    assert_eq!(j["metrics"]["hellinger"]["pass"], false);
    assert_eq!(j["pass"], false);
    // A metric named only by --max is computed.
    imgdist()
        .args(args)
        .args(["--max", "js=1"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("js\t"));
    // Not finite is a failure whatever the threshold.
    imgdist()
        .args(["dot_at_1_2.png", "dot_at_3_5.png", "--max", "kl=1e300"])
        .assert()
        .code(1)
        .stdout("kl\tinf\n");
}

#[test]
fn stdin_operand() {
    let bytes = std::fs::read(data("camera_32.png")).unwrap();
    imgdist()
        .args(["-", "camera_32.png", "-m", "tv"])
        .write_stdin(bytes)
        .assert()
        .success()
        .stdout("tv\t0\n");
    imgdist()
        .args(["dot_2x3.csv", "-", "-m", "tv"])
        .write_stdin("0 0 0\n0 5 0\n")
        .assert()
        .success()
        .stdout("tv\t0\n");
    fails_with(&["-", "-"], "only one input");
}

#[test]
fn invert_takes_mass_from_the_dark_pixels() {
    let j = json_of(&[
        "black_dot_on_white_at_1_2.png",
        "black_dot_on_white_at_1_2.png",
        "--invert",
    ]);
    assert_eq!(j["inputs"]["a"]["total"], 1.0);
    assert_eq!(j["options"]["invert"], true);
    let j = json_of(&[
        "black_dot_on_white_at_1_2.png",
        "black_dot_on_white_at_1_2.png",
    ]);
    assert_eq!(j["inputs"]["a"]["total"], 63.0);
}

#[test]
fn downscale_reports_grid_and_applies_to_every_metric() {
    let j = json_of(&[
        "camera_64.png",
        "moon_64.png",
        "--downscale",
        "10",
        "-m",
        "all",
    ]);
    assert_eq!(j["inputs"]["a"]["grid_rows"], 7);
    assert_eq!(j["inputs"]["a"]["grid_cols"], 7);
    assert_eq!(j["options"]["downscale"], 10);
    let full = json_of(&["camera_64.png", "moon_64.png", "-m", "tv"]);
    let coarse = j["metrics"]["tv"]["value"].as_f64().unwrap();
    assert!(coarse < full["metrics"]["tv"]["value"].as_f64().unwrap());
}

#[test]
fn colour_and_sixteen_bit_inputs_load() {
    imgdist()
        .args(["astronaut_rgba_64.png", "camera_16bit_64.png", "-m", "tv"])
        .assert()
        .success();
}

#[test]
fn help_states_the_exit_contract() {
    imgdist().arg("--help").assert().success().stdout(
        predicate::str::contains("Exit status:").and(predicate::str::contains(
            "1  computed, but some value is above its --max",
        )),
    );
}

/// A decoder that panics on malformed data gives that input's decode error and nothing more on
/// stderr, even with `RUST_BACKTRACE` set (which adds the message and backtrace of a bug).
#[test]
fn a_panicking_decoder_is_one_decode_error_line() {
    imgdist()
        .env("RUST_BACKTRACE", "1")
        .args(["palette_of_52_bytes.png", "camera_32.png"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            "imgdist: palette_of_52_bytes.png: cannot decode image: the decoder failed on \
             malformed data (range end index 3 out of range for slice of length 1)\n",
        );
}

#[test]
fn bad_inputs_exit_2_with_one_line() {
    fails_with(
        &["missing.png", "camera_32.png"],
        "missing.png: cannot read",
    );
    fails_with(&[".", "camera_32.png"], "is a directory");
    fails_with(&["empty.png", "camera_32.png"], "empty input");
    fails_with(
        &["camera_32_truncated.png", "camera_32.png"],
        "cannot decode image",
    );
    fails_with(
        &["camera_32_corrupt.png", "camera_32.png"],
        "cannot decode image",
    );
    fails_with(
        &["not_an_image.pdf", "camera_32.png"],
        "not a supported image format",
    );
    fails_with(&["black_8x8.png", "camera_32.png"], "zero total mass");
    fails_with(
        &["nan.csv", "dot_2x3.csv"],
        "line 2, field 2: nan is not a finite non-negative number",
    );
    fails_with(
        &["dot_2x3.csv", "negative.csv"],
        "-4 is not a finite non-negative number",
    );
    fails_with(&["words.csv", "dot_2x3.csv"], "'four' is not a number");
    fails_with(
        &["ragged.csv", "dot_2x3.csv"],
        "line 2: 2 fields, but the first row has 3",
    );
    fails_with(
        &["camera_32.png", "camera_64.png", "-m", "tv"],
        "32x32 and 64x64",
    );
    fails_with(
        &["camera_32.png", "camera_32.png", "--downscale", "0"],
        "--downscale",
    );
    fails_with(
        &[
            "camera_32.png",
            "camera_32.png",
            "-m",
            "blur-l2",
            "--sigma",
            "-1",
        ],
        "invalid --sigma",
    );
    fails_with(
        &[
            "camera_32.png",
            "camera_32.png",
            "-m",
            "kl",
            "--eps",
            "-0.1",
        ],
        "invalid --eps",
    );
    fails_with(
        &["camera_32.png", "camera_32.png", "-m", "tv,emdx"],
        "unknown metric 'emdx' (known: tv, kl, js, hellinger, blur-l2, hist, sliced, emd, sinkhorn)",
    );
    fails_with(
        &["camera_32.png", "camera_32.png", "--max", "tv"],
        "expected NAME=VALUE",
    );
    fails_with(
        &["camera_32.png", "camera_32.png", "--max", "tv=abc"],
        "'abc' is not a number",
    );
    fails_with(
        &["camera_32.png", "camera_32.png", "--max", "nope=1"],
        "unknown metric 'nope'",
    );
    fails_with(
        &[
            "camera_32.png",
            "camera_32.png",
            "-m",
            "tv",
            "--max",
            "js=1",
        ],
        "--metric does not compute",
    );
    fails_with(
        &["camera_32.png", "camera_32.png", "--max-pixels", "100"],
        "exceed the limit of 100",
    );
    fails_with(&["camera_32.png"], "required arguments");
    fails_with(
        &["camera_32.png", "camera_32.png", "--format", "xml"],
        "possible values",
    );
}

#[test]
fn bad_parameters_are_reported_before_loading() {
    // The parameter error wins over the missing file: nothing is read in vain.
    fails_with(
        &[
            "missing.png",
            "camera_32.png",
            "-m",
            "blur-l2",
            "--sigma",
            "-1",
        ],
        "invalid --sigma",
    );
}

#[test]
fn sliced_options_and_json_details() {
    let run = |seed: &str| {
        json_of(&[
            "camera_64.png",
            "moon_64.png",
            "-m",
            "sliced",
            "--proj",
            "50",
            "--seed",
            seed,
            "--p",
            "2",
            "--angles",
            "random",
        ])
    };
    let j = run("3");
    let s = &j["metrics"]["sliced"];
    assert_eq!(s["params"]["projections"], 50);
    assert_eq!(s["params"]["seed"], 3);
    assert_eq!(s["params"]["p"], 2.0);
    assert_eq!(s["params"]["angles"], "random");
    let (value, se) = (
        s["value"].as_f64().unwrap(),
        s["details"]["std_error"].as_f64().unwrap(),
    );
    // The exact W2 of this pair is 7.68 (POT); the sliced value is below it.
    assert!(value > 3.0 && value < 7.68, "{value}");
    assert!(se > 0.0 && se < 0.2 * value, "{se}");
    // Same seed, same value; another seed, another value.
    assert_eq!(run("3")["metrics"]["sliced"]["value"], s["value"]);
    assert_ne!(run("4")["metrics"]["sliced"]["value"], s["value"]);
}

#[test]
fn sliced_moved_dot_is_two_over_pi_times_the_shift() {
    // A dot moved by (2, 3): SW1 over many equispaced angles → (2/π)·√13.
    let out = imgdist()
        .args([
            "dot_at_1_2.png",
            "dot_at_3_5.png",
            "-m",
            "sliced",
            "--proj",
            "5000",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let v: f64 = text
        .trim()
        .strip_prefix("sliced\t")
        .unwrap()
        .parse()
        .unwrap();
    let want = 2.0 / std::f64::consts::PI * 13f64.sqrt();
    assert!((v - want).abs() < 1e-6, "{v} vs {want}");
}

#[test]
fn sliced_accepts_different_sizes_and_downscale() {
    imgdist()
        .args(["moon_32.png", "camera_64.png", "-m", "sliced"])
        .assert()
        .success();
    let j = json_of(&[
        "camera_64.png",
        "moon_64.png",
        "-m",
        "sliced",
        "--downscale",
        "4",
    ]);
    assert_eq!(j["inputs"]["a"]["grid_rows"], 16);
    let coarse = j["metrics"]["sliced"]["value"].as_f64().unwrap();
    let full =
        json_of(&["camera_64.png", "moon_64.png", "-m", "sliced"])["metrics"]["sliced"]["value"]
            .as_f64()
            .unwrap();
    assert!((coarse - full).abs() < 0.05 * full, "{coarse} vs {full}");
}

#[test]
fn blur_l2_with_a_kernel_far_wider_than_the_image() {
    // 2R + 1 = 8·10⁹ + 1 taps, and R past every integer type: folded onto the image's period.
    let mut last = f64::INFINITY;
    for sigma in ["1e9", "1e300", "1.7e308"] {
        let j = json_of(&[
            "camera_32.png",
            "moon_32.png",
            "-m",
            "blur-l2",
            "--sigma",
            sigma,
        ]);
        let v = j["metrics"]["blur-l2"]["value"].as_f64().unwrap();
        assert!(
            v.is_finite() && v > 0.0 && v < last,
            "σ={sigma}: {v} (before: {last})"
        );
        last = v;
    }
}

#[test]
fn sliced_large_p_stays_positive_and_grows_with_p() {
    // W_p^p per direction over- and underflows here (|d|^200 for |d| up to 420 px).
    for (a, b, large, side) in [
        ("camera_299.png", "moon_299.png", "200", 299.0),
        ("camera_32.png", "moon_32.png", "450", 32.0),
    ] {
        let value = |p: &str| {
            let j = json_of(&[a, b, "-m", "sliced", "--p", p]);
            let s = &j["metrics"]["sliced"];
            assert!(
                s["details"]["std_error"].as_f64().unwrap().is_finite(),
                "{s}"
            );
            s["value"].as_f64().unwrap()
        };
        let (moderate, big) = (value("20"), value(large));
        let diagonal = f64::hypot(side - 1.0, side - 1.0);
        assert!(
            big.is_finite() && big > 0.0 && big >= moderate && big <= diagonal,
            "{a} p={large}: {big} (p=20: {moderate}, diagonal {diagonal})"
        );
    }
}

#[test]
fn sliced_bad_parameters() {
    fails_with(
        &["camera_32.png", "camera_32.png", "--proj", "0"],
        "invalid --proj",
    );
    fails_with(
        &["camera_32.png", "camera_32.png", "--p", "0.5"],
        "invalid --p",
    );
    fails_with(
        &["camera_32.png", "camera_32.png", "--angles", "spiral"],
        "invalid --angles",
    );
    fails_with(
        &["camera_32.png", "camera_32.png", "--seed", "-1"],
        "--seed",
    );
}

#[test]
fn emd_grounds_and_json_details() {
    // A dot moved by (2, 3): euclidean √13, squared euclidean reports W2 = √13, cityblock 5.
    for (ground, want, algorithm) in [
        ("euclidean", 13f64.sqrt(), "column-generation"),
        ("sqeuclidean", 13f64.sqrt(), "column-generation"),
        ("cityblock", 5.0, "grid-flow"),
    ] {
        let j = json_of(&[
            "dot_at_1_2.png",
            "dot_at_3_5.png",
            "-m",
            "emd",
            "--ground",
            ground,
        ]);
        let e = &j["metrics"]["emd"];
        let v = e["value"].as_f64().unwrap();
        assert!((v - want).abs() < 1e-12, "{ground}: {v} vs {want}");
        assert_eq!(e["params"]["ground"], ground);
        assert_eq!(e["details"]["algorithm"], algorithm);
        let cost = e["details"]["cost"].as_f64().unwrap();
        let want_cost = if ground == "sqeuclidean" { 13.0 } else { want };
        assert!((cost - want_cost).abs() < 1e-12, "{ground} cost {cost}");
        assert!(e["details"]["iterations"].as_u64().is_some());
        assert!(e["details"]["solve_seconds"].as_f64().unwrap() >= 0.0);
        let c = &e["details"]["certificate"];
        assert!(c["max_violation"].as_f64().unwrap() < 1e-9, "{c}");
        assert!(c["gap"].as_f64().unwrap() < 1e-9, "{c}");
        assert!(c["rounds"].as_u64().unwrap() >= 1);
        if algorithm == "grid-flow" {
            // Every pair of the 8 × 8 grid's cells, checked by the distance transform.
            assert_eq!(c["pricing"], "distance-transform");
            assert_eq!(c["pairs_priced"].as_u64(), Some(64 * 64));
        }
    }
}

#[test]
fn emd_default_ground_is_euclidean_and_max_applies() {
    imgdist()
        .args([
            "dot_at_1_2.png",
            "dot_at_3_5.png",
            "-m",
            "emd",
            "--max",
            "emd=3",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("emd\t3.60555127546398"));
}

#[test]
fn emd_above_the_cell_limit_asks_for_downscale() {
    // Two 1100×1000 images with mass everywhere: 2,200,000 cells, above the 2²¹ limit.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("gradient_1100.png");
    image::GrayImage::from_fn(1100, 1000, |x, y| image::Luma([1 + ((x + y) % 200) as u8]))
        .save(&big)
        .unwrap();
    let big = big.to_str().unwrap();
    for ground in ["euclidean", "sqeuclidean"] {
        fails_with(
            &[big, big, "-m", "emd", "--ground", ground],
            "--downscale 2",
        );
    }
    // The suggested recipe works: 30×30 block sums at block centres.
    let j = json_of(&[
        "camera_299.png",
        "coins_299.png",
        "-m",
        "emd",
        "--downscale",
        "10",
    ]);
    assert_eq!(j["inputs"]["a"]["grid_rows"], 30);
    assert!(j["metrics"]["emd"]["value"].as_f64().unwrap() > 10.0);
    fails_with(
        &[
            "camera_32.png",
            "camera_32.png",
            "-m",
            "emd",
            "--ground",
            "manhattan",
        ],
        "invalid --ground",
    );
}

/// The JSON report, byte for byte (only the solve time varies): field order, number formats,
/// `null` with `value_text` for an infinite value, `max` only where set.
#[test]
fn json_report_is_pinned_byte_for_byte() {
    let out = imgdist()
        .args(["dot_at_1_2.png", "dot_at_3_5.png", "-m", "all"])
        .args(["--max", "kl=1", "--max", "tv=1", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "kl = inf is above its --max");
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, rest) = text.split_once(r#""solve_seconds":"#).expect("emd's time");
    let tail = rest.trim_start_matches(|c: char| c.is_ascii_digit() || ".e-".contains(c));
    let want_head = concat!(
        r#"{"version":""#,
        env!("CARGO_PKG_VERSION"),
        r#"","inputs":{"a":{"path":"dot_at_1_2.png","width":8,"height":8,"grid_rows":8,"#,
        r#""grid_cols":8,"total":1.0},"b":{"path":"dot_at_3_5.png","width":8,"height":8,"#,
        r#""grid_rows":8,"grid_cols":8,"total":1.0}},"options":{"downscale":1,"invert":false},"#,
        r#""metrics":{"tv":{"value":1.0,"finite":true,"params":{},"details":{},"max":1.0,"#,
        r#""pass":true},"kl":{"value":null,"finite":false,"value_text":"inf","#,
        r#""params":{"eps":0.0},"details":{},"max":1.0,"pass":false},"js":{"#,
        r#""value":0.6931471805599453,"finite":true,"params":{},"details":{},"pass":true},"#,
        r#""hellinger":{"value":1.0,"finite":true,"params":{},"details":{},"pass":true},"#,
        r#""blur-l2":{"value":0.19820830833207842,"finite":true,"#,
        r#""params":{"sigma":2.0,"truncate":4.0},"details":{},"pass":true},"#,
        r#""hist":{"value":0.0,"finite":true,"params":{},"details":{},"pass":true},"#,
        r#""sliced":{"value":2.2953526350427245,"finite":true,"params":{"projections":200,"#,
        r#""seed":0,"p":1.0,"angles":"uniform"},"details":{"std_error":0.0786620620377591},"#,
        r#""pass":true},"emd":{"value":3.605551275463989,"finite":true,"#,
        r#""params":{"ground":"euclidean"},"details":{"cost":3.605551275463989,"#,
        r#""algorithm":"column-generation","iterations":0,"nodes":2,"arcs":1,"#,
        r#""certificate":{"max_violation":0.0,"gap":0.0,"rounds":1,"pairs_priced":1,"#,
        r#""pricing":"all-pairs"},"#,
    );
    assert_eq!(head, want_head);
    let (middle, rest) = tail
        .split_once(r#""solve_seconds":"#)
        .expect("sinkhorn's time");
    let tail = rest.trim_start_matches(|c: char| c.is_ascii_digit() || ".e-".contains(c));
    let want_middle = concat!(
        r#"},"pass":true},"sinkhorn":{"value":3.605551275463989,"finite":true,"#,
        r#""params":{"blur":1.0,"eps":1.0,"debias":true,"tol":1e-9},"details":{"eps":1.0,"#,
        r#""divergence":13.0,"ot_ab":13.0,"ot_aa":0.0,"ot_bb":0.0,"#,
        r#""sharp_cost":13.0,"iterations":20,"#,
        r#""iterations_per_problem":{"ab":6,"aa":7,"bb":7},"#,
        r#""marginal_error":4.163336342344336e-16,"#,
    );
    assert_eq!(middle, want_middle);
    assert_eq!(tail, "},\"pass\":true}},\"pass\":false}\n");
}

/// One picture stored as gray and as RGB: equal masses up to rounding, for every ground.
#[test]
fn emd_of_one_picture_in_two_formats_is_zero() {
    for ground in ["euclidean", "sqeuclidean", "cityblock"] {
        let j = json_of(&[
            "camera_32.png",
            "camera_32_rgb.png",
            "-m",
            "emd",
            "--ground",
            ground,
        ]);
        let emd = &j["metrics"]["emd"];
        let v = emd["value"].as_f64().unwrap();
        // W2 is the square root of a cost of the order of the rounding.
        assert!(v < 1e-7, "{ground}: {v}");
        let c = &emd["details"]["certificate"];
        let violation = c["max_violation"].as_f64().unwrap();
        assert!(violation < 1e-9, "{ground}: {c}");
    }
}

/// No output lands on an input or on another output; the refusal comes before any work, so
/// every file is left as it was.
#[test]
fn outputs_never_overwrite_inputs_or_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.png");
    std::fs::copy(data("camera_32.png"), &a).unwrap();
    let before = std::fs::read(&a).unwrap();
    let a = a.to_str().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    let (x_csv, x_png) = (at("x.csv"), at("x.png"));
    let x_csv_again = dir.path().join(".").join("x.csv").display().to_string();
    for (option, extra, needle) in [
        ("--dump-plan", vec![a], "invalid --dump-plan"),
        ("--dump-duals", vec![a], "would overwrite the input"),
        (
            "--dump-plan",
            vec![&x_csv, "--dump-duals", &x_csv_again],
            "invalid --dump-duals",
        ),
        (
            "--dump-plan",
            vec![&x_png, "--plot", &x_png],
            "is also the file of --plot",
        ),
    ] {
        let mut args = vec!["moon_32.png", a, "-m", "emd", option];
        args.extend(extra);
        fails_with(&args, needle);
    }
    assert_eq!(std::fs::read(a).unwrap(), before);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "nothing was written");
}

/// Runs that would need hours or more than about 8 GB are refused before the work, naming
/// the option to change.
#[test]
fn limits_refuse_before_the_work_and_name_the_option() {
    fails_with(
        &["camera_32.png", "moon_32.png", "--max-pixels", "300000000"],
        "invalid --max-pixels: 300000000 is above 268435456",
    );
    fails_with(
        &["camera_32.png", "moon_32.png", "--proj", "100000000"],
        "invalid --proj: 100000000 is above the limit of 67108864",
    );
    fails_with(
        &["camera_299.png", "moon_299.png", "--proj", "60000000"],
        "cell·directions, above the limit of 2.2e12 (hours of work); use --proj 24597300 or fewer, or --downscale 2",
    );
    // A grid past the cityblock limit (8 GB, 6500²) of the exact EMD.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.png");
    image::GrayImage::from_fn(7000, 6500, |x, y| image::Luma([u8::from(x == y)]))
        .save(&big)
        .unwrap();
    fails_with(
        &[
            big.to_str().unwrap(),
            "camera_32.png",
            "-m",
            "emd",
            "--ground",
            "cityblock",
        ],
        "exact cityblock EMD on a grid of 45500000 cells needs about 9.1 GB, above the limit of 8 GB (42949672 cells); use --downscale K (e.g. --downscale 2)",
    );
}

#[test]
fn sinkhorn_json_params_and_details_are_pinned() {
    // Two Dirac masses 13 pixels² apart: the only plan is δ ⊗ δ, so OT_ε = 13 for every ε and
    // OT_ε(δ, δ) = 0.
    let j = json_of(&["dot_at_1_2.png", "dot_at_3_5.png", "-m", "sinkhorn"]);
    let s = &j["metrics"]["sinkhorn"];
    let v = s["value"].as_f64().unwrap();
    assert!((v - 13f64.sqrt()).abs() < 1e-12, "{v}");
    assert_eq!(
        s["params"],
        serde_json::json!({"blur": 1.0, "eps": 1.0, "debias": true, "tol": 1e-9})
    );
    let d = &s["details"];
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "eps",
            "divergence",
            "ot_ab",
            "ot_aa",
            "ot_bb",
            "sharp_cost",
            "iterations",
            "iterations_per_problem",
            "marginal_error",
            "solve_seconds"
        ]
    );
    let per: Vec<&str> = d["iterations_per_problem"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(per, ["ab", "aa", "bb"]);
    assert!(
        (d["sharp_cost"].as_f64().unwrap() - 13.0).abs() < 1e-9,
        "{d}"
    );
    assert!(d["marginal_error"].as_f64().unwrap() <= 1e-9, "{d}");
}

#[test]
fn sinkhorn_blur_and_debias_options() {
    let run = |extra: &[&str]| {
        let mut args = vec!["camera_32.png", "coins_32.png", "-m", "sinkhorn"];
        args.extend_from_slice(extra);
        let j = json_of(&args);
        j["metrics"]["sinkhorn"].clone()
    };
    let debiased = run(&["--blur", "2"]);
    assert_eq!(debiased["params"]["eps"], 4.0);
    let biased = run(&["--blur", "2", "--debias", "false", "--tol", "1e-8"]);
    assert_eq!(
        biased["params"],
        serde_json::json!({"blur": 2.0, "eps": 4.0, "debias": false, "tol": 1e-8})
    );
    let d = &biased["details"];
    assert!(d["ot_aa"].is_null() && d["ot_bb"].is_null(), "{d}");
    assert!(d["iterations_per_problem"]["aa"].is_null(), "{d}");
    let (vb, vd) = (
        biased["value"].as_f64().unwrap(),
        debiased["value"].as_f64().unwrap(),
    );
    // Without debiasing the value is √OT_ε(a, b), larger by the self-transport terms.
    let ot_ab = d["ot_ab"].as_f64().unwrap();
    assert!((vb * vb - ot_ab).abs() < 1e-9 * ot_ab, "{vb} {ot_ab}");
    assert!(vb > vd, "biased {vb} vs debiased {vd}");
    let want = debiased["details"]["ot_ab"].as_f64().unwrap();
    assert!((ot_ab - want).abs() < 1e-7 * want, "{ot_ab} vs {want}");
}

#[test]
fn sinkhorn_accepts_different_sizes_and_downscale() {
    let j = json_of(&["camera_32.png", "coins_64.png", "-m", "sinkhorn"]);
    assert_eq!(j["inputs"]["b"]["grid_rows"], 64);
    assert!(j["metrics"]["sinkhorn"]["value"].as_f64().unwrap() > 1.0);
    // Cells at block centres, in original pixels: the downscaled value stays close.
    let full = json_of(&[
        "camera_64.png",
        "coins_64.png",
        "-m",
        "sinkhorn",
        "--blur",
        "2",
    ]);
    let half = json_of(&[
        "camera_64.png",
        "coins_64.png",
        "-m",
        "sinkhorn",
        "--blur",
        "2",
        "--downscale",
        "2",
    ]);
    assert_eq!(half["inputs"]["a"]["grid_rows"], 32);
    let (f, h) = (
        full["metrics"]["sinkhorn"]["value"].as_f64().unwrap(),
        half["metrics"]["sinkhorn"]["value"].as_f64().unwrap(),
    );
    assert!((f - h).abs() < 0.05 * f, "full {f} vs downscaled {h}");
}

#[test]
fn sinkhorn_iteration_cap_exits_2() {
    // A tolerance below rounding is never met: the cap is an error, not a number.
    fails_with(
        &[
            "camera_32.png",
            "coins_32.png",
            "-m",
            "sinkhorn",
            "--downscale",
            "4",
            "--tol",
            "1e-300",
        ],
        "Sinkhorn iterations reached their cap of 20000",
    );
}

#[test]
fn sinkhorn_bad_parameters() {
    let base = ["camera_32.png", "coins_32.png", "-m", "sinkhorn"];
    for (flag, value, needle) in [
        (
            "--blur",
            "0",
            "invalid --blur: 0 must be a finite number > 0",
        ),
        ("--blur", "-1", "invalid --blur"),
        ("--blur", "inf", "invalid --blur"),
        ("--blur", "NaN", "invalid --blur"),
        ("--blur", "1e-200", "invalid --blur"),
        ("--tol", "0", "invalid --tol: 0 must be in (0, 1)"),
        ("--tol", "1", "invalid --tol"),
        ("--tol", "NaN", "invalid --tol"),
        ("--debias", "maybe", "invalid value 'maybe' for '--debias"),
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(&[flag, value]);
        fails_with(&args, needle);
    }
}
