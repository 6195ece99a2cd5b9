//! `imgdist batch --skip-done FILE` on arbitrary earlier output, through the binary (the reader
//! is part of the command line, not the library).
//!
//! Every case runs all pairs of four small inputs with one skip file: seed files mutated, plus
//! intact records for some pairs (`ok` records from a real run, or error records). Invariants:
//! no panic and exit 0 (a skip file that can be read never fails a run: lines that are not
//! records are ignored); every stdout line is an `ok` record of a pair of the run, each pair at
//! most once; pairs with an intact `ok` record are skipped; pairs the file never mentions are
//! computed. With `--matrix` (and sometimes `--matrix-plot`) the matrix is written too, with
//! the values of skipped pairs taken from whatever the records say.

use std::collections::HashSet;
use std::path::Path;

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

use crate::common::imgdist;
use crate::driver::{Bytes, corpus, run, seeded};

const INPUTS: [&str; 4] = ["a.csv", "b.csv", "c.csv", "ü.csv"];

/// The ids of the run's pairs, in output order.
fn pair_ids() -> Vec<String> {
    let mut ids = Vec::new();
    for (i, a) in INPUTS.iter().enumerate() {
        for b in &INPUTS[i + 1..] {
            ids.push(format!("{a}|{b}"));
        }
    }
    ids
}

/// The command that runs every pair of the inputs in `dir`, with `args` after it.
fn batch(dir: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = imgdist();
    cmd.current_dir(dir)
        .args(["batch", "--all-pairs"])
        .args(INPUTS)
        .args(["-m", "tv", "--jobs", "1", "--quiet"])
        .args(args);
    cmd
}

/// The `ok` record of each pair, in pair order, from a run without a skip file: what an
/// earlier run really wrote, whatever fields resuming compares.
fn real_records(dir: &Path) -> Vec<String> {
    let out = batch(dir, &[]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(records.len(), pair_ids().len());
    for (line, id) in records.iter().zip(pair_ids()) {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            (v["id"].as_str(), v["status"].as_str()),
            (Some(id.as_str()), Some("ok"))
        );
    }
    records
}

/// An error record for pair `id`: never a reason to skip it.
fn error_record(id: &str) -> String {
    format!(
        r#"{{"id":{},"status":"error","error":"cannot read"}}"#,
        Value::from(id)
    )
}

#[derive(Debug, Clone)]
struct Case {
    seed: Bytes,
    /// Intact records: pair, ok or error, before or after the mutated bytes.
    records: Vec<(Index, bool, bool)>,
    matrix: bool,
    plot: bool,
}

fn case(seeds: Vec<(String, Vec<u8>)>) -> impl Strategy<Value = Case> {
    (
        seeded(seeds, 6),
        prop::collection::vec((any::<Index>(), any::<bool>(), any::<bool>()), 0..4),
        any::<bool>(),
        prop::bool::weighted(0.125),
    )
        .prop_map(|(seed, records, matrix, plot)| Case {
            seed,
            records,
            matrix,
            plot: matrix && plot,
        })
}

fn write_inputs(dir: &Path) {
    for (k, name) in INPUTS.iter().enumerate() {
        std::fs::write(dir.join(name), format!("{k},1\n0,{}\n", k + 1)).unwrap();
    }
}

#[test]
fn fuzz_skip_done_files() {
    let seeds = corpus("skip");
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path());
    let ids = pair_ids();
    let real = real_records(dir.path());
    run("skip_done", 100, case(seeds), |c| {
        let mut skipped = HashSet::new();
        let mut record = |pair: &Index, ok: bool| {
            let k = pair.index(ids.len());
            if ok {
                skipped.insert(ids[k].clone());
                real[k].clone()
            } else {
                error_record(&ids[k])
            }
        };
        let mut bytes = Vec::new();
        for (pair, ok, _) in c.records.iter().filter(|r| r.2) {
            bytes.extend(record(pair, *ok).bytes().chain([b'\n']));
        }
        bytes.extend(&c.seed.0);
        for (pair, ok, _) in c.records.iter().filter(|r| !r.2) {
            bytes.push(b'\n');
            bytes.extend(record(pair, *ok).bytes().chain([b'\n']));
        }
        std::fs::write(dir.path().join("done.jsonl"), &bytes).unwrap();
        let mut cmd = batch(dir.path(), &["--skip-done", "done.jsonl"]);
        if c.matrix {
            let _ = std::fs::remove_file(dir.path().join("m.csv"));
            cmd.args(["--matrix", "m.csv"]);
        }
        if c.plot {
            cmd.args(["--matrix-plot", "m.png"]);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        prop_assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr);
        let mut seen = HashSet::new();
        for line in stdout.lines() {
            let v: Value = serde_json::from_str(line)
                .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {line}")))?;
            let id = v["id"].as_str().unwrap_or_default().to_string();
            prop_assert_eq!(v["status"].as_str(), Some("ok"), "{}", line);
            prop_assert!(ids.contains(&id), "unknown id in {line}");
            prop_assert!(
                !skipped.contains(&id),
                "{id} has an intact ok record but was computed"
            );
            prop_assert!(seen.insert(id.clone()), "{id} written twice");
        }
        // A file without escapes names an id only by its literal text.
        if !bytes.contains(&b'\\') {
            for id in &ids {
                let mentioned = bytes.windows(id.len()).any(|w| w == id.as_bytes());
                prop_assert!(
                    mentioned || seen.contains(id),
                    "{id} is never mentioned but was skipped"
                );
            }
        }
        if c.matrix {
            let m = std::fs::read_to_string(dir.path().join("m.csv")).unwrap();
            prop_assert_eq!(m.lines().count(), INPUTS.len() + 1, "{}", m);
        }
        Ok(())
    });
}
