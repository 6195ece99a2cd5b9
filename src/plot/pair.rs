//! The picture of one pair: A, B, their difference, the emd plan and the sliced profile.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use image::RgbImage;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::draw::{
    Area, Canvas, ColourBar, INK, MUTED, diverging, ensure_font, fade, fit_left, plot_error, rgb,
    short, text, tick_label, ticks, viridis,
};
use crate::error::Result;
use crate::mass::Mass;
use crate::metric::emd::Sparse;
use crate::metric::sliced::Profile;
use crate::metric::{Extras, MetricKind, MetricParams};
use crate::report::{MetricResult, Report};

/// A part of the pair picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Panel {
    /// Input A as a mass heatmap.
    A,
    /// Input B as a mass heatmap, on A's colour scale.
    B,
    /// The signed difference p − q.
    Difference,
    /// `emd`: the transport plan as arrows.
    Transport,
    /// `sliced`: `W_p(θ)` against θ.
    Sliced,
}

/// A rectangle of pixels, `x` and `y` at its top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Rect {
    /// The pixel at the centre.
    pub fn centre(&self) -> (u32, u32) {
        (self.x + self.width / 2, self.y + self.height / 2)
    }
}

/// Where everything sits in a pair picture, which depends only on the metrics reported:
///
/// - a title band of [`PairLayout::TITLE`] pixels across the top (the two files, then every
///   metric's value);
/// - a row of square panels of [`PairLayout::SLOT`] pixels: A, B, the difference p − q and,
///   when `emd` is among the metrics, the transport plan. Each map is drawn inside a box of
///   [`PairLayout::MAP`] pixels ([`PairLayout::map_box`]), centred and keeping the grid's
///   aspect, with its colour bar (or, for the plan, an arrow legend) on the right;
/// - when `sliced` is among the metrics, a strip of [`PairLayout::PROFILE`] pixels across the
///   whole width with `W_p(θ)` against θ.
///
/// So the picture is `SLOT × (3 or 4)` pixels wide and `TITLE + SLOT (+ PROFILE)` high:
/// 1260 × 484 for pixel-by-pixel metrics only, 1680 × 484 with `emd`, 1260 × 804 with `sliced`,
/// 1680 × 804 with both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairLayout {
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// Each panel and the rectangle it fills.
    pub panels: Vec<(Panel, Rect)>,
}

impl PairLayout {
    /// Height of the title band.
    pub const TITLE: u32 = 64;
    /// Side of a square map panel.
    pub const SLOT: u32 = 420;
    /// Side of the box a map is drawn in.
    pub const MAP: u32 = 300;
    /// Height of the sliced profile strip.
    pub const PROFILE: u32 = 320;
    /// Offset of the map box from its panel's top-left corner.
    pub const MAP_OFFSET: (u32, u32) = (20, 62);

    /// The layout for a report of these metrics.
    pub fn for_metrics(metrics: &[MetricKind]) -> PairLayout {
        let mut maps = vec![Panel::A, Panel::B, Panel::Difference];
        if metrics.contains(&MetricKind::Emd) {
            maps.push(Panel::Transport);
        }
        let width = Self::SLOT * maps.len() as u32;
        let mut panels: Vec<(Panel, Rect)> = maps
            .iter()
            .enumerate()
            .map(|(k, &p)| {
                let rect = Rect {
                    x: Self::SLOT * k as u32,
                    y: Self::TITLE,
                    width: Self::SLOT,
                    height: Self::SLOT,
                };
                (p, rect)
            })
            .collect();
        let mut height = Self::TITLE + Self::SLOT;
        if metrics.contains(&MetricKind::Sliced) {
            let rect = Rect {
                x: 0,
                y: height,
                width,
                height: Self::PROFILE,
            };
            panels.push((Panel::Sliced, rect));
            height += Self::PROFILE;
        }
        PairLayout {
            width,
            height,
            panels,
        }
    }

    /// The rectangle of a panel, if the picture has it.
    pub fn panel(&self, panel: Panel) -> Option<Rect> {
        self.panels
            .iter()
            .find(|(p, _)| *p == panel)
            .map(|(_, r)| *r)
    }

    /// The box a map panel draws its map in (the map fills it along its longer side); `None`
    /// for the sliced strip and for panels the picture does not have.
    pub fn map_box(&self, panel: Panel) -> Option<Rect> {
        if panel == Panel::Sliced {
            return None;
        }
        self.panel(panel).map(|r| Rect {
            x: r.x + Self::MAP_OFFSET.0,
            y: r.y + Self::MAP_OFFSET.1,
            width: Self::MAP,
            height: Self::MAP,
        })
    }
}

/// Draws the picture of a compared pair: `a` and `b` are the masses the report was computed
/// from. See [`PairLayout`] for what goes where. Metrics other than `emd` and `sliced` appear
/// in the title only; with both, the picture has both panels.
///
/// # Errors
/// [`crate::Error::Plot`] if drawing fails (it does not, short of a broken built-in font).
pub fn pair_picture(a: &Mass, b: &Mass, report: &Report) -> Result<RgbImage> {
    ensure_font()?;
    let kinds: Vec<MetricKind> = report.metrics.iter().map(|m| m.kind).collect();
    let layout = PairLayout::for_metrics(&kinds);
    let mut canvas = Canvas::new(layout.width, layout.height);
    let common = Mass::on_common_grid(a, b);
    let (ga, gb) = match &common {
        Some((ca, cb)) => (&**ca, &**cb),
        None => (a, b),
    };
    let emd = report.metrics.iter().find(|m| m.kind == MetricKind::Emd);
    let sliced = report.metrics.iter().find(|m| m.kind == MetricKind::Sliced);

    // Heatmaps and colour bars, pixel by pixel.
    let vmax = max_of(ga).max(max_of(gb));
    let box_of = |p| {
        layout
            .map_box(p)
            .expect("every pair picture has A, B, Difference")
    };
    let place_a = Placement::fit(ga, box_of(Panel::A));
    let place_b = Placement::fit(gb, box_of(Panel::B));
    let mass_colour = |v: f64| viridis(if vmax > 0.0 { v / vmax } else { 0.0 });
    place_a.paint(&mut canvas, ga.as_slice(), mass_colour);
    place_b.paint(&mut canvas, gb.as_slice(), mass_colour);
    let (ignored_a, ignored_b) = (ga.ignored_cells(), gb.ignored_cells());
    if let Some(ignored) = &ignored_a {
        place_a.hatch(&mut canvas, ignored);
    }
    if let Some(ignored) = &ignored_b {
        place_b.hatch(&mut canvas, ignored);
    }
    // Cells neither input counts, where nothing is compared.
    let ignored_both: Option<Vec<bool>> = match (&ignored_a, &ignored_b) {
        (Some(x), Some(y)) if x.len() == y.len() => {
            Some(x.iter().zip(y).map(|(x, y)| x & y).collect())
        }
        _ => None,
    };
    let mass_bar_a = bar_beside(&place_a, 0.0, vmax);
    let mass_bar_b = bar_beside(&place_b, 0.0, vmax);
    mass_bar_a.paint(&mut canvas, mass_colour);
    mass_bar_b.paint(&mut canvas, mass_colour);
    let difference: Option<Vec<f64>> = common.as_ref().map(|_| {
        ga.as_slice()
            .iter()
            .zip(gb.as_slice())
            .map(|(p, q)| p - q)
            .collect()
    });
    let dmax = difference
        .as_ref()
        .map_or(0.0, |d| d.iter().fold(0.0f64, |m, v| m.max(v.abs())));
    let diff_colour = |v: f64| diverging(if dmax > 0.0 { v / dmax } else { 0.0 });
    let place_d = Placement::fit(ga, box_of(Panel::Difference));
    let diff_bar = bar_beside(&place_d, -dmax, dmax);
    if let Some(d) = &difference {
        place_d.paint(&mut canvas, d, diff_colour);
        diff_bar.paint(&mut canvas, diff_colour);
        if let Some(ignored) = &ignored_both {
            place_d.hatch(&mut canvas, ignored);
        }
    }
    let place_t = layout
        .map_box(Panel::Transport)
        .map(|bx| Placement::fit(ga, bx));
    if let Some(place) = &place_t {
        match &difference {
            Some(d) => place.paint(&mut canvas, d, |v| fade(diff_colour(v), 0.55)),
            None => place.paint(&mut canvas, ga.as_slice(), |v| fade(mass_colour(v), 0.7)),
        }
        if let Some(ignored) = &ignored_both {
            place.hatch(&mut canvas, ignored);
        }
    }

    let arrows = match (emd, &place_t) {
        (Some(m), Some(place)) => match &m.measurement.extras {
            Extras::Emd(Ok(plan)) => Ok(Arrows::from_plan(plan, ga, place)),
            Extras::Emd(Err(reason)) => Err(format!("no plan: {reason}")),
            _ => Err("no plan was kept".to_string()),
        },
        _ => Err(String::new()),
    };

    canvas.draw(|area| {
        title_band(area, &layout, report)?;
        let cells = |m: &Mass, drawn: &Mass| {
            let (r, c) = m.shape();
            let k = m.downscale();
            let mut s = format!("{r} × {c} cells");
            if k > 1 {
                s.push_str(&format!(" of {k} × {k} pixels"));
            }
            if drawn.shape() != m.shape() {
                let (r, c) = drawn.shape();
                s.push_str(&format!(", padded to {r} × {c}"));
            }
            s
        };
        let names = [&report.inputs[0].path, &report.inputs[1].path];
        for (panel, place, bar, name, letter, input, grid) in [
            (Panel::A, &place_a, &mass_bar_a, names[0], "A", a, ga),
            (Panel::B, &place_b, &mass_bar_b, names[1], "B", b, gb),
        ] {
            let rect = layout.panel(panel).expect("A and B");
            let head = format!("{letter}: {}", fit_left(name, 17.0, rect.width - 60));
            panel_titles(area, rect, &head, "mass per cell · one scale for A and B")?;
            place.frame(area)?;
            bar.label(area)?;
            caption(area, rect, 0, &cells(input, grid))?;
        }
        let rect = layout.panel(Panel::Difference).expect("difference");
        panel_titles(
            area,
            rect,
            "p − q: A minus B",
            "red: more light in A · blue: more in B",
        )?;
        match &difference {
            Some(d) => {
                place_d.frame(area)?;
                diff_bar.label(area)?;
                let tv = 0.5 * d.iter().map(|v| v.abs()).sum::<f64>();
                caption(
                    area,
                    rect,
                    0,
                    &format!(
                        "½ Σ |p − q| = {}: the share of light out of place",
                        short(tv)
                    ),
                )?;
            }
            None => {
                let bx = box_of(Panel::Difference);
                let (x, y) = bx.centre();
                text(
                    area,
                    "the two grids share no cells:",
                    (x as i32, y as i32 - 10),
                    14.0,
                    HPos::Center,
                    VPos::Center,
                    MUTED,
                )?;
                text(
                    area,
                    "no cell-by-cell difference",
                    (x as i32, y as i32 + 10),
                    14.0,
                    HPos::Center,
                    VPos::Center,
                    MUTED,
                )?;
            }
        }
        if let (Some(m), Some(place)) = (emd, &place_t) {
            transport_panel(area, &layout, m, place, &arrows)?;
        }
        if let (Some(m), Some(rect)) = (sliced, layout.panel(Panel::Sliced)) {
            sliced_panel(area, rect, m)?;
        }
        Ok(())
    })?;
    Ok(canvas.into_image())
}

/// Draws the pair picture ([`pair_picture`]) and writes it to `path` as PNG.
///
/// # Errors
/// [`crate::Error::Write`] if the file cannot be written; [`crate::Error::Plot`] if drawing
/// fails.
pub fn write_pair_picture(path: &Path, a: &Mass, b: &Mass, report: &Report) -> Result<()> {
    super::write_png(path, &pair_picture(a, b, report)?)
}

fn max_of(m: &Mass) -> f64 {
    m.as_slice().iter().fold(0.0f64, |x, &v| x.max(v))
}

/// The colour bar right of a map box, as high as the map.
fn bar_beside(place: &Placement, lo: f64, hi: f64) -> ColourBar {
    ColourBar {
        x: place.box_right + 16,
        y: place.y,
        width: 14,
        height: place.height,
        lo,
        hi,
    }
}

/// The title band: the two inputs, then every metric's value.
fn title_band(area: &Area, layout: &PairLayout, report: &Report) -> Result<()> {
    let [a, b] = &report.inputs;
    let mut head = format!("A = {}   vs   B = {}", a.path, b.path);
    if report.downscale > 1 {
        head.push_str(&format!("   (downscale {})", report.downscale));
    }
    if report.invert {
        head.push_str("   (inverted)");
    }
    match [&a.mask, &b.mask] {
        [Some(ma), Some(mb)] if ma.path == mb.path => {
            head.push_str(&format!("   (mask {}, hatched)", ma.path));
        }
        [None, None] => {}
        [ma, mb] => {
            let name = |m: &Option<crate::report::MaskInfo>| {
                m.as_ref().map_or("none".to_string(), |m| m.path.clone())
            };
            head.push_str(&format!(
                "   (masks A: {}, B: {}, hatched)",
                name(ma),
                name(mb)
            ));
        }
    }
    let width = layout.width - 32;
    text(
        area,
        &fit_left(&head, 20.0, width),
        (16, 10),
        20.0,
        HPos::Left,
        VPos::Top,
        INK,
    )?;
    let values: Vec<String> = report.metrics.iter().map(metric_summary).collect();
    text(
        area,
        &fit_left(&values.join("    "), 15.0, width),
        (16, 38),
        15.0,
        HPos::Left,
        VPos::Top,
        MUTED,
    )
}

/// The metric's name with the parameters that change what its value means: `emd (ground)`,
/// `sliced SWₚ`, `sinkhorn √S (blur B)`.
fn metric_name(m: &MetricResult) -> String {
    match &m.measurement.params {
        MetricParams::Emd(e) => format!("emd ({})", e.ground.as_str()),
        MetricParams::Sliced(s) => format!("sliced SW{}", order_subscript(s.p)),
        MetricParams::Sinkhorn(s) if s.debias => format!("sinkhorn √S (blur {})", short(s.blur)),
        MetricParams::Sinkhorn(s) => format!("sinkhorn √OT (blur {})", short(s.blur)),
        _ => m.kind.to_string(),
    }
}

/// `name = value unit`.
fn metric_summary(m: &MetricResult) -> String {
    let name = metric_name(m);
    let unit = match m.kind.unit() {
        "pixels" => " px",
        "nats" => " nats",
        _ => "",
    };
    format!("{name} = {}{unit}", short(m.measurement.value))
}

/// `p` as a subscript when it is a small whole number (`₁`, `₂`), else as `_p`.
fn order_subscript(p: f64) -> String {
    const DIGITS: [char; 10] = ['₀', '₁', '₂', '₃', '₄', '₅', '₆', '₇', '₈', '₉'];
    if p.fract() == 0.0 && (1.0..10.0).contains(&p) {
        DIGITS[p as usize].to_string()
    } else {
        format!("_{p}")
    }
}

fn panel_titles(area: &Area, rect: Rect, title: &str, subtitle: &str) -> Result<()> {
    let x = (rect.x + PairLayout::MAP_OFFSET.0) as i32;
    text(
        area,
        title,
        (x, rect.y as i32 + 10),
        17.0,
        HPos::Left,
        VPos::Top,
        INK,
    )?;
    text(
        area,
        subtitle,
        (x, rect.y as i32 + 34),
        13.0,
        HPos::Left,
        VPos::Top,
        MUTED,
    )
}

/// Line `line` (from 0) of the caption under a panel's map box.
fn caption(area: &Area, rect: Rect, line: i32, s: &str) -> Result<()> {
    let y = (rect.y + PairLayout::MAP_OFFSET.1 + PairLayout::MAP) as i32 + 10 + 17 * line;
    let x = (rect.x + PairLayout::MAP_OFFSET.0) as i32;
    let s = fit_left(s, 13.0, rect.width - PairLayout::MAP_OFFSET.0 - 8);
    text(area, &s, (x, y), 13.0, HPos::Left, VPos::Top, MUTED)
}

/// Where a grid's map sits inside its box: whole pixels per cell when cells are at least two
/// pixels wide (crisp), otherwise a fractional scale (several cells averaged per pixel for
/// large grids).
struct Placement {
    x: i32,
    y: i32,
    width: i32,
    height: i32,
    rows: usize,
    cols: usize,
    row0: f64,
    col0: f64,
    row_step: f64,
    col_step: f64,
    /// Right edge of the box the map is centred in.
    box_right: i32,
}

impl Placement {
    fn fit(m: &Mass, bx: Rect) -> Placement {
        let (rows, cols) = m.shape();
        let mut s = (f64::from(bx.width) / cols as f64).min(f64::from(bx.height) / rows as f64);
        if s >= 2.0 {
            s = s.floor();
        }
        let width = ((cols as f64 * s).round() as i32).clamp(1, bx.width as i32);
        let height = ((rows as f64 * s).round() as i32).clamp(1, bx.height as i32);
        let step = |c: &[f64]| if c.len() > 1 { c[1] - c[0] } else { 1.0 };
        Placement {
            x: bx.x as i32 + (bx.width as i32 - width) / 2,
            y: bx.y as i32 + (bx.height as i32 - height) / 2,
            width,
            height,
            rows,
            cols,
            row0: m.row_coords()[0],
            col0: m.col_coords()[0],
            row_step: step(m.row_coords()),
            col_step: step(m.col_coords()),
            box_right: (bx.x + bx.width) as i32,
        }
    }

    /// The cells pixel `k` of `pixels` covers along an axis of `cells` cells.
    fn span(k: i32, pixels: i32, cells: usize) -> (usize, usize) {
        let at = |k: i32| (f64::from(k) * cells as f64 / f64::from(pixels)).floor() as usize;
        let first = at(k).min(cells - 1);
        (first, at(k + 1).clamp(first + 1, cells))
    }

    /// Calls `f(x, y, rows, cols)` for every pixel of the map with the cells it covers.
    fn for_each_pixel(&self, mut f: impl FnMut(i32, i32, Range<usize>, Range<usize>)) {
        let cols: Vec<(usize, usize)> = (0..self.width)
            .map(|k| Self::span(k, self.width, self.cols))
            .collect();
        for py in 0..self.height {
            let (r0, r1) = Self::span(py, self.height, self.rows);
            for (px, &(c0, c1)) in cols.iter().enumerate() {
                f(self.x + px as i32, self.y + py, r0..r1, c0..c1);
            }
        }
    }

    /// Paints `values` (row-major, this grid's shape), each pixel the mean of its cells.
    fn paint(&self, canvas: &mut Canvas, values: &[f64], colour: impl Fn(f64) -> [u8; 3]) {
        self.for_each_pixel(|x, y, rows, cols| {
            let cells = (rows.len() * cols.len()) as f64;
            let sum: f64 = rows
                .map(|r| {
                    values[r * self.cols + cols.start..r * self.cols + cols.end]
                        .iter()
                        .sum::<f64>()
                })
                .sum();
            canvas.set(x, y, colour(sum / cells));
        });
    }

    /// Hatches the pixels whose cells are all `ignored` (row-major, this grid's shape) with
    /// grey diagonal lines, leaving the colour between them.
    fn hatch(&self, canvas: &mut Canvas, ignored: &[bool]) {
        self.for_each_pixel(|x, y, mut rows, cols| {
            let on_line = (x - self.x + y - self.y).rem_euclid(HATCH_SPACING) < 2;
            if on_line
                && rows.all(|r| {
                    ignored[r * self.cols + cols.start..r * self.cols + cols.end]
                        .iter()
                        .all(|&i| i)
                })
            {
                canvas.set(x, y, HATCH);
            }
        });
    }

    /// The pixel of a position in pixel units of the input (row, column).
    fn point(&self, (r, c): (f64, f64)) -> (f64, f64) {
        let i = (r - self.row0) / self.row_step + 0.5;
        let j = (c - self.col0) / self.col_step + 0.5;
        (
            f64::from(self.x) + j * f64::from(self.width) / self.cols as f64,
            f64::from(self.y) + i * f64::from(self.height) / self.rows as f64,
        )
    }

    fn frame(&self, area: &Area) -> Result<()> {
        let corners = [
            (self.x - 1, self.y - 1),
            (self.x + self.width, self.y + self.height),
        ];
        area.draw(&Rectangle::new(corners, INK.stroke_width(1)))
            .map_err(plot_error)
    }
}

/// At most this many blocks along a side when the plan is summed over blocks.
/// Colour of the lines over ignored (masked) cells, and their spacing in pixels.
const HATCH: [u8; 3] = [0xb0, 0xb0, 0xb0];
const HATCH_SPACING: i32 = 6;

const MAX_BLOCKS: usize = 16;
/// At most this many arrows.
const MAX_ARROWS: usize = 120;

/// A point in picture pixels, `(x, y)`.
type Point = (f64, f64);

/// A block of the coarse grid, `(row, column)`.
type Block = (i64, i64);

/// The plan summed over square blocks of cells, the largest block-to-block moves kept.
struct Arrows {
    /// `(from, to, mass)` in picture pixels, largest mass last (drawn on top).
    arrows: Vec<(Point, Point, f64)>,
    /// Block side in input pixels.
    block: f64,
    /// How many block-to-block moves there are in all.
    moves: usize,
    /// Mass the arrows carry.
    drawn: f64,
    /// Mass that leaves its block.
    moved: f64,
    /// Mass that stays inside its block.
    stays: f64,
}

impl Arrows {
    fn from_plan(plan: &Sparse, grid: &Mass, place: &Placement) -> Arrows {
        let (rows, cols) = grid.shape();
        let cells_per_block = rows.max(cols).div_ceil(MAX_BLOCKS);
        let spacing = place.row_step.max(place.col_step).max(1.0);
        let block = cells_per_block as f64 * spacing;
        let key = |(r, c): (f64, f64)| {
            (
                ((r - place.row0) / block).floor() as i64,
                ((c - place.col0) / block).floor() as i64,
            )
        };
        // (mass, Σ mass·source, Σ mass·target) per pair of blocks.
        type Sums = (f64, (f64, f64), (f64, f64));
        let mut moves: HashMap<(Block, Block), Sums> = HashMap::new();
        let mut stays = 0.0;
        for &(i, j, f) in &plan.transport.plan {
            let (from, to) = (plan.sources[i], plan.targets[j]);
            let k = (key(from), key(to));
            if k.0 == k.1 {
                stays += f;
                continue;
            }
            let e = moves.entry(k).or_insert((0.0, (0.0, 0.0), (0.0, 0.0)));
            e.0 += f;
            e.1 = (e.1.0 + f * from.0, e.1.1 + f * from.1);
            e.2 = (e.2.0 + f * to.0, e.2.1 + f * to.1);
        }
        let mut all: Vec<_> = moves.into_iter().collect();
        // Largest first; ties by block, so the picture does not depend on hashing.
        all.sort_by(|x, y| y.1.0.total_cmp(&x.1.0).then(x.0.cmp(&y.0)));
        let moved = all.iter().map(|(_, s)| s.0).sum();
        let count = all.len();
        all.truncate(MAX_ARROWS);
        let drawn = all.iter().map(|(_, s)| s.0).sum();
        let arrows = all
            .into_iter()
            .rev()
            .map(|(_, (m, fs, ts))| {
                let from = place.point((fs.0 / m, fs.1 / m));
                let to = place.point((ts.0 / m, ts.1 / m));
                (from, to, m)
            })
            .collect();
        Arrows {
            arrows,
            block,
            moves: count,
            drawn,
            moved,
            stays,
        }
    }

    fn largest(&self) -> f64 {
        self.arrows.last().map_or(0.0, |a| a.2)
    }
}

/// Stroke width and opacity of an arrow carrying `share` of the largest arrow's mass.
fn arrow_style(share: f64) -> (u32, f64) {
    let share = share.clamp(0.0, 1.0);
    (1 + (3.0 * share).round() as u32, 0.3 + 0.7 * share)
}

fn draw_arrow(area: &Area, from: (f64, f64), to: (f64, f64), share: f64) -> Result<()> {
    let (width, alpha) = arrow_style(share);
    let colour = RGBColor(0x10, 0x10, 0x10).mix(alpha);
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let len = dx.hypot(dy);
    if len < 1.0 {
        return Ok(());
    }
    let (ux, uy) = (dx / len, dy / len);
    let head = (5.0 + 2.0 * f64::from(width)).min(0.6 * len);
    let half = head * 0.55;
    let base = (to.0 - ux * head, to.1 - uy * head);
    let px = |p: (f64, f64)| (p.0.round() as i32, p.1.round() as i32);
    area.draw(&PathElement::new(
        vec![px(from), px(base)],
        colour.stroke_width(width),
    ))
    .map_err(plot_error)?;
    let wing = |s: f64| px((base.0 - uy * half * s, base.1 + ux * half * s));
    area.draw(&Polygon::new(
        vec![px(to), wing(1.0), wing(-1.0)],
        colour.filled(),
    ))
    .map_err(plot_error)
}

fn transport_panel(
    area: &Area,
    layout: &PairLayout,
    m: &MetricResult,
    place: &Placement,
    arrows: &std::result::Result<Arrows, String>,
) -> Result<()> {
    let rect = layout.panel(Panel::Transport).expect("emd panel");
    let title = format!("{} = {} px", metric_name(m), short(m.measurement.value));
    match arrows {
        Ok(arrows) => {
            let b = arrows.block;
            let (blocks, unit) = if b > 1.0 {
                (
                    format!("between {} × {}-pixel blocks", short(b), short(b)),
                    "block",
                )
            } else {
                ("between cells".to_string(), "cell")
            };
            panel_titles(
                area,
                rect,
                &title,
                &format!("where the light goes: largest moves {blocks}"),
            )?;
            let largest = arrows.largest();
            for &(from, to, mass) in &arrows.arrows {
                draw_arrow(area, from, to, mass / largest)?;
            }
            place.frame(area)?;
            arrow_legend(area, layout, arrows)?;
            let pct = |x: f64| format!("{:.0}%", 100.0 * x);
            let drawn = match arrows.moves {
                0 => "nothing moves".to_string(),
                1 => format!("one {unit}-to-{unit} move"),
                n if n == arrows.arrows.len() => format!("all {n} {unit}-to-{unit} moves"),
                n => format!(
                    "{} largest of {n} {unit}-to-{unit} moves: {} of the moving mass",
                    arrows.arrows.len(),
                    pct(arrows.drawn / arrows.moved)
                ),
            };
            caption(area, rect, 0, &drawn)?;
            caption(
                area,
                rect,
                1,
                &format!(
                    "{} of the light stays in its {unit} · background: p − q",
                    pct(arrows.stays)
                ),
            )
        }
        Err(reason) => {
            panel_titles(area, rect, &title, "transport plan")?;
            place.frame(area)?;
            let bx = layout.map_box(Panel::Transport).expect("emd panel");
            let (x, y) = bx.centre();
            text(
                area,
                &fit_left(reason, 13.0, bx.width - 10),
                (x as i32, y as i32),
                13.0,
                HPos::Center,
                VPos::Center,
                INK,
            )
        }
    }
}

/// Three sample arrows with the share of the light they stand for, right of the plan.
fn arrow_legend(area: &Area, layout: &PairLayout, arrows: &Arrows) -> Result<()> {
    let bx = layout.map_box(Panel::Transport).expect("emd panel");
    let x = (bx.x + bx.width + 14) as i32;
    let largest = arrows.largest();
    text(
        area,
        "mass",
        (x, bx.y as i32),
        13.0,
        HPos::Left,
        VPos::Top,
        INK,
    )?;
    text(
        area,
        "moved",
        (x, bx.y as i32 + 16),
        13.0,
        HPos::Left,
        VPos::Top,
        INK,
    )?;
    if arrows.arrows.is_empty() {
        return Ok(());
    }
    let smallest = arrows.arrows[0].2;
    let mut samples = vec![largest, (largest + smallest) / 2.0, smallest];
    samples.dedup_by(|x, y| percent(*x) == percent(*y));
    for (k, mass) in samples.into_iter().enumerate() {
        let y = f64::from(bx.y) + 60.0 + 56.0 * k as f64;
        draw_arrow(
            area,
            (f64::from(x), y),
            (f64::from(x) + 44.0, y),
            mass / largest,
        )?;
        text(
            area,
            &percent(mass),
            (x, y as i32 + 10),
            13.0,
            HPos::Left,
            VPos::Top,
            INK,
        )?;
    }
    Ok(())
}

/// A share of the light as a percentage with two significant digits.
fn percent(share: f64) -> String {
    let v = 100.0 * share;
    let decimals = if v > 0.0 {
        (1 - v.log10().floor() as i32).max(0) as usize
    } else {
        0
    };
    format!("{v:.decimals$}%")
}

fn sliced_panel(area: &Area, rect: Rect, m: &MetricResult) -> Result<()> {
    let Extras::Sliced(profile) = &m.measurement.extras else {
        return text(
            area,
            "sliced: no per-direction values were kept",
            (rect.x as i32 + 20, rect.y as i32 + 10),
            17.0,
            HPos::Left,
            VPos::Top,
            INK,
        );
    };
    let p = profile.p;
    let w = order_subscript(p);
    let title = format!(
        "sliced: W{w}(θ), the distance along each of the {} directions; SW{w} = {} px (dashed)",
        profile.angles.len(),
        short(m.measurement.value)
    );
    text(
        area,
        &title,
        (rect.x as i32 + 20, rect.y as i32 + 10),
        17.0,
        HPos::Left,
        VPos::Top,
        INK,
    )?;
    let (mut points, top) = profile_points(profile);
    points.sort_by(|x, y| x.0.total_cmp(&y.0));
    let (best, worst) = extremes(&points);
    text(
        area,
        &format!(
            "largest W{w} = {} px at θ = {}°, smallest {} px at θ = {}° · θ = 0° is down the rows (↓), 90° along the columns (→)",
            short(best.1),
            best.0.round(),
            short(worst.1),
            worst.0.round()
        ),
        (rect.x as i32 + 20, rect.y as i32 + 34),
        13.0,
        HPos::Left,
        VPos::Top,
        MUTED,
    )?;
    let chart_area = area.clone().shrink(
        (rect.x + 10, rect.y + 52),
        (rect.width - 30, rect.height - 56),
    );
    let ymax = if top > 0.0 { top * 1.08 } else { 1.0 };
    let mut chart = ChartBuilder::on(&chart_area)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0f64..180.0f64, 0.0f64..ymax)
        .map_err(plot_error)?;
    let (_, ystep) = ticks(0.0, ymax, 5);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(10)
        .y_labels(6)
        .x_label_formatter(&|v| format!("{v:.0}°"))
        .y_label_formatter(&|v| tick_label(*v, ystep))
        .x_desc("θ, direction (cos θ, sin θ) in (row, column)")
        .y_desc(format!("W{w}(θ), pixels"))
        .label_style(("sans-serif", 13.0).into_font().color(&INK))
        .axis_desc_style(("sans-serif", 14.0).into_font().color(&INK))
        .draw()
        .map_err(plot_error)?;
    let line = RGBColor(0x21, 0x66, 0xac);
    chart
        .draw_series(std::iter::once(PathElement::new(
            points.clone(),
            line.stroke_width(2),
        )))
        .map_err(plot_error)?;
    if points.len() <= 400 {
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 2, line.filled())),
            )
            .map_err(plot_error)?;
    }
    let sw = m.measurement.value;
    let dashes = (0..60).map(|k| {
        let x0 = f64::from(k) * 3.0;
        PathElement::new(vec![(x0, sw), (x0 + 1.8, sw)], INK.stroke_width(1))
    });
    chart.draw_series(dashes).map_err(plot_error)?;
    let marker = rgb(diverging(0.85));
    chart
        .draw_series(std::iter::once(Circle::new(best, 5, marker.filled())))
        .map_err(plot_error)?;
    Ok(())
}

/// `(θ in degrees, W_p(θ))` per direction, and the largest `W_p`.
fn profile_points(profile: &Profile) -> (Vec<(f64, f64)>, f64) {
    let points: Vec<(f64, f64)> = profile
        .angles
        .iter()
        .zip(&profile.per_direction)
        .map(|(t, w)| (t.to_degrees(), *w))
        .collect();
    let top = points.iter().fold(0.0f64, |m, p| m.max(p.1));
    (points, top)
}

/// The points with the largest and the smallest value (the first of ties).
fn extremes(points: &[(f64, f64)]) -> ((f64, f64), (f64, f64)) {
    let mut best = points[0];
    let mut worst = points[0];
    for &p in points {
        if p.1 > best.1 {
            best = p;
        }
        if p.1 < worst.1 {
            worst = p;
        }
    }
    (best, worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_keep_two_digits() {
        assert_eq!(percent(0.001689), "0.17%");
        assert_eq!(percent(0.25), "25%");
        assert_eq!(percent(0.0000259), "0.0026%");
        assert_eq!(percent(0.0), "0%");
    }

    #[test]
    fn layout_sizes() {
        let size = |kinds: &[MetricKind]| {
            let l = PairLayout::for_metrics(kinds);
            (l.width, l.height)
        };
        assert_eq!(size(&[MetricKind::Tv]), (1260, 484));
        assert_eq!(size(&[MetricKind::Emd]), (1680, 484));
        assert_eq!(size(&[MetricKind::Sliced, MetricKind::Tv]), (1260, 804));
        assert_eq!(size(MetricKind::ALL), (1680, 804));
        let l = PairLayout::for_metrics(&[MetricKind::Emd]);
        assert_eq!(
            l.map_box(Panel::Transport),
            Some(Rect {
                x: 1280,
                y: 126,
                width: 300,
                height: 300
            })
        );
        assert_eq!(l.map_box(Panel::Sliced), None);
    }

    #[test]
    fn pixel_spans_partition_the_cells() {
        for (pixels, cells) in [(300, 299), (256, 64), (300, 1000), (7, 3)] {
            let mut next = 0;
            for k in 0..pixels {
                let (a, b) = Placement::span(k, pixels, cells);
                assert!(a < b && b <= cells, "{pixels} {cells} {k}: {a}..{b}");
                assert!(a <= next, "{pixels} {cells} {k}: gap before {a}");
                next = b;
            }
            assert_eq!(next, cells);
        }
    }

    #[test]
    fn arrows_sum_the_plan_over_blocks() {
        use crate::metric::{Ground, emd::emd_sparse};
        use ndarray::Array2;
        // All of A's light in the top-left corner, all of B's in the bottom-right: one block
        // move carries everything.
        let mut va = Array2::zeros((48, 48));
        let mut vb = Array2::zeros((48, 48));
        va[[0, 0]] = 1.0;
        va[[1, 1]] = 1.0;
        vb[[47, 47]] = 1.0;
        vb[[46, 47]] = 1.0;
        let a = Mass::from_values(&va, 1, "a").unwrap();
        let b = Mass::from_values(&vb, 1, "b").unwrap();
        let (_, plan) = emd_sparse(&a, &b, Ground::Euclidean, |_| {}).unwrap();
        let bx = Rect {
            x: 0,
            y: 0,
            width: 300,
            height: 300,
        };
        let place = Placement::fit(&a, bx);
        let arrows = Arrows::from_plan(&plan, &a, &place);
        assert_eq!(arrows.block, 3.0);
        assert_eq!(arrows.moves, 1);
        assert!((arrows.drawn - 1.0).abs() < 1e-12 && arrows.stays == 0.0);
        let ((x0, y0), (x1, y1), _) = arrows.arrows[0];
        // From the mean of cells (0,0),(1,1) to the mean of (46,47),(47,47): 6 px a cell, the
        // map 288 px wide from x = 6, a cell's centre half a cell in.
        assert_eq!(place.width, 288);
        assert!(
            (x0 - 12.0).abs() < 1e-9 && (y0 - x0).abs() < 1e-9,
            "{x0} {y0}"
        );
        assert!((x1 - (6.0 + 47.5 * 6.0)).abs() < 1e-9, "{x1}");
        assert!((y1 - (6.0 + 47.0 * 6.0)).abs() < 1e-9, "{y1}");
    }
}
