//! What the batch benchmark tools share: their arguments, the inputs of a plan, and the metric of
//! each pair built as batch mode builds it.

use imgdist::batch::Plan;
use imgdist::{LoadOptions, Mass, Metric, MetricKind, Params, Source, load};

/// Every input of `plan`, decoded with default options, in order.
pub fn load_inputs(plan: &Plan) -> Result<Vec<Mass>, imgdist::Error> {
    plan.inputs
        .iter()
        .map(|p| load(&Source::parse(p), &LoadOptions::default()))
        .collect()
}

/// A pair's metric and its two inputs (indices into the plan's inputs).
pub type PairMetric = (Box<dyn Metric>, usize, usize);

/// `kind` built for each of the first `limit` pairs of `plan` with default parameters and the
/// pair's own `sliced` seed (as batch mode derives it), with the pair's two inputs.
pub fn pair_metrics(
    plan: &Plan,
    kind: MetricKind,
    limit: usize,
) -> Result<Vec<PairMetric>, imgdist::Error> {
    (0..plan.len().min(limit))
        .map(|k| {
            let mut params = Params::default();
            params.sliced.seed = plan.id(k).seed(0);
            let (a, b) = plan.pair(k);
            Ok((kind.build(&params)?, a, b))
        })
        .collect()
}

/// The tool's arguments, without the `--bench` that `cargo bench` adds; `None` (after printing
/// the usage) when none is given, as when `cargo bench` runs every bench target.
pub fn args(usage: &str) -> Option<Vec<String>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.is_empty() {
        eprintln!("{usage} (bench/batch.py runs it; nothing to measure without a DIR)");
        return None;
    }
    Some(args)
}
