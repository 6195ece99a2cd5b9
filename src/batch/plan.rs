//! The plan of a run: its distinct inputs and the pairs between them, in output order.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::{PairId, Shard};
use crate::error::{Error, Result};

/// One listed pair: the indices of its two inputs in [`Plan::inputs`], and its id if it is
/// not the default `A|B`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pair {
    pub(super) a: usize,
    pub(super) b: usize,
    /// The id the manifest gave the pair; `None` for the default id `A|B`, the two paths
    /// joined by `|`, which [`Plan::id`] stands for without building it.
    pub(super) id: Option<String>,
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
    pub(super) pairs: Pairs,
}

/// The pairs of a [`Plan`], in output order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pairs {
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
    pub(super) fn entry(&self, k: usize) -> (usize, usize, PairId<'_>) {
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
    pub(super) fn from_triples(
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

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
}
