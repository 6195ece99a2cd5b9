//! A distance matrix: one metric over every pair of a list of inputs.

use std::io;

use crate::report::format_value;

/// A square matrix of one metric over the inputs of an all-pairs run, filled symmetrically with
/// a zero diagonal; cells of pairs not computed stay empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    labels: Vec<String>,
    cells: Vec<Option<f64>>,
}

impl Matrix {
    /// An empty matrix over `labels`, with zeros on the diagonal.
    pub fn new(labels: Vec<String>) -> Matrix {
        let n = labels.len();
        let mut cells = vec![None; n * n];
        for i in 0..n {
            cells[i * n + i] = Some(0.0);
        }
        Matrix { labels, cells }
    }

    /// The inputs' labels, in input order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The distance between inputs `i` and `j`, if it was computed (0 on the diagonal).
    ///
    /// # Panics
    /// If `i` or `j` is not below the number of inputs.
    pub fn get(&self, i: usize, j: usize) -> Option<f64> {
        let n = self.labels.len();
        assert!(i < n && j < n, "cell ({i}, {j}) of a {n}×{n} matrix");
        self.cells[i * n + j]
    }

    /// Sets the distance between inputs `i` and `j` (both cells).
    pub fn set(&mut self, i: usize, j: usize, value: f64) {
        let n = self.labels.len();
        self.cells[i * n + j] = Some(value);
        self.cells[j * n + i] = Some(value);
    }

    /// Writes CSV: a header row (an empty corner, then the labels), then one row per input
    /// starting with its label; values in shortest round-trip form, empty when not computed.
    ///
    /// # Errors
    /// Any error of the writer.
    pub fn write_csv(&self, out: &mut dyn io::Write) -> io::Result<()> {
        let n = self.labels.len();
        if n == 0 {
            // The header alone: an empty corner (which the `csv` crate would quote as `""`).
            return out.write_all(b"\n");
        }
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(std::iter::once("").chain(self.labels.iter().map(String::as_str)))?;
        for (i, label) in self.labels.iter().enumerate() {
            let values = self.cells[i * n..(i + 1) * n]
                .iter()
                .map(|c| c.map(format_value).unwrap_or_default());
            csv.write_record(std::iter::once(label.clone()).chain(values))?;
        }
        csv.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_is_symmetric_with_empty_missing_cells() {
        let mut m = Matrix::new(vec!["x".into(), "y,z".into(), "w".into()]);
        m.set(0, 1, 0.5);
        let mut out = Vec::new();
        m.write_csv(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            ",x,\"y,z\",w\nx,0,0.5,\n\"y,z\",0.5,0,\nw,,,0\n"
        );
    }

    #[test]
    fn a_matrix_of_no_input_is_an_empty_header() {
        let mut out = Vec::new();
        Matrix::new(Vec::new()).write_csv(&mut out).unwrap();
        assert_eq!(out, b"\n");
    }
}
