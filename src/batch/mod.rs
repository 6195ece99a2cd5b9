//! Batch mode: many pairs in one run, in parallel, resumable and shardable.
//!
//! A [`Plan`] lists the distinct inputs and the pairs between them — from a manifest
//! ([`Plan::from_manifest`]), every pair of a list ([`Plan::all_pairs`]) or one reference against
//! many ([`Plan::one_vs_many`]). [`Plan::retain_shard`] keeps one shard of it and
//! [`Plan::skip_ids`] drops pairs already done. [`run`] computes the pairs on a thread pool,
//! decodes each input once through a bounded [`MassCache`], and hands every [`Record`] over in
//! input order (or in completion order) to a [`Sink`].
//!
//! ```no_run
//! use imgdist::batch::{Plan, Record, RunOptions, Sink, expand_inputs, run};
//! use imgdist::{MetricKind, Settings};
//!
//! /// Prints each run of records as it is handed over.
//! struct Print;
//! impl Sink<Vec<String>> for Print {
//!     fn record(&mut self, _first: usize, _count: usize, lines: Vec<String>) -> bool {
//!         lines.iter().for_each(|l| println!("{l}"));
//!         true
//!     }
//! }
//!
//! let plan = Plan::all_pairs(&expand_inputs(&["images/".to_string()])?)?;
//! let settings = Settings { metrics: vec![MetricKind::Tv], ..Settings::default() };
//! let line = |lines: &mut Vec<String>, r: &Record<'_>| {
//!     lines.push(format!("{} {:?}", r.id, r.value(MetricKind::Tv)))
//! };
//! let summary = run(&plan, &settings, &RunOptions::default(), line, &mut Print)?;
//! assert_eq!(summary.done, plan.len());
//! # Ok::<(), imgdist::Error>(())
//! ```
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
//! decoded again when a later pair needs them (a dropped mass lives on while a pair being
//! computed still uses it).

mod cache;
mod id;
mod inputs;
mod manifest;
mod plan;
mod record;
mod run;

pub use cache::{Loaded, MassCache};
pub use id::{PairId, Shard, fnv1a64, pair_seed};
pub use inputs::expand_inputs;
pub use plan::Plan;
pub use record::Record;
pub use run::{RunOptions, Sink, Summary, run};

/// An error and its causes on one line, `outer: inner: …` (the reason a record gives).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Locks `m`, going on with the data of a thread that panicked while holding it.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
