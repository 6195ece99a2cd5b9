//! Batch manifests through [`Plan::from_manifest`].
//!
//! Invariants: no panic; a manifest either gives a consistent plan (distinct non-empty inputs,
//! every pair pointing at two of them, unique ids) or a `Decode` error naming a line of the
//! text. Round trip: pairs written in any documented layout (CSV or TSV, with or without a
//! header in any column order, quoted fields, ids or not; JSON Lines with string or integer
//! ids; comments, blank lines, CRLF, byte-order mark) give back exactly those pairs and ids,
//! and a repeated id is an error naming the line that repeats it and the line it repeats.

use std::collections::HashSet;

use imgdist::Error;
use imgdist::batch::Plan;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseResult;

use crate::driver::{corpus, run, seeded};

/// What parsing `text` gave: a consistent plan or a decode error naming one of its lines.
fn check_parse(text: &str) -> TestCaseResult {
    match Plan::from_manifest(text, "m") {
        Ok(plan) => check_plan(&plan),
        Err(Error::Decode {
            source_name,
            reason,
        }) => {
            prop_assert_eq!(source_name, "m");
            let line: Option<usize> = reason
                .strip_prefix("line ")
                .and_then(|r| r.split(':').next())
                .and_then(|n| n.parse().ok());
            // Lines as an editor counts them: a lone CR ends one too.
            let lines = text.matches('\n').count() + text.matches('\r').count() + 1;
            prop_assert!(
                line.is_some_and(|n| (1..=lines).contains(&n)),
                "the error should name one of the {} lines: {}",
                lines,
                reason
            );
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!(
            "not a decode error: {other:?}"
        ))),
    }
}

fn check_plan(plan: &Plan) -> TestCaseResult {
    let distinct: HashSet<&String> = plan.inputs.iter().collect();
    prop_assert_eq!(
        distinct.len(),
        plan.inputs.len(),
        "inputs repeat: {:?}",
        plan.inputs
    );
    prop_assert!(plan.inputs.iter().all(|i| !i.is_empty()), "an empty input");
    let mut ids = HashSet::new();
    let mut used = HashSet::new();
    for k in 0..plan.len() {
        let (a, b) = plan.pair(k);
        prop_assert!(a < plan.inputs.len() && b < plan.inputs.len());
        used.extend([a, b]);
        let id = plan.id(k).to_cow().into_owned();
        prop_assert!(ids.insert(id.clone()), "id {id:?} repeats");
    }
    prop_assert_eq!(used.len(), plan.inputs.len(), "an input in no pair");
    Ok(())
}

/// Every manifest seed parses (or fails) as documented, unchanged.
#[test]
fn manifest_seeds_replay() {
    for (name, bytes) in corpus("manifest") {
        let text = String::from_utf8(bytes).unwrap();
        check_parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn fuzz_manifest_bytes() {
    let seeds = corpus("manifest");
    run("manifest_bytes", 5_000, seeded(seeds, 8), |bytes| {
        check_parse(&String::from_utf8_lossy(&bytes.0))
    });
}

/// A path or id: letters, digits and the characters that need care in CSV and JSON, never
/// blank at either end, never one of the header names `a`, `b`, `id`.
fn name() -> impl Strategy<Value = String> {
    let chars = prop::collection::vec(
        prop::sample::select(vec![
            'x', 'y', 'Z', '0', '7', ' ', ',', '"', '#', '{', '|', '.', 'ü', '日', '\'',
        ]),
        1..8,
    );
    (chars, prop::sample::select(vec!["", ".png", ".csv"])).prop_map(|(c, ext)| {
        let mut s: String = c.into_iter().collect::<String>().trim().to_string();
        s.push_str(ext);
        if s.is_empty() || ["a", "b", "id"].iter().any(|h| s.eq_ignore_ascii_case(h)) {
            s.push('x');
        }
        s
    })
}

/// An id as a manifest may give it.
#[derive(Debug, Clone)]
enum Id {
    None,
    Text(String),
    /// JSON Lines may give an integer.
    Number(u32),
}

#[derive(Debug, Clone)]
enum Layout {
    Jsonl,
    /// Delimiter, and the header's column order (a permutation of a, b, id, extra) if any.
    Delimited(char, Option<Vec<usize>>),
}

#[derive(Debug, Clone)]
struct Manifest {
    rows: Vec<(String, String, Id)>,
    layout: Layout,
    /// Comment or blank lines before the row with that index.
    noise: Vec<(Index, &'static str)>,
    crlf: bool,
    bom: bool,
}

fn manifest() -> impl Strategy<Value = Manifest> {
    // A small pool of names makes repeated inputs and repeated ids common.
    let pool = prop::collection::vec(name(), 1..6);
    let layout = prop_oneof![
        Just(Layout::Jsonl),
        (
            prop::sample::select(vec![',', '\t']),
            any::<bool>(),
            Just(vec![0, 1, 2, 3]).prop_shuffle()
        )
            .prop_map(|(d, header, order)| Layout::Delimited(d, header.then_some(order))),
    ];
    (
        pool,
        layout,
        prop::collection::vec(
            (
                any::<Index>(),
                prop::sample::select(vec!["", "# note", "  # indented", "\t"]),
            ),
            0..3,
        ),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(|(pool, layout, noise, crlf, bom)| {
            let n = pool.len();
            let id = prop_oneof![
                2 => Just(Id::None),
                2 => (0..n).prop_map({
                    let pool = pool.clone();
                    move |i| Id::Text(pool[i].clone())
                }),
                1 => (0u32..4).prop_map(Id::Number),
            ];
            let row = (0..n, 0..n, id).prop_map({
                let pool = pool.clone();
                move |(a, b, id)| (pool[a].clone(), pool[b].clone(), id)
            });
            (
                prop::collection::vec(row, 1..8),
                Just(layout),
                Just(noise),
                Just(crlf),
                Just(bom),
            )
        })
        .prop_map(|(rows, layout, noise, crlf, bom)| {
            // Integer ids are for JSON Lines; elsewhere they are text.
            let rows = rows
                .into_iter()
                .map(|(a, b, id)| match (&layout, id) {
                    (Layout::Delimited(..), Id::Number(n)) => (a, b, Id::Text(n.to_string())),
                    (_, id) => (a, b, id),
                })
                .collect();
            Manifest {
                rows,
                layout,
                noise,
                crlf,
                bom,
            }
        })
}

/// A delimited field, quoted when it holds the delimiter or a quote, or starts like a comment or
/// a JSON object.
fn field(s: &str, delim: char) -> String {
    if s.contains([delim, '"']) || s.starts_with(['#', '{']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Manifest {
    /// The text and the line number of each row.
    fn text(&self) -> (String, Vec<usize>) {
        let mut lines: Vec<String> = Vec::new();
        if let Layout::Delimited(d, Some(order)) = &self.layout {
            let names = ["a", "b", "id", "extra"];
            lines.push(
                order
                    .iter()
                    .map(|&c| names[c])
                    .collect::<Vec<_>>()
                    .join(&d.to_string()),
            );
        }
        let mut at = Vec::new();
        for (k, (a, b, id)) in self.rows.iter().enumerate() {
            for (i, noise) in &self.noise {
                if i.index(self.rows.len()) == k {
                    lines.push(noise.to_string());
                }
            }
            let line = match &self.layout {
                Layout::Jsonl => {
                    let mut v = serde_json::json!({"a": a, "b": b});
                    match id {
                        Id::None => {}
                        Id::Text(t) => v["id"] = t.clone().into(),
                        Id::Number(n) => v["id"] = (*n).into(),
                    }
                    v.to_string()
                }
                Layout::Delimited(d, header) => {
                    let id = match id {
                        Id::Text(t) => field(t, *d),
                        _ => String::new(),
                    };
                    let values = [field(a, *d), field(b, *d), id, "extra".into()];
                    match header {
                        Some(order) => order.iter().map(|&c| values[c].clone()).collect::<Vec<_>>(),
                        None if values[2].is_empty() => values[..2].to_vec(),
                        None => values[..3].to_vec(),
                    }
                    .join(&d.to_string())
                }
            };
            lines.push(line);
            at.push(lines.len());
        }
        let end = if self.crlf { "\r\n" } else { "\n" };
        let mut text = lines.join(end) + end;
        if self.bom {
            text.insert(0, '\u{feff}');
        }
        (text, at)
    }
}

#[test]
fn fuzz_manifest_round_trip() {
    run("manifest_round_trip", 5_000, manifest(), |m| {
        let (text, lines) = m.text();
        let parsed = Plan::from_manifest(&text, "m");
        let ids: Vec<String> = m
            .rows
            .iter()
            .map(|(a, b, id)| match id {
                Id::None => format!("{a}|{b}"),
                Id::Text(t) => t.clone(),
                Id::Number(n) => n.to_string(),
            })
            .collect();
        let repeat = (0..ids.len()).find_map(|k| {
            ids[..k]
                .iter()
                .position(|i| *i == ids[k])
                .map(|first| (k, first))
        });
        if let Some((k, first)) = repeat {
            let want = format!(
                "line {}: pair id '{}' repeats line {} (ids must be unique)",
                lines[k], ids[k], lines[first]
            );
            match parsed {
                Err(Error::Decode { reason, .. }) => prop_assert_eq!(reason, want, "{:?}", text),
                other => {
                    return Err(TestCaseError::fail(format!(
                        "{text:?}: want `{want}`, got {other:?}"
                    )));
                }
            }
            return Ok(());
        }
        let plan = parsed.map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        check_plan(&plan)?;
        prop_assert_eq!(plan.len(), m.rows.len(), "{:?}", text);
        for (k, (a, b, _)) in m.rows.iter().enumerate() {
            let (ia, ib) = plan.pair(k);
            prop_assert_eq!(&plan.inputs[ia], a, "{:?}", text);
            prop_assert_eq!(&plan.inputs[ib], b, "{:?}", text);
            prop_assert_eq!(plan.id(k).to_cow(), ids[k].as_str(), "{:?}", text);
        }
        Ok(())
    });
}
