//! `imgdist batch`: many pairs in one run — arguments → plan → parallel run → records on stdout.

use std::ffi::OsString;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use imgdist::batch::{self, Plan, RunOptions, Shard};
use imgdist::matrix::Matrix;
use imgdist::plot::MatrixOrder;
use imgdist::{Error, MetricKind};

use super::{MetricArgs, usage_exit};

mod output;
mod skip;

use output::{Lines, Output};

const AFTER_HELP: &str = "\
Pairs come from a manifest (CSV/TSV rows a,b[,id], optionally under a header
naming the columns a, b, id; or JSON Lines {\"a\":…,\"b\":…,\"id\":…}; `-` reads it
from standard input), from --all-pairs FILES…|DIR (every pair i < j), or from
--one-vs-many REF FILES…|DIR. A directory stands for its image and CSV/TSV files,
sorted by name. A pair's id is the manifest's id, else `A|B` as written.

Output: one record per pair on standard output, in input order (--unordered: as
they finish). JSON Lines: the single-pair JSON report plus \"id\" and \"status\"
(\"ok\", or \"error\" with \"error\": the reason). CSV/TSV: a header, then columns
id,a,b,status,<one per metric>,error.

--shard K/N keeps the pairs with fnv1a64(id) mod N = K (K from 0), so N shards
partition the run. sliced uses the per-pair seed fnv1a64(LE bytes of --seed, id),
shown in the record's params.seed: values do not depend on shards, threads or order.

Exit status:
  0  every pair computed, and every value within its --max
  1  every pair computed, but some value above its --max (or not finite)
  2  some pair could not be computed (its record says why), or the run could not
     start: bad usage, unreadable manifest, bad parameter

A file named `batch` is compared with the single-pair command as `./batch`.";

/// The most worker threads per available core that `--jobs` gets.
const MAX_JOBS_PER_CORE: usize = 4;

/// What the user typed after `imgdist batch`.
#[derive(Debug, Parser)]
#[command(
    name = "imgdist batch",
    version,
    about = "Distances for many pairs in one run: JSON Lines or CSV, parallel, resumable, shardable",
    after_help = AFTER_HELP,
    allow_negative_numbers = true
)]
struct BatchArgs {
    /// The manifest (`-` for standard input); with --all-pairs or --one-vs-many, the input files
    /// or directories.
    #[arg(value_name = "MANIFEST | FILES|DIR")]
    inputs: Vec<String>,
    /// Compare REF with each of the FILES (or each input in DIR).
    #[arg(long, value_name = "REF", conflicts_with = "all_pairs")]
    one_vs_many: Option<String>,
    /// Compare every pair of the FILES (or of the inputs in DIR) once: (i, j) with i < j.
    #[arg(long)]
    all_pairs: bool,
    /// Output format: json (JSON Lines, one record per line), csv or tsv.
    #[arg(long, value_enum, default_value_t = BatchFormat::Json)]
    format: BatchFormat,
    #[command(flatten)]
    metric: MetricArgs,
    /// Worker threads (metrics' own parallelism included), at most 4 per core. Default: the
    /// available cores.
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    /// Write each record as soon as its pair is done instead of in input order.
    #[arg(long)]
    unordered: bool,
    /// Start no new pair after the first error (exit 2).
    #[arg(long)]
    fail_fast: bool,
    /// Only the pairs of shard K of N (0 ≤ K < N): those with fnv1a64(id) mod N = K.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Skip the pairs recorded with status ok in this earlier JSON Lines output, when the record
    /// has every metric asked for with the same parameters and options. Repeatable.
    #[arg(long, value_name = "FILE")]
    skip_done: Vec<PathBuf>,
    /// With --all-pairs: also write the square distance matrix of the first metric (CSV with a
    /// header row of labels) to FILE.
    #[arg(long, value_name = "FILE")]
    matrix: Option<PathBuf>,
    /// With --all-pairs: also draw the matrix of the first metric as a labelled heatmap (PNG)
    /// to FILE.
    #[arg(long, value_name = "FILE.png")]
    matrix_plot: Option<PathBuf>,
    /// Order of the inputs in --matrix-plot: input (as given) or cluster (similar inputs side
    /// by side: the leaf order of average-linkage clustering). Default: input.
    #[arg(long, value_name = "ORDER", requires = "matrix_plot")]
    matrix_order: Option<String>,
    /// Memory for decoded inputs in MiB; each input is decoded once while they fit.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    cache_mib: usize,
    /// No progress bar (it is only drawn when standard error is a terminal).
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BatchFormat {
    Json,
    Csv,
    Tsv,
}

impl BatchFormat {
    fn delimiter(self) -> Option<u8> {
        match self {
            BatchFormat::Json => None,
            BatchFormat::Csv => Some(b','),
            BatchFormat::Tsv => Some(b'\t'),
        }
    }
}

/// Reads a file, or standard input for `-`, as text.
fn read_text(name: &str) -> Result<String> {
    let io_err = |source| Error::Io {
        source_name: name.to_string(),
        source,
    };
    Ok(if name == "-" {
        let mut text = String::new();
        io::stdin().read_to_string(&mut text).map_err(io_err)?;
        text
    } else {
        std::fs::read_to_string(name).map_err(io_err)?
    })
}

fn plan(args: &BatchArgs) -> Result<Plan> {
    if let Some(reference) = &args.one_vs_many {
        if args.inputs.is_empty() {
            bail!("--one-vs-many REF needs the FILES or a DIR to compare REF with");
        }
        return Ok(Plan::one_vs_many(
            reference,
            &batch::expand_inputs(&args.inputs)?,
        )?);
    }
    if args.all_pairs {
        if args.inputs.is_empty() {
            bail!("--all-pairs needs the FILES or a DIR");
        }
        return Ok(Plan::all_pairs(&batch::expand_inputs(&args.inputs)?)?);
    }
    match args.inputs.as_slice() {
        [manifest] => Ok(Plan::from_manifest(&read_text(manifest)?, manifest)?),
        [] => bail!("expected a MANIFEST (or --all-pairs / --one-vs-many with inputs)"),
        _ => bail!(
            "expected one MANIFEST, got {} arguments (did you mean --all-pairs?)",
            args.inputs.len()
        ),
    }
}

fn progress_bar(len: usize, quiet: bool) -> Option<ProgressBar> {
    if quiet || !io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {pos}/{len} pairs  {per_sec}  ETA {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

/// Runs batch mode on the arguments after `batch`; returns the exit code of the contract.
pub fn run(argv: &[OsString]) -> ExitCode {
    let argv = std::iter::once(OsString::from("imgdist batch")).chain(argv.iter().cloned());
    let args = match BatchArgs::try_parse_from(argv) {
        Ok(args) => args,
        Err(err) => return usage_exit(err, "imgdist batch --help"),
    };
    match run_batch(&args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{}", super::error_line(&err));
            ExitCode::from(2)
        }
    }
}

fn run_batch(args: &BatchArgs) -> Result<ExitCode> {
    if args.metric.dump_duals.is_some() || args.metric.dump_plan.is_some() {
        bail!(
            "--dump-duals and --dump-plan are for one pair; they are not available in batch mode"
        );
    }
    let settings = args.metric.settings()?;
    settings.validate()?;
    let shard: Option<Shard> = args.shard.as_deref().map(str::parse).transpose()?;
    let matrix_option = match (&args.matrix, &args.matrix_plot) {
        (Some(_), _) => Some("--matrix"),
        (None, Some(_)) => Some("--matrix-plot"),
        (None, None) => None,
    };
    let matrix_metric = match (matrix_option, args.all_pairs) {
        (None, _) => None,
        (Some(option), false) => bail!("{option} needs --all-pairs"),
        (Some(option), true) => match settings.metrics[0] {
            MetricKind::Kl => bail!(
                "{option} uses the first metric, and kl is not symmetric; put a symmetric metric first"
            ),
            k => Some(k),
        },
    };
    let matrix_order: MatrixOrder = match &args.matrix_order {
        Some(order) => order.parse()?,
        None => MatrixOrder::default(),
    };
    if let Some(path) = &args.matrix_plot {
        imgdist::plot::check_png_path(path, "--matrix-plot")?;
    }
    let cores = RunOptions::default().jobs;
    let mut jobs = args.jobs.unwrap_or(cores);
    if jobs == 0 {
        bail!("invalid --jobs: must be at least 1");
    }
    // More threads than a few per core only add switching (thousands of them swamp the machine).
    let most = MAX_JOBS_PER_CORE * cores;
    if jobs > most {
        eprintln!(
            "imgdist: --jobs {jobs} is more than {MAX_JOBS_PER_CORE} per core; using {most} ({cores} cores)"
        );
        jobs = most;
    }
    let mut plan = plan(args)?;
    let outputs: Vec<(&'static str, &std::path::Path)> = [
        ("--matrix", &args.matrix),
        ("--matrix-plot", &args.matrix_plot),
    ]
    .into_iter()
    .filter_map(|(option, path)| Some((option, path.as_deref()?)))
    .collect();
    if !outputs.is_empty() {
        // Every file the run reads: the inputs, the manifest and the earlier outputs.
        let read: Vec<&std::path::Path> = plan
            .inputs
            .iter()
            .chain(&args.inputs)
            .map(std::path::Path::new)
            .chain(args.skip_done.iter().map(PathBuf::as_path))
            .collect();
        imgdist::files::check_outputs(&outputs, &read)?;
    }
    let mut matrix = matrix_metric.map(|_| Matrix::new(plan.inputs.clone()));

    if !args.skip_done.is_empty() {
        let mut done = skip::Done::default();
        let expected = skip::Expected::new(&settings);
        for path in &args.skip_done {
            let bytes = std::fs::read(path).map_err(|source| Error::Io {
                source_name: path.display().to_string(),
                source,
            })?;
            done.read(&bytes, &expected, matrix_metric);
        }
        if done.different > 0 {
            eprintln!(
                "imgdist: --skip-done: {} ok records were made with other metrics, parameters or \
                 options; their pairs are computed again",
                done.different
            );
        }
        if let Some(m) = &mut matrix {
            done.fill_matrix(&plan, m);
        }
        plan.skip_ids(&done.ids);
    }
    if let Some(shard) = shard {
        plan.retain_shard(shard);
    }

    let opts = RunOptions {
        jobs,
        fail_fast: args.fail_fast,
        ordered: !args.unordered,
        cache_bytes: args.cache_mib.saturating_mul(1 << 20),
    };
    let mut output = Output {
        // Not locked for the whole run: the workers write, each chunk from the thread that
        // finished it.
        out: BufWriter::with_capacity(1 << 16, io::stdout()),
        progress: progress_bar(plan.len(), args.quiet),
        matrix,
        error: None,
    };
    let delimiter = args.format.delimiter();
    if let Some(d) = delimiter {
        let r = output::write_header(&mut output.out, &settings.metrics, d);
        output.check(r);
    }
    let metrics = &settings.metrics;
    let plan_ref = &plan;
    let prepare = |lines: &mut Lines, record: &batch::Record| {
        match delimiter {
            None => record.append_json(&mut lines.text),
            Some(d) => output::append_delimited(lines, record, metrics, d),
        }
        if let Some(v) = matrix_metric.and_then(|k| record.value(k)) {
            let (a, b) = plan_ref.pair(record.index);
            lines.cells.push((a, b, v));
        }
    };
    let summary = batch::run(&plan, &settings, &opts, prepare, &mut output)?;
    if let Some(bar) = &output.progress {
        bar.finish_and_clear();
    }
    let r = output.out.flush();
    output.check(r);
    if let Some(err) = output.error {
        bail!("cannot write the results: {err}");
    }
    if let (Some(path), Some(m)) = (&args.matrix, &output.matrix) {
        imgdist::files::write_atomically(path, |file| m.write_csv(file))?;
    }
    if let (Some(path), Some(m), Some(kind)) = (&args.matrix_plot, &output.matrix, matrix_metric) {
        imgdist::plot::write_matrix_picture(path, m, kind, matrix_order)?;
    }
    if summary.errors > 0 {
        let stopped = if args.fail_fast && summary.stopped {
            " (stopped at the first error: --fail-fast)"
        } else {
            ""
        };
        eprintln!(
            "imgdist: {} of {} pairs could not be computed{stopped}; first: {}",
            summary.errors,
            summary.done,
            summary.first_error.as_deref().unwrap_or("?")
        );
        return Ok(ExitCode::from(2));
    }
    if summary.over_max > 0 {
        eprintln!(
            "imgdist: {} of {} pairs have a value above its --max (or not finite)",
            summary.over_max, summary.done
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
