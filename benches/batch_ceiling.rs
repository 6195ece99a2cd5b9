//! What two threads can gain on this machine at this moment for batch mode's work without any
//! of its coordination: the ceiling that `bench/batch.py` sets batch mode's speed-up against.
//!
//! ```text
//! cargo bench --bench batch_ceiling -- DIR METRIC [PAIRS] [ROUNDS]
//! ```
//!
//! Loads every input in DIR (sorted by name) and builds METRIC for each of the first PAIRS
//! all-pairs combinations (default: all of them), as `batch_metric_cost` does. Then, ROUNDS times
//! (default 5), it computes every chosen pair on a pool of one thread and on a pool of two, in
//! turn: each thread takes the next 64 pairs from a shared counter until none are left, and
//! nothing else is shared — no decoding, no records, no output. A timing runs from the moment
//! every thread of the pool is running (they meet at a barrier first, so that no thread's
//! wake-up is timed) to the last pair. It prints the medians for one and for two threads, in
//! seconds.
//! Their ratio is the speed-up that the machine allows right now: on a shared virtual machine
//! it falls well below 2 while other work holds the cores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, OnceLock};
use std::time::Instant;

use imgdist::batch::{Plan, expand_inputs};
use imgdist::{Mass, Metric, MetricKind};

mod common;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Pairs a thread takes at a time.
const CHUNK: usize = 64;

fn main() -> Result<(), Error> {
    const USAGE: &str = "usage: batch_ceiling DIR METRIC [PAIRS] [ROUNDS]";
    let Some(args) = common::args(USAGE) else {
        return Ok(());
    };
    let [dir, metric, rest @ ..] = args.as_slice() else {
        return Err(USAGE.into());
    };
    let pairs: usize = rest.first().map_or(Ok(usize::MAX), |s| s.parse())?;
    let rounds: usize = rest.get(1).map_or(Ok(5), |s| s.parse())?;
    let kind: MetricKind = metric.parse()?;
    let plan = Plan::all_pairs(&expand_inputs(std::slice::from_ref(dir))?)?;
    let masses = common::load_inputs(&plan)?;
    let chosen: Vec<_> = common::pair_metrics(&plan, kind, pairs)?
        .into_iter()
        .map(|(metric, a, b)| (metric, &masses[a], &masses[b]))
        .collect();
    // Once untimed: every pair is known to compute, and the inputs are warm in the caches.
    for (metric, a, b) in &chosen {
        metric.compute(a, b)?;
    }
    let pools = [1, 2].map(|threads| rayon::ThreadPoolBuilder::new().num_threads(threads).build());
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        for (pool, slot) in pools.iter().zip(&mut times) {
            let pool = pool.as_ref().map_err(|e| e.to_string())?;
            slot.push(timed(pool, &chosen));
        }
    }
    let [one, two] = times.map(|mut t| {
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    });
    println!("{one:e} {two:e}");
    Ok(())
}

/// Seconds from the moment all `threads` threads of `pool` are running to the last of `pairs`
/// computed on them.
fn timed(pool: &rayon::ThreadPool, pairs: &[(Box<dyn Metric>, &Mass, &Mass)]) -> f64 {
    let threads = pool.current_num_threads();
    let all_running = Barrier::new(threads);
    let next = AtomicUsize::new(0);
    let started = OnceLock::new();
    let ended: Vec<Instant> = pool.broadcast(|_| {
        all_running.wait();
        started.get_or_init(Instant::now);
        loop {
            let from = next.fetch_add(CHUNK, Ordering::Relaxed);
            if from >= pairs.len() {
                break Instant::now();
            }
            for (metric, a, b) in &pairs[from..(from + CHUNK).min(pairs.len())] {
                std::hint::black_box(metric.compute(a, b).expect("computed once already"));
            }
        }
    });
    let started = *started.get().expect("every thread started");
    let last = ended.into_iter().max().expect("at least one thread");
    last.duration_since(started).as_secs_f64()
}
