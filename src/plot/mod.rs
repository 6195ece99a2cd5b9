//! Pictures: where two images differ and where their mass moves, and the distance matrix of an
//! all-pairs run.
//!
//! - [`pair_picture`] draws A and B as mass heatmaps on one colour scale, the signed
//!   difference p − q on a diverging scale and, when the report has them, the `emd` transport
//!   plan as arrows between blocks of cells and the `sliced` distance `W_p(θ)` against the
//!   direction θ. [`PairLayout`] says where each panel sits.
//! - [`matrix_picture`] draws a [`crate::matrix::Matrix`] as a labelled heatmap, in input order
//!   or with similar inputs side by side ([`cluster_order`]).
//!
//! The pictures are drawn with `plotters` into memory and written as PNG. Text uses a font
//! compiled into the library (DejaVu Sans, cut to Latin, Greek and symbols), so nothing is
//! needed from the system at run time.
//!
//! ```
//! use imgdist::{Mass, MetricKind, Settings};
//! use imgdist::plot::{PairLayout, pair_picture};
//! use ndarray::array;
//!
//! let a = Mass::from_values(&array![[4.0, 0.0], [0.0, 1.0]], 1, "a")?;
//! let b = Mass::from_values(&array![[1.0, 0.0], [0.0, 4.0]], 1, "b")?;
//! let settings = Settings { metrics: vec![MetricKind::Tv, MetricKind::Sliced], ..Settings::default() };
//! let report = settings.report(&settings.params, ["a", "b"], &a, &b)?;
//! let picture = pair_picture(&a, &b, &report)?;
//! let layout = PairLayout::for_metrics(&settings.metrics);
//! assert_eq!(picture.dimensions(), (layout.width, layout.height));
//! # Ok::<(), imgdist::Error>(())
//! ```

use std::io;
use std::path::Path;

use image::RgbImage;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};

use crate::error::{Error, Result};

mod draw;
mod matrix;
mod pair;

pub use matrix::{MatrixOrder, cluster_order, matrix_picture, write_matrix_picture};
pub use pair::{PairLayout, Panel, Rect, pair_picture, write_pair_picture};

/// Checks, before any work, that a picture can be written under this name: it must end in
/// `.png`. `option` names the option in the message.
///
/// # Errors
/// [`Error::InvalidParameter`] for any other name.
pub fn check_png_path(path: &Path, option: &'static str) -> Result<()> {
    let png = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if png {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: option,
            reason: format!(
                "'{}': pictures are PNG files; end the name in .png",
                path.display()
            ),
        })
    }
}

/// Writes a picture to `path` as PNG, whole or not at all
/// ([`crate::files::write_atomically`]).
///
/// # Errors
/// [`Error::Write`] if the file cannot be created or written.
pub fn write_png(path: &Path, picture: &RgbImage) -> Result<()> {
    crate::files::write_atomically(path, |file| {
        let encoder =
            PngEncoder::new_with_quality(file, CompressionType::Fast, FilterType::Adaptive);
        picture.write_with_encoder(encoder).map_err(|e| match e {
            image::ImageError::IoError(e) => e,
            e => io::Error::other(e),
        })
    })
}
