//! Total variation distance.
//!
//! `tv(p, q) = ½ Σ |p − q|`, the largest difference in probability the two masses give to any
//! set of cells. Range `[0, 1]`: 0 for identical masses, 1 for disjoint supports. Symmetric,
//! a metric. Compares pixel by pixel (no notion of location): both grids must have the same
//! size. Cost O(N).

use super::{Empty, Measurement, Metric, MetricKind, MetricParams, same_shape, sum_cells};
use crate::error::Result;
use crate::mass::Mass;

/// Total variation distance.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tv;

impl Metric for Tv {
    fn kind(&self) -> MetricKind {
        MetricKind::Tv
    }

    fn compute(&self, a: &Mass, b: &Mass) -> Result<Measurement> {
        let (p, q) = same_shape(self.kind(), a, b)?;
        let value = 0.5 * sum_cells(p, q, |x, y| (x - y).abs());
        Ok(Measurement::new(
            value.clamp(0.0, 1.0),
            MetricParams::None(Empty {}),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn closed_forms() {
        let a = Mass::from_values(&array![[1.0, 0.0, 0.0]], 1, "a").unwrap();
        let b = Mass::from_values(&array![[0.0, 1.0, 3.0]], 1, "b").unwrap();
        assert_eq!(Tv.compute(&a, &b).unwrap().value, 1.0);
        let c = Mass::from_values(&array![[1.0, 1.0, 2.0]], 1, "c").unwrap();
        // |1 - 1/4| + |0 - 1/4| + |0 - 1/2| = 3/2
        assert!((Tv.compute(&a, &c).unwrap().value - 0.75).abs() < 1e-15);
        assert_eq!(Tv.compute(&c, &c).unwrap().value, 0.0);
    }
}
