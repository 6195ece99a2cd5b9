//! The distance matrix of an all-pairs run as a heatmap, in input order or with similar inputs
//! side by side.

use std::path::Path;
use std::str::FromStr;

use image::RgbImage;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::draw::{
    Canvas, ColourBar, INK, MUTED, ensure_font, fit_left, plot_error, short, text, text_width,
    viridis,
};
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::metric::MetricKind;

/// The order of the inputs along both axes of the matrix picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatrixOrder {
    /// As the inputs were given.
    #[default]
    Input,
    /// [`cluster_order`]: similar inputs side by side.
    Cluster,
}

impl MatrixOrder {
    /// The name the user types.
    pub fn as_str(self) -> &'static str {
        match self {
            MatrixOrder::Input => "input",
            MatrixOrder::Cluster => "cluster",
        }
    }

    /// The inputs of `matrix` in this order (indices into its labels).
    pub fn apply(self, matrix: &Matrix) -> Vec<usize> {
        match self {
            MatrixOrder::Input => (0..matrix.labels().len()).collect(),
            MatrixOrder::Cluster => cluster_order(matrix),
        }
    }
}

impl FromStr for MatrixOrder {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let all = [MatrixOrder::Input, MatrixOrder::Cluster];
        crate::metric::parse_choice("--matrix-order", s, &all.map(|o| (o.as_str(), o)))
    }
}

/// The leaf order of average-linkage (UPGMA) hierarchical clustering of the matrix's inputs:
/// the two closest clusters are merged again and again, the distance between clusters being
/// the mean distance between their members, and the inputs are listed as the tree holds them,
/// so every cluster is a contiguous run and near-duplicates sit next to each other. At each
/// merge the cluster holding the earlier input goes first; ties between distances go to the
/// earlier inputs, so the order is deterministic.
///
/// Pairs with no value (not computed) count as the largest distance in the matrix. Runs in
/// `O(n²)` time (nearest-neighbour chain) and memory.
pub fn cluster_order(matrix: &Matrix) -> Vec<usize> {
    let n = matrix.labels().len();
    let largest = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .filter_map(|(i, j)| matrix.get(i, j))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let mut d: Vec<f64> = (0..n * n)
        .map(|k| matrix.get(k / n, k % n).unwrap_or(largest))
        .collect();
    average_linkage_order(n, &mut d)
}

/// [`cluster_order`] on a full `n × n` distance matrix `d` (row-major, symmetric), which it
/// overwrites.
fn average_linkage_order(n: usize, d: &mut [f64]) -> Vec<usize> {
    // members[k]: the leaves of the cluster kept in slot k, in order; empty once merged away.
    let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    let mut active: Vec<usize> = (0..n).collect();
    let mut chain: Vec<usize> = Vec::new();
    while active.len() > 1 {
        if chain.is_empty() {
            chain.push(active[0]);
        }
        let (a, b) = loop {
            let top = *chain.last().expect("non-empty chain");
            let previous = chain.len().checked_sub(2).map(|k| chain[k]);
            // The nearest other cluster; the previous link wins ties (this keeps the chain
            // from cycling), then the earliest slot.
            let mut nearest = previous;
            for &c in &active {
                if c == top {
                    continue;
                }
                let closer = match nearest {
                    None => true,
                    Some(m) => d[top * n + c] < d[top * n + m],
                };
                if closer {
                    nearest = Some(c);
                }
            }
            let nearest = nearest.expect("two active clusters");
            if Some(nearest) == previous {
                chain.pop();
                chain.pop();
                break (top, nearest);
            }
            chain.push(nearest);
        };
        // Merge into the slot of the cluster holding the earlier input.
        let (keep, gone) = if members[a][0] < members[b][0] {
            (a, b)
        } else {
            (b, a)
        };
        let (nk, ng) = (members[keep].len() as f64, members[gone].len() as f64);
        for &c in &active {
            if c != keep && c != gone {
                let v = (nk * d[keep * n + c] + ng * d[gone * n + c]) / (nk + ng);
                d[keep * n + c] = v;
                d[c * n + keep] = v;
            }
        }
        let moved = std::mem::take(&mut members[gone]);
        members[keep].extend(moved);
        active.retain(|&c| c != gone);
    }
    active
        .first()
        .map(|&k| std::mem::take(&mut members[k]))
        .unwrap_or_default()
}

/// Largest side of one matrix cell, in pixels.
const MAX_CELL: u32 = 48;
/// The matrix is drawn about this many pixels wide when cells are smaller than [`MAX_CELL`].
const TARGET: u32 = 640;

/// Draws the matrix of `metric` as a heatmap, inputs in `order` along both axes.
///
/// Layout: a title band of 64 pixels; the matrix with `c = clamp(640 / n, 1, 48)` pixels per
/// cell for `n` inputs; left of it the inputs' names (file names when they are unique, else the
/// labels), each prefixed by its position in the input, and the same numbers above the columns
/// when cells are wide enough; values written in the cells when they are 40 pixels or more;
/// a colour bar (viridis, 0 at the bottom) on the right. Pairs not computed are grey.
///
/// # Errors
/// [`Error::Plot`] if drawing fails.
pub fn matrix_picture(matrix: &Matrix, metric: MetricKind, order: MatrixOrder) -> Result<RgbImage> {
    ensure_font()?;
    let idx = order.apply(matrix);
    let n = idx.len();
    let cell = (TARGET / n.max(1) as u32).clamp(1, MAX_CELL);
    let labels = display_labels(matrix.labels());
    let label_size = f64::from(cell.saturating_sub(1).min(13));
    let show_labels = cell >= 10;
    let row_labels: Vec<String> = idx
        .iter()
        .map(|&i| format!("{}  {}", i + 1, labels[i]))
        .map(|s| fit_left(&s, label_size, 300))
        .collect();
    let label_w = if show_labels {
        row_labels
            .iter()
            .map(|s| text_width(s, label_size))
            .max()
            .unwrap_or(0)
    } else {
        0
    };
    let digits = n.to_string().len() as u32;
    let show_numbers = show_labels && cell >= 8 * digits + 4;
    let side = cell * n as u32;
    let (left, top) = (24 + label_w + 8, 64 + if show_numbers { 24 } else { 8 });
    let order_text = match order {
        MatrixOrder::Input => "in input order",
        MatrixOrder::Cluster => "similar inputs together (average-linkage leaf order)",
    };
    let title = format!("{metric} between {n} inputs, {order_text}");
    let unit = match metric.unit() {
        "" => String::new(),
        u => format!(" in {u}"),
    };
    let subtitle = format!(
        "colour: the {metric} distance{unit}, 0 on the diagonal; grey: pair not computed; \
         numbers: position in the input"
    );
    let width = (left + side + 24 + 14 + 80)
        .max(text_width(&title, 20.0) + 40)
        .max(text_width(&subtitle, 13.0) + 40);
    let height = top + side + 24;
    let mut canvas = Canvas::new(width, height);

    let value = |r: usize, c: usize| matrix.get(idx[r], idx[c]);
    let vmax = (0..n)
        .flat_map(|r| (0..n).map(move |c| (r, c)))
        .filter_map(|(r, c)| value(r, c))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let colour = |v: f64| {
        if v.is_infinite() {
            viridis(1.0)
        } else {
            viridis(if vmax > 0.0 { v / vmax } else { 0.0 })
        }
    };
    for r in 0..n {
        for c in 0..n {
            let fill = value(r, c).map_or([0xdd, 0xdd, 0xdd], colour);
            for dy in 0..cell {
                for dx in 0..cell {
                    let x = left + c as u32 * cell + dx;
                    let y = top + r as u32 * cell + dy;
                    canvas.set(x as i32, y as i32, fill);
                }
            }
        }
    }
    let bar = ColourBar {
        x: (left + side + 24) as i32,
        y: top as i32,
        width: 14,
        height: side.max(120) as i32,
        lo: 0.0,
        hi: vmax,
    };
    bar.paint(&mut canvas, colour);

    canvas.draw(|area| {
        text(
            area,
            &fit_left(&title, 20.0, width - 32),
            (16, 10),
            20.0,
            HPos::Left,
            VPos::Top,
            INK,
        )?;
        text(
            area,
            &fit_left(&subtitle, 13.0, width - 32),
            (16, 38),
            13.0,
            HPos::Left,
            VPos::Top,
            MUTED,
        )?;
        let corners = [
            (left as i32 - 1, top as i32 - 1),
            ((left + side) as i32, (top + side) as i32),
        ];
        area.draw(&Rectangle::new(corners, INK.stroke_width(1)))
            .map_err(plot_error)?;
        if show_labels {
            for (r, s) in row_labels.iter().enumerate() {
                let y = (top + r as u32 * cell + cell / 2) as i32;
                text(
                    area,
                    s,
                    (left as i32 - 8, y),
                    label_size,
                    HPos::Right,
                    VPos::Center,
                    INK,
                )?;
            }
        }
        if show_numbers {
            for (c, &i) in idx.iter().enumerate() {
                let x = (left + c as u32 * cell + cell / 2) as i32;
                text(
                    area,
                    &(i + 1).to_string(),
                    (x, top as i32 - 6),
                    label_size,
                    HPos::Center,
                    VPos::Bottom,
                    INK,
                )?;
            }
        }
        if cell >= 40 {
            for r in 0..n {
                for c in 0..n {
                    let Some(v) = value(r, c) else { continue };
                    let [red, green, blue] = colour(v);
                    let light =
                        0.299 * f64::from(red) + 0.587 * f64::from(green) + 0.114 * f64::from(blue)
                            > 140.0;
                    let ink = if light { INK } else { WHITE };
                    let x = (left + c as u32 * cell + cell / 2) as i32;
                    let y = (top + r as u32 * cell + cell / 2) as i32;
                    text(
                        area,
                        &short(v),
                        (x, y),
                        11.0,
                        HPos::Center,
                        VPos::Center,
                        ink,
                    )?;
                }
            }
        }
        bar.label(area)
    })?;
    Ok(canvas.into_image())
}

/// Draws [`matrix_picture`] and writes it to `path` as PNG.
///
/// # Errors
/// [`Error::Write`] if the file cannot be written; [`Error::Plot`] if drawing fails.
pub fn write_matrix_picture(
    path: &Path,
    matrix: &Matrix,
    metric: MetricKind,
    order: MatrixOrder,
) -> Result<()> {
    super::write_png(path, &matrix_picture(matrix, metric, order)?)
}

/// The file names of the labels when they are all different, else the labels as given.
fn display_labels(labels: &[String]) -> Vec<String> {
    let names: Vec<String> = labels
        .iter()
        .map(|l| {
            Path::new(l)
                .file_name()
                .map_or_else(|| l.clone(), |f| f.to_string_lossy().into_owned())
        })
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() == names.len() {
        names
    } else {
        labels.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A matrix over points on a line: distance = |x_i − x_j|.
    fn line_matrix(xs: &[f64]) -> Matrix {
        let mut m = Matrix::new((0..xs.len()).map(|i| format!("dir/img{i}.png")).collect());
        for i in 0..xs.len() {
            for j in i + 1..xs.len() {
                m.set(i, j, (xs[i] - xs[j]).abs());
            }
        }
        m
    }

    #[test]
    fn near_duplicates_end_up_adjacent() {
        // Three pairs of near-duplicates, interleaved in the input: (0, 3), (1, 4), (2, 5).
        let m = line_matrix(&[0.0, 10.0, 20.0, 0.1, 10.2, 20.3]);
        let order = cluster_order(&m);
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..6).collect::<Vec<_>>(), "{order:?}");
        let pos = |i: usize| order.iter().position(|&k| k == i).unwrap();
        for (x, y) in [(0, 3), (1, 4), (2, 5)] {
            assert_eq!(pos(x).abs_diff(pos(y)), 1, "{x} and {y} apart in {order:?}");
        }
        // Deterministic, and the cluster holding the earlier input first.
        assert_eq!(order, vec![0, 3, 1, 4, 2, 5]);
        assert_eq!(MatrixOrder::Input.apply(&m), vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn average_linkage_merges_by_mean_distance() {
        // 0 and 1 merge first (1); then 2 is at mean distance (4 + 6)/2 = 5 from {0, 1} but 4.5
        // from 3, so {2, 3} merges before either joins {0, 1}.
        let mut m = Matrix::new((0..4).map(|i| i.to_string()).collect());
        for (i, j, v) in [
            (0, 1, 1.0),
            (0, 2, 4.0),
            (1, 2, 6.0),
            (2, 3, 4.5),
            (0, 3, 9.0),
            (1, 3, 9.0),
        ] {
            m.set(i, j, v);
        }
        assert_eq!(cluster_order(&m), vec![0, 1, 2, 3]);
        // Missing pairs count as the largest distance; one input is a trivial order.
        let mut m = Matrix::new((0..3).map(|i| i.to_string()).collect());
        m.set(0, 2, 1.0);
        m.set(0, 1, 5.0);
        assert_eq!(cluster_order(&m), vec![0, 2, 1]);
        assert_eq!(cluster_order(&Matrix::new(vec!["x".into()])), vec![0]);
        assert!(cluster_order(&Matrix::new(Vec::new())).is_empty());
    }

    #[test]
    fn order_names_parse() {
        assert_eq!(
            "cluster".parse::<MatrixOrder>().unwrap(),
            MatrixOrder::Cluster
        );
        let err = "random".parse::<MatrixOrder>().unwrap_err().to_string();
        assert!(err.contains("input, cluster"), "{err}");
    }

    #[test]
    fn labels_are_file_names_when_unique() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            display_labels(&l(&["a/x.png", "b/y.png"])),
            l(&["x.png", "y.png"])
        );
        assert_eq!(
            display_labels(&l(&["a/x.png", "b/x.png"])),
            l(&["a/x.png", "b/x.png"])
        );
    }
}
