//! The fuzz driver: proptest runners with a case budget or a time budget, seeded
//! deterministically, and byte mutations of the seed corpus.
//!
//! Budget, from the environment:
//! - `IMGDIST_FUZZ_SECONDS=S`: each target runs rounds of cases, round `k` seeded with `k`,
//!   until `S` seconds have passed (what `.ci/run` uses);
//! - otherwise `IMGDIST_FUZZ_CASES=N` cases per target, or each target's small default, so that
//!   a plain `cargo test` stays quick;
//! - `IMGDIST_FUZZ_SEED=K` shifts every seed, to explore beyond the cases CI runs.
//!
//! Every target prints `fuzz TARGET: N cases in T s` on standard error (shown with
//! `-- --nocapture`). A failing case is shrunk to a minimal one, its seed is saved in
//! `tests/fuzz/regressions/TARGET.txt` (replayed first from then on), and the test panics
//! with the case and the round that found it.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseResult, TestError, TestRng, TestRunner,
};

/// Cases per round in time-budgeted mode: large enough to amortise the runner, small enough to
/// stop close to the deadline.
const ROUND: u32 = 16;

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a whole number")),
    )
}

/// Runs `test` on values of `strategy` within the budget (see the module docs), after the
/// saved regressions of `target`. Panics with the minimal failing case.
pub fn run<S>(
    target: &'static str,
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> TestCaseResult,
) where
    S: Strategy,
    S::Value: Debug,
{
    let base = env_u64("IMGDIST_FUZZ_SEED").unwrap_or(0);
    let deadline = env_u64("IMGDIST_FUZZ_SECONDS").map(Duration::from_secs);
    let cases = env_u64("IMGDIST_FUZZ_CASES").map_or(default_cases, |n| n as u32);
    let persistence: &'static str =
        Box::leak(format!("tests/fuzz/regressions/{target}.txt").into_boxed_str());
    let start = Instant::now();
    let (mut done, mut round) = (0u64, 0u64);
    loop {
        let this_round = if deadline.is_some() { ROUND } else { cases };
        let config = Config {
            cases: this_round,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(persistence))),
            // Shrinking a slow case must not run away with the CI budget.
            max_shrink_time: 120_000,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, rng(target, base, round));
        match runner.run(&strategy, &test) {
            Ok(()) => {}
            Err(TestError::Fail(reason, minimal)) => panic!(
                "fuzz {target}: {reason}\nminimal failing case: {minimal:#?}\n\
                 (found in round {round} with IMGDIST_FUZZ_SEED={base}; its seed is saved in \
                 {persistence})"
            ),
            Err(TestError::Abort(reason)) => panic!("fuzz {target}: aborted: {reason}"),
        }
        done += u64::from(this_round);
        round += 1;
        match deadline {
            Some(d) if start.elapsed() < d => {}
            _ => break,
        }
    }
    eprintln!(
        "fuzz {target}: {done} cases in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// The random source of round `round` of `target`: the same on every machine.
fn rng(target: &str, base: u64, round: u64) -> TestRng {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&imgdist::batch::fnv1a64(target.as_bytes()).to_le_bytes());
    seed[8..16].copy_from_slice(&base.to_le_bytes());
    seed[16..24].copy_from_slice(&round.to_le_bytes());
    TestRng::from_seed(RngAlgorithm::ChaCha, &seed)
}

/// The seed files of one target, `tests/fuzz/corpus/<target>/`, sorted by name.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            (file_name(&path), std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no seeds", dir.display());
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// One change to a byte string; positions scale with its current length.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flip one bit.
    Flip(Index, u8),
    /// Overwrite one byte.
    Set(Index, u8),
    /// Keep only the bytes before the position.
    Truncate(Index),
    /// Insert bytes at the position.
    Insert(Index, Vec<u8>),
    /// Remove up to `len` bytes from the position.
    Remove(Index, usize),
    /// Insert a piece of another seed (`seed`, `from`, `len`) at the position.
    Splice(Index, Index, Index, usize),
}

/// Bytes that matter to some reader: separators, quotes, signs, braces, high bytes.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => any::<u8>(),
        2 => prop::sample::select(
            b"\0\n\r\t ,;\"#{}[]:-+.eE0123456789\x7f\x80\xbf\xc3\xef\xff".to_vec()
        ),
    ]
}

/// Up to `max` mutations.
pub fn mutations(max: usize) -> impl Strategy<Value = Vec<Mutation>> {
    let one = prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        3 => (any::<Index>(), interesting_byte()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (any::<Index>(), prop::collection::vec(interesting_byte(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<Index>(), 1usize..16).prop_map(|(i, n)| Mutation::Remove(i, n)),
        1 => (any::<Index>(), any::<Index>(), any::<Index>(), 1usize..64)
            .prop_map(|(i, s, f, n)| Mutation::Splice(i, s, f, n)),
    ];
    prop::collection::vec(one, 0..=max)
}

/// Bytes that print as a byte string literal, so a failing case shows the input itself.
#[derive(Clone)]
pub struct Bytes(pub Vec<u8>);

impl Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = self
            .0
            .iter()
            .flat_map(|&b| std::ascii::escape_default(b))
            .map(char::from)
            .collect();
        write!(f, "b\"{text}\"")
    }
}

/// A seed of `seeds` after up to `max` mutations.
pub fn seeded(seeds: Vec<(String, Vec<u8>)>, max: usize) -> impl Strategy<Value = Bytes> {
    (any::<Index>(), mutations(max)).prop_map(move |(seed, muts)| {
        Bytes(mutate(&seeds[seed.index(seeds.len())].1, &muts, &seeds))
    })
}

/// `bytes` after `mutations`, splicing from `seeds`.
pub fn mutate(bytes: &[u8], mutations: &[Mutation], seeds: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    // A position in `0..=len` (insertions may go at the end).
    let at = |i: &Index, len: usize| i.index(len + 1);
    for m in mutations {
        let len = out.len();
        match m {
            Mutation::Flip(i, bit) if len > 0 => out[i.index(len)] ^= 1u8 << bit,
            Mutation::Set(i, b) if len > 0 => out[i.index(len)] = *b,
            Mutation::Truncate(i) => out.truncate(at(i, len)),
            Mutation::Insert(i, b) => {
                let p = at(i, len);
                out.splice(p..p, b.iter().copied());
            }
            Mutation::Remove(i, n) if len > 0 => {
                let p = i.index(len);
                out.drain(p..(p + n).min(len));
            }
            Mutation::Splice(i, s, f, n) => {
                let other = &seeds[s.index(seeds.len())].1;
                if !other.is_empty() {
                    let from = f.index(other.len());
                    let piece = other[from..(from + n).min(other.len())].to_vec();
                    let p = at(i, len);
                    out.splice(p..p, piece);
                }
            }
            _ => {}
        }
    }
    out
}

/// Recomputes the CRC of every complete chunk of a PNG, so that mutations reach the decoder
/// past its checksum test; other bytes are returned unchanged.
pub fn fix_png_crcs(bytes: &mut [u8]) {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !bytes.starts_with(SIGNATURE) {
        return;
    }
    let mut pos = SIGNATURE.len();
    while pos + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let Some(end) = (pos + 8).checked_add(len).filter(|&e| e + 4 <= bytes.len()) else {
            return;
        };
        let crc = crc32(&bytes[pos + 4..end]);
        bytes[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        pos = end + 4;
    }
}

/// CRC-32 (ISO-HDLC, as PNG uses), bit by bit.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn crc32_matches_the_png_of_a_committed_fixture() {
    // The IHDR chunk of a committed PNG carries the CRC its encoder computed.
    let png =
        std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/camera_32.png"))
            .unwrap();
    let stored = u32::from_be_bytes(png[29..33].try_into().unwrap());
    assert_eq!(crc32(&png[12..29]), stored);
    let mut flipped = png.clone();
    flipped[30] ^= 1;
    fix_png_crcs(&mut flipped);
    assert_eq!(flipped, png, "fixing the CRCs restores a flipped CRC byte");
}
