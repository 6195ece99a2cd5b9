//! Batch mode: many pairs in one run, in parallel, resumable and shardable.
//!
//! A [`Plan`] lists the distinct inputs and the pairs between them — from a manifest
//! ([`Plan::from_manifest`]), every pair of a list ([`Plan::all_pairs`]) or one reference against
//! many ([`Plan::one_vs_many`]). [`Plan::retain_shard`] keeps one shard of it and
//! [`Plan::skip_ids`] drops pairs already done. [`run`] computes the pairs on a thread pool
//! ([`run_on`]: on [`Workers`] started beforehand), decodes each input once through a bounded
//! [`MassCache`], and hands every [`Record`] over in input order (or in completion order).
//!
//! # Pair ids, shards and seeds
//! Every pair has an id: the manifest's `id` column when given, otherwise `A|B` with both paths
//! as written (after directory expansion). Ids must be unique within a run. A default id is
//! never stored: [`Plan::id`] gives a [`PairId`] that hashes, compares and writes the two paths
//! around the `|` as they are. A plan of all pairs of `n` distinct inputs stores no pair at all
//! ([`Plan::pair`] works pair `k` out from `k`): it holds `n` strings, not `n²` pairs.
//!
//! - **Shards.** Shard `K/N` (0 ≤ K < N) holds the pairs whose id hashes to K:
//!   `fnv1a64(id) mod N == K`, with [`fnv1a64`] over the id's UTF-8 bytes. The N shards
//!   partition the run, whatever machine or release computes them.
//! - **Seeds.** `sliced` uses the per-pair seed [`pair_seed`]`(seed, id)` = FNV-1a 64 over the
//!   8 little-endian bytes of the run's seed followed by the id's bytes; the record's
//!   `params.seed` shows it, and the single-pair command given that seed reproduces the value.
//!   So no value depends on the shard, the thread count or the order of the pairs.
//!
//! # Memory
//! [`MassCache`] keeps decoded inputs up to a byte budget (a mass of `N` cells takes about
//! `8N` bytes: 6 KB at 28², 0.7 MB at 299²). Within the budget every input is decoded once per
//! run however many pairs use it; beyond it the least recently used masses are dropped and
//! decoded again when a later pair needs them. Each worker also keeps the last two inputs it
//! fetched, so a dropped mass may live on until that worker moves past it.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::load::{LoadOptions, Source, load};
use crate::mass::Mass;
use crate::metric::MetricKind;
use crate::report::{Report, format_value, json_str, json_str_parts};
use crate::{Params, Settings};

/// FNV-1a 64-bit hash of `bytes`: stable across machines, platforms and releases.
///
/// ```
/// assert_eq!(imgdist::batch::fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
/// assert_eq!(imgdist::batch::fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
/// ```
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_extend(0xcbf2_9ce4_8422_2325, bytes)
}

fn fnv1a64_extend(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The `sliced` seed of one pair: FNV-1a 64 over the 8 little-endian bytes of `seed` followed
/// by the UTF-8 bytes of the pair id.
pub fn pair_seed(seed: u64, id: &str) -> u64 {
    fnv1a64_extend(fnv1a64(&seed.to_le_bytes()), id.as_bytes())
}

/// One part of a run split `count` ways: the pairs whose id hashes to `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which part, `0 ≤ index < count`.
    pub index: u64,
    /// How many parts.
    pub count: u64,
}

impl Shard {
    /// True when the pair with this id belongs to the shard: `fnv1a64(id) mod count == index`.
    pub fn contains(&self, id: &str) -> bool {
        fnv1a64(id.as_bytes()) % self.count == self.index
    }

    /// As [`Shard::contains`], for an id as a plan holds it.
    pub fn contains_id(&self, id: PairId<'_>) -> bool {
        id.fnv1a64() % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// Parses `K/N` with `0 ≤ K < N`.
    fn from_str(s: &str) -> Result<Shard> {
        let bad = |reason: String| Error::InvalidParameter {
            name: "--shard",
            reason,
        };
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| bad(format!("'{s}': expected K/N, e.g. 0/4")))?;
        let parse = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| bad(format!("'{s}': '{v}' is not a whole number")))
        };
        let (index, count) = (parse(k)?, parse(n)?);
        if count == 0 || index >= count {
            return Err(bad(format!(
                "'{s}': need 0 ≤ K < N (shards are numbered from 0)"
            )));
        }
        Ok(Shard { index, count })
    }
}

/// One listed pair: the indices of its two inputs in [`Plan::inputs`], and its id if it is
/// not the default `A|B`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pair {
    a: usize,
    b: usize,
    /// The id the manifest gave the pair; `None` for the default id `A|B`, the two paths
    /// joined by `|`, which [`Plan::id`] stands for without building it.
    id: Option<String>,
}

/// A pair's id as a [`Plan`] holds it: an id of its own, or the default `A|B` kept as its two
/// paths. It hashes, compares and writes as the string it stands for, without building it.
///
/// ```
/// use imgdist::batch::{PairId, fnv1a64, pair_seed};
/// let id = PairId::Joined("x.png", "y.png");
/// assert_eq!(id, PairId::Given("x.png|y.png"));
/// assert_eq!(id.to_string(), "x.png|y.png");
/// assert_eq!(id.fnv1a64(), fnv1a64(b"x.png|y.png"));
/// assert_eq!(id.seed(7), pair_seed(7, "x.png|y.png"));
/// ```
#[derive(Debug, Clone, Copy)]
pub enum PairId<'p> {
    /// An id given in a manifest.
    Given(&'p str),
    /// The default id: path A, `|`, path B.
    Joined(&'p str, &'p str),
}

impl<'p> PairId<'p> {
    /// The pieces whose concatenation is the id.
    fn parts(self) -> [&'p str; 3] {
        match self {
            PairId::Given(id) => [id, "", ""],
            PairId::Joined(a, b) => [a, "|", b],
        }
    }

    /// [`fnv1a64`] of the id's UTF-8 bytes (what [`Shard`]s are cut by).
    pub fn fnv1a64(self) -> u64 {
        self.fold_fnv(fnv1a64(b""))
    }

    /// The pair's `sliced` seed: [`pair_seed`]`(seed, id)`.
    pub fn seed(self, seed: u64) -> u64 {
        self.fold_fnv(fnv1a64(&seed.to_le_bytes()))
    }

    fn fold_fnv(self, hash: u64) -> u64 {
        self.parts()
            .iter()
            .fold(hash, |h, part| fnv1a64_extend(h, part.as_bytes()))
    }

    /// The id as a string: borrowed when given, built when joined.
    pub fn to_cow(self) -> Cow<'p, str> {
        match self {
            PairId::Given(id) => Cow::Borrowed(id),
            PairId::Joined(..) => Cow::Owned(self.to_string()),
        }
    }

    /// Replaces the contents of `buf` with the id (to look ids up without a new allocation
    /// each).
    pub fn write_into(self, buf: &mut String) {
        buf.clear();
        for part in self.parts() {
            buf.push_str(part);
        }
    }

    /// Appends the id to `buf` as a JSON string.
    fn append_json(self, buf: &mut Vec<u8>) {
        json_str_parts(buf, &self.parts());
    }
}

impl fmt::Display for PairId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.parts().iter().try_for_each(|part| f.write_str(part))
    }
}

impl PartialEq for PairId<'_> {
    /// Equal when they stand for the same string, however they are held.
    fn eq(&self, other: &Self) -> bool {
        let (x, y) = (self.parts(), other.parts());
        let len = |p: &[&str; 3]| p.iter().map(|s| s.len()).sum::<usize>();
        len(&x) == len(&y)
            && x.iter()
                .flat_map(|s| s.bytes())
                .eq(y.iter().flat_map(|s| s.bytes()))
    }
}

impl Eq for PairId<'_> {}

impl PartialEq<str> for PairId<'_> {
    fn eq(&self, other: &str) -> bool {
        *self == PairId::Given(other)
    }
}

impl PartialEq<&str> for PairId<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self == PairId::Given(other)
    }
}

/// The distinct inputs of a run and the pairs between them, in output order.
///
/// The pairs of [`Plan::all_pairs`] are not stored: pair `k` is worked out from `k` when it is
/// needed, so that such a plan takes no time or memory to build however many pairs it has
/// (until a shard or a skip list picks some of them: those are listed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Distinct input paths, as written.
    pub inputs: Vec<String>,
    pairs: Pairs,
}

/// The pairs of a [`Plan`], in output order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pairs {
    /// Every `(i, j)` of the inputs with `i < j`, row by row, with default ids.
    All,
    Listed(Vec<Pair>),
}

impl Default for Pairs {
    fn default() -> Self {
        Pairs::Listed(Vec::new())
    }
}

impl Plan {
    /// How many pairs there are.
    pub fn len(&self) -> usize {
        match &self.pairs {
            Pairs::All => {
                let n = self.inputs.len();
                n * n.saturating_sub(1) / 2
            }
            Pairs::Listed(pairs) => pairs.len(),
        }
    }

    /// True when there is no pair.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The indices in [`Plan::inputs`] of the two inputs of pair `k`, A then B.
    ///
    /// # Panics
    /// If `k` is not below the number of pairs.
    pub fn pair(&self, k: usize) -> (usize, usize) {
        match &self.pairs {
            Pairs::All => {
                assert!(k < self.len(), "pair {k} of {}", self.len());
                all_pairs_at(self.inputs.len(), k)
            }
            Pairs::Listed(pairs) => (pairs[k].a, pairs[k].b),
        }
    }

    /// The id of pair `k`.
    ///
    /// # Panics
    /// If `k` is not below the number of pairs.
    pub fn id(&self, k: usize) -> PairId<'_> {
        self.entry(k).2
    }

    /// Pair `k`'s inputs and id.
    fn entry(&self, k: usize) -> (usize, usize, PairId<'_>) {
        match &self.pairs {
            Pairs::Listed(pairs) => {
                let p = &pairs[k];
                (p.a, p.b, pair_id(&self.inputs, p))
            }
            Pairs::All => {
                let (a, b) = self.pair(k);
                (a, b, PairId::Joined(&self.inputs[a], &self.inputs[b]))
            }
        }
    }

    /// Keeps the pairs whose id passes `keep`, in order.
    fn retain(&mut self, mut keep: impl FnMut(PairId<'_>) -> bool) {
        let inputs = &self.inputs;
        match &mut self.pairs {
            Pairs::Listed(pairs) => pairs.retain(|p| keep(pair_id(inputs, p))),
            // Listed as they are kept, so that a shard of a large run never lists them all.
            Pairs::All => {
                let kept = upper_pairs(inputs.len())
                    .filter(|&(a, b)| keep(PairId::Joined(&inputs[a], &inputs[b])))
                    .map(|(a, b)| Pair { a, b, id: None });
                self.pairs = Pairs::Listed(kept.collect());
            }
        }
    }

    fn input(&mut self, index: &mut HashMap<String, usize>, path: &str) -> usize {
        if let Some(&i) = index.get(path) {
            return i;
        }
        self.inputs.push(path.to_string());
        index.insert(path.to_string(), self.inputs.len() - 1);
        self.inputs.len() - 1
    }

    /// Builds a plan from `(a, b, id)` triples, checking that ids are unique. `origin(k)` names
    /// where triple `k` came from in error messages.
    fn from_triples(
        triples: Vec<(String, String, Option<String>)>,
        name: &str,
        origin: impl Fn(usize) -> String,
    ) -> Result<Plan> {
        let mut plan = Plan::default();
        let mut index = HashMap::new();
        let mut pairs = Vec::with_capacity(triples.len());
        for (a, b, id) in triples {
            let (a, b) = (plan.input(&mut index, &a), plan.input(&mut index, &b));
            pairs.push(Pair { a, b, id });
        }
        plan.pairs = Pairs::Listed(pairs);
        plan.check_ids(name, origin)?;
        Ok(plan)
    }

    /// Fails on the first pair whose id repeats an earlier one.
    fn check_ids(&self, name: &str, origin: impl Fn(usize) -> String) -> Result<()> {
        let mut seen: HashMap<Cow<str>, usize> = HashMap::with_capacity(self.len());
        for k in 0..self.len() {
            let id = self.id(k).to_cow();
            if let Some(&first) = seen.get(&id) {
                return Err(Error::Decode {
                    source_name: name.to_string(),
                    reason: format!(
                        "{}: pair id '{id}' repeats {} (ids must be unique)",
                        origin(k),
                        origin(first)
                    ),
                });
            }
            seen.insert(id, k);
        }
        Ok(())
    }

    /// Every pair `(files[i], files[j])` with `i < j`, in row-major order; default ids `A|B`.
    /// When the files are distinct (the usual case) no pair is stored.
    ///
    /// # Errors
    /// [`Error::Decode`] if a file is listed twice in a way that repeats an id.
    pub fn all_pairs(files: &[String]) -> Result<Plan> {
        let mut plan = Plan::default();
        if files.len() < 2 {
            return Ok(plan);
        }
        let mut index = HashMap::new();
        let at: Vec<usize> = files.iter().map(|f| plan.input(&mut index, f)).collect();
        if plan.inputs.len() == files.len() {
            // Input i is file i.
            plan.pairs = Pairs::All;
        } else {
            let pairs = upper_pairs(at.len()).map(|(i, j)| Pair {
                a: at[i],
                b: at[j],
                id: None,
            });
            plan.pairs = Pairs::Listed(pairs.collect());
        }
        // Distinct files without a `|` make distinct ids (an id splits back into its two files).
        if plan.inputs.len() < files.len() || files.iter().any(|f| f.contains('|')) {
            plan.check_ids("--all-pairs", |k| format!("pair {}", k + 1))?;
        }
        Ok(plan)
    }

    /// `(reference, file)` for every file, in order; default ids `REF|FILE`.
    ///
    /// # Errors
    /// [`Error::Decode`] if a file is listed twice.
    pub fn one_vs_many(reference: &str, files: &[String]) -> Result<Plan> {
        let mut plan = Plan::default();
        if files.is_empty() {
            return Ok(plan);
        }
        let mut index = HashMap::new();
        let r = plan.input(&mut index, reference);
        let mut first: HashMap<usize, usize> = HashMap::with_capacity(files.len());
        let mut pairs = Vec::with_capacity(files.len());
        for (k, f) in files.iter().enumerate() {
            let b = plan.input(&mut index, f);
            // `REF|X` and `REF|Y` are one string only when X and Y are.
            if let Some(&earlier) = first.get(&b) {
                return Err(Error::Decode {
                    source_name: "--one-vs-many".into(),
                    reason: format!(
                        "pair {}: pair id '{}' repeats pair {} (ids must be unique)",
                        k + 1,
                        PairId::Joined(reference, f),
                        earlier + 1
                    ),
                });
            }
            first.insert(b, k);
            pairs.push(Pair { a: r, b, id: None });
        }
        plan.pairs = Pairs::Listed(pairs);
        Ok(plan)
    }

    /// Parses a manifest: CSV or TSV rows `a,b[,id]` (optionally under a header naming the
    /// columns `a`, `b`, `id` in any order; other columns are ignored), or JSON Lines objects
    /// `{"a": …, "b": …, "id": …}` (`id` optional, a string or an integer). The first data line
    /// decides: `{` means JSON Lines, a tab means TSV, otherwise CSV (with `"` quoting). Blank
    /// lines and lines starting with `#` are skipped. `name` labels errors.
    ///
    /// # Errors
    /// [`Error::Decode`] naming the line of the first malformed row or repeated id.
    pub fn from_manifest(text: &str, name: &str) -> Result<Plan> {
        let err = |line: usize, reason: String| Error::Decode {
            source_name: name.to_string(),
            reason: format!("line {line}: {reason}"),
        };
        let rows: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .collect();
        let mut triples = Vec::with_capacity(rows.len());
        let mut lines = Vec::with_capacity(rows.len());
        let Some(&(_, first)) = rows.first() else {
            return Ok(Plan::default());
        };
        if first.trim_start().starts_with('{') {
            for &(no, line) in &rows {
                let v: Value = serde_json::from_str(line)
                    .map_err(|e| err(no, format!("not a JSON object ({e})")))?;
                let field = |key: &str, required: bool| -> Result<Option<String>> {
                    match v.get(key) {
                        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                        Some(Value::Number(n)) if key == "id" && (n.is_i64() || n.is_u64()) => {
                            Ok(Some(n.to_string()))
                        }
                        None | Some(Value::Null) if !required => Ok(None),
                        None => Err(err(no, format!("missing \"{key}\""))),
                        Some(other) => Err(err(
                            no,
                            format!("\"{key}\" must be a non-empty string, not {other}"),
                        )),
                    }
                };
                if !v.is_object() {
                    return Err(err(no, "not a JSON object".into()));
                }
                let a = field("a", true)?.expect("required");
                let b = field("b", true)?.expect("required");
                triples.push((a, b, field("id", false)?));
                lines.push(no);
            }
        } else {
            let delim = if first.contains('\t') { '\t' } else { ',' };
            let mut columns = (0, 1, Some(2));
            let mut body = &rows[..];
            let head = split_fields(first, delim).map_err(|r| err(rows[0].0, r))?;
            let lower: Vec<String> = head.iter().map(|h| h.to_ascii_lowercase()).collect();
            let pos = |n: &str| lower.iter().position(|h| h == n);
            if let (Some(a), Some(b)) = (pos("a"), pos("b")) {
                columns = (a, b, pos("id"));
                body = &rows[1..];
            }
            let width = columns.0.max(columns.1) + 1;
            for &(no, line) in body {
                let fields = split_fields(line, delim).map_err(|r| err(no, r))?;
                if fields.len() < width || (body.len() == rows.len() && fields.len() > 3) {
                    return Err(err(
                        no,
                        format!(
                            "{} fields; expected a{d}b[{d}id]",
                            fields.len(),
                            d = if delim == '\t' { "<TAB>" } else { "," }
                        ),
                    ));
                }
                let (a, b) = (fields[columns.0].clone(), fields[columns.1].clone());
                if a.is_empty() || b.is_empty() {
                    return Err(err(no, "empty path".into()));
                }
                let id = columns
                    .2
                    .and_then(|c| fields.get(c))
                    .filter(|s| !s.is_empty())
                    .cloned();
                triples.push((a, b, id));
                lines.push(no);
            }
        }
        Plan::from_triples(triples, name, |k| format!("line {}", lines[k]))
    }

    /// Keeps only the pairs of one shard.
    pub fn retain_shard(&mut self, shard: Shard) {
        self.retain(|id| shard.contains_id(id));
    }

    /// Drops the pairs whose id is in `done`; returns how many were dropped.
    pub fn skip_ids(&mut self, done: &HashSet<String>) -> usize {
        let before = self.len();
        let mut buf = String::new();
        self.retain(|id| {
            id.write_into(&mut buf);
            !done.contains(&buf)
        });
        before - self.len()
    }
}

/// Every `(i, j)` with `i < j < n`, in row-major order.
fn upper_pairs(n: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n).flat_map(move |i| (i + 1..n).map(move |j| (i, j)))
}

/// The inputs `(a, b)` of pair `k` of all the pairs `a < b` of `n` inputs, row by row: row `a`
/// holds the `n - 1 - a` pairs `(a, a + 1)`, …, `(a, n - 1)`.
fn all_pairs_at(n: usize, k: usize) -> (usize, usize) {
    // Row a starts at pair a (2n - 1 - a) / 2. Solving for a in floating point lands on the
    // row or next to it; whole-number steps settle it.
    let start = |a: usize| a * (2 * n - 1 - a) / 2;
    let m = (2 * n - 1) as f64;
    let mut a = ((m - (m * m - 8.0 * k as f64).max(0.0).sqrt()) / 2.0) as usize;
    a = a.min(n - 2);
    while a > 0 && start(a) > k {
        a -= 1;
    }
    while a + 2 < n && start(a + 1) <= k {
        a += 1;
    }
    (a, a + 1 + k - start(a))
}

/// The id of `pair`, whose input indices point into `inputs`.
fn pair_id<'p>(inputs: &'p [String], pair: &'p Pair) -> PairId<'p> {
    match &pair.id {
        Some(id) => PairId::Given(id),
        None => PairId::Joined(&inputs[pair.a], &inputs[pair.b]),
    }
}

/// Splits one CSV/TSV line; fields may be quoted with `"` (`""` inside is one quote). Unquoted
/// fields are trimmed.
fn split_fields(line: &str, delim: char) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut was_quoted) = (false, false);
    let mut chars = line.chars().peekable();
    let mut finish = |cur: &mut String, was_quoted: &mut bool| {
        let f = if *was_quoted {
            std::mem::take(cur)
        } else {
            cur.trim().to_string()
        };
        cur.clear();
        *was_quoted = false;
        fields.push(f);
    };
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && !was_quoted && cur.trim().is_empty() {
            quoted = true;
            was_quoted = true;
            cur.clear();
        } else if c == delim {
            finish(&mut cur, &mut was_quoted);
        } else if !(was_quoted && c.is_whitespace()) {
            cur.push(c);
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    finish(&mut cur, &mut was_quoted);
    Ok(fields)
}

/// Expands each argument that is a directory into the inputs it holds — the files with an image
/// extension the `image` crate knows, or `csv`/`tsv`/`txt`, sorted by name, hidden files
/// skipped — and keeps every other argument as it is.
///
/// # Errors
/// [`Error::Io`] if a directory cannot be listed.
pub fn expand_inputs(args: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for arg in args {
        let path = Path::new(arg);
        if !path.is_dir() {
            out.push(arg.clone());
            continue;
        }
        let io_err = |source| Error::Io {
            source_name: arg.clone(),
            source,
        };
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let ext = Path::new(&name)
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .unwrap_or_default();
            let known = matches!(ext.as_str(), "csv" | "tsv" | "txt")
                || image::ImageFormat::from_extension(&ext).is_some();
            if name.starts_with('.') || !known {
                continue;
            }
            // The entry's type comes with the listing on most systems; only a symbolic link
            // needs a look at what it points to.
            let kind = entry.file_type().map_err(io_err)?;
            let is_dir = kind.is_dir() || (kind.is_symlink() && entry.path().is_dir());
            if !is_dir {
                names.push(name);
            }
        }
        names.sort();
        let base = arg.trim_end_matches('/');
        out.extend(names.into_iter().map(|n| format!("{base}/{n}")));
    }
    Ok(out)
}

/// An error and its causes on one line, `outer: inner: …`.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// A decoded input, or why it could not be decoded (shared by every pair that uses it).
pub type Loaded = std::result::Result<Arc<Mass>, Arc<str>>;

/// Decoded inputs of one run (one set of [`LoadOptions`]), keyed by their index in
/// [`Plan::inputs`], bounded by a byte budget with least-recently-used eviction.
///
/// Each input is decoded by one thread while others needing it wait, so it is decoded once as
/// long as it stays in the cache. Failures (missing file, undecodable, zero mass) are cached too.
#[derive(Debug)]
pub struct MassCache {
    inputs: Vec<String>,
    opts: LoadOptions,
    budget: usize,
    slots: Vec<RwLock<Option<Loaded>>>,
    last_used: Vec<AtomicU64>,
    clock: AtomicU64,
    held: AtomicUsize,
    decodes: AtomicUsize,
    evicting: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MassCache {
    /// A cache for `inputs` loaded with `opts`, keeping at most about `budget` bytes of masses.
    pub fn new(inputs: Vec<String>, opts: LoadOptions, budget: usize) -> MassCache {
        let n = inputs.len();
        MassCache {
            inputs,
            opts,
            budget,
            slots: (0..n).map(|_| RwLock::new(None)).collect(),
            last_used: (0..n).map(|_| AtomicU64::new(0)).collect(),
            clock: AtomicU64::new(1),
            held: AtomicUsize::new(0),
            decodes: AtomicUsize::new(0),
            evicting: Mutex::new(()),
        }
    }

    /// How many times an input was decoded so far.
    pub fn decodes(&self) -> usize {
        self.decodes.load(Ordering::Relaxed)
    }

    /// The mass of input `i`, decoding it if it is not held.
    ///
    /// # Panics
    /// If `i` is not an index of the inputs.
    pub fn get(&self, i: usize) -> Loaded {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        self.get_stamped(i, tick)
    }

    /// As [`MassCache::get`], with the recency stamp chosen by the caller instead of taken from
    /// the cache's clock: batch workers stamp with the pair's position in the plan, so that the
    /// threads do not all write one counter for every pair.
    fn get_stamped(&self, i: usize, stamp: u64) -> Loaded {
        self.last_used[i].store(stamp, Ordering::Relaxed);
        // Many threads read a held mass at once; only decoding takes the slot exclusively, so a
        // thread needing an input being decoded waits for it instead of decoding it again.
        let held = self.slots[i].read().unwrap_or_else(|p| p.into_inner());
        if let Some(loaded) = &*held {
            return loaded.clone();
        }
        drop(held);
        let mut slot = self.slots[i].write().unwrap_or_else(|p| p.into_inner());
        if let Some(loaded) = &*slot {
            return loaded.clone();
        }
        let loaded = self.decode(i);
        self.decodes.fetch_add(1, Ordering::Relaxed);
        *slot = Some(loaded.clone());
        drop(slot);
        let bytes = loaded.as_ref().map_or(0, |m| mass_bytes(m));
        if self.held.fetch_add(bytes, Ordering::Relaxed) + bytes > self.budget {
            self.evict(i);
        }
        loaded
    }

    fn decode(&self, i: usize) -> Loaded {
        let path = &self.inputs[i];
        if path == "-" {
            return Err("standard input cannot be a pair's input in batch mode".into());
        }
        load(&Source::parse(path), &self.opts)
            .map(Arc::new)
            .map_err(|e| error_chain(&e).into())
    }

    /// Drops the least recently used masses (never `keep`) until the budget holds.
    fn evict(&self, keep: usize) {
        let _one_at_a_time = lock(&self.evicting);
        let mut held: Vec<(u64, usize)> = (0..self.slots.len())
            .filter(|&j| j != keep)
            .map(|j| (self.last_used[j].load(Ordering::Relaxed), j))
            .collect();
        held.sort_unstable();
        for (_, j) in held {
            if self.held.load(Ordering::Relaxed) <= self.budget {
                break;
            }
            // A slot being decoded right now is busy and recent: leave it.
            if let Ok(mut slot) = self.slots[j].try_write()
                && let Some(Ok(mass)) = &*slot
            {
                self.held.fetch_sub(mass_bytes(mass), Ordering::Relaxed);
                *slot = None;
            }
        }
    }
}

fn mass_bytes(m: &Mass) -> usize {
    let (rows, cols) = m.shape();
    8 * (rows * cols + rows + cols) + std::mem::size_of::<Mass>()
}

/// The outcome of one pair: its report, or why it could not be computed. Its names borrow
/// from the [`Plan`].
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'p> {
    /// Position of the pair in the plan.
    pub index: usize,
    /// The pair id.
    pub id: PairId<'p>,
    /// Path of input A as written.
    pub a: &'p str,
    /// Path of input B as written.
    pub b: &'p str,
    /// The report, or the one-line reason the pair could not be computed.
    pub outcome: std::result::Result<Report, String>,
}

impl Record<'_> {
    /// True when the pair was computed.
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok()
    }

    /// True when the pair was computed and every value is within its `--max`.
    pub fn passed(&self) -> bool {
        self.outcome.as_ref().is_ok_and(Report::passed)
    }

    /// `"ok"` or `"error"`.
    pub fn status(&self) -> &'static str {
        if self.is_ok() { "ok" } else { "error" }
    }

    /// The value of one metric, if the pair was computed and the metric requested.
    pub fn value(&self, kind: MetricKind) -> Option<f64> {
        let report = self.outcome.as_ref().ok()?;
        report
            .metrics
            .iter()
            .find(|m| m.kind == kind)
            .map(|m| m.measurement.value)
    }

    /// The JSON record: `id`, `status`, then the single-pair report's fields; for an error, `id`,
    /// `status`, `error`, `version` and the input paths. Parsed back from
    /// [`Record::write_json`].
    pub fn to_json(&self) -> Value {
        let mut buf = Vec::new();
        self.append_json(&mut buf);
        serde_json::from_slice(&buf).expect("the record's JSON form parses")
    }

    /// Writes the JSON record on one line, followed by a newline: the single-pair report's JSON
    /// form with `id` and `status` put first (an error record: `id`, `status`, `error`,
    /// `version`, `inputs.a.path`, `inputs.b.path`).
    ///
    /// # Errors
    /// Any error of the writer.
    pub fn write_json<W: io::Write + ?Sized>(&self, out: &mut W) -> io::Result<()> {
        let mut buf = Vec::with_capacity(512);
        self.append_json(&mut buf);
        out.write_all(&buf)
    }

    /// Appends what [`Record::write_json`] writes to a buffer.
    pub fn append_json(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(br#"{"id":"#);
        self.id.append_json(buf);
        match &self.outcome {
            Ok(report) => {
                buf.extend_from_slice(br#","status":"ok","#);
                report.write_json_fields(buf);
            }
            Err(reason) => {
                buf.extend_from_slice(br#","status":"error","error":"#);
                json_str(buf, reason);
                buf.extend_from_slice(
                    concat!(
                        r#","version":""#,
                        env!("CARGO_PKG_VERSION"),
                        r#"","inputs":{"a":{"path":"#
                    )
                    .as_bytes(),
                );
                json_str(buf, self.a);
                buf.extend_from_slice(br#"},"b":{"path":"#);
                json_str(buf, self.b);
                buf.extend_from_slice(b"}}");
            }
        }
        buf.extend_from_slice(b"}\n");
    }

    /// Writes one CSV (`delim = ','`) or TSV (`'\t'`) row: `id, a, b, status`, one value per
    /// metric of `metrics` (empty on error), `error` (empty when ok). See [`delimited_header`].
    ///
    /// # Errors
    /// Any error of the writer.
    pub fn write_delimited(
        &self,
        out: &mut dyn io::Write,
        metrics: &[MetricKind],
        delim: char,
    ) -> io::Result<()> {
        let mut fields: Vec<String> = vec![
            self.id.to_string(),
            self.a.into(),
            self.b.into(),
            self.status().into(),
        ];
        for &k in metrics {
            fields.push(self.value(k).map(format_value).unwrap_or_default());
        }
        fields.push(self.outcome.as_ref().err().cloned().unwrap_or_default());
        writeln!(out, "{}", join_fields(&fields, delim))
    }
}

/// The header row of the CSV/TSV output: `id, a, b, status`, the metric names, `error`.
pub fn delimited_header(metrics: &[MetricKind], delim: char) -> String {
    let mut fields: Vec<String> = ["id", "a", "b", "status"].map(String::from).to_vec();
    fields.extend(metrics.iter().map(|k| k.as_str().to_string()));
    fields.push("error".into());
    join_fields(&fields, delim)
}

/// Joins fields into one line. CSV quotes a field holding a comma, quote or line break (RFC
/// 4180); TSV replaces tabs and line breaks inside a field by spaces.
pub fn join_fields(fields: &[String], delim: char) -> String {
    let one = |f: &String| -> String {
        if delim == '\t' {
            f.replace(['\t', '\n', '\r'], " ")
        } else if f.contains([delim, '"', '\n', '\r']) {
            format!("\"{}\"", f.replace('"', "\"\""))
        } else {
            f.clone()
        }
    };
    fields
        .iter()
        .map(one)
        .collect::<Vec<_>>()
        .join(&delim.to_string())
}

/// How [`run`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Worker threads; every metric's own parallelism runs on the same threads. Default: the
    /// available cores.
    pub jobs: usize,
    /// Start no new pair after the first error. Default: false.
    pub fail_fast: bool,
    /// Hand records over in input order (true) or as they complete. Default: true.
    pub ordered: bool,
    /// Byte budget of the [`MassCache`]. Default: 1 GiB.
    pub cache_bytes: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            fail_fast: false,
            ordered: true,
            cache_bytes: 1 << 30,
        }
    }
}

/// Receives the prepared records of a [`run`], a run of consecutive pairs at a time. The
/// worker thread that completes a run hands it over itself, one call at a time (the sink is
/// behind a lock), so the sink must be [`Send`].
pub trait Sink<T> {
    /// Takes the records of the pairs `first..first + count`, prepared into one `T`. Returning
    /// false stops the run (e.g. a closed pipe): no new pair starts.
    fn record(&mut self, first: usize, count: usize, item: T) -> bool;
    /// Called when nothing is waiting to be handed over (a good moment to flush). Returning
    /// false stops the run.
    fn idle(&mut self) -> bool {
        true
    }
}

/// What a [`run`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Pairs computed or failed.
    pub done: usize,
    /// Pairs that could not be computed.
    pub errors: usize,
    /// Computed pairs with some value above its `--max`.
    pub over_max: usize,
    /// The first error in input order, as `id: reason`.
    pub first_error: Option<String>,
    /// Inputs decoded (equals the number of distinct inputs used when the cache holds them all).
    pub decodes: usize,
    /// The run stopped before every pair was done (`fail_fast` or the sink asked).
    pub stopped: bool,
}

/// The threads a batch run computes on (see [`run_on`]). They can be started before the plan
/// is built, so that they come up while the inputs are being listed instead of after.
///
/// Until the first run begins (for at most [`BUSY_WAIT`]) the threads wait busily, giving way
/// to other threads, instead of going to sleep: a core that has gone idle can take a
/// millisecond or more to wake up again on a virtual machine, which would delay the start of a
/// run of cheap pairs by more than the threads save.
#[derive(Debug)]
pub struct Workers {
    pool: rayon::ThreadPool,
    /// Set when the first run begins or the workers are dropped: ends the busy wait.
    begun: Arc<AtomicBool>,
}

/// The longest the threads of new [`Workers`] wait busily for their first run.
pub const BUSY_WAIT: Duration = Duration::from_millis(20);

/// Yields the thread again and again until `begun` is set or `limit` has passed.
fn wait_busily(begun: &AtomicBool, limit: Duration) {
    let started = Instant::now();
    while !begun.load(Ordering::Acquire) && started.elapsed() < limit {
        std::thread::yield_now();
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.begun.store(true, Ordering::Release);
    }
}

impl Workers {
    /// Starts `jobs` threads, which wait for a run (busily at first, see [`Workers`]).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `jobs` is 0 or the threads cannot be started.
    pub fn start(jobs: usize) -> Result<Workers> {
        let bad = |reason: String| Error::InvalidParameter {
            name: "--jobs",
            reason,
        };
        if jobs == 0 {
            return Err(bad("must be at least 1".into()));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .map_err(|e| bad(format!("cannot start {jobs} threads: {e}")))?;
        let begun = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&begun);
        pool.spawn_broadcast(move |_| wait_busily(&flag, BUSY_WAIT));
        Ok(Workers { pool, begun })
    }

    /// How many threads there are.
    pub fn jobs(&self) -> usize {
        self.pool.current_num_threads()
    }
}

/// Computes every pair of `plan` on `opts.jobs` threads: [`run_on`] new [`Workers`].
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad setting or `jobs == 0`; a pair's failure is a record,
/// not an error.
pub fn run<T: Default + Send>(
    plan: &Plan,
    settings: &Settings,
    opts: &RunOptions,
    prepare: impl Fn(&mut T, &Record<'_>) + Sync,
    sink: &mut (dyn Sink<T> + Send),
) -> Result<Summary> {
    let workers = Workers::start(opts.jobs)?;
    run_on(&workers, plan, settings, opts, prepare, sink)
}

/// Computes every pair of `plan` on the threads of `workers` (`opts.jobs` is not read).
///
/// Workers take consecutive pairs in runs sized to last about a millisecond (one pair at a time
/// while pairs are slow), so that cheap pairs do not pay for the hand-over one by one. Each
/// record of a run is added by `prepare` to the run's `T` (from `T::default()`) on the worker
/// thread, so formatting runs in parallel too. The worker that finishes a run hands its `T` to
/// `sink` itself, in plan order when `opts.ordered` (a run finished ahead of an earlier one
/// waits for it), else as they finish; the calling thread only waits. Pair `i`'s `sliced` seed
/// is [`pair_seed`]`(settings.params.sliced.seed, id)`.
///
/// Inputs are decoded on the worker threads as pairs first need them, through one
/// [`MassCache`]: the first run starts without waiting for any input but its own.
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad setting; a pair's failure is a record, not an error.
pub fn run_on<T: Default + Send>(
    workers: &Workers,
    plan: &Plan,
    settings: &Settings,
    opts: &RunOptions,
    prepare: impl Fn(&mut T, &Record<'_>) + Sync,
    sink: &mut (dyn Sink<T> + Send),
) -> Result<Summary> {
    settings.validate()?;
    let (pool, jobs) = (&workers.pool, workers.jobs());
    let cache = MassCache::new(plan.inputs.clone(), settings.load.clone(), opts.cache_bytes);
    let n = plan.len();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let handover = Mutex::new(Handover::new(sink, opts.ordered));

    let work = || {
        let mut held = Held::default();
        let mut run_len = 1;
        while !stop.load(Ordering::Relaxed) {
            let left = n.saturating_sub(next.load(Ordering::Relaxed));
            let len = tail_run_len(run_len, left, jobs);
            let start = next.fetch_add(len, Ordering::Relaxed);
            if start >= n {
                break;
            }
            let began = Instant::now();
            let mut done = Done {
                start,
                end: start,
                errors: 0,
                over_max: 0,
                first_error: None,
                item: T::default(),
            };
            for i in start..(start + len).min(n) {
                if i > start && stop.load(Ordering::Relaxed) {
                    break;
                }
                let record = compute(plan, i, settings, &cache, &mut held);
                done.end = i + 1;
                match &record.outcome {
                    Err(reason) => {
                        done.errors += 1;
                        if done.first_error.is_none() {
                            done.first_error = Some((i, format!("{}: {reason}", record.id)));
                        }
                    }
                    Ok(report) if !report.passed() => done.over_max += 1,
                    Ok(_) => {}
                }
                prepare(&mut done.item, &record);
                if !record.is_ok() && opts.fail_fast {
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
            }
            run_len = next_run_len(done.end - start, began.elapsed());
            if !lock(&handover).take(done) {
                stop.store(true, Ordering::Relaxed);
            }
        }
    };
    // One worker loop per pool thread: `broadcast` pins each loop to its own thread, so a
    // thread waiting inside a metric's parallel section cannot pick up another loop. The
    // calling thread sleeps until every loop has ended: with the workers handing their runs
    // over themselves, no third thread wakes up for every run and takes a core from them.
    workers.begun.store(true, Ordering::Release);
    pool.broadcast(|_| work());
    let handover = handover.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut summary = handover.finish();
    summary.decodes = cache.decodes();
    summary.stopped = summary.done < n;
    // The decoded inputs are freed on a worker thread while the caller goes on: it need not
    // wait for hundreds of frees (a process about to exit would wait for nothing else).
    pool.spawn(move || drop(cache));
    Ok(summary)
}

/// Finished runs on their way to the [`Sink`], behind the lock that lets one worker at a time
/// hand its run over, with the counts of the [`Summary`].
struct Handover<'s, T> {
    sink: &'s mut (dyn Sink<T> + Send),
    ordered: bool,
    /// Runs waiting for an earlier one, by their first pair (ordered runs only).
    pending: BTreeMap<usize, Done<T>>,
    /// The first pair of the next run in plan order.
    want: usize,
    /// False once the sink has asked to stop: later runs are counted, not handed over.
    open: bool,
    summary: Summary,
    /// The first error in plan order so far: its pair and `id: reason`.
    first_error: Option<(usize, String)>,
}

impl<'s, T> Handover<'s, T> {
    fn new(sink: &'s mut (dyn Sink<T> + Send), ordered: bool) -> Self {
        Handover {
            sink,
            ordered,
            pending: BTreeMap::new(),
            want: 0,
            open: true,
            summary: Summary::default(),
            first_error: None,
        }
    }

    /// Counts a finished run and hands over every run now in order (the sink's `idle` when
    /// none is left waiting). Returns false once the sink has asked to stop.
    fn take(&mut self, done: Done<T>) -> bool {
        self.summary.done += done.end - done.start;
        self.summary.errors += done.errors;
        self.summary.over_max += done.over_max;
        if let Some((i, _)) = &done.first_error
            && self.first_error.as_ref().is_none_or(|(j, _)| i < j)
        {
            self.first_error = done.first_error.clone();
        }
        if self.ordered {
            self.pending.insert(done.start, done);
            while let Some(done) = self.pending.remove(&self.want) {
                self.want = done.end;
                self.deliver(done);
            }
        } else {
            self.deliver(done);
        }
        if self.open && self.pending.is_empty() && !self.sink.idle() {
            self.open = false;
        }
        self.open
    }

    fn deliver(&mut self, done: Done<T>) {
        let count = done.end - done.start;
        if self.open && !self.sink.record(done.start, count, done.item) {
            self.open = false;
        }
    }

    /// After the workers have stopped: hands over, in order across the gaps, the runs still
    /// waiting for pairs that never ran (an early stop), and the counts.
    fn finish(mut self) -> Summary {
        for (_, done) in std::mem::take(&mut self.pending) {
            self.deliver(done);
        }
        if self.open {
            self.sink.idle();
        }
        self.summary.first_error = self.first_error.map(|(_, e)| e);
        self.summary
    }
}

/// About how long a worker's run of consecutive pairs should last.
const RUN_TIME: Duration = Duration::from_millis(1);
/// Most pairs in one run.
const MAX_RUN_LEN: usize = 256;

/// The length of a worker's next run, from how long its last run of `len` pairs took: as many
/// pairs as fit in [`RUN_TIME`] at that pace, at least 1, at most [`MAX_RUN_LEN`], and at most
/// double the last length.
fn next_run_len(len: usize, took: Duration) -> usize {
    let per_pair = took.as_secs_f64() / len.max(1) as f64;
    let fit = (RUN_TIME.as_secs_f64() / per_pair.max(1e-9)) as usize;
    fit.clamp(1, MAX_RUN_LEN.min(2 * len.max(1)))
}

/// The length of a run taken when `left` pairs remain: at most `len`, and at most a share
/// `left / (2 jobs)` (at least 1), so that runs shrink towards the end and the threads finish
/// together instead of one waiting for another's last long run.
fn tail_run_len(len: usize, left: usize, jobs: usize) -> usize {
    len.min(left.div_ceil(2 * jobs.max(1)).max(1))
}

/// A finished run of pairs `start..end` on its way from a worker to the [`Sink`].
struct Done<T> {
    start: usize,
    end: usize,
    errors: usize,
    over_max: usize,
    /// The run's first error: its pair and `id: reason`.
    first_error: Option<(usize, String)>,
    item: T,
}

/// The last two inputs a worker fetched, so that consecutive pairs sharing an input (a row of
/// all pairs, one against many) do not go back to the shared cache for it, nor touch its shared
/// reference count.
#[derive(Default)]
struct Held {
    recent: [Option<(usize, Loaded)>; 2],
}

impl Held {
    /// Makes input `i` the most recent of the two held (the other stays), fetching it from the
    /// cache unless it already is held.
    fn fetch(&mut self, i: usize, stamp: u64, cache: &MassCache) {
        let at = self
            .recent
            .iter()
            .position(|r| matches!(r, Some((j, _)) if *j == i));
        if at != Some(0) {
            self.recent.swap(0, 1);
        }
        if at.is_none() {
            self.recent[0] = Some((i, cache.get_stamped(i, stamp)));
        }
    }

    /// Input `i`, if held.
    fn find(&self, i: usize) -> Option<&Loaded> {
        self.recent
            .iter()
            .flatten()
            .find(|(j, _)| *j == i)
            .map(|(_, l)| l)
    }
}

/// Computes pair `i` of the plan (its own `sliced` seed) into a record.
fn compute<'p>(
    plan: &'p Plan,
    i: usize,
    settings: &Settings,
    cache: &MassCache,
    held: &mut Held,
) -> Record<'p> {
    let (a, b, id) = plan.entry(i);
    let (a_name, b_name) = (&plan.inputs[a], &plan.inputs[b]);
    let outcome = (|| {
        let stamp = i as u64 + 1;
        held.fetch(a, stamp, cache);
        held.fetch(b, stamp, cache);
        let loaded = |k| held.find(k).expect("both inputs just fetched");
        let (a, b) = (loaded(a), loaded(b));
        let a = a.as_ref().map_err(|e| e.to_string())?;
        let b = b.as_ref().map_err(|e| e.to_string())?;
        let seeded: Params;
        // Only `sliced` reads the seed: the other metrics skip hashing the id.
        let params = if settings.metrics.contains(&MetricKind::Sliced) {
            let mut params = settings.params.clone();
            params.sliced.seed = id.seed(settings.params.sliced.seed);
            seeded = params;
            &seeded
        } else {
            &settings.params
        };
        settings
            .report(params, [a_name, b_name], a, b)
            .map_err(|e| error_chain(&e))
    })();
    Record {
        index: i,
        id,
        a: a_name,
        b: b_name,
        outcome,
    }
}

/// The ids of the records with `"status": "ok"` in JSON Lines output of earlier runs. Lines that
/// are not JSON objects (e.g. a last line cut short when a run was killed) are ignored.
pub fn done_ids(jsonl: &str) -> HashSet<String> {
    jsonl
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|v| v.get("status").and_then(Value::as_str) == Some("ok"))
        .filter_map(|v| v.get("id").and_then(Value::as_str).map(String::from))
        .collect()
}

/// A square matrix of one metric over the inputs of an all-pairs run, filled symmetrically with
/// a zero diagonal; cells of pairs not computed stay empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    labels: Vec<String>,
    cells: Vec<Option<f64>>,
}

impl Matrix {
    /// An empty matrix over `labels`, with zeros on the diagonal.
    pub fn new(labels: Vec<String>) -> Matrix {
        let n = labels.len();
        let mut cells = vec![None; n * n];
        for i in 0..n {
            cells[i * n + i] = Some(0.0);
        }
        Matrix { labels, cells }
    }

    /// The inputs' labels, in input order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The distance between inputs `i` and `j`, if it was computed (0 on the diagonal).
    ///
    /// # Panics
    /// If `i` or `j` is not below the number of inputs.
    pub fn get(&self, i: usize, j: usize) -> Option<f64> {
        let n = self.labels.len();
        assert!(i < n && j < n, "cell ({i}, {j}) of a {n}×{n} matrix");
        self.cells[i * n + j]
    }

    /// Sets the distance between inputs `i` and `j` (both cells).
    pub fn set(&mut self, i: usize, j: usize, value: f64) {
        let n = self.labels.len();
        self.cells[i * n + j] = Some(value);
        self.cells[j * n + i] = Some(value);
    }

    /// Writes CSV: a header row (an empty corner, then the labels), then one row per input
    /// starting with its label; values in shortest round-trip form, empty when not computed.
    ///
    /// # Errors
    /// Any error of the writer.
    pub fn write_csv(&self, out: &mut dyn io::Write) -> io::Result<()> {
        let n = self.labels.len();
        let mut head = vec![String::new()];
        head.extend(self.labels.iter().cloned());
        writeln!(out, "{}", join_fields(&head, ','))?;
        for (i, label) in self.labels.iter().enumerate() {
            let mut row = vec![label.clone()];
            row.extend(
                self.cells[i * n..(i + 1) * n]
                    .iter()
                    .map(|c| c.map(format_value).unwrap_or_default()),
            );
            writeln!(out, "{}", join_fields(&row, ','))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_published_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_ne!(pair_seed(0, "a|b"), pair_seed(1, "a|b"));
        assert_ne!(pair_seed(0, "a|b"), pair_seed(0, "b|a"));
    }

    #[test]
    fn shards_partition_the_ids() {
        let ids: Vec<String> = (0..500).map(|i| format!("p{i}")).collect();
        let shards: Vec<Shard> = (0..7).map(|k| format!("{k}/7").parse().unwrap()).collect();
        for id in &ids {
            assert_eq!(shards.iter().filter(|s| s.contains(id)).count(), 1, "{id}");
        }
        for s in &shards {
            let n = ids.iter().filter(|id| s.contains(id)).count();
            assert!(n > 30, "shard {s:?} holds only {n} of 500");
        }
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn manifests_csv_tsv_header_and_jsonl() {
        let ids = |p: &Plan| {
            (0..p.len())
                .map(|k| p.id(k).to_string())
                .collect::<Vec<_>>()
        };
        let csv = Plan::from_manifest("# pairs\nx.png, y.png\n\"a,1.png\",y.png,k\n", "m").unwrap();
        assert_eq!(csv.inputs, ["x.png", "y.png", "a,1.png"]);
        assert_eq!(ids(&csv), ["x.png|y.png", "k"]);
        let tsv = Plan::from_manifest("id\tb\ta\nk\ty.png\tx.png\n", "m").unwrap();
        assert_eq!(tsv.inputs, ["x.png", "y.png"]);
        assert_eq!(ids(&tsv), ["k"]);
        let jsonl = Plan::from_manifest(
            "{\"a\":\"x\",\"b\":\"y\"}\n{\"a\":\"y\",\"b\":\"x\",\"id\":7}\n",
            "m",
        )
        .unwrap();
        assert_eq!(ids(&jsonl), ["x|y", "7"]);
        assert_eq!(jsonl.pair(1), (1, 0));
        // Only given ids are stored; the default `A|B` stands for itself.
        assert_eq!(
            jsonl.pairs,
            Pairs::Listed(vec![
                Pair {
                    a: 0,
                    b: 1,
                    id: None
                },
                Pair {
                    a: 1,
                    b: 0,
                    id: Some("7".into())
                }
            ])
        );
        let err = |t: &str| Plan::from_manifest(t, "m").unwrap_err().to_string();
        assert!(
            err("x,y\nz\n").contains("m: line 2: 1 fields"),
            "{}",
            err("x,y\nz\n")
        );
        assert!(err("x,y,k\nz,w,k\n").contains("line 2: pair id 'k' repeats line 1"));
        assert!(err("{\"a\":\"x\"}\n").contains("missing \"b\""));
        assert!(err("\"x,y\n").contains("unterminated"));
        assert!(
            Plan::from_manifest("\n# nothing\n", "m")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn all_pairs_and_one_vs_many() {
        let files: Vec<String> = ["p", "q", "r"].map(String::from).to_vec();
        let all = Plan::all_pairs(&files).unwrap();
        let ids: Vec<String> = (0..3).map(|k| all.id(k).to_string()).collect();
        assert_eq!(ids, ["p|q", "p|r", "q|r"]);
        assert_eq!(all.pairs, Pairs::All, "no pair is stored");
        let err = |f: &[&str]| {
            let files: Vec<String> = f.iter().map(|s| s.to_string()).collect();
            Plan::all_pairs(&files)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert!(
            err(&["p", "p", "q"])
                .unwrap_err()
                .contains("pair 3: pair id 'p|q' repeats pair 2")
        );
        assert!(
            err(&["a|b", "c", "a", "b|c"])
                .unwrap_err()
                .contains("'a|b|c' repeats")
        );
        assert_eq!(err(&["p", "q", "p"]), Ok(()), "p|q, p|p, q|p are distinct");
        let one = Plan::one_vs_many("p", &files[1..]).unwrap();
        assert_eq!(one.inputs, ["p", "q", "r"]);
        assert_eq!(one.pair(1), (0, 2));
        assert_eq!(one.id(1), "p|r");
        let repeated = ["q", "p", "r", "p"].map(String::from);
        assert_eq!(
            Plan::one_vs_many("p", &repeated).unwrap_err().to_string(),
            "--one-vs-many: pair 4: pair id 'p|p' repeats pair 2 (ids must be unique)"
        );
        assert_eq!(Plan::one_vs_many("p", &[]).unwrap(), Plan::default());
    }

    #[test]
    fn all_pairs_are_worked_out_from_their_position() {
        for n in 2..80 {
            let mut k = 0;
            for a in 0..n {
                for b in a + 1..n {
                    assert_eq!(all_pairs_at(n, k), (a, b), "n {n}, pair {k}");
                    k += 1;
                }
            }
        }
        // Far from small numbers: the first and last pair of many rows, and of the last two.
        for n in [4_097, 65_536, 1_000_003] {
            let mut start = 0;
            for a in 0..n - 1 {
                if a % 997 == 0 || a + 3 >= n {
                    assert_eq!(all_pairs_at(n, start), (a, a + 1), "n {n}, row {a}");
                    assert_eq!(all_pairs_at(n, start + n - 2 - a), (a, n - 1), "n {n}");
                }
                start += n - 1 - a;
            }
            assert_eq!(start, n * (n - 1) / 2);
        }
        let files: Vec<String> = (0..9).map(|k| format!("f{k}")).collect();
        let plan = Plan::all_pairs(&files).unwrap();
        assert_eq!((plan.len(), plan.pair(35)), (36, (7, 8)));
        assert_eq!(plan.id(35), "f7|f8");
        // Shards and skips list what they keep, as a listed plan would.
        let mut listed = plan.clone();
        listed.pairs = Pairs::Listed(
            (0..plan.len())
                .map(|k| Pair {
                    a: plan.pair(k).0,
                    b: plan.pair(k).1,
                    id: None,
                })
                .collect(),
        );
        let shard = Shard { index: 1, count: 3 };
        let (mut a, mut b) = (plan.clone(), listed.clone());
        a.retain_shard(shard);
        b.retain_shard(shard);
        assert_eq!(a, b);
        let done = HashSet::from(["f0|f1".to_string(), "f3|f8".to_string()]);
        let (mut a, mut b) = (plan.clone(), listed);
        assert_eq!((a.skip_ids(&done), b.skip_ids(&done)), (2, 2));
        assert_eq!(a, b);
    }

    #[test]
    #[should_panic(expected = "pair 36 of 36")]
    fn all_pairs_past_the_end_panic() {
        let files: Vec<String> = (0..9).map(|k| format!("f{k}")).collect();
        Plan::all_pairs(&files).unwrap().pair(36);
    }

    #[test]
    fn pair_ids_hash_compare_and_write_as_their_strings() {
        let cases = [
            PairId::Joined("dir/a.png", "dir/b.png"),
            PairId::Given("dir/a.png|dir/b.png"),
            PairId::Joined("a|b", "c"),
            PairId::Joined("", ""),
            PairId::Given(""),
            PairId::Joined("q\"uote\\", "tab\t\u{1}é"),
            PairId::Given("k"),
        ];
        for id in cases {
            let text = match id {
                PairId::Given(s) => s.to_string(),
                PairId::Joined(a, b) => format!("{a}|{b}"),
            };
            assert_eq!(id.to_string(), text);
            assert_eq!(id.to_cow(), text);
            assert_eq!(id.fnv1a64(), fnv1a64(text.as_bytes()), "{text}");
            assert_eq!(id.seed(42), pair_seed(42, &text), "{text}");
            let mut buf = "left over".to_string();
            id.write_into(&mut buf);
            assert_eq!(buf, text);
            let mut json = Vec::new();
            id.append_json(&mut json);
            assert_eq!(json, serde_json::to_vec(&text).unwrap(), "{text}");
            for shard in (0..5).map(|index| Shard { index, count: 5 }) {
                assert_eq!(shard.contains_id(id), shard.contains(&text), "{text}");
            }
            for other in cases {
                assert_eq!(id == other, text == other.to_string(), "{id:?} {other:?}");
            }
            assert!(id == *text.as_str() && id == text.as_str());
            assert!(id != *format!("{text}x").as_str());
        }
        // Same length, same pieces elsewhere: compared byte by byte.
        assert_ne!(PairId::Joined("ab", "c"), PairId::Joined("a", "bc"));
        assert_eq!(PairId::Joined("a|b", "c"), PairId::Joined("a", "b|c"));
    }

    #[test]
    fn shards_and_skips_of_a_plan_follow_the_id_strings() {
        let files: Vec<String> = (0..40).map(|k| format!("d/in {k}.png")).collect();
        let full = Plan::all_pairs(&files).unwrap();
        let ids: Vec<String> = (0..full.len())
            .map(|k| {
                format!(
                    "{}|{}",
                    full.inputs[full.pair(k).0],
                    full.inputs[full.pair(k).1]
                )
            })
            .collect();
        let mut union = Vec::new();
        for index in 0..3 {
            let shard = Shard { index, count: 3 };
            let mut plan = full.clone();
            plan.retain_shard(shard);
            let kept: Vec<String> = (0..plan.len()).map(|k| plan.id(k).to_string()).collect();
            let want: Vec<String> = ids
                .iter()
                .filter(|id| shard.contains(id))
                .cloned()
                .collect();
            assert_eq!(kept, want, "shard {index}/3");
            union.extend(kept);
        }
        union.sort();
        let mut all = ids.clone();
        all.sort();
        assert_eq!(union, all);
        let done: HashSet<String> = ids.iter().step_by(7).cloned().collect();
        let mut plan = full.clone();
        assert_eq!(plan.skip_ids(&done), done.len());
        assert_eq!(plan.len(), ids.len() - done.len());
        for k in 0..plan.len() {
            assert!(!done.contains(&plan.id(k).to_string()));
        }
    }

    #[test]
    fn runs_shrink_towards_the_end() {
        assert_eq!(tail_run_len(256, 19_900, 2), 256);
        assert_eq!(tail_run_len(256, 800, 2), 200);
        assert_eq!(tail_run_len(256, 7, 2), 2);
        assert_eq!(tail_run_len(256, 1, 2), 1);
        assert_eq!(
            tail_run_len(256, 0, 2),
            1,
            "a worker past the end still takes a slot"
        );
        assert_eq!(tail_run_len(3, 100, 1), 3);
        // Taken one after another, the lengths cover what is left and decrease.
        let (mut left, mut lens) = (1000, Vec::new());
        while left > 0 {
            let len = tail_run_len(256, left, 2);
            lens.push(len);
            left -= len;
        }
        assert!(lens.windows(2).all(|w| w[0] >= w[1]), "{lens:?}");
        assert_eq!(lens.iter().sum::<usize>(), 1000);
    }

    #[cfg(unix)]
    #[test]
    fn directories_list_their_inputs_and_no_subdirectory() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for name in [
            "b.png",
            "a.csv",
            "C.TSV",
            ".hidden.png",
            "notes.md",
            "target.png",
        ] {
            std::fs::write(d.join(name), "1\n").unwrap();
        }
        std::fs::create_dir(d.join("sub.png")).unwrap();
        std::os::unix::fs::symlink(d.join("target.png"), d.join("link.png")).unwrap();
        std::os::unix::fs::symlink(d.join("sub.png"), d.join("linked_dir.png")).unwrap();
        std::os::unix::fs::symlink(d.join("gone.png"), d.join("dangling.png")).unwrap();
        let base = d.display().to_string();
        let got = expand_inputs(&[base.clone(), "x.png".into(), format!("{base}/")]).unwrap();
        let names = [
            "C.TSV",
            "a.csv",
            "b.png",
            "dangling.png",
            "link.png",
            "target.png",
        ];
        let mut want: Vec<String> = names.iter().map(|n| format!("{base}/{n}")).collect();
        want.push("x.png".into());
        want.extend(names.iter().map(|n| format!("{base}/{n}")));
        assert_eq!(got, want);
    }

    /// Collects what a run hands over: `(first, count, ids)` per run.
    #[derive(Default)]
    struct Collect(Vec<(usize, usize, Vec<String>)>);

    impl Sink<Vec<String>> for Collect {
        fn record(&mut self, first: usize, count: usize, ids: Vec<String>) -> bool {
            self.0.push((first, count, ids));
            true
        }
    }

    #[test]
    fn runs_cover_every_pair_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<String> = (0..30)
            .map(|k| {
                let path = dir.path().join(format!("m{k:02}.csv"));
                std::fs::write(&path, format!("1,{k}\n{},1\n", k % 7)).unwrap();
                path.display().to_string()
            })
            .collect();
        let plan = Plan::all_pairs(&files).unwrap();
        let settings = Settings {
            metrics: vec![MetricKind::Tv],
            ..Settings::default()
        };
        let prepare = |ids: &mut Vec<String>, r: &Record<'_>| ids.push(r.id.to_string());
        for (jobs, ordered) in [(1, true), (2, true), (2, false)] {
            let opts = RunOptions {
                jobs,
                ordered,
                ..RunOptions::default()
            };
            let mut sink = Collect::default();
            let summary = run(&plan, &settings, &opts, prepare, &mut sink).unwrap();
            assert_eq!((summary.done, summary.errors), (435, 0));
            let mut seen = Vec::new();
            for (first, count, ids) in &sink.0 {
                assert_eq!(ids.len(), *count);
                let want: Vec<String> = (*first..first + count)
                    .map(|k| plan.id(k).to_string())
                    .collect();
                assert_eq!(ids, &want, "a run holds consecutive pairs");
                seen.extend(*first..first + count);
            }
            if !ordered {
                seen.sort_unstable();
            }
            assert_eq!(seen, (0..435).collect::<Vec<_>>(), "jobs {jobs}");
        }
        // Workers started beforehand serve one run after another, whatever `opts.jobs` says.
        let workers = Workers::start(2).unwrap();
        assert_eq!(workers.jobs(), 2);
        let opts = RunOptions {
            jobs: 7,
            ..RunOptions::default()
        };
        for _ in 0..2 {
            let mut sink = Collect::default();
            let summary = run_on(&workers, &plan, &settings, &opts, prepare, &mut sink).unwrap();
            assert_eq!(summary.done, 435);
            let ids: Vec<String> = sink.0.into_iter().flat_map(|(_, _, ids)| ids).collect();
            let want: Vec<String> = (0..435).map(|k| plan.id(k).to_string()).collect();
            assert_eq!(ids, want);
        }
        assert!(Workers::start(0).is_err());
    }

    #[test]
    fn workers_wait_busily_only_until_the_first_run_or_the_limit() {
        let begun = AtomicBool::new(true);
        let started = Instant::now();
        wait_busily(&begun, Duration::from_secs(60));
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "set: returns at once"
        );
        // Unset: waits out the limit, then stops (on another thread, so that a wait that never
        // ends fails the test instead of hanging it).
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let started = Instant::now();
            wait_busily(&AtomicBool::new(false), Duration::from_millis(30));
            tx.send(started.elapsed()).unwrap();
        });
        let waited = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the wait ends");
        assert!(waited >= Duration::from_millis(30), "{waited:?}");
        // The threads of a pool stop waiting when its first run begins, so that the run's own
        // work reaches them at once; a pool dropped unused lets them go too.
        let workers = Workers::start(2).unwrap();
        assert!(!workers.begun.load(Ordering::Relaxed));
        let flag = Arc::clone(&workers.begun);
        let plan = Plan::default();
        let mut sink = Collect::default();
        let summary = run_on(
            &workers,
            &plan,
            &Settings::default(),
            &RunOptions::default(),
            |_: &mut Vec<String>, _: &Record<'_>| {},
            &mut sink,
        )
        .unwrap();
        assert_eq!(summary.done, 0);
        assert!(flag.load(Ordering::Relaxed));
        let unused = Workers::start(1).unwrap();
        let flag = Arc::clone(&unused.begun);
        drop(unused);
        assert!(flag.load(Ordering::Relaxed));
    }

    /// A finished run of `start..end` whose item is its first pair.
    fn finished(start: usize, end: usize) -> Done<usize> {
        Done {
            start,
            end,
            errors: usize::from(start == 5),
            over_max: 0,
            first_error: (start == 5).then(|| (5, "e".to_string())),
            item: start,
        }
    }

    /// Records what it is handed; asks to stop after `limit` runs.
    struct Limited {
        got: Vec<(usize, usize)>,
        idles: usize,
        limit: usize,
    }

    impl Sink<usize> for Limited {
        fn record(&mut self, first: usize, count: usize, item: usize) -> bool {
            assert_eq!(first, item);
            self.got.push((first, count));
            self.got.len() < self.limit
        }

        fn idle(&mut self) -> bool {
            self.idles += 1;
            true
        }
    }

    #[test]
    fn handover_keeps_plan_order_and_stops_when_the_sink_asks() {
        let mut sink = Limited {
            got: Vec::new(),
            idles: 0,
            limit: usize::MAX,
        };
        let mut h = Handover::new(&mut sink, true);
        assert!(h.take(finished(3, 5)), "waits for 0..3");
        assert!(h.take(finished(5, 9)));
        assert!(h.take(finished(0, 3)), "0..3 brings 3..5 and 5..9 along");
        assert!(h.take(finished(9, 10)));
        let summary = h.finish();
        assert_eq!((summary.done, summary.errors), (10, 1));
        assert_eq!(summary.first_error.as_deref(), Some("e"));
        assert_eq!(sink.got, [(0, 3), (3, 2), (5, 4), (9, 1)]);
        assert_eq!(
            sink.idles, 3,
            "after each run that left nothing waiting, and at the end"
        );

        // Unordered: as they come. A sink that asks to stop is handed nothing more.
        let mut sink = Limited {
            got: Vec::new(),
            idles: 0,
            limit: 2,
        };
        let mut h = Handover::new(&mut sink, false);
        assert!(h.take(finished(3, 5)));
        assert!(!h.take(finished(0, 3)), "the sink asked to stop");
        assert!(!h.take(finished(5, 9)));
        assert_eq!(h.finish().done, 9, "every finished pair is counted");
        assert_eq!(sink.got, [(3, 2), (0, 3)]);

        // After an early stop, runs behind a gap are handed over in order at the end.
        let mut sink = Limited {
            got: Vec::new(),
            idles: 0,
            limit: usize::MAX,
        };
        let mut h = Handover::new(&mut sink, true);
        assert!(h.take(finished(9, 10)));
        assert!(h.take(finished(3, 5)));
        h.finish();
        assert_eq!(sink.got, [(3, 2), (9, 1)]);
    }

    #[test]
    fn cache_decodes_once_within_its_budget_and_evicts_beyond() {
        let dir = tempfile::tempdir().unwrap();
        let inputs: Vec<String> = (0..3)
            .map(|k| {
                let path = dir.path().join(format!("m{k}.csv"));
                std::fs::write(&path, format!("1,{k}\n0,1\n")).unwrap();
                path.display().to_string()
            })
            .chain(["missing.csv".to_string()])
            .collect();
        let opts = LoadOptions::default();
        let cache = MassCache::new(inputs.clone(), opts.clone(), 1 << 20);
        for _ in 0..3 {
            for i in 0..3 {
                assert_eq!(
                    cache.get(i).unwrap().as_slice()[1],
                    i as f64 / (i + 2) as f64
                );
            }
            assert!(
                cache
                    .get(3)
                    .unwrap_err()
                    .contains("missing.csv: cannot read")
            );
        }
        assert_eq!(
            cache.decodes(),
            4,
            "each input decoded once, failures included"
        );
        // Room for one mass: alternating between two inputs decodes every time.
        let one = mass_bytes(&cache.get(0).unwrap());
        let small = MassCache::new(inputs, opts, one);
        for i in [0, 1, 0, 1, 1] {
            small.get(i).unwrap();
        }
        assert_eq!(small.decodes(), 4);
    }

    #[test]
    fn json_records_are_the_report_with_id_and_status_first() {
        use crate::report::tests::{reference_json, sample_reports};
        use serde_json::{Map, json};
        let mut outcomes: Vec<std::result::Result<Report, String>> =
            sample_reports().into_iter().map(Ok).collect();
        outcomes.push(Err("b \"1\".png: cannot read: \\ \u{1}".into()));
        let ids = [
            PairId::Given("a.png|b \"1\".png\t"),
            PairId::Joined("a.png", "b \"1\".png"),
            PairId::Joined("a.png", "b.png"),
        ];
        for (outcome, id) in outcomes.into_iter().zip(ids.into_iter().cycle()) {
            let record = Record {
                index: 3,
                id,
                a: "a.png",
                b: "b \"1\".png",
                outcome,
            };
            // The record as it was first defined: a map built field by field.
            let mut want = Map::new();
            want.insert("id".into(), json!(record.id.to_string()));
            want.insert("status".into(), json!(record.status()));
            match &record.outcome {
                Ok(report) => {
                    if let Value::Object(fields) = reference_json(report) {
                        want.extend(fields);
                    }
                }
                Err(reason) => {
                    want.insert("error".into(), json!(reason));
                    want.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
                    want.insert(
                        "inputs".into(),
                        json!({"a": {"path": record.a}, "b": {"path": record.b}}),
                    );
                }
            }
            let mut want = serde_json::to_vec(&Value::Object(want)).unwrap();
            want.push(b'\n');
            let mut got = Vec::new();
            record.write_json(&mut got).unwrap();
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(want).unwrap()
            );
        }
    }

    #[test]
    fn a_worker_holds_both_inputs_of_a_pair_and_keeps_a_row_input() {
        let dir = tempfile::tempdir().unwrap();
        let inputs: Vec<String> = (0..3)
            .map(|k| {
                let path = dir.path().join(format!("m{k}.csv"));
                std::fs::write(&path, format!("1,{k}\n")).unwrap();
                path.display().to_string()
            })
            .collect();
        let cache = MassCache::new(inputs, LoadOptions::default(), 1 << 20);
        let mut held = Held::default();
        let pairs = [(0, 1), (0, 2), (0, 1), (1, 1), (2, 0), (0, 2)];
        for (stamp, &(a, b)) in pairs.iter().enumerate() {
            held.fetch(a, stamp as u64 + 1, &cache);
            held.fetch(b, stamp as u64 + 1, &cache);
            assert!(held.find(a).is_some() && held.find(b).is_some(), "{a}, {b}");
        }
        // Input 0 stayed held through its row: fetched from the cache at pairs 1 and 5 only.
        assert_eq!(cache.last_used[0].load(Ordering::Relaxed), 5);
        assert_eq!(cache.decodes(), 3);
    }

    #[test]
    fn done_ids_keep_ok_records_and_ignore_cut_lines() {
        let text = "{\"id\":\"a\",\"status\":\"ok\"}\n{\"id\":\"b\",\"status\":\"error\"}\n{\"id\":\"c\",\"sta";
        assert_eq!(done_ids(text), HashSet::from(["a".to_string()]));
    }

    #[test]
    fn delimited_quoting() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            join_fields(&f(&["a", "b,c", "d\"e"]), ','),
            "a,\"b,c\",\"d\"\"e\""
        );
        assert_eq!(join_fields(&f(&["a", "b\tc"]), '\t'), "a\tb c");
        assert_eq!(
            split_fields("a, \"b,c\" ,d", ',').unwrap(),
            f(&["a", "b,c", "d"])
        );
    }

    #[test]
    fn matrix_is_symmetric_with_empty_missing_cells() {
        let mut m = Matrix::new(vec!["x".into(), "y,z".into(), "w".into()]);
        m.set(0, 1, 0.5);
        let mut out = Vec::new();
        m.write_csv(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            ",x,\"y,z\",w\nx,0,0.5,\n\"y,z\",0.5,0,\nw,,,0\n"
        );
    }
}
