//! What every picture needs: the canvas, the built-in font, colour maps, ticks and colour bars.

use std::sync::OnceLock;

use image::RgbImage;
use plotters::backend::BitMapBackend;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};

/// The family the font is registered under; plotters' charts ask for it by default.
const FAMILY: &str = "sans-serif";

/// DejaVu Sans cut to Latin, Greek and symbols (`assets/fonts`, with its licence).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Subset.ttf");

/// Registers the built-in font with plotters, once per process.
pub(super) fn ensure_font() -> Result<()> {
    static READY: OnceLock<bool> = OnceLock::new();
    let ready = *READY
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ready {
        Ok(())
    } else {
        Err(Error::Plot {
            reason: "the built-in font does not load".into(),
        })
    }
}

/// A drawing error as the library's error.
pub(super) fn plot_error(err: impl std::fmt::Display) -> Error {
    Error::Plot {
        reason: err.to_string(),
    }
}

/// The drawing area plotters draws on: pixel coordinates, origin at the top left.
pub(super) type Area<'b> = DrawingArea<BitMapBackend<'b>, Shift>;

/// An RGB picture under construction: heatmaps are painted pixel by pixel first, then plotters
/// draws lines and text over them ([`Canvas::draw`]).
pub(super) struct Canvas {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Canvas {
    /// A white canvas.
    pub(super) fn new(width: u32, height: u32) -> Canvas {
        Canvas {
            width,
            height,
            rgb: vec![255; width as usize * height as usize * 3],
        }
    }

    /// Sets one pixel; pixels outside are ignored.
    pub(super) fn set(&mut self, x: i32, y: i32, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as u32) < self.width && (y as u32) < self.height {
            let k = (y as usize * self.width as usize + x as usize) * 3;
            self.rgb[k..k + 3].copy_from_slice(&c);
        }
    }

    /// Runs `f` with a plotters drawing area over the canvas.
    pub(super) fn draw(&mut self, f: impl FnOnce(&Area) -> Result<()>) -> Result<()> {
        let area = BitMapBackend::with_buffer(&mut self.rgb, (self.width, self.height))
            .into_drawing_area();
        f(&area)?;
        area.present().map_err(plot_error)
    }

    /// The finished picture.
    pub(super) fn into_image(self) -> RgbImage {
        RgbImage::from_raw(self.width, self.height, self.rgb).expect("buffer of width × height")
    }
}

/// Viridis (perceptually uniform, readable in grey and by most colour-blind readers), `t` in
/// `[0, 1]`.
pub(super) fn viridis(t: f64) -> [u8; 3] {
    const ANCHORS: [[u8; 3]; 9] = [
        [0x44, 0x01, 0x54],
        [0x48, 0x28, 0x78],
        [0x3e, 0x49, 0x89],
        [0x31, 0x68, 0x8e],
        [0x26, 0x82, 0x8e],
        [0x1f, 0x9e, 0x89],
        [0x35, 0xb7, 0x79],
        [0x6e, 0xce, 0x58],
        [0xfd, 0xe7, 0x25],
    ];
    interpolate(&ANCHORS, t)
}

/// A diverging map for signed values, `t` in `[−1, 1]`: blue below 0, near-white at 0, red
/// above (ColorBrewer RdBu, reversed).
pub(super) fn diverging(t: f64) -> [u8; 3] {
    const ANCHORS: [[u8; 3]; 11] = [
        [0x05, 0x30, 0x61],
        [0x21, 0x66, 0xac],
        [0x43, 0x93, 0xc3],
        [0x92, 0xc5, 0xde],
        [0xd1, 0xe5, 0xf0],
        [0xf7, 0xf7, 0xf7],
        [0xfd, 0xdb, 0xc7],
        [0xf4, 0xa5, 0x82],
        [0xd6, 0x60, 0x4d],
        [0xb2, 0x18, 0x2b],
        [0x67, 0x00, 0x1f],
    ];
    interpolate(&ANCHORS, (t + 1.0) / 2.0)
}

/// `c` mixed with white: `amount` 0 keeps it, 1 gives white.
pub(super) fn fade(c: [u8; 3], amount: f64) -> [u8; 3] {
    c.map(|v| (f64::from(v) + (255.0 - f64::from(v)) * amount).round() as u8)
}

fn interpolate(anchors: &[[u8; 3]], t: f64) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * (anchors.len() - 1) as f64;
    let k = (pos.floor() as usize).min(anchors.len() - 2);
    let f = pos - k as f64;
    let (lo, hi) = (anchors[k], anchors[k + 1]);
    std::array::from_fn(|i| (f64::from(lo[i]) * (1.0 - f) + f64::from(hi[i]) * f).round() as u8)
}

/// An RGB triple as a plotters colour.
pub(super) fn rgb(c: [u8; 3]) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// Dark grey for text and frames.
pub(super) const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
/// Lighter grey for secondary text.
pub(super) const MUTED: RGBColor = RGBColor(0x55, 0x55, 0x55);

/// Writes `s` with its anchor `(h, v)` at `(x, y)`. `size` is the font's line height in pixels.
pub(super) fn text(
    area: &Area,
    s: &str,
    (x, y): (i32, i32),
    size: f64,
    h: HPos,
    v: VPos,
    colour: RGBColor,
) -> Result<()> {
    let style = TextStyle::from((FAMILY, size).into_font())
        .color(&colour)
        .pos(Pos::new(h, v));
    // plotters puts the baseline half a line below the anchor's top; move it down so that
    // capitals start at the anchor.
    let y = y + (0.12 * size).round() as i32;
    area.draw_text(s, &style, (x, y)).map_err(plot_error)
}

/// Width in pixels of `s` at `size`.
pub(super) fn text_width(s: &str, size: f64) -> u32 {
    (FAMILY, size)
        .into_font()
        .box_size(s)
        .map(|(w, _)| w)
        .unwrap_or(0)
}

/// `s` shortened from the left with `…` until it is at most `width` pixels wide at `size`.
pub(super) fn fit_left(s: &str, size: f64, width: u32) -> String {
    if text_width(s, size) <= width {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    for skip in 1..chars.len() {
        let t: String = std::iter::once('…')
            .chain(chars[skip..].iter().copied())
            .collect();
        if text_width(&t, size) <= width {
            return t;
        }
    }
    "…".into()
}

/// `v` with four significant digits (scientific notation when very small or large).
pub(super) fn short(v: f64) -> String {
    if !v.is_finite() {
        return crate::report::format_value(v);
    }
    if v == 0.0 {
        return "0".into();
    }
    let e = v.abs().log10().floor() as i32;
    if !(-3..6).contains(&e) {
        let m = v / 10f64.powi(e);
        return format!("{m:.3}×10{}", superscript(e));
    }
    let decimals = (3 - e).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `n` in superscript digits, e.g. `⁻⁴`.
pub(super) fn superscript(n: i32) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::new();
    if n < 0 {
        s.push('⁻');
    }
    for d in n.unsigned_abs().to_string().bytes() {
        s.push(DIGITS[usize::from(d - b'0')]);
    }
    s
}

/// Round tick values covering `[lo, hi]` with about `target` steps of 1, 2 or 5 × 10^k.
pub(super) fn ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let span = hi - lo;
    if span.is_nan() || span <= 0.0 || span.is_infinite() {
        return (vec![lo], 1.0);
    }
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let values = (first..=last).map(|k| k as f64 * step).collect();
    (values, step)
}

/// A tick value with as many decimals as its step needs.
pub(super) fn tick_label(v: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let s = format!("{v:.decimals$}");
    // No "-0".
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s.replace('-', "−")
    }
}

/// A vertical colour bar: values `lo` (bottom) to `hi` (top) at `(x, y)`, `width × height`
/// pixels.
pub(super) struct ColourBar {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
    pub lo: f64,
    pub hi: f64,
}

impl ColourBar {
    /// Paints the gradient; `colour` maps a value in `[lo, hi]` to a colour.
    pub(super) fn paint(&self, canvas: &mut Canvas, colour: impl Fn(f64) -> [u8; 3]) {
        for row in 0..self.height {
            let t = 1.0 - (f64::from(row) + 0.5) / f64::from(self.height);
            let c = colour(self.lo + t * (self.hi - self.lo));
            for col in 0..self.width {
                canvas.set(self.x + col, self.y + row, c);
            }
        }
    }

    /// Frames the bar and labels its ticks on the right. Values are shown divided by a power
    /// of ten when they are small, and the power is written above the bar.
    pub(super) fn label(&self, area: &Area) -> Result<()> {
        let frame = [
            (self.x - 1, self.y - 1),
            (self.x + self.width, self.y + self.height),
        ];
        area.draw(&Rectangle::new(frame, INK.stroke_width(1)))
            .map_err(plot_error)?;
        let top = self.lo.abs().max(self.hi.abs());
        let exponent = if top > 0.0 && top < 0.01 {
            top.log10().floor() as i32
        } else {
            0
        };
        let scale = 10f64.powi(exponent);
        let (values, step) = ticks(self.lo / scale, self.hi / scale, 5);
        for v in values {
            let t = if self.hi > self.lo {
                (v * scale - self.lo) / (self.hi - self.lo)
            } else {
                0.5
            };
            let y = self.y + ((1.0 - t) * f64::from(self.height - 1)).round() as i32;
            let x = self.x + self.width;
            area.draw(&PathElement::new(vec![(x, y), (x + 4, y)], INK))
                .map_err(plot_error)?;
            text(
                area,
                &tick_label(v, step),
                (x + 7, y),
                13.0,
                HPos::Left,
                VPos::Center,
                INK,
            )?;
        }
        if exponent != 0 {
            text(
                area,
                &format!("×10{}", superscript(exponent)),
                (self.x, self.y - 8),
                13.0,
                HPos::Left,
                VPos::Bottom,
                INK,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (v, step) = ticks(0.0, 4.3e-4, 5);
        assert_eq!(step, 1e-4);
        assert_eq!(v.len(), 5);
        assert!((v[4] - 4e-4).abs() < 1e-18);
        let (v, step) = ticks(-2.5, 2.5, 5);
        assert_eq!(step, 1.0);
        assert_eq!(v, vec![-2.0, -1.0, 0.0, 1.0, 2.0]);
        assert_eq!(tick_label(-0.0, 0.5), "0.0");
        assert_eq!(tick_label(-1.5, 0.5), "−1.5");
        assert_eq!(ticks(3.0, 3.0, 5).0, vec![3.0]);
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short(6.428832770343338), "6.429");
        assert_eq!(short(0.23407346718570224), "0.2341");
        assert_eq!(short(19.09), "19.09");
        assert_eq!(short(1234.6), "1235");
        assert_eq!(short(2.5e-5), "2.500×10⁻⁵");
        assert_eq!(short(f64::INFINITY), "inf");
        assert_eq!(superscript(-12), "⁻¹²");
    }

    #[test]
    fn colour_maps_end_where_they_should() {
        assert_eq!(viridis(0.0), [0x44, 0x01, 0x54]);
        assert_eq!(viridis(1.0), [0xfd, 0xe7, 0x25]);
        assert_eq!(diverging(0.0), [0xf7, 0xf7, 0xf7]);
        assert_eq!(diverging(-1.0), [0x05, 0x30, 0x61]);
        assert_eq!(diverging(2.0), [0x67, 0x00, 0x1f]);
        assert_eq!(fade([0, 0, 0], 0.5), [128, 128, 128]);
    }
}
