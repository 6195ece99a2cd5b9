//! Fuzzing on stable Rust: proptest drives arbitrary inputs, and mutations of the seed corpus in
//! `tests/fuzz/corpus/<target>/`, through the loaders, the manifest and skip-file readers and
//! every metric, checking invariants rather than fixed values.
//!
//! | target | what | module |
//! |---|---|---|
//! | `image_bytes`, `image_round_trip` | image bytes → mass | [`decode`] |
//! | `matrix_bytes`, `matrix_round_trip`, `matrix_error_lines` | CSV/TSV text → mass | [`decode`] |
//! | `manifest_bytes`, `manifest_round_trip` | batch manifests → plan | [`manifest`] |
//! | `skip_done` | `batch --skip-done` files, through the binary | [`skip`] |
//! | `metric_axioms` | every metric on three small masses | [`metrics`] |
//! | `emd_exact` | exact EMD routes against each other and an integer reference | [`exact`] |
//!
//! A plain `cargo test` runs a few hundred to ten thousand cases per target (a few seconds in
//! all); `IMGDIST_FUZZ_SECONDS`, `IMGDIST_FUZZ_CASES` and `IMGDIST_FUZZ_SEED` set the budget
//! ([`driver`]).

#[path = "../common/mod.rs"]
mod common;

mod decode;
mod driver;
mod exact;
mod manifest;
mod masses;
mod metrics;
mod skip;
