//! [`Mask`]: the pixels of an input to ignore.
//!
//! A mask is an image or numeric matrix of its input's size; every nonzero pixel is ignored.
//! Ignored pixels carry no mass: their light is set to zero before the input is normalised, so
//! the rest sums to one on its own, the pixel-by-pixel metrics do not count them, and `hist`
//! leaves them out of the distribution of pixel values. Whatever an ignored pixel holds has no
//! effect on any metric.

use ndarray::Array2;

use crate::error::{Error, Result};

/// Which pixels of an input to ignore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    ignore: Array2<bool>,
    name: String,
    ignored: usize,
}

impl Mask {
    /// A mask from a `height × width` array, `true` = ignore. `name` labels it in messages.
    pub fn new(ignore: Array2<bool>, name: &str) -> Mask {
        let ignored = ignore.iter().filter(|&&i| i).count();
        Mask {
            ignore,
            name: name.to_string(),
            ignored,
        }
    }

    /// A mask from pixel values: nonzero = ignore.
    pub fn from_values(values: &Array2<f64>, name: &str) -> Mask {
        Mask::new(values.mapv(|v| v != 0.0), name)
    }

    /// The size the mask fits, `(height, width)` in pixels.
    pub fn shape(&self) -> (usize, usize) {
        self.ignore.dim()
    }

    /// The name it was loaded from (as given on the command line).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many pixels it ignores.
    pub fn ignored(&self) -> usize {
        self.ignored
    }

    /// `true` for the pixels to ignore, `height × width`.
    pub fn ignore(&self) -> &Array2<bool> {
        &self.ignore
    }

    /// [`Error::MaskSize`] unless the mask fits an input of `shape` pixels named `input`.
    pub fn check_fits(&self, input: &str, shape: (usize, usize)) -> Result<()> {
        if self.shape() == shape {
            Ok(())
        } else {
            Err(Error::MaskSize {
                mask: self.name.clone(),
                mask_shape: self.shape(),
                source_name: input.to_string(),
                shape,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn nonzero_is_ignored_and_sizes_must_match() {
        let m = Mask::from_values(&array![[0.0, 0.5], [1.0, 0.0]], "m.png");
        assert_eq!(m.ignored(), 2);
        assert_eq!(m.ignore(), &array![[false, true], [true, false]]);
        assert!(m.check_fits("a.png", (2, 2)).is_ok());
        let err = m.check_fits("a.png", (3, 2)).unwrap_err().to_string();
        assert_eq!(
            err,
            "mask m.png is 2x2 pixels but a.png is 3x2 (rows x columns); a mask must have its input's size"
        );
    }
}
