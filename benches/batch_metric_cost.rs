//! The cost of one metric alone, in process on one thread: the baseline that batch mode's
//! per-pair overhead is measured against (`bench/batch.py`).
//!
//! ```text
//! cargo bench --bench batch_metric_cost -- DIR METRIC [PAIRS]
//! ```
//!
//! Loads every input in DIR (sorted by name), builds METRIC with default parameters for each of
//! the first PAIRS (default 2000) all-pairs combinations (with batch mode's per-pair `sliced`
//! seeds), then times only the computations: it prints the median of five timings as seconds
//! per pair, then the seconds per decoded input. Deriving the seeds and building the metrics
//! is left out of the timing, as batch mode's own work.

use std::time::Instant;

use imgdist::MetricKind;
use imgdist::batch::{Plan, expand_inputs};

mod common;

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    const USAGE: &str = "usage: batch_metric_cost DIR METRIC [PAIRS]";
    let Some(args) = common::args(USAGE) else {
        return Ok(());
    };
    let [dir, metric, rest @ ..] = args.as_slice() else {
        return Err(USAGE.into());
    };
    let pairs: usize = rest.first().map_or(Ok(2000), |s| s.parse())?;
    let kind: MetricKind = metric.parse()?;
    let plan = Plan::all_pairs(&expand_inputs(std::slice::from_ref(dir))?)?;
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    one_thread.install(|| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let started = Instant::now();
        let masses = common::load_inputs(&plan)?;
        let decode = started.elapsed().as_secs_f64() / masses.len() as f64;
        // Built per pair with the pair's own sliced seed, as batch mode does.
        let chosen: Vec<_> = common::pair_metrics(&plan, kind, pairs)?
            .into_iter()
            .map(|(metric, a, b)| (metric, &masses[a], &masses[b]))
            .collect();
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            for (metric, a, b) in &chosen {
                std::hint::black_box(metric.compute(a, b)?);
            }
            times.push(started.elapsed().as_secs_f64() / chosen.len() as f64);
        }
        times.sort_by(f64::total_cmp);
        println!("{:e} {:e}", times[2], decode);
        Ok(())
    })
}
