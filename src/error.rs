//! The library's error type.

use std::fmt;
use std::path::PathBuf;

/// Everything that can stop imgdist from computing a distance.
///
/// Every variant means "could not compute" (exit code 2 on the command line).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Reading an input failed.
    Io {
        /// What was being read (a path, or `-` for standard input).
        source_name: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The input could not be decoded as an image or numeric matrix.
    Decode {
        /// What was being decoded.
        source_name: String,
        /// Why decoding failed.
        reason: String,
    },
    /// The input is larger than the configured pixel limit.
    TooLarge {
        /// What was being read.
        source_name: String,
        /// The input's pixel count.
        pixels: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The input carries no mass (all zero, e.g. an all-black image).
    ZeroMass {
        /// What was being read.
        source_name: String,
        /// The mask whose ignored pixels held all the input's light, if one applied.
        mask: Option<String>,
    },
    /// A mask does not have its input's size.
    MaskSize {
        /// The mask's name.
        mask: String,
        /// The mask's size as (rows, columns).
        mask_shape: (usize, usize),
        /// The input it was to apply to.
        source_name: String,
        /// The input's size as (rows, columns).
        shape: (usize, usize),
    },
    /// A pixel-by-pixel metric was asked to compare grids of different sizes.
    SizeMismatch {
        /// The metric that needs equal sizes.
        metric: &'static str,
        /// Grid size of the first input as (rows, columns).
        a: (usize, usize),
        /// Grid size of the second input as (rows, columns).
        b: (usize, usize),
    },
    /// A parameter is out of its valid range.
    InvalidParameter {
        /// The parameter's name as the user types it.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A metric name was not recognised.
    UnknownMetric {
        /// The name as given.
        name: String,
        /// The names that are recognised, in the order the message lists them.
        known: Vec<&'static str>,
    },
    /// The problem is larger than a solver's documented limit.
    ProblemTooLarge {
        /// What exceeded the limit, with a hint what to do.
        reason: String,
    },
    /// A solver failed to reach optimality (e.g. it hit its iteration cap). The message
    /// includes the solver's own, so [`std::error::Error::source`] does not repeat it.
    Solver(crate::ot::Error),
    /// A picture could not be drawn.
    Plot {
        /// Why drawing failed.
        reason: String,
    },
    /// Writing an output file failed.
    Write {
        /// The file being written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A bug: the computation panicked. [`catch_panic`] turns the panic into this error.
    Internal {
        /// The panic's message.
        message: String,
    },
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { source_name, .. } => write!(f, "{source_name}: cannot read"),
            Error::Decode {
                source_name,
                reason,
            } => write!(f, "{source_name}: {reason}"),
            Error::TooLarge {
                source_name,
                pixels,
                limit,
            } => write!(
                f,
                "{source_name}: {pixels} pixels exceed the limit of {limit} (raise it with --max-pixels)"
            ),
            Error::ZeroMass {
                source_name,
                mask: None,
            } => write!(
                f,
                "{source_name}: the input has zero total mass (all pixels are 0); nothing to compare"
            ),
            Error::ZeroMass {
                source_name,
                mask: Some(mask),
            } => write!(
                f,
                "{source_name}: the input has zero total mass outside mask {mask} (every pixel it \
                 does not ignore is 0); nothing to compare"
            ),
            Error::MaskSize {
                mask,
                mask_shape,
                source_name,
                shape,
            } => write!(
                f,
                "mask {mask} is {}x{} pixels but {source_name} is {}x{} (rows x columns); a mask must have its input's size",
                mask_shape.0, mask_shape.1, shape.0, shape.1
            ),
            Error::SizeMismatch { metric, a, b } => write!(
                f,
                "metric {metric} compares pixel by pixel and needs equal sizes, but the grids are {}x{} and {}x{} (rows x columns)",
                a.0, a.1, b.0, b.1
            ),
            Error::InvalidParameter { name, reason } => write!(f, "invalid {name}: {reason}"),
            Error::UnknownMetric { name, known } => {
                write!(f, "unknown metric '{name}' (known: {})", known.join(", "))
            }
            Error::ProblemTooLarge { reason } => write!(f, "{reason}"),
            Error::Solver(e) => write!(f, "solver failed: {e}"),
            Error::Plot { reason } => write!(f, "cannot draw the picture: {reason}"),
            Error::Write { path, .. } => write!(f, "{}: cannot write", path.display()),
            Error::Internal { message } => write!(f, "internal error: {message}"),
        }
    }
}

impl From<crate::ot::Error> for Error {
    fn from(e: crate::ot::Error) -> Self {
        Error::Solver(e)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Runs `f`, turning a panic inside it (on this thread or on a thread of a parallel section it
/// started) into [`Error::Internal`] with the panic's message. The panic still goes through
/// the panic hook (which prints it, unless the program installed a quieter one).
///
/// # Errors
/// What `f` returns, or [`Error::Internal`] if it panicked.
pub fn catch_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        Err(Error::Internal {
            message: panic_message(payload.as_ref()),
        })
    })
}

thread_local! {
    /// How many [`catch_input_panic`] sections this thread is inside.
    static INPUT_SECTIONS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs `f`, code of another crate that reads an input (an image decoder), turning a panic
/// inside it into `Err` with the panic's message: such a panic means malformed input, and the
/// caller makes it that input's [`Error::Decode`]. While `f` runs, [`panic_is_input_error`] is
/// true on this thread.
pub(crate) fn catch_input_panic<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    INPUT_SECTIONS.with(|n| n.set(n.get() + 1));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    INPUT_SECTIONS.with(|n| n.set(n.get() - 1));
    out.map_err(|payload| panic_message(payload.as_ref()))
}

/// For a panic hook: whether the panic in progress on this thread is one the library turns
/// into an input's [`Error::Decode`] (an image decoder failing on malformed data) rather than
/// a bug. The error keeps the panic's message, so a hook may ignore such a panic: neither
/// print it nor record it as the place of a bug.
///
/// It is true only on the thread that runs the decoder: a panic on a thread the decoder starts
/// itself is not one the library catches.
pub fn panic_is_input_error() -> bool {
    INPUT_SECTIONS.with(|n| n.get() > 0)
}

/// The text of a panic's payload (`panic!("…")` carries a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with no message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ot;

    fn quiet<T>(f: impl FnOnce() -> T) -> T {
        // The default hook would print each expected panic into the test output.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let out = f();
        std::panic::set_hook(hook);
        out
    }

    #[test]
    fn panics_become_internal_errors_with_their_message() {
        let caught = quiet(|| {
            [
                catch_panic::<()>(|| panic!("plain")),
                catch_panic::<()>(|| panic!("formatted {}", 7)),
                // A panic on a worker thread of a parallel section reaches the caller.
                catch_panic(|| {
                    use rayon::prelude::*;
                    (0..64u32)
                        .into_par_iter()
                        .for_each(|i| assert!(i != 40, "in a worker"));
                    Ok(())
                }),
            ]
        });
        let texts: Vec<String> = caught
            .iter()
            .map(|r| r.as_ref().unwrap_err().to_string())
            .collect();
        assert_eq!(
            texts,
            [
                "internal error: plain",
                "internal error: formatted 7",
                "internal error: in a worker"
            ]
        );
        assert_eq!(catch_panic(|| Ok(3)).unwrap(), 3);
        assert!(matches!(
            catch_panic::<()>(|| Err(Error::ZeroMass {
                source_name: "x".into(),
                mask: None,
            })),
            Err(Error::ZeroMass { .. })
        ));
    }

    /// Solver errors read as they did when the solvers built `Error::Solver` themselves.
    #[test]
    fn solver_errors_keep_their_text() {
        let text = |e: ot::Error| Error::from(e).to_string();
        assert_eq!(
            text(ot::Error::PivotCap { cap: 1 }),
            "solver failed: network simplex reached its cap of 1 pivots before optimality"
        );
        assert_eq!(
            text(ot::Error::Infeasible { unrouted: 0.5 }),
            "solver failed: infeasible supplies: 5e-1 units of flow have no path (unequal totals?)"
        );
        assert_eq!(
            text(ot::Error::RoundCap { rounds: 64 }),
            "solver failed: column generation still found violated pairs after 64 rounds"
        );
    }
}
