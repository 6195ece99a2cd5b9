//! Command line: what the user typed (clap) → library types → run → print → exit code.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, ValueEnum};

use imgdist::metric::emd::EmdOutput;
use imgdist::metric::{Angles, Ground, SlicedParams};
use imgdist::report::{InputInfo, MetricResult, Report, format_value};
use imgdist::{LoadOptions, MetricKind, Params, Source, load, load::DEFAULT_MAX_PIXELS};

const AFTER_HELP: &str = "\
Exit status:
  0  computed, and every value is within its --max
  1  computed, but some value is above its --max (or not finite)
  2  could not compute: bad usage, unreadable or undecodable input, zero mass,
     size mismatch for a pixel-by-pixel metric, a limit reached

Results go to standard output only; messages go to standard error.
Inputs: any image the `image` crate decodes (PNG, JPEG, TIFF, BMP, GIF, WebP, …),
8/16-bit, gray or colour (Rec. 709 luma, alpha premultiplied), or a numeric matrix
as CSV/TSV text. `-` reads one input from standard input.";

/// What the user typed.
#[derive(Debug, Parser)]
#[command(
    name = "imgdist",
    version,
    about = "Distances between two images seen as distributions of light over their pixel grids",
    after_help = AFTER_HELP,
    allow_negative_numbers = true
)]
struct Args {
    /// First input (A): an image, a CSV/TSV matrix, or `-` for standard input.
    a: String,
    /// Second input (B).
    b: String,
    /// Metrics to compute, comma-separated, or `all`: tv, kl, js, hellinger, blur-l2, sliced, emd.
    /// Default: sliced (or the metrics named by --max).
    #[arg(short, long, value_name = "M[,M...]")]
    metric: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Fail (exit 1) if metric NAME is above VALUE or not finite. Repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    max: Vec<String>,
    /// Take mass from (full scale − value): for dark-on-light inputs such as text.
    #[arg(long)]
    invert: bool,
    /// Sum K×K pixel blocks into one cell (cells stay at block centres in pixel units).
    #[arg(long, value_name = "K", default_value_t = 1)]
    downscale: usize,
    /// Refuse inputs with more pixels than this (guards against decompression bombs).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
    /// kl: pseudo-count added to every cell of both masses before renormalising.
    #[arg(long, value_name = "E", default_value_t = 0.0)]
    eps: f64,
    /// blur-l2: Gaussian standard deviation in (original) pixels.
    #[arg(long, value_name = "S", default_value_t = 2.0)]
    sigma: f64,
    /// sliced: number of projection directions.
    #[arg(long, value_name = "N", default_value_t = 200)]
    proj: usize,
    /// sliced: seed of the directions (same seed, same value, whatever the thread count).
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// sliced: order p ≥ 1 of the Wasserstein distance.
    #[arg(long, value_name = "P", default_value_t = 1.0)]
    p: f64,
    /// sliced: directions equispaced with a seeded offset (uniform) or independent (random).
    #[arg(long, value_name = "HOW", default_value = "uniform")]
    angles: String,
    /// emd: ground cost between cell positions: euclidean, sqeuclidean (reports W2) or cityblock.
    #[arg(long, value_name = "COST", default_value = "euclidean")]
    ground: String,
    /// emd: write the optimal duals as CSV (side,row,col,potential) to FILE.
    #[arg(long, value_name = "FILE")]
    dump_duals: Option<std::path::PathBuf>,
    /// emd: write the optimal plan as CSV (a_row,a_col,b_row,b_col,mass) to FILE.
    #[arg(long, value_name = "FILE")]
    dump_plan: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// The run, in library types.
struct Config {
    a: Source,
    b: Source,
    metrics: Vec<MetricKind>,
    maxima: Vec<(MetricKind, f64)>,
    load: LoadOptions,
    params: Params,
    format: Format,
}

fn parse_max(spec: &str) -> Result<(MetricKind, f64)> {
    let (name, value) = spec
        .split_once('=')
        .ok_or_else(|| anyhow!("invalid --max '{spec}': expected NAME=VALUE, e.g. tv=0.05"))?;
    let kind: MetricKind = name
        .trim()
        .parse()
        .context(format!("invalid --max '{spec}'"))?;
    let value: f64 = value
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| !v.is_nan())
        .ok_or_else(|| anyhow!("invalid --max '{spec}': '{value}' is not a number"))?;
    Ok((kind, value))
}

impl Config {
    fn from_args(args: Args) -> Result<Config> {
        let maxima = args
            .max
            .iter()
            .map(|s| parse_max(s))
            .collect::<Result<Vec<_>>>()?;
        let metrics = match &args.metric {
            Some(list) => MetricKind::parse_list(list)?,
            None if !maxima.is_empty() => {
                let mut v: Vec<MetricKind> = Vec::new();
                for (k, _) in &maxima {
                    if !v.contains(k) {
                        v.push(*k);
                    }
                }
                v
            }
            None => MetricKind::DEFAULT.to_vec(),
        };
        if let Some((k, _)) = maxima.iter().find(|(k, _)| !metrics.contains(k)) {
            bail!("--max names metric '{k}', which --metric does not compute");
        }
        Ok(Config {
            a: Source::parse(&args.a),
            b: Source::parse(&args.b),
            metrics,
            maxima,
            load: LoadOptions {
                invert: args.invert,
                downscale: args.downscale,
                max_pixels: args.max_pixels,
            },
            params: Params {
                eps: args.eps,
                sigma: args.sigma,
                sliced: SlicedParams {
                    projections: args.proj,
                    seed: args.seed,
                    p: args.p,
                    angles: args.angles.parse::<Angles>()?,
                },
                ground: args.ground.parse::<Ground>()?,
                emd_output: EmdOutput {
                    dump_duals: args.dump_duals,
                    dump_plan: args.dump_plan,
                    progress: io::stderr().is_terminal(),
                },
            },
            format: args.format,
        })
    }
}

/// Computes the report; any error here means exit 2.
fn compute(cfg: &Config) -> Result<Report> {
    if cfg.a == Source::Stdin && cfg.b == Source::Stdin {
        bail!("only one input can be read from standard input ('-')");
    }
    // Validate every parameter before the (possibly slow) loading.
    let built = cfg
        .metrics
        .iter()
        .map(|k| k.build(&cfg.params))
        .collect::<imgdist::Result<Vec<_>>>()?;
    let a = load(&cfg.a, &cfg.load)?;
    let b = load(&cfg.b, &cfg.load)?;
    let mut metrics = Vec::with_capacity(built.len());
    for metric in &built {
        let kind = metric.kind();
        let measurement = metric.compute(&a, &b)?;
        let max = cfg
            .maxima
            .iter()
            .rev()
            .find(|(k, _)| *k == kind)
            .map(|(_, v)| *v);
        metrics.push(MetricResult {
            kind,
            measurement,
            max,
        });
    }
    Ok(Report {
        inputs: [
            InputInfo::new(&cfg.a.name(), &a),
            InputInfo::new(&cfg.b.name(), &b),
        ],
        downscale: cfg.load.downscale,
        invert: cfg.load.invert,
        metrics,
    })
}

fn print(report: &Report, format: Format) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Text => report.write_text(&mut out)?,
        Format::Json => report.write_json(&mut out)?,
    }
    out.flush()
}

/// Parses the arguments, runs, prints, and returns the exit code of the contract.
pub fn run() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(err) => {
            use clap::error::ErrorKind;
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) {
                let _ = err.print();
                return ExitCode::SUCCESS;
            }
            // clap's message spans several lines; keep the reason on one.
            let text = err.render().to_string();
            let reason: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
                .collect();
            let reason = reason.join(" ");
            let reason = reason.strip_prefix("error: ").unwrap_or(&reason);
            eprintln!("imgdist: {reason} (see imgdist --help)");
            return ExitCode::from(2);
        }
    };
    let result = Config::from_args(args).and_then(|cfg| Ok((compute(&cfg)?, cfg.format)));
    let (report, format) = match result {
        Ok(r) => r,
        Err(err) => {
            eprintln!("imgdist: {err:#}");
            return ExitCode::from(2);
        }
    };
    if let Err(err) = print(&report, format)
        && err.kind() != io::ErrorKind::BrokenPipe
    {
        eprintln!("imgdist: cannot write the result: {err}");
        return ExitCode::from(2);
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        for m in report.metrics.iter().filter(|m| !m.passed()) {
            eprintln!(
                "imgdist: {} = {} is above --max {}",
                m.kind,
                format_value(m.measurement.value),
                format_value(m.max.unwrap_or(f64::NAN))
            );
        }
        ExitCode::from(1)
    }
}
