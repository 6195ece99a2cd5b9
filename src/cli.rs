//! Command line: what the user typed (clap) → library types → run → print → exit code.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, ValueEnum};

use imgdist::load::{DEFAULT_MAX_PIXELS, load_mask};
use imgdist::metric::emd::{Level, Round};
use imgdist::metric::sinkhorn::{Problem, Status};
use imgdist::metric::{Angles, EmdPlan, Extras, Ground, Progress, SlicedParams};
use imgdist::report::{Report, format_value};
use imgdist::{LoadOptions, Mask, MetricKind, Params, Settings, Source, load};

mod batch;
mod dump;

const AFTER_HELP: &str = "\
Exit status:
  0  computed, and every value is within its --max
  1  computed, but some value is above its --max (or not finite)
  2  could not compute: bad usage, unreadable or undecodable input, zero mass,
     size mismatch for a pixel-by-pixel metric, a limit reached

Results go to standard output only; messages go to standard error.
Inputs: any image the `image` crate decodes (PNG, JPEG, TIFF, BMP, GIF, WebP, …),
8/16-bit, gray or colour (Rec. 709 luma, alpha premultiplied), or a numeric matrix
as CSV/TSV text. `-` reads one input from standard input.

Many pairs in one run: imgdist batch --help";

/// What the user typed (single pair).
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
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also draw the pair to FILE (PNG): A, B and their difference, plus the transport plan
    /// for emd and W_p(θ) per direction for sliced. Standard output does not change.
    #[arg(long, value_name = "FILE.png")]
    plot: Option<PathBuf>,
    /// Like --mask, for input A only (with --mask-b when the two inputs need different masks).
    #[arg(long, value_name = "FILE", conflicts_with = "mask")]
    mask_a: Option<String>,
    /// Like --mask, for input B only.
    #[arg(long, value_name = "FILE", conflicts_with = "mask")]
    mask_b: Option<String>,
    #[command(flatten)]
    metric: MetricArgs,
}

/// The metric and loading options, shared by the single-pair command and `imgdist batch`.
#[derive(Debug, clap::Args)]
struct MetricArgs {
    /// Metrics to compute, comma-separated, or `all`: tv, kl, js, hellinger, blur-l2, hist, sliced,
    /// emd, sinkhorn.
    /// Default: sliced (or the metrics named by --max).
    #[arg(short, long, value_name = "M[,M...]")]
    metric: Option<String>,
    /// Fail (exit 1) if metric NAME is above VALUE or not finite. Repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    max: Vec<String>,
    /// Take mass from (full scale − value): for dark-on-light inputs such as text.
    #[arg(long)]
    invert: bool,
    /// Ignore the pixels where FILE (an image or matrix of the inputs' size) is nonzero: they
    /// carry no mass in either input and no metric sees them.
    #[arg(long, value_name = "FILE")]
    mask: Option<String>,
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
    /// sinkhorn: blur B in pixels (ε = B², GeomLoss's convention); smaller is closer to W2
    /// and slower.
    #[arg(long, value_name = "B", default_value_t = 1.0)]
    blur: f64,
    /// sinkhorn: subtract the self-transport terms, S = OT(a,b) − ½OT(a,a) − ½OT(b,b)
    /// (true), or report √OT(a,b) (false).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    debias: bool,
    /// sinkhorn: stop when the L1 error of the plan's marginals is at most T, in (0, 1).
    #[arg(long, value_name = "T", default_value_t = 1e-9)]
    tol: f64,
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
    /// The masks of A and B (`--mask`, or `--mask-a` / `--mask-b`).
    masks: [Option<Arc<Mask>>; 2],
    settings: Settings,
    format: Format,
    plot: Option<PathBuf>,
    dump_duals: Option<PathBuf>,
    dump_plan: Option<PathBuf>,
}

/// Writes progress lines to standard error: one per column-generation round or grid-flow level
/// of the exact EMD, and for sliced Wasserstein the directions done, for sinkhorn the latest
/// iteration, once a second when they run longer than that.
#[derive(Default)]
struct ProgressLines {
    /// Started by the current sliced computation.
    sliced: Throttle,
    /// Started by the first sinkhorn iteration (the command line computes one pair).
    sinkhorn: Throttle,
}

/// Sliced and sinkhorn progress is shown from this long on, and no more often.
const PROGRESS_LINE_EVERY: Duration = Duration::from_secs(1);

/// When a progress line is due: [`PROGRESS_LINE_EVERY`] after the start, then no more often,
/// except the line that says the work is done once lines are shown.
#[derive(Default)]
struct Throttle {
    /// When the work started, and when the last line was written.
    clock: Mutex<Option<(Instant, Option<Instant>)>>,
}

impl Throttle {
    /// Starts the clock at `now`, with no line shown yet.
    fn start(&self, now: Instant) {
        *self.clock.lock().unwrap_or_else(|e| e.into_inner()) = Some((now, None));
    }

    /// Calls `line` with the time since the start when a line is due at `now` (at once if
    /// `done` and lines have been shown), holding the clock so that lines keep their order.
    /// The first call starts the clock instead.
    fn tick(&self, now: Instant, done: bool, line: impl FnOnce(Duration)) {
        let mut clock = self.clock.lock().unwrap_or_else(|e| e.into_inner());
        let Some((start, last)) = *clock else {
            *clock = Some((now, None));
            return;
        };
        let due = match last {
            None => now - start >= PROGRESS_LINE_EVERY,
            Some(last) => now - last >= PROGRESS_LINE_EVERY || done,
        };
        if due {
            *clock = Some((start, Some(now)));
            line(now - start);
        }
    }
}

/// `v` rounded to four significant digits, written as briefly as possible (`31.25`, `0.01`).
fn four_digits(v: f64) -> String {
    let rounded: f64 = format!("{v:.3e}").parse().unwrap_or(v);
    rounded.to_string()
}

impl Progress for ProgressLines {
    fn emd_round(&self, r: &Round) {
        eprintln!(
            "imgdist: emd round {}: {} arcs, {} pivots, cost {:.12}, {} pairs added, \
             most negative reduced cost {:.3e}, {:.2} s",
            r.round, r.arcs, r.pivots, r.cost, r.added, r.min_reduced_cost, r.seconds
        );
    }

    fn emd_level(&self, l: &Level) {
        eprintln!(
            "imgdist: emd level {}/{}: {}×{} grid, {} pivots, {:.2} s",
            l.level, l.levels, l.shape.0, l.shape.1, l.pivots, l.seconds
        );
    }

    fn sliced_directions(&self, done: usize, total: usize) {
        let now = Instant::now();
        if done == 0 {
            self.sliced.start(now);
            return;
        }
        // Once lines are shown, the last one says that the work is done.
        self.sliced.tick(now, done == total, |elapsed| {
            eprintln!(
                "imgdist: sliced: {done}/{total} directions, {:.1} s",
                elapsed.as_secs_f64()
            );
        });
    }

    fn sinkhorn_iteration(&self, problem: Problem, s: &Status) {
        self.sinkhorn.tick(Instant::now(), false, |elapsed| {
            eprintln!("{}", sinkhorn_line(problem, s, elapsed));
        });
    }
}

/// The progress line of a sinkhorn iteration, `elapsed` after the first.
fn sinkhorn_line(problem: Problem, s: &Status, elapsed: Duration) -> String {
    let [(ra, ca), (rb, cb)] = s.shapes;
    let grids = if s.shapes[0] == s.shapes[1] {
        format!("{ra}×{ca} grid")
    } else {
        format!("{ra}×{ca} and {rb}×{cb} grids")
    };
    let warm = match (s.coarsening, s.correction) {
        (0, _) => String::new(),
        (k, false) => format!(" (warm start, 1/{} scale)", 1u64 << k.min(63)),
        (k, true) => format!(" (multigrid correction, 1/{} scale)", 1u64 << k.min(63)),
    };
    let error = if s.marginal_error.is_finite() {
        format!(", marginal error {:.1e}", s.marginal_error)
    } else {
        String::new()
    };
    format!(
        "imgdist: sinkhorn {}: {grids}{warm}, ε {}, {} iterations{error}, {:.1} s",
        problem.as_str(),
        four_digits(s.eps),
        s.iterations,
        elapsed.as_secs_f64()
    )
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

impl MetricArgs {
    /// The one conversion into library types.
    fn settings(&self) -> Result<Settings> {
        let maxima = self
            .max
            .iter()
            .map(|s| parse_max(s))
            .collect::<Result<Vec<_>>>()?;
        let named = self
            .metric
            .as_deref()
            .map(MetricKind::parse_list)
            .transpose()?;
        let metrics = Settings::metrics_for(named, &maxima)?;
        let mask = self
            .mask
            .as_deref()
            .map(|m| self.load_mask(m))
            .transpose()?;
        Ok(Settings {
            load: LoadOptions {
                invert: self.invert,
                downscale: self.downscale,
                max_pixels: self.max_pixels,
                mask,
                levels: metrics.contains(&MetricKind::Hist),
            },
            metrics,
            maxima,
            params: Params {
                eps: self.eps,
                sigma: self.sigma,
                sliced: SlicedParams {
                    projections: self.proj,
                    seed: self.seed,
                    p: self.p,
                    angles: self.angles.parse::<Angles>()?,
                },
                ground: self.ground.parse::<Ground>()?,
                // Dumps need the plan and duals of the solve that gave the value.
                emd_plan: if self.dump_duals.is_some() || self.dump_plan.is_some() {
                    EmdPlan::Solve
                } else {
                    EmdPlan::None
                },
                blur: self.blur,
                debias: self.debias,
                tol: self.tol,
            },
        })
    }
}

impl MetricArgs {
    /// Reads the mask `arg` names (`-` is not allowed: standard input holds at most an input).
    fn load_mask(&self, arg: &str) -> Result<Arc<Mask>> {
        if arg == "-" {
            bail!("a mask cannot be read from standard input ('-'); give a file");
        }
        Ok(Arc::new(load_mask(&Source::parse(arg), self.max_pixels)?))
    }
}

impl Config {
    fn from_args(args: Args) -> Result<Config> {
        let mut settings = args.metric.settings()?;
        let side_masks = [&args.mask_a, &args.mask_b]
            .map(|m| m.as_deref().map(|m| args.metric.load_mask(m)).transpose());
        let [mask_a, mask_b] = side_masks;
        let shared = settings.load.mask.clone();
        let masks = [
            mask_a?.or_else(|| shared.clone()),
            mask_b?.or_else(|| shared.clone()),
        ];
        let outputs: Vec<(&'static str, &std::path::Path)> = [
            ("--plot", &args.plot),
            ("--dump-plan", &args.metric.dump_plan),
            ("--dump-duals", &args.metric.dump_duals),
        ]
        .into_iter()
        .filter_map(|(option, path)| Some((option, path.as_deref()?)))
        .collect();
        imgdist::files::check_outputs(&outputs, &[args.a.as_ref(), args.b.as_ref()])?;
        if let Some(path) = &args.plot {
            imgdist::plot::check_png_path(path, "--plot")?;
            if settings.params.emd_plan == EmdPlan::None {
                settings.params.emd_plan = EmdPlan::Picture;
            }
        }
        Ok(Config {
            a: Source::parse(&args.a),
            b: Source::parse(&args.b),
            masks,
            settings,
            format: args.format,
            plot: args.plot,
            dump_duals: args.metric.dump_duals,
            dump_plan: args.metric.dump_plan,
        })
    }
}

/// Computes the report, and draws the picture when asked; any error here means exit 2.
fn compute(cfg: &Config) -> Result<Report> {
    if cfg.a == Source::Stdin && cfg.b == Source::Stdin {
        bail!("only one input can be read from standard input ('-')");
    }
    // Validate every parameter before the (possibly slow) loading.
    let settings = &cfg.settings;
    for kind in &settings.metrics {
        kind.build(&settings.params)?;
    }
    let with_mask = |mask: &Option<Arc<Mask>>| LoadOptions {
        mask: mask.clone(),
        ..settings.load.clone()
    };
    let a = load(&cfg.a, &with_mask(&cfg.masks[0]))?;
    let b = load(&cfg.b, &with_mask(&cfg.masks[1]))?;
    let names = [cfg.a.name(), cfg.b.name()];
    let names = [names[0].as_str(), names[1].as_str()];
    let lines = ProgressLines::default();
    let progress: &dyn Progress = if io::stderr().is_terminal() {
        &lines
    } else {
        &()
    };
    let report = settings.report_observed(&settings.params, names, &a, &b, progress)?;
    write_dumps(cfg, &report)?;
    if let Some(path) = &cfg.plot {
        imgdist::plot::write_pair_picture(path, &a, &b, &report)?;
    }
    Ok(report)
}

/// Writes `--dump-duals` and `--dump-plan` from the emd result's plan.
fn write_dumps(cfg: &Config, report: &Report) -> Result<()> {
    let plan = report
        .metrics
        .iter()
        .find_map(|m| match &m.measurement.extras {
            Extras::Emd(Ok(plan)) => Some(plan),
            _ => None,
        });
    // Without emd among the metrics there is no plan, and nothing to dump.
    let Some(plan) = plan else { return Ok(()) };
    if let Some(path) = &cfg.dump_duals {
        dump::write(path, &dump::duals_csv(plan))?;
    }
    if let Some(path) = &cfg.dump_plan {
        dump::write(path, &dump::plan_csv(plan))?;
    }
    Ok(())
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

/// Prints help or version (exit 0), or clap's reason on one line (exit 2).
fn usage_exit(err: clap::Error, help: &str) -> ExitCode {
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
    eprintln!("imgdist: {reason} (see {help})");
    ExitCode::from(2)
}

/// The message of the latest panic that may be a bug, and where it happened (`file:line`).
static LAST_PANIC: std::sync::Mutex<Option<(String, String)>> = std::sync::Mutex::new(None);

/// Replaces Rust's multi-line panic message by nothing: [`run`] reports a panic on one line
/// (and batch mode in the pair's record). With `RUST_BACKTRACE` set, the default message and
/// backtrace are printed as well. A decoder's panic that the library turns into a decode error
/// is not a bug: it is neither printed nor recorded.
fn quiet_panics() {
    let default = std::panic::take_hook();
    let verbose = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
    std::panic::set_hook(Box::new(move |info| {
        if imgdist::error::panic_is_input_error() {
            return;
        }
        if let Some(at) = info.location()
            && let Ok(mut last) = LAST_PANIC.lock()
        {
            let message = imgdist::error::panic_message(info.payload());
            *last = Some((message, format!("{}:{}", at.file(), at.line())));
        }
        if verbose {
            default(info);
        }
    }));
}

/// The one line a panic (a bug) leaves on standard error.
fn internal_error_line(payload: &(dyn std::any::Any + Send)) -> String {
    let message = imgdist::error::panic_message(payload);
    internal_error_text(&message)
}

/// The internal-error line for a panic's message, with the place of the latest panic if it is
/// that panic (same message): an earlier panic, caught and reported elsewhere, says nothing
/// about where this one happened.
fn internal_error_text(message: &str) -> String {
    let at = LAST_PANIC
        .lock()
        .ok()
        .and_then(|last| match &*last {
            Some((seen, at)) if seen == message => Some(format!(" at {at}")),
            _ => None,
        })
        .unwrap_or_default();
    format!(
        "imgdist: internal error: {}{at} (a bug: please report it with the command that caused it)",
        message.replace('\n', " ")
    )
}

/// The line an error leaves on standard error: `imgdist: ` and its causes, or for a panic the
/// library caught, [`internal_error_text`].
fn error_line(err: &anyhow::Error) -> String {
    match err.downcast_ref::<imgdist::Error>() {
        Some(imgdist::Error::Internal { message }) => internal_error_text(message),
        _ => format!("imgdist: {err:#}"),
    }
}

/// Parses the arguments, runs, prints, and returns the exit code of the contract. A panic
/// (a bug) ends the run with exit 2 and one `imgdist: internal error: …` line.
///
/// `imgdist batch …` (first argument exactly `batch`) runs batch mode; a file named `batch` is
/// reached as `./batch`.
pub fn run() -> ExitCode {
    quiet_panics();
    std::panic::catch_unwind(run_unguarded).unwrap_or_else(|payload| {
        eprintln!("{}", internal_error_line(payload.as_ref()));
        ExitCode::from(2)
    })
}

fn run_unguarded() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "batch") {
        return batch::run(&argv[2..]);
    }
    let args = match Args::try_parse_from(&argv) {
        Ok(args) => args,
        Err(err) => return usage_exit(err, "imgdist --help"),
    };
    let result = Config::from_args(args).and_then(|cfg| Ok((compute(&cfg)?, cfg.format)));
    let (report, format) = match result {
        Ok(r) => r,
        Err(err) => {
            eprintln!("{}", error_line(&err));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_one_internal_error_line() {
        let payload: Box<dyn std::any::Any + Send> = Box::new(String::from("bad\nstate"));
        let line = internal_error_line(payload.as_ref());
        assert!(
            line.starts_with("imgdist: internal error: bad state"),
            "{line}"
        );
        assert!(line.ends_with("(a bug: please report it with the command that caused it)"));
        assert_eq!(line.lines().count(), 1);
        let caught = anyhow::Error::from(imgdist::Error::Internal {
            message: "capacity overflow".into(),
        });
        assert!(error_line(&caught).starts_with("imgdist: internal error: capacity overflow"));
        assert!(error_line(&caught).ends_with("caused it)"));
        let usage = anyhow::Error::from(imgdist::Error::ZeroMass {
            source_name: "x.png".into(),
            mask: None,
        });
        assert!(error_line(&usage).starts_with("imgdist: x.png: the input has zero"));
    }

    /// A decoder's panic on malformed data, caught as that input's decode error, leaves no
    /// trace: a bug that panics later in the same run (the next pair of a batch, say) is
    /// reported at its own place.
    #[test]
    fn a_caught_decoder_panic_is_not_the_place_of_a_later_bug() {
        quiet_panics();
        let bytes = include_bytes!("../tests/data/palette_of_52_bytes.png");
        let decoded = imgdist::load::load_bytes(bytes, "bad.png", "png", &LoadOptions::default());
        assert!(
            matches!(&decoded, Err(imgdist::Error::Decode { reason, .. })
                if reason.contains("the decoder failed on malformed data")),
            "{decoded:?}"
        );
        let inputs = 1;
        let line = line!() + 1;
        let bug = std::panic::catch_unwind(|| panic!("a bug after {inputs} malformed input"));
        let reported = internal_error_line(bug.unwrap_err().as_ref());
        let want = format!(
            "imgdist: internal error: a bug after 1 malformed input at {}:{line} (a bug",
            file!()
        );
        assert!(reported.starts_with(&want), "{reported}\nwant: {want}");
        // An internal error not raised by the latest panic names no place.
        let other = internal_error_text("capacity overflow");
        assert!(!other.contains(" at "), "{other}");
    }

    #[test]
    fn the_throttle_shows_a_line_a_second_and_the_last_at_once() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let tick = |now: Instant, done: bool| {
            let mut shown = None;
            throttle.tick(now, done, |elapsed| shown = Some(elapsed.as_millis()));
            shown
        };
        // The first call starts the clock; nothing is shown before a second, not even the end.
        assert_eq!(tick(at(0), false), None);
        assert_eq!(tick(at(999), true), None);
        assert_eq!(tick(at(1000), false), Some(1000));
        assert_eq!(tick(at(1500), false), None);
        assert_eq!(tick(at(2000), false), Some(2000));
        // Once lines are shown, the end is shown at once.
        assert_eq!(tick(at(2100), true), Some(2100));
        // A restart forgets the lines shown and counts from the new start.
        throttle.start(at(3000));
        assert_eq!(tick(at(3100), true), None);
        assert_eq!(tick(at(4000), false), Some(1000));
    }

    #[test]
    fn sinkhorn_progress_lines_name_the_problem_grid_stage_and_error() {
        let warm = Status {
            coarsening: 2,
            shapes: [(75, 75), (64, 80)],
            eps: 7688.0 / 16.0,
            iterations: 2,
            marginal_error: f64::INFINITY,
            correction: false,
        };
        assert_eq!(
            sinkhorn_line(Problem::Ab, &warm, Duration::from_millis(1300)),
            "imgdist: sinkhorn ab: 75×75 and 64×80 grids (warm start, 1/4 scale), ε 480.5, \
             2 iterations, 1.3 s"
        );
        let fine = Status {
            coarsening: 0,
            shapes: [(299, 299); 2],
            eps: 0.1 * 0.1,
            iterations: 1234,
            marginal_error: 3.2e-5,
            correction: false,
        };
        assert_eq!(
            sinkhorn_line(Problem::Bb, &fine, Duration::from_secs(61)),
            "imgdist: sinkhorn bb: 299×299 grid, ε 0.01, 1234 iterations, marginal error 3.2e-5, \
             61.0 s"
        );
        let correction = Status {
            coarsening: 1,
            shapes: [(150, 150); 2],
            eps: 4.0,
            iterations: 7,
            marginal_error: 2.5e-6,
            correction: true,
        };
        assert_eq!(
            sinkhorn_line(Problem::Ab, &correction, Duration::from_secs(2)),
            "imgdist: sinkhorn ab: 150×150 grid (multigrid correction, 1/2 scale), ε 4, \
             7 iterations, marginal error 2.5e-6, 2.0 s"
        );
    }
}
