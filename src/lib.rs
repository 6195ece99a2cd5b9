//! imgdist measures how different two images are by treating each one as a distribution of
//! light (mass) over its pixel grid.
//!
//! - [`mod@load`] turns files, standard input or numeric matrices into a [`Mass`];
//! - [`metric`] holds the distances: total variation, KL / JS / Hellinger, Gaussian-blurred L2,
//!   sliced Wasserstein;
//! - [`ot`] holds the transport solvers, which know nothing about images;
//! - [`report`] gathers the results and writes them as text or JSON.
//!
//! ```
//! use imgdist::{Mass, metric::{MetricKind, Params}};
//! use ndarray::array;
//!
//! // Two 2×2 "images": a bright top-left pixel versus a bright bottom-right pixel.
//! let a = Mass::from_values(&array![[4.0, 0.0], [0.0, 0.0]], 1, "a")?;
//! let b = Mass::from_values(&array![[0.0, 0.0], [0.0, 4.0]], 1, "b")?;
//! let params = Params::default();
//! let results = imgdist::compare(&a, &b, &[MetricKind::Tv, MetricKind::Hellinger], &params)?;
//! assert_eq!(results[0].value, 1.0); // disjoint supports
//! # Ok::<(), imgdist::Error>(())
//! ```
#![deny(missing_docs)]

pub mod error;
pub mod load;
pub mod mass;
pub mod metric;
pub mod ot;
pub mod report;

pub use error::{Error, Result};
pub use load::{LoadOptions, Source, load};
pub use mass::Mass;
pub use metric::{Measurement, Metric, MetricKind, Params};

/// Computes each metric for the pair `(a, b)`, in the order given.
///
/// # Errors
/// The first metric that fails (invalid parameter, size mismatch, solver failure) stops the run.
pub fn compare(
    a: &Mass,
    b: &Mass,
    metrics: &[MetricKind],
    params: &Params,
) -> Result<Vec<Measurement>> {
    let built = metrics
        .iter()
        .map(|k| k.build(params))
        .collect::<Result<Vec<_>>>()?;
    built.iter().map(|m| m.compute(a, b)).collect()
}
