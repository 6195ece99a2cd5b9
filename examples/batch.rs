//! Library use of batch mode: every pair of the images in a folder, in parallel, printed in
//! input order as they are handed over.
//!
//! ```text
//! cargo run --release --example batch -- tests/data/camera_32.png tests/data/moon_32.png tests/data/coins_32.png
//! ```

use imgdist::batch::{self, Plan, Record, RunOptions, Sink};
use imgdist::{MetricKind, Settings};

/// Prints each chunk of lines as the run hands it over.
struct Print;

impl Sink<Vec<String>> for Print {
    fn record(&mut self, _first: usize, _count: usize, lines: Vec<String>) -> bool {
        for line in lines {
            println!("{line}");
        }
        true
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        return Err("usage: batch FILES|DIR…".into());
    }
    let plan = Plan::all_pairs(&batch::expand_inputs(&args)?)?;
    let settings = Settings {
        metrics: vec![MetricKind::Tv, MetricKind::Sliced],
        ..Settings::default()
    };
    // Runs on the worker threads: a line per pair.
    let line = |lines: &mut Vec<String>, record: &Record<'_>| {
        lines.push(match &record.outcome {
            Ok(_) => {
                let tv = record.value(MetricKind::Tv).unwrap_or(f64::NAN);
                let sliced = record.value(MetricKind::Sliced).unwrap_or(f64::NAN);
                format!("{}  tv {tv:.4}  sliced {sliced:.4}", record.id)
            }
            Err(reason) => format!("{}  error: {reason}", record.id),
        })
    };
    let summary = batch::run(&plan, &settings, &RunOptions::default(), line, &mut Print)?;
    eprintln!("{} pairs, {} errors", summary.done, summary.errors);
    Ok(())
}
