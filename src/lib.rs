//! imgdist measures how different two images are by treating each one as a distribution of
//! light (mass) over its pixel grid.
//!
//! - [`mod@load`] turns files, standard input or numeric matrices into a [`Mass`];
//! - [`metric`] holds the distances: total variation, KL / JS / Hellinger, Gaussian-blurred L2,
//!   sliced Wasserstein;
//! - [`ot`] holds the transport solvers, which know nothing about images;
//! - [`report`] gathers the results and writes them as text or JSON;
//! - [`plot`] draws them: where two images differ and where their mass moves, and distance
//!   matrices;
//! - [`batch`] runs many pairs in parallel (manifests, all pairs, one against many), decoding
//!   each input once, with shards and resumption.
//! - [`matrix`] holds one metric over every pair of a list of inputs (what batch mode's
//!   `--matrix` writes and [`plot`] draws).
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

pub mod batch;
pub mod error;
pub mod files;
pub mod load;
pub mod mask;
pub mod mass;
pub mod matrix;
pub mod metric;
pub mod ot;
pub mod plot;
pub mod report;

pub use error::{Error, Result};
pub use load::{LoadOptions, Source, load};
pub use mask::Mask;
pub use mass::Mass;
pub use metric::{Measurement, Metric, MetricKind, Params};

use report::{InputInfo, MetricResult, Report};

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

/// What to compute for a pair: the metrics, their `--max` thresholds, how inputs are loaded, and
/// the metric parameters. The single-pair command and batch mode share it.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Metrics in the order the report lists them. Default: [`MetricKind::DEFAULT`].
    pub metrics: Vec<MetricKind>,
    /// `(metric, threshold)` pairs; the last one given for a metric applies. Default: none.
    pub maxima: Vec<(MetricKind, f64)>,
    /// How inputs become masses. Default: [`LoadOptions::default`].
    pub load: LoadOptions,
    /// Parameters of the metrics. Default: [`Params::default`].
    pub params: Params,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            metrics: MetricKind::DEFAULT.to_vec(),
            maxima: Vec::new(),
            load: LoadOptions::default(),
            params: Params::default(),
        }
    }
}

impl Settings {
    /// The metrics a run computes: those `named`; without names, those `maxima` name (in their
    /// order), else [`MetricKind::DEFAULT`].
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`--max`) when a threshold names a metric the run does not
    /// compute.
    pub fn metrics_for(
        named: Option<Vec<MetricKind>>,
        maxima: &[(MetricKind, f64)],
    ) -> Result<Vec<MetricKind>> {
        let metrics = match named {
            Some(list) => list,
            None if !maxima.is_empty() => {
                let mut v: Vec<MetricKind> = Vec::new();
                for (k, _) in maxima {
                    if !v.contains(k) {
                        v.push(*k);
                    }
                }
                v
            }
            None => MetricKind::DEFAULT.to_vec(),
        };
        if let Some((k, _)) = maxima.iter().find(|(k, _)| !metrics.contains(k)) {
            return Err(Error::InvalidParameter {
                name: "--max",
                reason: format!("names metric '{k}', which --metric does not compute"),
            });
        }
        Ok(metrics)
    }

    /// Checks every parameter the chosen metrics use, before any input is read.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        self.load.validate()?;
        for k in &self.metrics {
            k.build(&self.params)?;
        }
        Ok(())
    }

    /// Compares two loaded inputs with the metric parameters `params` (usually `self.params`;
    /// batch mode passes a per-pair seed) and gathers the report. `names` label the inputs.
    ///
    /// # Errors
    /// As [`Settings::report_observed`].
    pub fn report(&self, params: &Params, names: [&str; 2], a: &Mass, b: &Mass) -> Result<Report> {
        self.report_observed(params, names, a, b, &())
    }

    /// [`Settings::report`], telling `progress` how long computations advance.
    ///
    /// # Errors
    /// The first metric that fails (invalid parameter, size mismatch, solver failure), or
    /// [`Error::Internal`] if a metric panicked (a bug): no panic escapes.
    pub fn report_observed(
        &self,
        params: &Params,
        names: [&str; 2],
        a: &Mass,
        b: &Mass,
        progress: &dyn metric::Progress,
    ) -> Result<Report> {
        let mut metrics = Vec::with_capacity(self.metrics.len());
        for kind in &self.metrics {
            let metric = kind.build(params)?;
            let measurement = error::catch_panic(|| metric.compute_observed(a, b, progress))?;
            let max = self
                .maxima
                .iter()
                .rev()
                .find(|(k, _)| k == kind)
                .map(|(_, v)| *v);
            metrics.push(MetricResult {
                kind: *kind,
                measurement,
                max,
            });
        }
        Ok(Report {
            inputs: [InputInfo::new(names[0], a), InputInfo::new(names[1], b)],
            downscale: self.load.downscale,
            invert: self.load.invert,
            metrics,
        })
    }
}
