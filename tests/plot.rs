//! Pictures: `--plot` on the single-pair command and `--matrix-plot` in batch mode. The
//! pictures are decoded and their panels sampled where `PairLayout` says they are.

mod common;

use std::path::Path;
use std::process::Output;

use common::{data, imgdist};
use image::{Rgb, RgbImage};
use imgdist::MetricKind;
use imgdist::plot::{PairLayout, Panel, Rect};

fn run(args: &[&str]) -> Output {
    imgdist().args(args).output().unwrap()
}

fn decode(path: &Path) -> RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

/// Runs the single-pair command with `--plot` into a temporary folder and returns its output
/// and the decoded picture.
fn plotted(args: &[&str]) -> (Output, RgbImage) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pair.png");
    let out = imgdist()
        .args(args)
        .arg("--plot")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.code() != Some(2),
        "args {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out, decode(&path))
}

/// The layout the picture of these metrics follows.
fn layout(metrics: &[MetricKind]) -> PairLayout {
    PairLayout::for_metrics(metrics)
}

/// The pixels of `rect` shrunk by `inset` on every side.
fn pixels(img: &RgbImage, rect: Rect, inset: u32) -> Vec<Rgb<u8>> {
    let mut v = Vec::new();
    for y in rect.y + inset..rect.y + rect.height - inset {
        for x in rect.x + inset..rect.x + rect.width - inset {
            v.push(*img.get_pixel(x, y));
        }
    }
    v
}

fn distinct(px: &[Rgb<u8>]) -> usize {
    let mut v: Vec<[u8; 3]> = px.iter().map(|p| p.0).collect();
    v.sort();
    v.dedup();
    v.len()
}

/// Near-black pixels: inside the frame of the plan's map only the transport arrows are that dark
/// (the background is the difference faded towards white).
fn dark(px: &[Rgb<u8>]) -> usize {
    px.iter()
        .filter(|p| p.0.iter().map(|&c| u32::from(c)).sum::<u32>() < 150)
        .count()
}

#[test]
fn pictures_have_the_documented_size() {
    for (metrics, kinds, size) in [
        ("tv", vec![MetricKind::Tv], (1260, 484)),
        ("emd", vec![MetricKind::Emd], (1680, 484)),
        (
            "sliced,js",
            vec![MetricKind::Sliced, MetricKind::Js],
            (1260, 804),
        ),
        ("all", MetricKind::ALL.to_vec(), (1680, 804)),
    ] {
        let (out, img) = plotted(&["camera_32.png", "moon_32.png", "-m", metrics]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(img.dimensions(), size, "{metrics}");
        let l = layout(&kinds);
        assert_eq!((l.width, l.height), size, "{metrics}");
    }
}

#[test]
fn difference_panel_is_uniform_only_for_identical_inputs() {
    let l = layout(&[MetricKind::Tv]);
    let bx = l.map_box(Panel::Difference).unwrap();
    // A 32² map is drawn 288 pixels wide in the 300-pixel box: stay 50 pixels inside.
    let (_, same) = plotted(&["camera_32.png", "camera_32.png", "-m", "tv"]);
    let px = pixels(&same, bx, 50);
    assert_eq!(distinct(&px), 1, "identical inputs: {:?}", &px[..3]);
    // The diverging scale's midpoint, not the white background.
    assert_eq!(px[0].0, [0xf7, 0xf7, 0xf7]);
    let (_, differ) = plotted(&["camera_32.png", "moon_32.png", "-m", "tv"]);
    let n = distinct(&pixels(&differ, bx, 50));
    assert!(n > 20, "different inputs give {n} colours");
    // A and B show their images in both cases.
    for panel in [Panel::A, Panel::B] {
        let n = distinct(&pixels(&same, l.map_box(panel).unwrap(), 50));
        assert!(n > 20, "{panel:?}: {n} colours");
    }
}

#[test]
fn emd_panel_draws_the_plan_and_sliced_panel_the_profile() {
    let kinds = [MetricKind::Emd, MetricKind::Sliced];
    let l = layout(&kinds);
    // A 32² map is 288 pixels wide, 6 pixels inside its box, framed: stay 8 pixels inside.
    let (_, img) = plotted(&["camera_32.png", "moon_32.png", "-m", "emd,sliced"]);
    let plan = pixels(&img, l.map_box(Panel::Transport).unwrap(), 8);
    assert!(dark(&plan) > 200, "arrows: {} dark pixels", dark(&plan));
    let strip = pixels(&img, l.panel(Panel::Sliced).unwrap(), 0);
    let line = strip.iter().filter(|p| p.0 == [0x21, 0x66, 0xac]).count();
    assert!(line > 300, "profile line: {line} pixels");
    // Identical inputs: nothing moves, so no arrow.
    let (_, same) = plotted(&["camera_32.png", "camera_32.png", "-m", "emd,sliced"]);
    let plan = pixels(&same, l.map_box(Panel::Transport).unwrap(), 8);
    assert_eq!(dark(&plan), 0);
    // Cityblock has a plan too (solved by column generation for the picture).
    let (_, city) = plotted(&[
        "camera_32.png",
        "moon_32.png",
        "-m",
        "emd",
        "--ground",
        "cityblock",
    ]);
    let l = layout(&[MetricKind::Emd]);
    let plan = pixels(&city, l.map_box(Panel::Transport).unwrap(), 8);
    assert!(dark(&plan) > 200, "cityblock arrows: {}", dark(&plan));
}

#[test]
fn plot_changes_neither_stdout_nor_the_exit_code() {
    let cases: [&[&str]; 5] = [
        &["camera_32.png", "moon_32.png", "-m", "all"],
        &[
            "camera_32.png",
            "moon_32.png",
            "-m",
            "emd",
            "--ground",
            "cityblock",
        ],
        &[
            "camera_32.png",
            "moon_32.png",
            "-m",
            "sliced,tv",
            "--format",
            "json",
        ],
        &[
            "camera_32.png",
            "moon_32.png",
            "--max",
            "tv=0.01",
            "--max",
            "sliced=100",
        ],
        &["camera_64.png", "coins_32.png", "-m", "sliced", "--p", "2"],
    ];
    for args in cases {
        let plain = run(args);
        let (with, _) = plotted(args);
        assert_eq!(
            String::from_utf8_lossy(&with.stdout),
            String::from_utf8_lossy(&plain.stdout),
            "{args:?}"
        );
        assert_eq!(with.status.code(), plain.status.code(), "{args:?}");
        assert_eq!(with.stderr, plain.stderr, "{args:?}");
    }
    // The --max case really is the exit-1 case.
    let out = run(cases[3]);
    assert_eq!(out.status.code(), Some(1));
}

/// Exit 2, nothing on stdout, one `imgdist:` line on stderr containing `needle`.
#[track_caller]
fn fails_with(args: &[&str], needle: &str) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}: stdout {:?}", out.stdout);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("imgdist: "), "{stderr}");
    assert!(stderr.contains(needle), "expected '{needle}' in {stderr}");
}

#[test]
fn an_unwritable_picture_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/folder/pair.png");
    let missing = missing.to_str().unwrap();
    fails_with(
        &["camera_32.png", "moon_32.png", "--plot", missing],
        // The OS's own wording of the reason follows; it differs between systems.
        "pair.png: cannot write: ",
    );
    fails_with(
        &["camera_32.png", "moon_32.png", "--plot", "pair.jpg"],
        "invalid --plot: 'pair.jpg': pictures are PNG files",
    );
    // Never over an input.
    let copy = dir.path().join("a.png");
    std::fs::copy(data("camera_32.png"), &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    fails_with(
        &[
            "moon_32.png",
            copy.to_str().unwrap(),
            "--plot",
            copy.to_str().unwrap(),
        ],
        "would overwrite the input",
    );
    assert_eq!(std::fs::read(&copy).unwrap(), before);
    // A failure to compute writes no picture.
    let out = dir.path().join("none.png");
    fails_with(
        &[
            "camera_32.png",
            "missing.png",
            "--plot",
            out.to_str().unwrap(),
        ],
        "missing.png",
    );
    assert!(!out.exists());
}

fn batch(args: &[&str]) -> Output {
    imgdist().arg("batch").args(args).output().unwrap()
}

const INPUTS: [&str; 6] = [
    "camera_32.png",
    "camera_64.png",
    "coins_32.png",
    "coins_64.png",
    "moon_32.png",
    "moon_64.png",
];

#[test]
fn matrix_plot_writes_a_picture_and_changes_no_record() {
    let dir = tempfile::tempdir().unwrap();
    let common = ["--all-pairs", "-m", "sliced", "--quiet", "--format", "csv"];
    let plain = batch(&[&common[..], &INPUTS[..]].concat());
    assert_eq!(plain.status.code(), Some(0));
    for order in ["input", "cluster"] {
        let path = dir.path().join(format!("{order}.png"));
        let path = path.to_str().unwrap();
        let extra = ["--matrix-plot", path, "--matrix-order", order];
        let out = batch(&[&common[..], &INPUTS[..], &extra[..]].concat());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, plain.stdout, "{order}");
        let img = decode(Path::new(path));
        assert!(
            img.width() >= 300 && img.height() >= 300,
            "{:?}",
            img.dimensions()
        );
        // The matrix cells hold many colours.
        let all = pixels(
            &img,
            Rect {
                x: 0,
                y: 0,
                width: img.width(),
                height: img.height(),
            },
            0,
        );
        assert!(distinct(&all) > 10);
    }
}

#[test]
fn matrix_plot_usage_errors() {
    let in_dir = |args: &[&str]| {
        let out = batch(args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        stderr
    };
    let err = in_dir(&[
        "--one-vs-many",
        "camera_32.png",
        "moon_32.png",
        "--matrix-plot",
        "m.png",
    ]);
    assert!(err.contains("--matrix-plot needs --all-pairs"), "{err}");
    let err = in_dir(&[
        "--all-pairs",
        "camera_32.png",
        "moon_32.png",
        "-m",
        "kl",
        "--matrix-plot",
        "m.png",
    ]);
    assert!(err.contains("--matrix-plot uses the first metric"), "{err}");
    let err = in_dir(&[
        "--all-pairs",
        "camera_32.png",
        "moon_32.png",
        "--matrix-order",
        "cluster",
    ]);
    assert!(err.contains("--matrix-plot"), "{err}");
    let err = in_dir(&[
        "--all-pairs",
        "camera_32.png",
        "moon_32.png",
        "--matrix-plot",
        "m.png",
        "--matrix-order",
        "size",
    ]);
    assert!(
        err.contains("invalid --matrix-order: 'size' is not one of: input, cluster"),
        "{err}"
    );
    let err = in_dir(&[
        "--all-pairs",
        "camera_32.png",
        "moon_32.png",
        "--matrix-plot",
        "m.svg",
    ]);
    assert!(err.contains("pictures are PNG files"), "{err}");
    let err = in_dir(&[
        "--all-pairs",
        "camera_32.png",
        "moon_32.png",
        "--matrix-plot",
        "no/such/dir/m.png",
    ]);
    assert!(err.contains("m.png: cannot write"), "{err}");
    // --plot is a single-pair option.
    let err = in_dir(&[
        "--all-pairs",
        "camera_32.png",
        "moon_32.png",
        "--plot",
        "p.png",
    ]);
    assert!(err.contains("--plot"), "{err}");
}
