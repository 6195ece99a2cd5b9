//! `imgdist batch`: manifests, modes, records, exit codes, shards, resumption, determinism.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{assert_rel, data, imgdist};
use predicates::prelude::*;
use serde_json::Value;

/// Runs `imgdist batch ARGS` (from the fixture folder) with optional standard input.
fn batch(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut cmd = imgdist();
    cmd.arg("batch").args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input.to_string());
    }
    cmd.output().unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Runs and checks the exit code, returning the parsed JSON Lines records.
#[track_caller]
fn records(args: &[&str], stdin: Option<&str>, code: i32) -> Vec<Value> {
    let out = batch(args, stdin);
    assert_eq!(
        out.status.code(),
        Some(code),
        "args {args:?}, stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn value(record: &Value, metric: &str) -> f64 {
    assert_eq!(record["status"], "ok", "{record}");
    record["metrics"][metric]["value"].as_f64().unwrap()
}

/// The single-pair command's value of `metric` for `(a, b)` with extra options.
fn single(a: &str, b: &str, metric: &str, extra: &[&str]) -> f64 {
    let out = imgdist()
        .args([a, b, "-m", metric, "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{a} {b} {metric}");
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    j["metrics"][metric]["value"].as_f64().unwrap()
}

/// Writes `text` to `name` in `dir` and returns the path as a string.
fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A temporary folder holding copies of some fixtures.
fn folder_of(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for n in names {
        std::fs::copy(data(n), dir.path().join(n)).unwrap();
    }
    dir
}

const SMALL: [&str; 4] = [
    "camera_32.png",
    "coins_32.png",
    "moon_32.png",
    "text_32.png",
];
const MIXED: [&str; 8] = [
    "camera_32.png",
    "coins_32.png",
    "moon_32.png",
    "text_32.png",
    "camera_64.png",
    "coins_64.png",
    "moon_64.png",
    "text_64.png",
];

#[test]
fn manifests_csv_tsv_jsonl_and_stdin_agree_with_the_single_pair_command() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "pairs.csv",
        "# a comment\ncamera_32.png,moon_32.png\ncoins_32.png, text_32.png ,ct\n",
    );
    let tsv = write(
        dir.path(),
        "pairs.tsv",
        "id\tb\ta\n\tmoon_32.png\tcamera_32.png\nct\ttext_32.png\tcoins_32.png\n",
    );
    let jsonl = write(
        dir.path(),
        "pairs.jsonl",
        "{\"a\":\"camera_32.png\",\"b\":\"moon_32.png\"}\n\n{\"a\":\"coins_32.png\",\"b\":\"text_32.png\",\"id\":\"ct\"}\n",
    );
    // A byte order mark and CRLF line ends, as spreadsheet programs write them.
    let bom_csv = write(
        dir.path(),
        "pairs_bom.csv",
        "\u{feff}a,b,id\r\ncamera_32.png,moon_32.png,\r\n\"coins_32.png\",text_32.png,ct\r\n",
    );
    let bom_tsv = write(
        dir.path(),
        "pairs_bom.tsv",
        "\u{feff}A\tB\tId\r\ncamera_32.png\tmoon_32.png\r\ncoins_32.png\ttext_32.png\tct\r\n",
    );
    let want_tv = [
        single("camera_32.png", "moon_32.png", "tv", &[]),
        single("coins_32.png", "text_32.png", "tv", &[]),
    ];
    assert!(want_tv[0] > 0.01 && want_tv[1] > 0.01, "{want_tv:?}");
    let stdin_text = std::fs::read_to_string(&csv).unwrap();
    for (args, stdin) in [
        (vec![csv.as_str()], None),
        (vec![tsv.as_str()], None),
        (vec![jsonl.as_str()], None),
        (vec![bom_csv.as_str()], None),
        (vec![bom_tsv.as_str()], None),
        (vec!["-"], Some(stdin_text.as_str())),
    ] {
        let out = batch(&[&args[..], &["-m", "tv"]].concat(), stdin);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(out.stderr.is_empty(), "no progress bar off a terminal");
        let recs: Vec<Value> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(ids(&recs), ["camera_32.png|moon_32.png", "ct"], "{args:?}");
        for (r, want) in recs.iter().zip(want_tv) {
            assert_rel(
                value(r, "tv"),
                want,
                1e-12,
                &format!("{args:?} {}", r["id"]),
            );
        }
        assert_eq!(recs[1]["inputs"]["a"]["path"], "coins_32.png");
        assert_eq!(recs[1]["inputs"]["b"]["path"], "text_32.png");
    }
}

#[test]
fn json_record_is_the_single_pair_report_plus_id_and_status() {
    let recs = records(
        &[
            "--one-vs-many",
            "dot_at_1_2.png",
            "dot_at_3_5.png",
            "-m",
            "tv,kl",
        ],
        None,
        0,
    );
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "id", "status", "version", "inputs", "options", "metrics", "pass"
        ]
    );
    assert_eq!(r["id"], "dot_at_1_2.png|dot_at_3_5.png");
    assert_eq!(r["status"], "ok");
    assert_eq!(r["metrics"]["tv"]["value"], 1.0);
    assert_eq!(r["metrics"]["kl"]["value"], Value::Null);
    assert_eq!(r["metrics"]["kl"]["value_text"], "inf");
    assert_eq!(r["inputs"]["a"]["width"], 8);
}

/// The text with the value of every `"solve_seconds"` (a timing) replaced by `T`.
fn without_timings(text: &str) -> String {
    let key = "\"solve_seconds\":";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        let (head, tail) = rest.split_at(at + key.len());
        out.push_str(head);
        out.push('T');
        rest = tail.trim_start_matches(|c: char| c.is_ascii_digit() || "+-.eE".contains(c));
    }
    out.push_str(rest);
    out
}

#[test]
fn json_record_is_byte_for_byte_the_single_pair_json_after_id_and_status() {
    // Every metric; kl is infinite on the dots, every value finite on the photos.
    for (a, b) in [
        ("dot_at_1_2.png", "dot_at_3_5.png"),
        ("camera_32.png", "moon_32.png"),
    ] {
        let opts = ["-m", "all", "--max", "tv=0.25", "--max", "kl=1"];
        let out = batch(&[&["--one-vs-many", a, b], &opts[..]].concat(), None);
        let line = stdout(&out);
        let record: Value = serde_json::from_str(&line).unwrap();
        let seed = record["metrics"]["sliced"]["params"]["seed"].to_string();
        let single = imgdist()
            .args([a, b, "--format", "json", "--seed", &seed])
            .args(opts)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), single.status.code(), "{a} {b}");
        let single = stdout(&single);
        let want = format!(
            "{{\"id\":\"{a}|{b}\",\"status\":\"ok\",{}",
            single.strip_prefix('{').unwrap()
        );
        assert_eq!(without_timings(&line), without_timings(&want));
    }
    assert_eq!(
        without_timings(r#"{"solve_seconds":1.5e-3},"solve_seconds":2}"#),
        r#"{"solve_seconds":T},"solve_seconds":T}"#
    );
}

#[test]
fn csv_output_quotes_fields_with_commas_and_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write(
        dir.path(),
        "pairs.csv",
        "a,b,id\ndot_at_1_2.png,dot_at_3_5.png,\"p,\"\"1\"\"\"\n",
    );
    let out = batch(&[manifest.as_str(), "-m", "tv", "--format", "csv"], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "id,a,b,status,tv,error\n\"p,\"\"1\"\"\",dot_at_1_2.png,dot_at_3_5.png,ok,1,\n"
    );
}

#[test]
fn csv_and_tsv_outputs_are_pinned() {
    let args = [
        "--one-vs-many",
        "dot_at_1_2.png",
        "dot_at_3_5.png",
        "missing.png",
    ];
    let out = batch(
        &[&args[..], &["-m", "tv,js", "--format", "csv"]].concat(),
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    // The last field ends with the OS's own wording of the reason, which differs between
    // systems: everything up to it is pinned.
    let text = stdout(&out);
    let (fixed, reason) = text.rsplit_once("missing.png: cannot read: ").expect(&text);
    assert_eq!(
        fixed,
        "id,a,b,status,tv,js,error\n\
         dot_at_1_2.png|dot_at_3_5.png,dot_at_1_2.png,dot_at_3_5.png,ok,1,0.6931471805599453,\n\
         dot_at_1_2.png|missing.png,dot_at_1_2.png,missing.png,error,,,"
    );
    assert!(
        reason.ends_with('\n') && reason.lines().count() == 1,
        "{reason:?}"
    );
    let out = batch(
        &[&args[..3], &["-m", "tv", "--format", "tsv"]].concat(),
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "id\ta\tb\tstatus\ttv\terror\n\
         dot_at_1_2.png|dot_at_3_5.png\tdot_at_1_2.png\tdot_at_3_5.png\tok\t1\t\n"
    );
}

#[test]
fn all_pairs_of_a_directory_and_the_matrix() {
    let dir = folder_of(&SMALL);
    let d = dir.path().display().to_string();
    let out_dir = tempfile::tempdir().unwrap();
    let matrix = out_dir.path().join("matrix.csv");
    let m = matrix.display().to_string();
    let recs = records(
        &[
            "--all-pairs",
            &d,
            "-m",
            "hellinger,sliced",
            "--proj",
            "50",
            "--matrix",
            &m,
        ],
        None,
        0,
    );
    let files: Vec<String> = SMALL.iter().map(|n| format!("{d}/{n}")).collect();
    let mut want_ids = Vec::new();
    for i in 0..4 {
        for j in i + 1..4 {
            want_ids.push(format!("{}|{}", files[i], files[j]));
        }
    }
    assert_eq!(
        ids(&recs),
        want_ids,
        "row-major i < j over the sorted folder"
    );
    // Every value equals the single-pair command's; sliced with the record's per-pair seed.
    for r in &recs {
        let (a, b) = (
            r["inputs"]["a"]["path"].as_str().unwrap(),
            r["inputs"]["b"]["path"].as_str().unwrap(),
        );
        assert_rel(
            value(r, "hellinger"),
            single(a, b, "hellinger", &[]),
            1e-12,
            "hellinger",
        );
        let seed = r["metrics"]["sliced"]["params"]["seed"].as_u64().unwrap();
        let seed = seed.to_string();
        let want = single(a, b, "sliced", &["--proj", "50", "--seed", &seed]);
        assert_rel(
            value(r, "sliced"),
            want,
            1e-12,
            "sliced with the pair's seed",
        );
    }
    // The per-pair seeds differ from each other and from --seed.
    let seeds: BTreeSet<u64> = recs
        .iter()
        .map(|r| r["metrics"]["sliced"]["params"]["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds.len(), recs.len());
    assert!(!seeds.contains(&0));

    // The matrix: header of labels, symmetric, zero diagonal, the first metric (hellinger).
    let text = std::fs::read_to_string(&matrix).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 5, "{text}");
    assert_eq!(rows[0][0], "");
    assert_eq!(&rows[0][1..], files.as_slice());
    for i in 0..4 {
        assert_eq!(rows[i + 1][0], files[i]);
        assert_eq!(rows[i + 1][i + 1], "0");
        for j in 0..4 {
            assert_eq!(
                rows[i + 1][j + 1],
                rows[j + 1][i + 1],
                "symmetric at {i},{j}"
            );
        }
    }
    for r in &recs {
        let a = files
            .iter()
            .position(|f| *f == r["inputs"]["a"]["path"])
            .unwrap();
        let b = files
            .iter()
            .position(|f| *f == r["inputs"]["b"]["path"])
            .unwrap();
        let cell: f64 = rows[a + 1][b + 1].parse().unwrap();
        assert_rel(cell, value(r, "hellinger"), 1e-15, "matrix cell");
    }
}

#[test]
fn one_vs_many_compares_the_reference_with_each_file() {
    let recs = records(
        &[
            "--one-vs-many",
            "camera_32.png",
            "coins_32.png",
            "moon_32.png",
            "-m",
            "js",
        ],
        None,
        0,
    );
    assert_eq!(
        ids(&recs),
        ["camera_32.png|coins_32.png", "camera_32.png|moon_32.png"]
    );
    for r in &recs {
        let b = r["inputs"]["b"]["path"].as_str().unwrap();
        assert_rel(
            value(r, "js"),
            single("camera_32.png", b, "js", &[]),
            1e-12,
            b,
        );
    }
}

#[test]
fn bad_pairs_become_error_records_and_the_run_goes_on() {
    let manifest = "camera_32.png,missing.png\n\
                    camera_32_corrupt.png,camera_32.png\n\
                    camera_32.png,camera_64.png\n\
                    black_8x8.png,dot_at_1_2.png\n\
                    camera_32.png,moon_32.png\n";
    let out = batch(&["-", "-m", "tv"], Some(manifest));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("imgdist: 4 of 5 pairs could not be computed; first: camera_32.png|missing.png: missing.png: cannot read"),
        "{stderr}"
    );
    let recs: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let errors: Vec<&str> = recs
        .iter()
        .map(|r| r["error"].as_str().unwrap_or(""))
        .collect();
    assert!(
        errors[0].starts_with("missing.png: cannot read"),
        "{}",
        errors[0]
    );
    assert!(errors[1].contains("cannot decode image"), "{}", errors[1]);
    assert!(errors[2].contains("32x32 and 64x64"), "{}", errors[2]);
    assert!(errors[3].contains("zero total mass"), "{}", errors[3]);
    for r in &recs[..4] {
        assert_eq!(r["status"], "error");
        assert!(r.get("metrics").is_none(), "{r}");
        assert!(r["inputs"]["a"]["path"].is_string());
    }
    assert_eq!(recs[4]["status"], "ok");
    assert_rel(
        value(&recs[4], "tv"),
        single("camera_32.png", "moon_32.png", "tv", &[]),
        1e-12,
        "the good pair",
    );
}

#[test]
fn exit_codes_follow_the_contract() {
    let pairs = "camera_32.png,moon_32.png\ncamera_32.png,camera_32.png\n";
    let tv = single("camera_32.png", "moon_32.png", "tv", &[]);
    let below = format!("tv={}", tv * 1.01);
    let above = format!("tv={}", tv * 0.99);
    records(&["-", "--max", &below], Some(pairs), 0);
    let recs = records(&["-", "--max", &above], Some(pairs), 1);
    assert_eq!(recs[0]["pass"], false);
    assert_eq!(recs[0]["status"], "ok");
    assert_eq!(recs[1]["pass"], true);
    let out = batch(&["-", "--max", &above], Some(pairs));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("imgdist: 1 of 2 pairs have a value above its --max"),
    );
    // An error outranks a failed --max.
    let with_error = format!("{pairs}camera_32.png,missing.png\n");
    records(&["-", "--max", &above], Some(&with_error), 2);
}

#[test]
fn fail_fast_stops_at_the_first_error() {
    let mut manifest = String::from("camera_32.png,missing.png\n");
    for _ in 0..20 {
        manifest.push_str("camera_32.png,moon_32.png\nmoon_32.png,camera_32.png\n");
    }
    // Ids repeat otherwise; give each line its own.
    let manifest: String = manifest
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{l},p{i}\n"))
        .collect();
    let recs = records(
        &["-", "-m", "tv", "--jobs", "1", "--fail-fast"],
        Some(&manifest),
        2,
    );
    assert_eq!(
        ids(&recs),
        ["p0"],
        "one thread stops right after the first pair"
    );
    assert_eq!(recs[0]["status"], "error");
    // Two threads: the other one may finish a pair or two, but (each good pair taking
    // milliseconds here) far from all 40 before the error stops the run.
    let recs = records(
        &[
            "-",
            "-m",
            "sliced",
            "--proj",
            "2000",
            "--jobs",
            "2",
            "--fail-fast",
        ],
        Some(&manifest),
        2,
    );
    assert_eq!(recs[0]["id"], "p0");
    assert!(recs.len() < 41, "{} records", recs.len());
    let recs = records(&["-", "-m", "tv", "--jobs", "2"], Some(&manifest), 2);
    assert_eq!(recs.len(), 41, "without --fail-fast the run goes on");
}

/// Lines of stdout as a set (records carry no timings for these metrics).
fn line_set(out: &std::process::Output) -> BTreeSet<String> {
    stdout(out).lines().map(String::from).collect()
}

#[test]
fn shards_partition_the_run() {
    let base = [
        &["--all-pairs"],
        &MIXED[..],
        &["-m", "sliced,hellinger", "--proj", "20"],
    ]
    .concat();
    let whole = batch(&base, None);
    assert_eq!(
        whole.status.code(),
        Some(2),
        "hellinger fails on mixed sizes"
    );
    let whole_lines = line_set(&whole);
    assert_eq!(whole_lines.len(), 28);
    let mut union = BTreeSet::new();
    let mut total = 0;
    for k in 0..3 {
        let shard = format!("{k}/3");
        let out = batch(&[&base[..], &["--shard", &shard]].concat(), None);
        let lines = line_set(&out);
        assert!(
            !lines.is_empty() && lines.len() < 28,
            "shard {shard}: {}",
            lines.len()
        );
        total += lines.len();
        union.extend(lines);
    }
    assert_eq!(total, 28, "no pair in two shards");
    assert_eq!(
        union, whole_lines,
        "the shards' records are the whole run's"
    );
}

#[test]
fn skip_done_resumes_an_interrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        &["--all-pairs"],
        &MIXED[..],
        &["-m", "sliced", "--proj", "20"],
    ]
    .concat();
    let whole = batch(&base, None);
    assert_eq!(whole.status.code(), Some(0));
    let text = stdout(&whole);
    let lines: Vec<&str> = text.lines().collect();
    // An earlier run got through 10 pairs, one of them recorded as an error, and was killed
    // in the middle of a line.
    let mut earlier: Vec<String> = lines[..10].iter().map(|l| l.to_string()).collect();
    let mut failed: Value = serde_json::from_str(lines[3]).unwrap();
    failed["status"] = "error".into();
    earlier[3] = failed.to_string();
    let cut = &lines[10][..lines[10].len() / 2];
    let done = write(
        dir.path(),
        "done.jsonl",
        &format!("{}\n{cut}", earlier.join("\n")),
    );
    let rest = batch(&[&base[..], &["--skip-done", &done]].concat(), None);
    assert_eq!(rest.status.code(), Some(0));
    let rest_text = stdout(&rest);
    let rest_lines: Vec<&str> = rest_text.lines().collect();
    let mut want: Vec<&str> = vec![lines[3]];
    want.extend(&lines[10..]);
    assert_eq!(
        rest_lines, want,
        "skips the 9 ok pairs, redoes the error and the cut one"
    );
}

#[test]
fn thread_count_does_not_change_the_output() {
    let base = [
        &["--all-pairs"],
        &MIXED[..],
        &[
            "-m",
            "sliced,tv",
            "--proj",
            "30",
            "--angles",
            "random",
            "--seed",
            "7",
        ],
    ]
    .concat();
    let one = batch(&[&base[..], &["--jobs", "1"]].concat(), None);
    let two = batch(&[&base[..], &["--jobs", "2"]].concat(), None);
    assert_eq!(one.status.code(), Some(2), "tv fails on mixed sizes");
    assert_eq!(stdout(&one).lines().count(), 28);
    assert_eq!(stdout(&one), stdout(&two));
    let unordered = batch(&[&base[..], &["--jobs", "2", "--unordered"]].concat(), None);
    assert_eq!(
        line_set(&unordered),
        line_set(&one),
        "--unordered: same records"
    );
    assert_eq!(stdout(&unordered).lines().count(), 28);
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.csv").display().to_string();
    let short = write(
        dir.path(),
        "short.csv",
        "camera_32.png,moon_32.png\nx.png\n",
    );
    for (args, needle) in [
        (vec![], "expected a MANIFEST"),
        (vec!["a.csv", "b.csv"], "did you mean --all-pairs"),
        (vec!["missing.csv"], "missing.csv: cannot read"),
        (
            vec![
                "--one-vs-many",
                "camera_32.png",
                "moon_32.png",
                "--matrix",
                &m,
            ],
            "--matrix needs --all-pairs",
        ),
        (
            vec![
                "--all-pairs",
                "camera_32.png",
                "moon_32.png",
                "-m",
                "kl,tv",
                "--matrix",
                &m,
            ],
            "kl is not symmetric",
        ),
        (
            vec![
                "--all-pairs",
                "camera_32.png",
                "moon_32.png",
                "--shard",
                "3/3",
            ],
            "invalid --shard",
        ),
        (
            vec!["--all-pairs", "camera_32.png", "moon_32.png", "--jobs", "0"],
            "invalid --jobs",
        ),
        (
            vec![
                "--all-pairs",
                "camera_32.png",
                "moon_32.png",
                "--sigma",
                "-1",
                "-m",
                "blur-l2",
            ],
            "invalid --sigma",
        ),
        (
            vec![
                "--all-pairs",
                "--one-vs-many",
                "camera_32.png",
                "moon_32.png",
            ],
            "cannot be used with",
        ),
        (
            vec![
                "--all-pairs",
                "camera_32.png",
                "moon_32.png",
                "--format",
                "text",
            ],
            "possible values",
        ),
        (vec![short.as_str()], "short.csv: line 2: 1 fields"),
    ] {
        let out = batch(&args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("imgdist: ") && stderr.contains(needle),
            "{args:?}: {stderr}"
        );
    }
    assert!(!Path::new(&m).exists());
}

#[test]
fn batch_help_and_the_single_pair_command_stay_apart() {
    imgdist()
        .args(["batch", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--shard <K/N>").and(predicate::str::contains("./batch")));
    // Without `batch` first, two operands are still one pair.
    imgdist()
        .args(["camera_32.png", "camera_32.png", "-m", "tv"])
        .assert()
        .success()
        .stdout("tv\t0\n");
}

/// Thousands of threads would swamp the machine: `--jobs` gets at most 4 per core, with a note.
#[test]
fn jobs_are_capped_at_four_per_core() {
    let args = [
        "--all-pairs",
        "camera_32.png",
        "moon_32.png",
        "coins_32.png",
    ];
    let capped = batch(
        &[&args[..], &["-m", "tv", "--jobs", "100000"]].concat(),
        None,
    );
    let plain = batch(&[&args[..], &["-m", "tv", "--jobs", "1"]].concat(), None);
    assert_eq!(capped.status.code(), Some(0));
    assert_eq!(stdout(&capped), stdout(&plain));
    let cores = std::thread::available_parallelism().unwrap().get();
    let note = String::from_utf8_lossy(&capped.stderr);
    assert_eq!(
        note.trim_end(),
        format!(
            "imgdist: --jobs 100000 is more than 4 per core; using {} ({cores} cores)",
            4 * cores
        )
    );
}

/// `--matrix` and `--matrix-plot` never land on an input, the manifest, an earlier output or
/// each other: refused before any work, every file left as it was.
#[test]
fn matrix_outputs_never_overwrite_what_the_run_reads() {
    let dir = folder_of(&SMALL);
    let p = |name: &str| dir.path().join(name).display().to_string();
    let done = write(dir.path(), "done.jsonl", "");
    let image = p("moon_32.png");
    let before = std::fs::read(&image).unwrap();
    let inputs: Vec<String> = SMALL.iter().map(|n| p(n)).collect();
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let m_png = p("m.png");
    for (extra, needle) in [
        (vec!["--matrix", &image], "invalid --matrix: "),
        (vec!["--matrix-plot", &image], "would overwrite the input"),
        (
            vec!["--skip-done", &done, "--matrix", &done],
            "would overwrite the input",
        ),
        (
            vec!["--matrix", &m_png, "--matrix-plot", &m_png],
            "is also the file of --matrix",
        ),
    ] {
        let args = [&["--all-pairs"], &inputs[..], &["-m", "tv"], &extra[..]].concat();
        let out = batch(&args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "no pair ran: {args:?}");
        assert!(stderr.contains(needle), "{needle} in {stderr}");
    }
    assert_eq!(std::fs::read(&image).unwrap(), before);
    assert_eq!(std::fs::read_to_string(&done).unwrap(), "");
    assert!(!dir.path().join("m.png").exists());
}

/// A record counts as done only with every metric of this run, computed with the same
/// parameters and options: records of another metric or another `--proj` are computed again.
#[test]
fn skip_done_redoes_pairs_recorded_with_other_metrics_or_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let base = [&["--all-pairs"], &SMALL[..]].concat();
    let run = |extra: &[&str]| batch(&[&base[..], extra].concat(), None);
    let sliced = run(&["-m", "sliced", "--proj", "20"]);
    assert_eq!(sliced.status.code(), Some(0));
    let done = write(dir.path(), "done.jsonl", &stdout(&sliced));
    let matrix = dir.path().join("m.csv").display().to_string();
    // Another metric: every pair is computed, and the matrix is full.
    let tv = run(&["-m", "tv", "--skip-done", &done, "--matrix", &matrix]);
    assert_eq!(tv.status.code(), Some(0));
    assert_eq!(stdout(&tv).lines().count(), 6);
    assert!(String::from_utf8_lossy(&tv.stderr).contains("6 ok records were made with other"));
    let m = std::fs::read_to_string(&matrix).unwrap();
    assert!(!m.contains(",,"), "no empty cell:\n{m}");
    // Another --proj: computed again; the same settings: nothing left to do.
    let more = run(&["-m", "sliced", "--proj", "21", "--skip-done", &done]);
    assert_eq!(stdout(&more).lines().count(), 6);
    let same = run(&["-m", "sliced", "--proj", "20", "--skip-done", &done]);
    assert_eq!(
        (same.status.code(), stdout(&same)),
        (Some(0), String::new())
    );
    // Both metrics asked for, one recorded: computed again.
    let both = run(&["-m", "sliced,tv", "--proj", "20", "--skip-done", &done]);
    assert_eq!(stdout(&both).lines().count(), 6);
}
