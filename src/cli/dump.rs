//! `--dump-plan` and `--dump-duals`: the optimal plan and duals of an exact EMD as CSV files.

use std::fmt::Write as _;
use std::path::Path;

use imgdist::metric::emd::Sparse;

/// The duals as CSV: one line per cell with mass, `a` for A's cells (`u`), `b` for B's (`v`);
/// `u_i + v_j ≤ cost(i, j)` for every pair, with equality wherever the plan moves mass.
pub fn duals_csv(s: &Sparse) -> String {
    let mut out = String::from("side,row,col,potential\n");
    for (side, pts, pot) in [
        ("a", &s.sources, &s.transport.u),
        ("b", &s.targets, &s.transport.v),
    ] {
        for (&(r, c), p) in pts.iter().zip(pot.iter()) {
            let _ = writeln!(out, "{side},{r},{c},{p:e}");
        }
    }
    out
}

/// The plan as CSV: one line per pair of cells that mass moves between.
pub fn plan_csv(s: &Sparse) -> String {
    let mut out = String::from("a_row,a_col,b_row,b_col,mass\n");
    for &(i, j, f) in &s.transport.plan {
        let ((ar, ac), (br, bc)) = (s.sources[i], s.targets[j]);
        let _ = writeln!(out, "{ar},{ac},{br},{bc},{f:e}");
    }
    out
}

/// Writes `text` to `path`, whole or not at all.
pub fn write(path: &Path, text: &str) -> Result<(), imgdist::Error> {
    imgdist::files::write_atomically(path, |w| w.write_all(text.as_bytes()))
}
