//! Scheduling: the pairs of a plan computed in chunks on a thread pool, handed over in order.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::iter::{ParallelBridge, ParallelIterator};

use super::{Loaded, MassCache, Plan, Record, error_chain, lock};
use crate::error::{Error, Result};
use crate::metric::MetricKind;
use crate::report::Report;
use crate::{Params, Settings};

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

/// Receives the prepared records of a [`run`], a chunk of consecutive pairs at a time. The
/// worker thread that completes a chunk hands it over itself, one call at a time (the sink is
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

/// Computes every pair of `plan` on a pool of `opts.jobs` threads.
///
/// The pairs are cut into chunks of consecutive pairs (up to 256, fewer when each thread would
/// get under 32 chunks) that the threads take in plan order. Each record of a chunk is added
/// by `prepare` to the chunk's `T` (from `T::default()`) on the worker thread, so formatting
/// runs in parallel too. The worker that finishes a chunk hands its `T` to `sink` itself, in
/// plan order when `opts.ordered` (a chunk finished ahead of an earlier one waits for it), else
/// as they finish. Pair `i`'s `sliced` seed
/// is [`pair_seed`](super::pair_seed)`(settings.params.sliced.seed, id)`.
///
/// Inputs are decoded on the worker threads as pairs first need them, through one
/// [`MassCache`] of `opts.cache_bytes`.
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad setting, `jobs == 0` or threads that cannot be
/// started; a pair's failure is a record, not an error.
pub fn run<T: Default + Send>(
    plan: &Plan,
    settings: &Settings,
    opts: &RunOptions,
    prepare: impl Fn(&mut T, &Record<'_>) + Sync,
    sink: &mut (dyn Sink<T> + Send),
) -> Result<Summary> {
    settings.validate()?;
    let bad = |reason: String| Error::InvalidParameter {
        name: "--jobs",
        reason,
    };
    if opts.jobs == 0 {
        return Err(bad("must be at least 1".into()));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .build()
        .map_err(|e| bad(format!("cannot start {} threads: {e}", opts.jobs)))?;
    let cache = MassCache::new(plan.inputs.clone(), settings.load.clone(), opts.cache_bytes);
    let n = plan.len();
    let chunk = chunk_len(n, opts.jobs);
    let stop = AtomicBool::new(false);
    let handover = Mutex::new(Handover::new(sink, opts.ordered));

    let work = |start: usize| {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let mut done = Done {
            start,
            end: start,
            errors: 0,
            over_max: 0,
            first_error: None,
            item: T::default(),
        };
        // The input A of the chunk's last pair: consecutive pairs mostly share it (a row of all
        // pairs, one against many), and the threads then do not all go to the cache for it.
        let mut last_a = None;
        for i in start..(start + chunk).min(n) {
            if i > start && stop.load(Ordering::Relaxed) {
                break;
            }
            let record = compute(plan, i, settings, &cache, &mut last_a);
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
        if !lock(&handover).take(done) {
            stop.store(true, Ordering::Relaxed);
        }
    };
    // The chunks are drawn from a sequential iterator, so the threads take them in plan order and
    // an ordered hand-over holds back at most a few chunks. A thread waiting inside a metric's
    // own parallel section takes no second chunk (`par_bridge` does not nest on one thread).
    pool.install(|| (0..n).step_by(chunk).par_bridge().for_each(work));
    let handover = handover.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut summary = handover.finish();
    summary.decodes = cache.decodes();
    summary.stopped = summary.done < n;
    Ok(summary)
}

/// Finished chunks on their way to the [`Sink`], behind the lock that lets one worker at a time
/// hand its chunk over, with the counts of the [`Summary`].
struct Handover<'s, T> {
    sink: &'s mut (dyn Sink<T> + Send),
    ordered: bool,
    /// Chunks waiting for an earlier one, by their first pair (ordered runs only).
    pending: BTreeMap<usize, Done<T>>,
    /// The first pair of the next chunk in plan order.
    want: usize,
    /// False once the sink has asked to stop: later chunks are counted, not handed over.
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

    /// After the workers have stopped: hands over, in order across the gaps, the chunks still
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

/// Most pairs in one chunk.
const MAX_CHUNK: usize = 256;

/// The number of consecutive pairs a thread takes at a time from a run of `n` pairs on `jobs`
/// threads: at most [`MAX_CHUNK`], so that cheap pairs share the cost of a hand-over, and small
/// enough that every thread gets about 32 chunks, so that slow pairs still spread over the
/// threads and the threads finish together.
fn chunk_len(n: usize, jobs: usize) -> usize {
    (n / (32 * jobs.max(1))).clamp(1, MAX_CHUNK)
}

/// A finished chunk of pairs `start..end` on its way from a worker to the [`Sink`].
struct Done<T> {
    start: usize,
    end: usize,
    errors: usize,
    over_max: usize,
    /// The run's first error: its pair and `id: reason`.
    first_error: Option<(usize, String)>,
    item: T,
}

/// Computes pair `i` of the plan (its own `sliced` seed) into a record; `last_a` holds the
/// input A of the pair before it in the chunk.
fn compute<'p>(
    plan: &'p Plan,
    i: usize,
    settings: &Settings,
    cache: &MassCache,
    last_a: &mut Option<(usize, Loaded)>,
) -> Record<'p> {
    let (a, b, id) = plan.entry(i);
    let (a_name, b_name) = (&plan.inputs[a], &plan.inputs[b]);
    let outcome = guarded(|| {
        if last_a.as_ref().is_none_or(|(j, _)| *j != a) {
            *last_a = Some((a, cache.get(a)));
        }
        let a = last_a
            .as_ref()
            .map(|(_, loaded)| loaded)
            .expect("just fetched");
        let b = cache.get(b);
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
    });
    Record {
        index: i,
        id,
        a: a_name,
        b: b_name,
        outcome,
    }
}

/// A pair's outcome, with a panic inside `f` (a bug) turned into an error record's reason
/// (`internal error: …`), so that the run goes on with the next pair.
fn guarded(
    f: impl FnOnce() -> std::result::Result<Report, String>,
) -> std::result::Result<Report, String> {
    crate::error::catch_panic(|| Ok(f())).unwrap_or_else(|e| Err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_pair_becomes_an_error_reason() {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let got = guarded(|| panic!("index out of bounds: the len is 3 but the index is 7"));
        let nested = guarded(|| {
            use rayon::prelude::*;
            (0..8)
                .into_par_iter()
                .for_each(|i| assert!(i < 5, "lane {i}"));
            Err("unreachable".into())
        });
        std::panic::set_hook(hook);
        assert_eq!(
            got.unwrap_err(),
            "internal error: index out of bounds: the len is 3 but the index is 7"
        );
        assert!(nested.unwrap_err().starts_with("internal error: lane "));
        assert_eq!(guarded(|| Err("no".into())).unwrap_err(), "no");
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
        let (_dir, plan) = thirty_inputs();
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
                assert_eq!(ids, &want, "a chunk holds consecutive pairs");
                seen.extend(*first..first + count);
            }
            if ordered {
                let firsts: Vec<usize> = sink.0.iter().map(|(first, ..)| *first).collect();
                assert!(firsts.is_sorted(), "handed over in plan order: {firsts:?}");
            } else {
                seen.sort_unstable();
            }
            assert_eq!(seen, (0..435).collect::<Vec<_>>(), "jobs {jobs}");
        }
        assert!(
            run(
                &plan,
                &settings,
                &RunOptions {
                    jobs: 0,
                    ..RunOptions::default()
                },
                prepare,
                &mut Collect::default()
            )
            .is_err()
        );
    }

    #[test]
    fn each_input_is_decoded_once_within_the_budget() {
        let (dir, plan) = thirty_inputs();
        let settings = Settings {
            metrics: vec![MetricKind::Tv],
            ..Settings::default()
        };
        let prepare = |_: &mut (), _: &Record<'_>| {};
        for jobs in [1, 2] {
            let opts = RunOptions {
                jobs,
                ..RunOptions::default()
            };
            let summary = run(&plan, &settings, &opts, prepare, &mut Count(0)).unwrap();
            assert_eq!((summary.done, summary.decodes), (435, 30), "jobs {jobs}");
            // Room for one mass: inputs are decoded again, and every pair is still computed.
            let opts = RunOptions {
                cache_bytes: 1,
                ..opts
            };
            let summary = run(&plan, &settings, &opts, prepare, &mut Count(0)).unwrap();
            assert_eq!(summary.done, 435);
            assert!(summary.decodes > 30, "jobs {jobs}: {}", summary.decodes);
        }
        drop(dir);
    }

    #[test]
    fn fail_fast_starts_no_pair_after_the_first_error() {
        let (dir, mut plan) = thirty_inputs();
        plan.inputs[3] = dir.path().join("missing.csv").display().to_string();
        let settings = Settings {
            metrics: vec![MetricKind::Tv],
            ..Settings::default()
        };
        let prepare = |_: &mut (), _: &Record<'_>| {};
        let opts = RunOptions {
            jobs: 1,
            fail_fast: true,
            ..RunOptions::default()
        };
        let summary = run(&plan, &settings, &opts, prepare, &mut Count(0)).unwrap();
        // On one thread the pairs run in order: the first error is pair 2 (inputs 0 and 3).
        assert_eq!(
            (summary.done, summary.errors, summary.stopped),
            (3, 1, true)
        );
        assert!(
            summary
                .first_error
                .as_deref()
                .unwrap()
                .contains("missing.csv")
        );
        let opts = RunOptions {
            fail_fast: false,
            ..opts
        };
        let summary = run(&plan, &settings, &opts, prepare, &mut Count(0)).unwrap();
        assert_eq!(
            (summary.done, summary.errors, summary.stopped),
            (435, 29, false)
        );
    }

    /// Counts the pairs handed over.
    struct Count(usize);

    impl Sink<()> for Count {
        fn record(&mut self, _first: usize, count: usize, _: ()) -> bool {
            self.0 += count;
            true
        }
    }

    /// Thirty small distinct inputs in a temporary folder, and the plan of all their pairs.
    fn thirty_inputs() -> (tempfile::TempDir, Plan) {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<String> = (0..30)
            .map(|k| {
                let path = dir.path().join(format!("m{k:02}.csv"));
                std::fs::write(&path, format!("1,{k}\n{},1\n", k % 7)).unwrap();
                path.display().to_string()
            })
            .collect();
        let plan = Plan::all_pairs(&files).unwrap();
        (dir, plan)
    }

    #[test]
    fn chunks_are_small_enough_to_spread_and_at_most_the_maximum() {
        assert_eq!(chunk_len(19_900, 2), MAX_CHUNK);
        assert_eq!(chunk_len(640, 2), 10);
        assert_eq!(chunk_len(6_400, 1), 200);
        assert_eq!(chunk_len(3, 2), 1);
        assert_eq!(chunk_len(0, 1), 1);
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
}
