//! `imgdist batch --skip-done FILE` on arbitrary earlier output, through the binary (the reader
//! is part of the command line, not the library).
//!
//! Every case runs all pairs of four small inputs with one skip file: seed files mutated, plus
//! intact records for some pairs. Invariants: no panic and exit 0 (a skip file that can be read
//! never fails a run: lines that are not records are ignored); every stdout line is an `ok`
//! record of a pair of the run, each pair at most once; pairs with an intact `ok` record are
//! skipped; pairs the file never mentions are computed. With `--matrix` (and sometimes
//! `--matrix-plot`) the matrix is written too, whatever values the records carry.

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

/// A record as batch mode writes it, for pair `id`, with status `ok` or `error`.
fn record(id: &str, ok: bool, value: &str) -> String {
    if ok {
        format!(
            r#"{{"id":{},"status":"ok","version":"0.1.0","metrics":{{"tv":{{"value":{value},"finite":true,"params":{{}},"details":{{}},"pass":true}}}},"pass":true}}"#,
            Value::from(id)
        )
    } else {
        format!(
            r#"{{"id":{},"status":"error","error":"cannot read"}}"#,
            Value::from(id)
        )
    }
}

#[derive(Debug, Clone)]
struct Case {
    seed: Bytes,
    /// Intact records: pair, ok or error, value; before or after the mutated bytes.
    records: Vec<(Index, bool, &'static str, bool)>,
    matrix: bool,
    plot: bool,
}

fn case(seeds: Vec<(String, Vec<u8>)>) -> impl Strategy<Value = Case> {
    let value = prop::sample::select(vec!["0.25", "0", "1e308", "null", "-1", "\"x\""]);
    (
        seeded(seeds, 6),
        prop::collection::vec((any::<Index>(), any::<bool>(), value, any::<bool>()), 0..4),
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
    run("skip_done", 100, case(seeds), |c| {
        let mut bytes = Vec::new();
        let mut skipped = HashSet::new();
        for (pair, ok, value, _) in c.records.iter().filter(|r| r.3) {
            let id = &ids[pair.index(ids.len())];
            bytes.extend(record(id, *ok, value).bytes().chain([b'\n']));
            if *ok && !value.starts_with('"') {
                skipped.insert(id.clone());
            }
        }
        bytes.extend(&c.seed.0);
        for (pair, ok, value, _) in c.records.iter().filter(|r| !r.3) {
            let id = &ids[pair.index(ids.len())];
            bytes.extend(
                b"\n"
                    .iter()
                    .copied()
                    .chain(record(id, *ok, value).bytes())
                    .chain([b'\n']),
            );
            if *ok && !value.starts_with('"') {
                skipped.insert(id.clone());
            }
        }
        std::fs::write(dir.path().join("done.jsonl"), &bytes).unwrap();
        let mut cmd = imgdist();
        cmd.current_dir(dir.path())
            .args(["batch", "--all-pairs"])
            .args(INPUTS)
            .args([
                "-m",
                "tv",
                "--jobs",
                "1",
                "--quiet",
                "--skip-done",
                "done.jsonl",
            ]);
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
