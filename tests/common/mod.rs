//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use assert_cmd::Command;
use imgdist::{LoadOptions, Mass, Source, load};
use serde_json::Value;

/// Path of a committed fixture in `tests/data`.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A committed fixture loaded as a mass, with a `downscale × downscale` block sum.
pub fn mass_k(name: &str, downscale: usize) -> Mass {
    let opts = LoadOptions {
        downscale,
        ..LoadOptions::default()
    };
    load(&Source::Path(data(name)), &opts).unwrap()
}

/// A committed fixture loaded as a mass at full resolution.
pub fn mass(name: &str) -> Mass {
    mass_k(name, 1)
}

/// Parsed reference file from `tests/reference`.
pub fn reference(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The `imgdist` binary, run from the fixture folder with a clean environment for its output.
pub fn imgdist() -> Command {
    let mut cmd = Command::cargo_bin("imgdist").unwrap();
    cmd.current_dir(data(""));
    cmd
}

/// Asserts `|got − want| ≤ rel · max(|want|, tiny)`, printing both on failure.
#[track_caller]
pub fn assert_rel(got: f64, want: f64, rel: f64, what: &str) {
    let tol = rel * want.abs().max(1e-300);
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got:.17e}, want {want:.17e} (rel err {:.3e}, allowed {rel:.1e})",
        (got - want).abs() / want.abs().max(1e-300)
    );
}

/// A committed fixture loaded with the options `opts`.
pub fn mass_with(name: &str, opts: &LoadOptions) -> Mass {
    load(&Source::Path(data(name)), opts).unwrap()
}

/// A committed fixture loaded at full resolution, keeping its pixel values (for `hist`).
pub fn mass_levels(name: &str) -> Mass {
    mass_with(
        name,
        &LoadOptions {
            levels: true,
            ..LoadOptions::default()
        },
    )
}
