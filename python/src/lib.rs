//! Python bindings of imgdist. They convert Python inputs into the library's types and results
//! back into Python objects; every computation is the library's. The GIL is released while
//! inputs load and metrics run, and no panic crosses into Python.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use imgdist::error::catch_panic;
use imgdist::load::{self as loader, DEFAULT_MAX_PIXELS, LoadOptions, Source};
use imgdist::metric::emd::{Level, Round, Sparse};
use imgdist::metric::sinkhorn::{Problem, Status};
use imgdist::metric::{
    Angles, EmdPlan, Extras, Ground, Measurement, MetricKind, Params, Progress, SlicedParams,
};
use imgdist::{Error, Mask, Mass, Settings};
use ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray2, PyArrayDescrMethods, PyArrayMethods, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{
    PyFileNotFoundError, PyIsADirectoryError, PyOSError, PyPermissionError, PyRuntimeError,
    PyTypeError, PyUserWarning, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use rayon::prelude::*;

// The signatures spell the default `max_pixels` out, so that `help()` shows it.
const _: () = assert!(DEFAULT_MAX_PIXELS == 67_108_864);

/// The most threads per core that `jobs` gets, as the command line's `--jobs`.
const MAX_JOBS_PER_CORE: usize = 8;

/// One input, converted while the GIL is held so that loading can run without it.
enum Input {
    /// A file, read by the command line's loader.
    Path(PathBuf),
    /// The contents of an image or matrix file, and the input's name.
    Bytes(Vec<u8>, String),
    /// Values already in memory (an array), and the input's name.
    Values(Array2<f64>, String),
}

impl Input {
    /// The name the report and error messages use.
    fn name(&self) -> String {
        match self {
            Input::Path(p) => Source::Path(p.clone()).name(),
            Input::Bytes(_, name) | Input::Values(_, name) => name.clone(),
        }
    }

    /// The mass, read and normalised as the command line does.
    fn load(self, opts: &LoadOptions) -> Result<Mass, PyFailure> {
        match self {
            Input::Path(path) => loader::load(&Source::Path(path.clone()), opts).map_err(|error| {
                // The loader's message for a directory; Python has a class for it.
                let directory = matches!(error, Error::Decode { .. }) && path.is_dir();
                PyFailure {
                    error,
                    context: None,
                    directory,
                }
            }),
            Input::Bytes(bytes, name) => Ok(loader::load_bytes(&bytes, &name, "", opts)?),
            Input::Values(values, name) => Ok(loader::from_values(values, &name, opts)?),
        }
    }

    /// The mask this input is, read as the command line reads `--mask`: nonzero = ignore.
    fn load_mask(self, max_pixels: u64) -> Result<Mask, PyFailure> {
        match self {
            Input::Path(path) => loader::load_mask(&Source::Path(path.clone()), max_pixels)
                .map_err(|error| {
                    let directory = matches!(error, Error::Decode { .. }) && path.is_dir();
                    PyFailure {
                        error,
                        context: None,
                        directory,
                    }
                }),
            Input::Bytes(bytes, name) => {
                Ok(loader::mask_from_bytes(&bytes, &name, "", max_pixels)?)
            }
            Input::Values(values, name) => Ok(Mask::from_values(&values, &name)),
        }
    }
}

/// Reads a mask, if one is given.
fn read_mask(mask: Option<Input>, max_pixels: u64) -> Result<Option<Arc<Mask>>, PyFailure> {
    Ok(mask
        .map(|m| m.load_mask(max_pixels))
        .transpose()?
        .map(Arc::new))
}

/// The masks of a pair as given: `mask` for both inputs, or `mask_a` / `mask_b` for each.
struct Masks {
    /// `mask`, read once and shared by both inputs.
    shared: Option<Input>,
    /// `mask_a` and `mask_b`.
    sides: [Option<Input>; 2],
}

impl Masks {
    /// Converts the three keywords; `mask` with `mask_a` or `mask_b` is an error, as the
    /// command line's `--mask` with `--mask-a` or `--mask-b` is.
    fn new(
        mask: Option<&Bound<'_, PyAny>>,
        mask_a: Option<&Bound<'_, PyAny>>,
        mask_b: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Masks> {
        let side = [("mask_a", mask_a), ("mask_b", mask_b)]
            .into_iter()
            .find_map(|(name, m)| m.map(|_| name));
        if let (Some(_), Some(side)) = (mask, side) {
            return Err(PyValueError::new_err(format!(
                "mask cannot be used with {side}: give mask for both inputs, or \
                 mask_a / mask_b for each"
            )));
        }
        Ok(Masks {
            shared: mask.map(|m| input(m, "mask")).transpose()?,
            sides: [
                mask_a.map(|m| input(m, "mask_a")).transpose()?,
                mask_b.map(|m| input(m, "mask_b")).transpose()?,
            ],
        })
    }

    /// Reads the masks: those of A and B.
    fn load(self, max_pixels: u64) -> Result<[Option<Arc<Mask>>; 2], PyFailure> {
        let read = |m| read_mask(m, max_pixels);
        let shared = read(self.shared)?;
        let [a, b] = self.sides;
        Ok([
            read(a)?.or_else(|| shared.clone()),
            read(b)?.or_else(|| shared.clone()),
        ])
    }
}

/// The two inputs of a function that compares a pair, with their masks.
struct Pair {
    inputs: [Input; 2],
    masks: Masks,
}

impl Pair {
    fn new(
        a: &Bound<'_, PyAny>,
        b: &Bound<'_, PyAny>,
        mask: Option<&Bound<'_, PyAny>>,
        mask_a: Option<&Bound<'_, PyAny>>,
        mask_b: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Pair> {
        Ok(Pair {
            inputs: [input(a, "a")?, input(b, "b")?],
            masks: Masks::new(mask, mask_a, mask_b)?,
        })
    }

    /// The two masses, each input with its mask.
    fn load(self, opts: &LoadOptions) -> Result<[Mass; 2], PyFailure> {
        let [mask_a, mask_b] = self.masks.load(opts.max_pixels)?;
        let [a, b] = self.inputs;
        let with = |mask| LoadOptions {
            mask,
            ..opts.clone()
        };
        Ok([a.load(&with(mask_a))?, b.load(&with(mask_b))?])
    }
}

/// Converts a Python object into an [`Input`]: a path, bytes, a 2-D array, or anything
/// `imgdist._convert` turns into one of those (PIL images, nested lists).
fn input(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Input> {
    if let Some(found) = direct_input(obj, name)? {
        return Ok(found);
    }
    let converted = obj
        .py()
        .import("imgdist")?
        .getattr("_convert")?
        .call1((obj, name))?;
    direct_input(&converted, name)?.ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{name}: expected a path, bytes, a 2-D array or a PIL image, got {}",
            type_name(obj)
        ))
    })
}

fn direct_input(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Option<Input>> {
    if obj.is_instance_of::<PyString>() {
        // As `open()` does: undecodable bytes of a file name survive as surrogate escapes.
        return Ok(Some(Input::Path(obj.extract::<PathBuf>()?)));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Some(Input::Bytes(b.as_bytes().to_vec(), name.to_string())));
    }
    if let Ok(arr) = obj.cast::<PyUntypedArray>() {
        return Ok(Some(Input::Values(
            array_values(arr, name)?,
            name.to_string(),
        )));
    }
    if obj.hasattr("__fspath__")? {
        return Ok(Some(Input::Path(obj.extract::<PathBuf>()?)));
    }
    Ok(None)
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string())
}

/// The values of a 2-D array of any real dtype, memory order and strides, as `f64`.
fn array_values(arr: &Bound<'_, PyUntypedArray>, name: &str) -> PyResult<Array2<f64>> {
    if arr.ndim() != 2 {
        let dims: Vec<String> = arr.shape().iter().map(usize::to_string).collect();
        let shape = match dims.as_slice() {
            [one] => format!("({one},)"),
            _ => format!("({})", dims.join(", ")),
        };
        return Err(PyValueError::new_err(format!(
            "{name}: expected a 2-D array (rows x columns), got shape {shape}"
        )));
    }
    macro_rules! typed {
        ($($t:ty),*) => {$(
            if let Ok(a) = arr.cast::<PyArray2<$t>>() {
                let view = a.try_readonly().map_err(|e| PyValueError::new_err(e.to_string()))?;
                return Ok(view.as_array().mapv(|v| v as f64));
            }
        )*};
    }
    typed!(f64, f32, u8, u16, u32, u64, i8, i16, i32, i64);
    if let Ok(a) = arr.cast::<PyArray2<bool>>() {
        let view = a
            .try_readonly()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        return Ok(view.as_array().mapv(|v| f64::from(u8::from(v))));
    }
    let kind = arr.dtype().kind();
    if kind == b'c' {
        return Err(PyTypeError::new_err(format!(
            "{name}: complex values are not light; pass abs(x) or x.real"
        )));
    }
    // Other real dtypes (float16, long double): NumPy converts them.
    if matches!(kind, b'f' | b'i' | b'u') {
        let np = arr.py().import("numpy")?;
        let converted = np.call_method1("asarray", (arr, "float64"))?;
        if let Ok(a) = converted.cast::<PyArray2<f64>>() {
            return Ok(a.readonly().as_array().to_owned());
        }
    }
    Err(PyTypeError::new_err(format!(
        "{name}: an array of dtype {} is not an image; expected real numbers",
        arr.dtype()
    )))
}

/// The Python exception for a library error, with the command line's one-line message.
fn to_py(err: &Error) -> PyErr {
    exception(err, format_error(err))
}

fn format_error(err: &Error) -> String {
    match std::error::Error::source(err) {
        Some(source) => format!("{err}: {source}"),
        None => err.to_string(),
    }
}

fn exception(err: &Error, message: String) -> PyErr {
    match err {
        Error::Io { source, .. } | Error::Write { source, .. } => match source.kind() {
            io::ErrorKind::NotFound => PyFileNotFoundError::new_err(message),
            io::ErrorKind::PermissionDenied => PyPermissionError::new_err(message),
            io::ErrorKind::IsADirectory => PyIsADirectoryError::new_err(message),
            _ => PyOSError::new_err(message),
        },
        Error::Solver(_) | Error::Internal { .. } | Error::Plot { .. } => {
            PyRuntimeError::new_err(message)
        }
        _ => PyValueError::new_err(message),
    }
}

thread_local! {
    /// This thread's pools by size, built on first use and dropped with the thread. Each
    /// calling thread has its own, so calls from two Python threads never queue behind each
    /// other on one pool.
    static POOLS: RefCell<HashMap<usize, Arc<rayon::ThreadPool>>> = RefCell::new(HashMap::new());
}

/// The machine's cores, asked once (the question reads cgroup files: tens of microseconds).
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// A pool of all cores for default calls from a thread that is itself in a rayon pool (its
/// own one-thread pool after a `jobs=1` call): rayon would run them on that pool, one thread.
static ALL_CORES: OnceLock<Arc<rayon::ThreadPool>> = OnceLock::new();

/// The pool for `jobs` threads; `None` for the default (all cores, rayon's global pool).
fn pool(py: Python<'_>, jobs: Option<i64>) -> PyResult<Option<Arc<rayon::ThreadPool>>> {
    let Some(jobs) = jobs else {
        if rayon::current_thread_index().is_none() {
            return Ok(None);
        }
        if let Some(p) = ALL_CORES.get() {
            return Ok(Some(Arc::clone(p)));
        }
        let built = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("imgdist-all-{i}"))
            .build()
            .map_err(|e| PyOSError::new_err(format!("cannot start threads: {e}")))?;
        return Ok(Some(Arc::clone(ALL_CORES.get_or_init(|| Arc::new(built)))));
    };
    if jobs < 1 {
        return Err(PyValueError::new_err(
            "invalid --jobs: must be at least 1".to_string(),
        ));
    }
    let cores = cores();
    let most = cores * MAX_JOBS_PER_CORE;
    let mut jobs = usize::try_from(jobs).unwrap_or(usize::MAX);
    if jobs > most {
        PyErr::warn(
            py,
            &py.get_type::<PyUserWarning>(),
            &std::ffi::CString::new(format!(
                "jobs={jobs} is more than {MAX_JOBS_PER_CORE} per core; using {most} ({cores} cores)"
            ))
            .expect("no NUL in the message"),
            1,
        )?;
        jobs = most;
    }
    if let Some(p) = POOLS.with_borrow(|pools| pools.get(&jobs).cloned()) {
        return Ok(Some(p));
    }
    let builder = || {
        rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .thread_name(|i| format!("imgdist-{i}"))
    };
    // One thread: the calling thread itself, so a call hands nothing to another thread (rayon
    // keeps such a pool's small registry for the life of the process). A thread that already
    // belongs to a pool (a caller on a rayon thread) gets a pool of its own thread instead.
    let built = if jobs == 1 {
        builder()
            .use_current_thread()
            .build()
            .or_else(|_| builder().build())
    } else {
        builder().build()
    }
    .map_err(|e| PyOSError::new_err(format!("cannot start {jobs} threads: {e}")))?;
    let built = Arc::new(built);
    POOLS.with_borrow_mut(|pools| pools.insert(jobs, Arc::clone(&built)));
    Ok(Some(built))
}

/// Lets Ctrl-C stop a long computation. Python runs signal handlers only on its main thread,
/// and only with the GIL; so the thread that called takes the GIL back for a moment, at most
/// every few milliseconds, to run them: either from the library's progress reports (each EMD
/// round, each fraction of a second of sliced directions, each Sinkhorn iteration) when it
/// computes itself, or while it waits for a pool that computes (see [`detached`]). An
/// exception a handler raises (`KeyboardInterrupt`) is kept, and the computation unwinds at
/// its next progress report.
struct Interrupt {
    caller: std::thread::ThreadId,
    start: Instant,
    /// Nanoseconds after `start` of the last look at the signals.
    looked: AtomicU64,
    cancelled: AtomicBool,
    raised: Mutex<Option<PyErr>>,
}

/// The payload of the unwind that stops an interrupted computation: not a panic, so no panic
/// hook prints it.
struct Interrupted;

/// How often, at most, the calling thread runs Python's signal handlers.
const SIGNAL_CHECK: Duration = Duration::from_millis(5);

impl Interrupt {
    fn new() -> Interrupt {
        Interrupt {
            caller: std::thread::current().id(),
            start: Instant::now(),
            looked: AtomicU64::new(0),
            cancelled: AtomicBool::new(false),
            raised: Mutex::new(None),
        }
    }

    /// On the calling thread, runs the signal handlers if the last look is old enough; keeps
    /// the exception one raises and marks the computation cancelled.
    fn look(&self) {
        if std::thread::current().id() != self.caller || self.cancelled.load(Ordering::Relaxed) {
            return;
        }
        let now = self.start.elapsed().as_nanos() as u64;
        if now.saturating_sub(self.looked.load(Ordering::Relaxed)) < SIGNAL_CHECK.as_nanos() as u64
        {
            return;
        }
        self.looked.store(now, Ordering::Relaxed);
        if let Err(e) = Python::attach(|py| py.check_signals()) {
            *self.raised.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
            self.cancelled.store(true, Ordering::Relaxed);
        }
    }

    /// Where a computation may stop: unwinds it once it is cancelled.
    fn check(&self) {
        self.look();
        if self.cancelled.load(Ordering::Relaxed) {
            std::panic::resume_unwind(Box::new(Interrupted));
        }
    }
}

impl Progress for Interrupt {
    fn emd_round(&self, _: &Round) {
        self.check();
    }

    fn emd_level(&self, _: &Level) {
        self.check();
    }

    fn sliced_directions(&self, _: usize, _: usize) {
        self.check();
    }

    fn sinkhorn_iteration(&self, _: Problem, _: &Status) {
        self.check();
    }
}

/// When the calling thread waits for a pool rather than computing itself (see [`detached`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Watch {
    /// Never: the work is short or cannot stop early (the pixel-by-pixel metrics, loading).
    Never,
    /// When the work would run on another thread anyway (a pool of `jobs > 1`): one pair of
    /// `sliced` or `emd`, whose progress reports on the calling thread are otherwise enough.
    OffThread,
    /// Always, unless the calling thread is its own pool: many pairs, which the calling
    /// thread never computes itself; `sinkhorn`, whose debiased value solves its two
    /// symmetric problems side by side on the pool (`rayon::join` from a thread outside the
    /// pool waits without reporting).
    Always,
}

/// Runs `f` without the GIL, on `jobs` threads, turning a panic into an error and an interrupt
/// (see [`Interrupt`]) into the exception Python raised.
///
/// The calling thread computes itself when it can (the default pool, from a thread outside
/// any pool; or its own one-thread pool), which costs no hand-over. Otherwise, when `watch`
/// asks for it, a scoped thread hands the work to the pool while the caller waits, running
/// Python's signal handlers between waits; that costs a thread's start, tens of microseconds.
fn detached<T: Send>(
    py: Python<'_>,
    jobs: Option<i64>,
    watch: Watch,
    f: impl FnOnce(&Interrupt) -> Result<T, PyFailure> + Send,
) -> PyResult<T> {
    let pool = pool(py, jobs)?;
    let interrupt = Interrupt::new();
    let observer = &interrupt;
    let guarded =
        move || catch_panic(|| Ok(f(observer))).unwrap_or_else(|panic| Err(PyFailure::from(panic)));
    let result = py.detach(|| {
        let inline = match &pool {
            _ if watch == Watch::Never => true,
            None => watch != Watch::Always,
            Some(p) => p.current_thread_index().is_some(),
        };
        let run = || match &pool {
            Some(p) => p.install(guarded),
            None => guarded(),
        };
        if inline {
            return run();
        }
        std::thread::scope(|scope| {
            let (done, finished) = mpsc::channel::<()>();
            let worker = scope.spawn(move || {
                let out = run();
                let _ = done.send(());
                out
            });
            while let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(SIGNAL_CHECK) {
                interrupt.look();
            }
            worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    });
    if let Some(raised) = interrupt
        .raised
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
    {
        return Err(raised);
    }
    result.map_err(PyFailure::into_py)
}

/// A library error, with what it was about when the library's message does not say.
struct PyFailure {
    error: Error,
    /// Which pair, for errors of one among many.
    context: Option<String>,
    /// The input is a directory (an `IsADirectoryError`).
    directory: bool,
}

impl From<Error> for PyFailure {
    fn from(error: Error) -> Self {
        PyFailure {
            error,
            context: None,
            directory: false,
        }
    }
}

impl PyFailure {
    fn into_py(self) -> PyErr {
        let message = match &self.context {
            None => format_error(&self.error),
            Some(c) => format!("{c}: {}", format_error(&self.error)),
        };
        if self.directory {
            return PyIsADirectoryError::new_err(message);
        }
        exception(&self.error, message)
    }
}

/// How inputs load for `metrics`: the options every function takes.
fn load_options(
    metrics: &[MetricKind],
    invert: bool,
    downscale: i64,
    max_pixels: i64,
) -> PyResult<LoadOptions> {
    if max_pixels < 0 {
        return Err(PyValueError::new_err(
            "invalid --max-pixels: must not be negative",
        ));
    }
    let opts = LoadOptions {
        invert,
        // 0 and below: the library's own message ("must be at least 1").
        downscale: usize::try_from(downscale.max(0)).unwrap_or(usize::MAX),
        max_pixels: max_pixels as u64,
        // The masks are each input's, set when it loads.
        mask: None,
        // `hist` compares the pixel values, which the masses keep only when asked.
        levels: metrics.contains(&MetricKind::Hist),
    };
    opts.validate().map_err(|e| to_py(&e))?;
    Ok(opts)
}

/// The `sliced` parameters, named as the command line's options.
fn sliced_params(proj: i64, seed: i128, p: f64, angles: &str) -> PyResult<SlicedParams> {
    let seed = u64::try_from(seed).map_err(|_| {
        PyValueError::new_err(format!(
            "invalid --seed: {seed} is not a whole number from 0 to {}",
            u64::MAX
        ))
    })?;
    Ok(SlicedParams {
        // 0 and below: the library's own message ("must be at least 1").
        projections: usize::try_from(proj.max(0)).unwrap_or(usize::MAX),
        seed,
        p,
        angles: angles.parse::<Angles>().map_err(|e| to_py(&e))?,
    })
}

fn ground(name: &str) -> PyResult<Ground> {
    name.parse::<Ground>().map_err(|e| to_py(&e))
}

/// Every metric's parameters, for the functions that take them all.
#[allow(clippy::too_many_arguments)]
fn all_params(
    eps: f64,
    sigma: f64,
    proj: i64,
    seed: i128,
    p: f64,
    angles: &str,
    ground_name: &str,
    entropic: Entropic,
) -> PyResult<Params> {
    Ok(Params {
        eps,
        sigma,
        sliced: sliced_params(proj, seed, p, angles)?,
        ground: ground(ground_name)?,
        blur: entropic.blur,
        debias: entropic.debias,
        tol: entropic.tol,
        ..Params::default()
    })
}

/// The `sinkhorn` keywords of `compare` and `pairwise`.
#[derive(Clone, Copy)]
struct Entropic {
    blur: f64,
    debias: bool,
    tol: f64,
}

/// How [`detached`] watches one pair of these metrics: only `sliced`, `emd` and `sinkhorn` run
/// long enough to stop, and report progress where they may (see [`Watch`]).
fn long_running(metrics: &[MetricKind]) -> Watch {
    if metrics.contains(&MetricKind::Sinkhorn) {
        Watch::Always
    } else if metrics
        .iter()
        .any(|k| matches!(k, MetricKind::Sliced | MetricKind::Emd))
    {
        Watch::OffThread
    } else {
        Watch::Never
    }
}

/// Computes one metric on one pair, without the GIL.
fn measure(
    py: Python<'_>,
    kind: MetricKind,
    params: Params,
    pair: Pair,
    opts: LoadOptions,
    jobs: Option<i64>,
) -> PyResult<(Measurement, [Mass; 2])> {
    let metric = kind.build(&params).map_err(|e| to_py(&e))?;
    detached(py, jobs, long_running(&[kind]), move |interrupt| {
        let [a, b] = pair.load(&opts)?;
        let m = metric.compute_observed(&a, &b, interrupt)?;
        Ok((m, [a, b]))
    })
}

/// What every two-input function takes besides its metric's parameters, as given.
struct PairArgs<'a, 'py> {
    a: &'a Bound<'py, PyAny>,
    b: &'a Bound<'py, PyAny>,
    mask: Option<&'a Bound<'py, PyAny>>,
    mask_a: Option<&'a Bound<'py, PyAny>>,
    mask_b: Option<&'a Bound<'py, PyAny>>,
    invert: bool,
    downscale: i64,
    max_pixels: i64,
}

impl PairArgs<'_, '_> {
    /// One metric on the pair.
    fn measure(
        self,
        kind: MetricKind,
        params: Params,
        jobs: Option<i64>,
    ) -> PyResult<(Measurement, [Mass; 2])> {
        let opts = load_options(&[kind], self.invert, self.downscale, self.max_pixels)?;
        let pair = Pair::new(self.a, self.b, self.mask, self.mask_a, self.mask_b)?;
        measure(self.a.py(), kind, params, pair, opts, jobs)
    }
}

/// The mass of one input as a 2-D float64 array that sums to 1, read as the command line reads
/// it (an image's light, or a matrix's values), after the `downscale` block sum; the cells
/// `mask` ignores (nonzero) hold no mass.
#[pyfunction]
#[pyo3(signature = (input, *, mask=None, invert=false, downscale=1, max_pixels=67108864, jobs=None))]
fn load<'py>(
    py: Python<'py>,
    input: &Bound<'py, PyAny>,
    mask: Option<&Bound<'py, PyAny>>,
    invert: bool,
    downscale: i64,
    max_pixels: i64,
    jobs: Option<i64>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let opts = load_options(&[], invert, downscale, max_pixels)?;
    let input = self::input(input, "input")?;
    let mask = mask.map(|m| self::input(m, "mask")).transpose()?;
    let mass = detached(py, jobs, Watch::Never, move |_| {
        let mask = read_mask(mask, opts.max_pixels)?;
        input.load(&LoadOptions { mask, ..opts })
    })?;
    Ok(mass.weights().clone().into_pyarray(py))
}

macro_rules! pixel_metric {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[pyfunction]
        #[pyo3(signature = (a, b, *, mask=None, mask_a=None, mask_b=None, invert=false, downscale=1, max_pixels=67108864, jobs=None))]
        #[allow(clippy::too_many_arguments)]
        fn $name<'py>(
            a: &Bound<'py, PyAny>,
            b: &Bound<'py, PyAny>,
            mask: Option<&Bound<'py, PyAny>>,
            mask_a: Option<&Bound<'py, PyAny>>,
            mask_b: Option<&Bound<'py, PyAny>>,
            invert: bool,
            downscale: i64,
            max_pixels: i64,
            jobs: Option<i64>,
        ) -> PyResult<f64> {
            let args = PairArgs { a, b, mask, mask_a, mask_b, invert, downscale, max_pixels };
            Ok(args.measure($kind, Params::default(), jobs)?.0.value)
        }
    };
}

pixel_metric!(
    /// Total variation distance ½ Σ |a − b| between the two masses, in [0, 1].
    tv,
    MetricKind::Tv
);
pixel_metric!(
    /// Jensen–Shannon divergence in nats, in [0, ln 2].
    js,
    MetricKind::Js
);
pixel_metric!(
    /// Hellinger distance, in [0, 1].
    hellinger,
    MetricKind::Hellinger
);
pixel_metric!(
    /// W₁ between the two inputs' distributions of pixel values (each pixel one unit of weight),
    /// in units of the full scale: values on the [0, 1] scale of an image's format, an array's
    /// values as given. Any two sizes; where the pixels are does not matter.
    hist,
    MetricKind::Hist
);

/// A pixel-by-pixel metric with one parameter, a field of [`Params`] named as the keyword.
macro_rules! pixel_metric_with {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $param:ident = $default:tt) => {
        $(#[$doc])*
        #[pyfunction]
        #[pyo3(signature = (a, b, *, $param=$default, mask=None, mask_a=None, mask_b=None, invert=false, downscale=1, max_pixels=67108864, jobs=None))]
        #[allow(clippy::too_many_arguments)]
        fn $name<'py>(
            a: &Bound<'py, PyAny>,
            b: &Bound<'py, PyAny>,
            $param: f64,
            mask: Option<&Bound<'py, PyAny>>,
            mask_a: Option<&Bound<'py, PyAny>>,
            mask_b: Option<&Bound<'py, PyAny>>,
            invert: bool,
            downscale: i64,
            max_pixels: i64,
            jobs: Option<i64>,
        ) -> PyResult<f64> {
            let params = Params { $param, ..Params::default() };
            let args = PairArgs { a, b, mask, mask_a, mask_b, invert, downscale, max_pixels };
            Ok(args.measure($kind, params, jobs)?.0.value)
        }
    };
}

pixel_metric_with!(
    /// Kullback–Leibler divergence KL(a‖b) in nats; `eps` is added to every cell of both
    /// masses before renormalising (0: infinite where b has no mass but a has).
    kl,
    MetricKind::Kl,
    eps = 0.0
);
pixel_metric_with!(
    /// L2 distance between the masses blurred by a Gaussian of standard deviation `sigma`
    /// pixels.
    blur_l2,
    MetricKind::BlurL2,
    sigma = 2.0
);

/// Sliced Wasserstein distance of order `p` over `proj` directions drawn with `seed`
/// (`angles`: "uniform" or "random"), in pixels. With `return_profile=True`, also a dict with
/// the directions' `angles`, the distance along each (`per_direction`) and the `std_error`.
#[pyfunction]
#[pyo3(signature = (a, b, *, proj=200, seed=0, p=1.0, angles="uniform", return_profile=false, mask=None, mask_a=None, mask_b=None, invert=false, downscale=1, max_pixels=67108864, jobs=None))]
#[allow(clippy::too_many_arguments)]
fn sliced<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    proj: i64,
    seed: i128,
    p: f64,
    angles: &str,
    return_profile: bool,
    mask: Option<&Bound<'py, PyAny>>,
    mask_a: Option<&Bound<'py, PyAny>>,
    mask_b: Option<&Bound<'py, PyAny>>,
    invert: bool,
    downscale: i64,
    max_pixels: i64,
    jobs: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    let params = Params {
        sliced: sliced_params(proj, seed, p, angles)?,
        ..Params::default()
    };
    let args = PairArgs {
        a,
        b,
        mask,
        mask_a,
        mask_b,
        invert,
        downscale,
        max_pixels,
    };
    let (m, _) = args.measure(MetricKind::Sliced, params, jobs)?;
    let value = m.value.into_pyobject(py)?.into_any();
    if !return_profile {
        return Ok(value);
    }
    let Extras::Sliced(profile) = &m.extras else {
        return Err(PyRuntimeError::new_err(
            "internal error: sliced returned no profile",
        ));
    };
    let std_error = match &m.details {
        imgdist::metric::Details::Sliced(d) => d.std_error,
        _ => f64::NAN,
    };
    let out = PyDict::new(py);
    out.set_item("angles", profile.angles.clone().into_pyarray(py))?;
    out.set_item(
        "per_direction",
        profile.per_direction.clone().into_pyarray(py),
    )?;
    out.set_item("std_error", std_error)?;
    Ok((value, out).into_pyobject(py)?.into_any())
}

/// The plan and duals of an exact EMD on the two grids.
struct GridPlan {
    a_rows: Vec<i64>,
    a_cols: Vec<i64>,
    b_rows: Vec<i64>,
    b_cols: Vec<i64>,
    mass: Vec<f64>,
    u: Array2<f64>,
    v: Array2<f64>,
}

/// The grid cell of each support point (the solver speaks of coordinates, not cells).
fn cells(points: &[(f64, f64)], mass: &Mass) -> Vec<(usize, usize)> {
    let at = |coords: &[f64], x: f64| coords.partition_point(|&c| c < x);
    points
        .iter()
        .map(|&(r, c)| (at(mass.row_coords(), r), at(mass.col_coords(), c)))
        .collect()
}

impl GridPlan {
    fn new(s: &Sparse, a: &Mass, b: &Mass) -> GridPlan {
        let (sources, targets) = (cells(&s.sources, a), cells(&s.targets, b));
        let duals = |cells: &[(usize, usize)], pot: &[f64], m: &Mass| {
            let mut grid = Array2::from_elem(m.shape(), f64::NAN);
            for (&cell, &p) in cells.iter().zip(pot) {
                grid[cell] = p;
            }
            grid
        };
        let plan = &s.transport.plan;
        let index = |v: usize| v as i64;
        GridPlan {
            a_rows: plan.iter().map(|&(i, _, _)| index(sources[i].0)).collect(),
            a_cols: plan.iter().map(|&(i, _, _)| index(sources[i].1)).collect(),
            b_rows: plan.iter().map(|&(_, j, _)| index(targets[j].0)).collect(),
            b_cols: plan.iter().map(|&(_, j, _)| index(targets[j].1)).collect(),
            mass: plan.iter().map(|&(_, _, f)| f).collect(),
            u: duals(&sources, &s.transport.u, a),
            v: duals(&targets, &s.transport.v, b),
        }
    }
}

/// Exact earth mover's distance with ground cost `ground` ("euclidean", "sqeuclidean",
/// "cityblock"), in pixels: W₁, or W₂ (the square root of the optimal cost) for sqeuclidean.
/// With `return_plan=True`, also a dict with an optimal plan in COO form (`a_rows`, `a_cols`,
/// `b_rows`, `b_cols`, `mass`), the duals `u` and `v` on the two grids (NaN where a side has no
/// mass), the plan's `cost` (squared pixels for sqeuclidean), and the certificate's
/// `max_violation` and `gap`.
#[pyfunction]
#[pyo3(signature = (a, b, *, ground="euclidean", return_plan=false, mask=None, mask_a=None, mask_b=None, invert=false, downscale=1, max_pixels=67108864, jobs=None))]
#[allow(clippy::too_many_arguments)]
fn emd<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    ground: &str,
    return_plan: bool,
    mask: Option<&Bound<'py, PyAny>>,
    mask_a: Option<&Bound<'py, PyAny>>,
    mask_b: Option<&Bound<'py, PyAny>>,
    invert: bool,
    downscale: i64,
    max_pixels: i64,
    jobs: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    let params = Params {
        ground: self::ground(ground)?,
        emd_plan: if return_plan {
            EmdPlan::Solve
        } else {
            EmdPlan::None
        },
        ..Params::default()
    };
    let args = PairArgs {
        a,
        b,
        mask,
        mask_a,
        mask_b,
        invert,
        downscale,
        max_pixels,
    };
    let (m, [a, b]) = args.measure(MetricKind::Emd, params, jobs)?;
    let value = m.value.into_pyobject(py)?.into_any();
    if !return_plan {
        return Ok(value);
    }
    let Extras::Emd(Ok(sparse)) = &m.extras else {
        return Err(PyRuntimeError::new_err(
            "internal error: emd returned no plan",
        ));
    };
    let plan = py.detach(|| GridPlan::new(sparse, &a, &b));
    let out = PyDict::new(py);
    out.set_item("a_rows", plan.a_rows.into_pyarray(py))?;
    out.set_item("a_cols", plan.a_cols.into_pyarray(py))?;
    out.set_item("b_rows", plan.b_rows.into_pyarray(py))?;
    out.set_item("b_cols", plan.b_cols.into_pyarray(py))?;
    out.set_item("mass", plan.mass.into_pyarray(py))?;
    out.set_item("u", plan.u.into_pyarray(py))?;
    out.set_item("v", plan.v.into_pyarray(py))?;
    if let imgdist::metric::Details::Emd(d) = &m.details {
        out.set_item("cost", d.cost)?;
        out.set_item("max_violation", d.certificate.max_violation)?;
        out.set_item("gap", d.certificate.gap)?;
    }
    Ok((value, out).into_pyobject(py)?.into_any())
}

/// The Sinkhorn divergence in pixels: √S_ε with S_ε = OT_ε(a, b) − ½ OT_ε(a, a) − ½ OT_ε(b, b),
/// OT_ε the entropic transport cost with squared euclidean cost in pixels² and ε = `blur`²
/// (√OT_ε with `debias=False`), iterated until the plan's marginals are within `tol` (L1).
/// Comparable to `emd(..., ground="sqeuclidean")`, which it approaches as `blur` shrinks.
#[pyfunction]
#[pyo3(signature = (a, b, *, blur=1.0, debias=true, tol=1e-9, mask=None, mask_a=None, mask_b=None, invert=false, downscale=1, max_pixels=67108864, jobs=None))]
#[allow(clippy::too_many_arguments)]
fn sinkhorn<'py>(
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    blur: f64,
    debias: bool,
    tol: f64,
    mask: Option<&Bound<'py, PyAny>>,
    mask_a: Option<&Bound<'py, PyAny>>,
    mask_b: Option<&Bound<'py, PyAny>>,
    invert: bool,
    downscale: i64,
    max_pixels: i64,
    jobs: Option<i64>,
) -> PyResult<f64> {
    let params = Params {
        blur,
        debias,
        tol,
        ..Params::default()
    };
    let args = PairArgs {
        a,
        b,
        mask,
        mask_a,
        mask_b,
        invert,
        downscale,
        max_pixels,
    };
    Ok(args.measure(MetricKind::Sinkhorn, params, jobs)?.0.value)
}

/// The metrics a `metrics` argument names: a comma-separated string (`"all"` for every
/// metric) or a sequence of names.
fn metric_list(metrics: &Bound<'_, PyAny>) -> PyResult<Vec<MetricKind>> {
    let list = if let Ok(s) = metrics.cast::<PyString>() {
        s.to_str()?.to_string()
    } else {
        let names: Vec<String> = metrics.extract().map_err(|_| {
            PyTypeError::new_err("metrics: expected a string such as \"tv,emd\" or a list of names")
        })?;
        names.join(",")
    };
    MetricKind::parse_list(&list).map_err(|e| to_py(&e))
}

/// Computes several metrics on one pair and returns the command line's JSON report as a dict:
/// `version`, `inputs`, `options`, `metrics` (name → value, finite, params, details, pass) and
/// `pass`. `max` maps metric names to thresholds (the report's `pass`); `names` label the
/// inputs (default: the paths, or "a" and "b"). An input loaded with a mask has `mask`
/// (`path`, `ignored`) in `inputs`, and `options` names a mask the two inputs share.
#[pyfunction]
#[pyo3(signature = (a, b, metrics=None, *, eps=0.0, sigma=2.0, proj=200, seed=0, p=1.0, angles="uniform", ground="euclidean", blur=1.0, debias=true, tol=1e-9, max=None, names=None, mask=None, mask_a=None, mask_b=None, invert=false, downscale=1, max_pixels=67108864, jobs=None))]
#[allow(clippy::too_many_arguments)]
fn compare<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    metrics: Option<&Bound<'py, PyAny>>,
    eps: f64,
    sigma: f64,
    proj: i64,
    seed: i128,
    p: f64,
    angles: &str,
    ground: &str,
    blur: f64,
    debias: bool,
    tol: f64,
    max: Option<&Bound<'py, PyDict>>,
    names: Option<(String, String)>,
    mask: Option<&Bound<'py, PyAny>>,
    mask_a: Option<&Bound<'py, PyAny>>,
    mask_b: Option<&Bound<'py, PyAny>>,
    invert: bool,
    downscale: i64,
    max_pixels: i64,
    jobs: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    let entropic = Entropic { blur, debias, tol };
    let params = all_params(eps, sigma, proj, seed, p, angles, ground, entropic)?;
    let mut maxima = Vec::new();
    for (name, threshold) in max.map(|m| m.iter()).into_iter().flatten() {
        let (name, threshold): (String, f64) = (name.extract()?, threshold.extract()?);
        let kind = name.parse::<MetricKind>().map_err(|e| to_py(&e))?;
        if threshold.is_nan() {
            return Err(PyValueError::new_err(format!(
                "invalid --max '{name}={threshold}': '{threshold}' is not a number"
            )));
        }
        maxima.push((kind, threshold));
    }
    let named = metrics.map(metric_list).transpose()?;
    let metrics = Settings::metrics_for(named, &maxima).map_err(|e| to_py(&e))?;
    let settings = Settings {
        load: load_options(&metrics, invert, downscale, max_pixels)?,
        metrics,
        maxima,
        params,
    };
    settings.validate().map_err(|e| to_py(&e))?;
    let pair = Pair::new(a, b, mask, mask_a, mask_b)?;
    let [a, b] = &pair.inputs;
    let names = names.unwrap_or_else(|| (a.name(), b.name()));
    let watch = long_running(&settings.metrics);
    let json = detached(py, jobs, watch, move |interrupt| {
        let [ma, mb] = pair.load(&settings.load)?;
        let names = [names.0.as_str(), names.1.as_str()];
        let report = settings.report_observed(&settings.params, names, &ma, &mb, interrupt)?;
        Ok(serde_json::to_string(&report.to_json()).expect("a report serializes"))
    })?;
    py.import("json")?.call_method1("loads", (json,))
}

/// The square matrix of one metric between every two inputs, computed in parallel: entry
/// `[i, j]` for `i < j` is the metric of `(inputs[i], inputs[j])` with the same parameters (and
/// the same seed for every pair), mirrored to `[j, i]` (`kl` is computed both ways); 0 on the
/// diagonal. Each input loads once; `mask` applies to every input.
#[pyfunction]
#[pyo3(signature = (inputs, metric="sliced", *, eps=0.0, sigma=2.0, proj=200, seed=0, p=1.0, angles="uniform", ground="euclidean", blur=1.0, debias=true, tol=1e-9, mask=None, invert=false, downscale=1, max_pixels=67108864, jobs=None))]
#[allow(clippy::too_many_arguments)]
fn pairwise<'py>(
    py: Python<'py>,
    inputs: &Bound<'py, PyAny>,
    metric: &str,
    eps: f64,
    sigma: f64,
    proj: i64,
    seed: i128,
    p: f64,
    angles: &str,
    ground: &str,
    blur: f64,
    debias: bool,
    tol: f64,
    mask: Option<&Bound<'py, PyAny>>,
    invert: bool,
    downscale: i64,
    max_pixels: i64,
    jobs: Option<i64>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let entropic = Entropic { blur, debias, tol };
    let params = all_params(eps, sigma, proj, seed, p, angles, ground, entropic)?;
    let kind = metric.parse::<MetricKind>().map_err(|e| to_py(&e))?;
    let built = kind.build(&params).map_err(|e| to_py(&e))?;
    let mut opts = load_options(&[kind], invert, downscale, max_pixels)?;
    let mask = mask.map(|m| input(m, "mask")).transpose()?;
    let converted = inputs
        .try_iter()
        .map_err(|_| PyTypeError::new_err("inputs: expected a sequence of inputs"))?
        .enumerate()
        .map(|(i, obj)| input(&obj?, &format!("inputs[{i}]")))
        .collect::<PyResult<Vec<Input>>>()?;
    let n = converted.len();
    let symmetric = kind != MetricKind::Kl;
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .filter(|&(i, j)| if symmetric { i < j } else { i != j })
        .collect();
    let values = detached(py, jobs, Watch::Always, move |interrupt| {
        opts.mask = read_mask(mask, opts.max_pixels)?;
        let masses = converted
            .into_par_iter()
            .map(|input| input.load(&opts))
            .collect::<Result<Vec<Mass>, PyFailure>>()?;
        // Every pair's outcome, then the first failure in pair order: the error raised does
        // not depend on which thread failed first.
        pairs
            .par_iter()
            .map(|&(i, j)| {
                interrupt.check();
                built
                    .compute_observed(&masses[i], &masses[j], interrupt)
                    .map(|m| m.value)
                    .map_err(|error| PyFailure {
                        context: Some(format!("pair ({i}, {j})")),
                        ..PyFailure::from(error)
                    })
            })
            .collect::<Vec<Result<f64, PyFailure>>>()
            .into_iter()
            .collect::<Result<Vec<f64>, PyFailure>>()
            .map(|values| (pairs, values))
    })?;
    let mut matrix = Array2::<f64>::zeros((n, n));
    let (pairs, values) = values;
    for (&(i, j), &v) in pairs.iter().zip(&values) {
        matrix[[i, j]] = v;
        if symmetric {
            matrix[[j, i]] = v;
        }
    }
    Ok(matrix.into_pyarray(py))
}

/// The `sliced` seed `imgdist batch` gives the pair with this id (for `--all-pairs`, the two
/// paths joined by `|`) when run with `--seed seed`.
#[pyfunction]
fn pair_seed(seed: u64, id: &str) -> u64 {
    imgdist::batch::pair_seed(seed, id)
}

/// imgdist's native module; `import imgdist` is its public face.
#[pymodule]
fn _imgdist(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_MAX_PIXELS", DEFAULT_MAX_PIXELS)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(tv, m)?)?;
    m.add_function(wrap_pyfunction!(kl, m)?)?;
    m.add_function(wrap_pyfunction!(js, m)?)?;
    m.add_function(wrap_pyfunction!(hellinger, m)?)?;
    m.add_function(wrap_pyfunction!(blur_l2, m)?)?;
    m.add_function(wrap_pyfunction!(hist, m)?)?;
    m.add_function(wrap_pyfunction!(sliced, m)?)?;
    m.add_function(wrap_pyfunction!(emd, m)?)?;
    m.add_function(wrap_pyfunction!(sinkhorn, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(pairwise, m)?)?;
    m.add_function(wrap_pyfunction!(pair_seed, m)?)?;
    Ok(())
}
