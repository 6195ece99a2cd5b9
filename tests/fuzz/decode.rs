//! The loaders: image bytes and numeric-matrix text through [`imgdist::load::load_bytes`].
//!
//! Invariants: no panic; every input either loads as a valid mass (finite non-negative weights
//! summing to 1 within rounding, the grid the pixel size and `--downscale` give, within the
//! pixel limit) or fails with a loading error (`Decode`, `TooLarge` above the limit, `ZeroMass`)
//! — the errors that exit 2. Round trips check the documented meaning too: an image encoded by
//! the `image` crate loads as `luma × alpha` (Rec. 709, full scale per bit depth, inverted
//! when asked), and a matrix written in any documented layout loads as its values, with errors
//! naming the offending line.

use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};

use image::{DynamicImage, ImageFormat};
use imgdist::{Error, LoadOptions, Mass, load::load_bytes};
use ndarray::Array2;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseResult;

use crate::driver::{Bytes, corpus, fix_png_crcs, run, seeded};

/// Pixel limits for arbitrary bytes: small enough that a header claiming a huge image is
/// refused rather than allocated (the limit itself is under test).
const LIMITS: [u64; 3] = [64, 1 << 12, 1 << 16];

/// Extensions a caller may pass: forced matrix readers, image formats, none.
const EXTENSIONS: [&str; 9] = ["", "png", "csv", "tsv", "txt", "jpg", "gif", "tiff", "bmp"];

/// How many loads of a target ended each way: a mass, `Decode`, `ZeroMass`, `TooLarge`.
#[derive(Default)]
struct Outcomes([AtomicU64; 4]);

impl Outcomes {
    fn count(&self, k: usize) {
        self.0[k].fetch_add(1, Ordering::Relaxed);
    }

    /// Prints the shares, so that a target whose inputs all fail the same way shows.
    fn print(&self, target: &str) {
        let n: Vec<u64> = self.0.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total = n.iter().sum::<u64>().max(1) as f64;
        let share = |k: usize| 100.0 * n[k] as f64 / total;
        eprintln!(
            "fuzz {target}: loaded {:.0}%, decode error {:.0}%, zero mass {:.0}%, too large {:.0}%",
            share(0),
            share(1),
            share(2),
            share(3)
        );
    }
}

/// Checks what loading `bytes` gave: a valid mass or an error of the loading class.
fn check_load(bytes: &[u8], ext: &str, opts: &LoadOptions, seen: &Outcomes) -> TestCaseResult {
    let loaded = load_bytes(bytes, "fuzz", ext, opts);
    seen.count(match &loaded {
        Ok(_) => 0,
        Err(Error::Decode { .. }) => 1,
        Err(Error::ZeroMass { .. }) => 2,
        _ => 3,
    });
    match loaded {
        Ok(m) => check_mass(&m, opts),
        Err(Error::Decode { .. } | Error::ZeroMass { .. }) => Ok(()),
        Err(Error::TooLarge { pixels, limit, .. }) => {
            prop_assert!(pixels > limit, "TooLarge with {pixels} ≤ limit {limit}");
            prop_assert_eq!(limit, opts.max_pixels);
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!(
            "loading failed outside the loading errors: {other:?}"
        ))),
    }
}

/// The invariants of a loaded mass.
pub fn check_mass(m: &Mass, opts: &LoadOptions) -> TestCaseResult {
    let (h, w) = m.pixel_shape();
    let k = opts.downscale;
    prop_assert!(h >= 1 && w >= 1, "empty grid {h}x{w}");
    prop_assert!((h * w) as u64 <= opts.max_pixels, "{h}x{w} above the limit");
    prop_assert_eq!(m.shape(), (h.div_ceil(k), w.div_ceil(k)));
    prop_assert_eq!(m.downscale(), k);
    prop_assert_eq!(m.row_coords().len(), m.shape().0);
    prop_assert_eq!(m.col_coords().len(), m.shape().1);
    let weights = m.as_slice();
    prop_assert!(
        weights.iter().all(|v| v.is_finite() && *v >= 0.0),
        "weights not finite and non-negative: {weights:?}"
    );
    // Each weight is v/total with a rounded total: the sum is 1 within a few ulps per cell.
    let sum = exact_sum(weights);
    let tol = 4.0 * f64::EPSILON * weights.len() as f64;
    prop_assert!(
        (sum - 1.0).abs() <= tol,
        "weights sum to {sum:.17}, allowed ±{tol:.1e}"
    );
    prop_assert!(m.raw_total() > 0.0, "raw total {}", m.raw_total());
    // The pixel values `hist` reads: one per pixel, distinct and ascending, in [0, 1] for an
    // image (a matrix's values are as given).
    prop_assert_eq!(m.levels().is_some(), opts.levels);
    if let Some(levels) = m.levels() {
        prop_assert_eq!(levels.pixels(), (h * w) as u64);
        prop_assert_eq!(levels.counts().iter().sum::<u64>(), (h * w) as u64);
        let v = levels.values();
        prop_assert!(
            v.windows(2).all(|p| p[0] < p[1]),
            "levels not ascending: {v:?}"
        );
        prop_assert!(v.iter().all(|x| x.is_finite() && *x >= 0.0), "{v:?}");
    }
    Ok(())
}

/// A sum with negligible rounding error (Neumaier), so the test sees the weights' own error.
pub fn exact_sum(values: &[f64]) -> f64 {
    let (mut sum, mut comp) = (0.0f64, 0.0f64);
    for &v in values {
        let s = sum + v;
        comp += if sum.abs() >= v.abs() {
            (sum - s) + v
        } else {
            (v - s) + sum
        };
        sum = s;
    }
    sum + comp
}

fn options() -> impl Strategy<Value = LoadOptions> {
    (
        any::<bool>(),
        1usize..=3,
        prop::sample::select(LIMITS.to_vec()),
        any::<bool>(),
    )
        .prop_map(|(invert, downscale, max_pixels, levels)| LoadOptions {
            invert,
            downscale,
            max_pixels,
            levels,
            ..LoadOptions::default()
        })
}

/// Every image seed loads (or fails) as documented, unchanged, under the default options.
#[test]
fn image_seeds_replay() {
    for (name, bytes) in corpus("image") {
        let ext = name.rsplit('.').next().unwrap();
        let opts = LoadOptions::default();
        check_load(&bytes, ext, &opts, &Outcomes::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let bomb = corpus("image")
        .into_iter()
        .find(|(n, _)| n == "claims_100000x100000.png")
        .unwrap()
        .1;
    assert!(matches!(
        load_bytes(&bomb, "bomb", "png", &LoadOptions::default()),
        Err(Error::TooLarge {
            pixels: 10_000_000_000,
            ..
        })
    ));
}

#[test]
fn fuzz_image_bytes() {
    let seeds = corpus("image");
    let bytes = (seeded(seeds, 8), any::<bool>()).prop_map(|(Bytes(mut bytes), fix_crc)| {
        if fix_crc {
            fix_png_crcs(&mut bytes);
        }
        Bytes(bytes)
    });
    let strategy = (bytes, prop::sample::select(EXTENSIONS.to_vec()), options());
    let seen = Outcomes::default();
    run("image_bytes", 10_000, strategy, |(bytes, ext, opts)| {
        check_load(&bytes.0, ext, &opts, &seen)
    });
    seen.print("image_bytes");
}

/// A pixel type the `image` crate encodes, with its channels and full scale.
#[derive(Debug, Clone, Copy)]
enum Pixel {
    L8,
    La8,
    Rgb8,
    Rgba8,
    L16,
    La16,
    Rgb16,
    Rgba16,
}

impl Pixel {
    fn channels(self) -> usize {
        match self {
            Pixel::L8 | Pixel::L16 => 1,
            Pixel::La8 | Pixel::La16 => 2,
            Pixel::Rgb8 | Pixel::Rgb16 => 3,
            Pixel::Rgba8 | Pixel::Rgba16 => 4,
        }
    }

    fn full_scale(self) -> u16 {
        match self {
            Pixel::L8 | Pixel::La8 | Pixel::Rgb8 | Pixel::Rgba8 => 255,
            _ => 65535,
        }
    }

    fn image(self, w: u32, h: u32, samples: &[u16]) -> DynamicImage {
        let bytes = || samples.iter().map(|&v| v as u8).collect::<Vec<u8>>();
        let words = || samples.to_vec();
        match self {
            Pixel::L8 => {
                DynamicImage::ImageLuma8(image::ImageBuffer::from_raw(w, h, bytes()).unwrap())
            }
            Pixel::La8 => {
                DynamicImage::ImageLumaA8(image::ImageBuffer::from_raw(w, h, bytes()).unwrap())
            }
            Pixel::Rgb8 => {
                DynamicImage::ImageRgb8(image::ImageBuffer::from_raw(w, h, bytes()).unwrap())
            }
            Pixel::Rgba8 => {
                DynamicImage::ImageRgba8(image::ImageBuffer::from_raw(w, h, bytes()).unwrap())
            }
            Pixel::L16 => {
                DynamicImage::ImageLuma16(image::ImageBuffer::from_raw(w, h, words()).unwrap())
            }
            Pixel::La16 => {
                DynamicImage::ImageLumaA16(image::ImageBuffer::from_raw(w, h, words()).unwrap())
            }
            Pixel::Rgb16 => {
                DynamicImage::ImageRgb16(image::ImageBuffer::from_raw(w, h, words()).unwrap())
            }
            Pixel::Rgba16 => {
                DynamicImage::ImageRgba16(image::ImageBuffer::from_raw(w, h, words()).unwrap())
            }
        }
    }
}

/// Lossless formats and the pixel types whose samples they store and give back unchanged.
const LOSSLESS: &[(ImageFormat, &str, &[Pixel])] = &[
    (
        ImageFormat::Png,
        "png",
        &[
            Pixel::L8,
            Pixel::La8,
            Pixel::Rgb8,
            Pixel::Rgba8,
            Pixel::L16,
            Pixel::La16,
            Pixel::Rgb16,
            Pixel::Rgba16,
        ],
    ),
    (
        ImageFormat::Tiff,
        "tiff",
        &[
            Pixel::L8,
            Pixel::Rgb8,
            Pixel::Rgba8,
            Pixel::L16,
            Pixel::Rgb16,
            Pixel::Rgba16,
        ],
    ),
    (ImageFormat::Bmp, "bmp", &[Pixel::Rgb8, Pixel::Rgba8]),
    (
        ImageFormat::Pnm,
        "pnm",
        &[Pixel::L8, Pixel::Rgb8, Pixel::L16, Pixel::Rgb16],
    ),
    (ImageFormat::Qoi, "qoi", &[Pixel::Rgb8, Pixel::Rgba8]),
    (
        ImageFormat::Tga,
        "tga",
        &[Pixel::L8, Pixel::La8, Pixel::Rgb8, Pixel::Rgba8],
    ),
    (ImageFormat::Farbfeld, "ff", &[Pixel::Rgba16]),
];

/// An image to encode: format, pixel type, size, samples (row-major, interleaved channels).
#[derive(Debug, Clone)]
struct Encoded {
    format: usize,
    pixel: Pixel,
    w: u32,
    h: u32,
    samples: Vec<u16>,
}

fn encoded() -> impl Strategy<Value = Encoded> {
    (
        0..LOSSLESS.len(),
        any::<Index>(),
        1u32..=12,
        1u32..=12,
        any::<bool>(),
    )
        .prop_flat_map(|(format, pixel, w, h, sparse)| {
            let pixels = LOSSLESS[format].2;
            let pixel = pixels[pixel.index(pixels.len())];
            let full = pixel.full_scale();
            let n = (w * h) as usize * pixel.channels();
            // Full scale, zero and ties matter; sparse images are mostly black.
            let sample = if sparse {
                prop_oneof![4 => Just(0u16), 1 => Just(full), 1 => 0..=full].boxed()
            } else {
                prop_oneof![1 => Just(0u16), 1 => Just(full), 4 => 0..=full].boxed()
            };
            prop::collection::vec(sample, n).prop_map(move |samples| Encoded {
                format,
                pixel,
                w,
                h,
                samples,
            })
        })
}

/// The light the README documents for one pixel's samples (scaled to [0, 1]).
fn documented_light(pixel: Pixel, s: &[f64], invert: bool) -> f64 {
    let tone = |luma: f64| if invert { 1.0 - luma } else { luma };
    let rgb = |s: &[f64]| 0.2126 * s[0] + 0.7152 * s[1] + 0.0722 * s[2];
    match pixel.channels() {
        1 => tone(s[0]),
        2 => tone(s[0]) * s[1],
        3 => tone(rgb(s)),
        _ => tone(rgb(s)) * s[3],
    }
}

#[test]
fn fuzz_image_round_trip() {
    let strategy = (encoded(), any::<bool>(), 1usize..=3);
    run(
        "image_round_trip",
        2_000,
        strategy,
        |(img, invert, downscale)| {
            let (format, ext, _) = LOSSLESS[img.format];
            let mut bytes = Cursor::new(Vec::new());
            img.pixel
                .image(img.w, img.h, &img.samples)
                .write_to(&mut bytes, format)
                .map_err(|e| TestCaseError::fail(format!("encoding failed: {e}")))?;
            let bytes = bytes.into_inner();
            let opts = LoadOptions {
                invert,
                downscale,
                ..LoadOptions::default()
            };
            let (w, h, c) = (img.w as usize, img.h as usize, img.pixel.channels());
            let full = f64::from(img.pixel.full_scale());
            let light = Array2::from_shape_fn((h, w), |(y, x)| {
                let at = (y * w + x) * c;
                let s: Vec<f64> = img.samples[at..at + c]
                    .iter()
                    .map(|&v| f64::from(v) / full)
                    .collect();
                documented_light(img.pixel, &s, invert)
            });
            // By extension, and by content alone where the format has a signature to go by.
            let by_content = image::guess_format(&bytes).is_ok();
            for ext in [ext, ""].into_iter().take(if by_content { 2 } else { 1 }) {
                let loaded = load_bytes(&bytes, "img", ext, &opts);
                if light.iter().all(|&v| v == 0.0) {
                    prop_assert!(
                        matches!(loaded, Err(Error::ZeroMass { .. })),
                        "no light must be a zero-mass error, got {loaded:?}"
                    );
                    continue;
                }
                let m = loaded.map_err(|e| TestCaseError::fail(format!("{ext:?}: {e}")))?;
                check_mass(&m, &opts)?;
                prop_assert_eq!(m.pixel_shape(), (h, w));
                let mut blocks = Array2::<f64>::zeros(m.shape());
                for ((y, x), v) in light.indexed_iter() {
                    blocks[[y / downscale, x / downscale]] += v;
                }
                let total = exact_sum(blocks.as_slice().unwrap());
                for (got, block) in m.as_slice().iter().zip(blocks.iter()) {
                    let want = block / total;
                    prop_assert!(
                        (got - want).abs() <= 1e-12 * want.max(f64::MIN_POSITIVE),
                        "{ext:?}: weight {got:.17e}, documented {want:.17e}"
                    );
                }
            }
            Ok(())
        },
    );
}

/// Every matrix seed loads (or fails) as documented, unchanged.
#[test]
fn matrix_seeds_replay() {
    for (name, bytes) in corpus("matrix") {
        let ext = name.rsplit('.').next().unwrap();
        check_load(&bytes, ext, &LoadOptions::default(), &Outcomes::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn fuzz_matrix_bytes() {
    let seeds = corpus("matrix");
    let strategy = (
        seeded(seeds, 8),
        prop::sample::select(vec!["csv", "tsv", "txt", ""]),
        options(),
    );
    let seen = Outcomes::default();
    run("matrix_bytes", 10_000, strategy, |(bytes, ext, opts)| {
        check_load(&bytes.0, ext, &opts, &seen)
    });
    seen.print("matrix_bytes");
}

/// A numeric matrix and how to write it.
#[derive(Debug, Clone)]
struct Written {
    /// Each value as written; the value is what Rust's parser makes of it.
    rows: Vec<Vec<String>>,
    /// Field separator.
    sep: &'static str,
    crlf: bool,
    bom: bool,
    /// Comment and blank lines to put before the data line with that index.
    noise: Vec<(Index, &'static str)>,
    /// Spaces around each line.
    padded: bool,
    final_newline: bool,
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just("0".to_string()),
        3 => (0u32..4).prop_map(|v| v.to_string()),
        2 => (0u32..=255).prop_map(|v| v.to_string()),
        2 => (0.0f64..1e6).prop_map(|v| v.to_string()),
        1 => (0.0f64..1e6).prop_map(|v| format!("{v:e}")),
        1 => (0.0f64..1.0).prop_map(|v| format!("{v:.3}")),
        1 => (-300i32..300, 1u32..10).prop_map(|(e, m)| format!("{m}E{e}")),
    ]
}

fn written() -> impl Strategy<Value = Written> {
    (1usize..=12, 1usize..=12)
        .prop_flat_map(|(r, c)| {
            (
                prop::collection::vec(prop::collection::vec(number(), c), r),
                prop::sample::select(vec![",", ", ", " ,", ";", "\t", " ", "   "]),
                any::<bool>(),
                any::<bool>(),
                prop::collection::vec(
                    (
                        any::<Index>(),
                        prop::sample::select(vec!["", "# a comment", "  ", "#1,2,3"]),
                    ),
                    0..4,
                ),
                any::<bool>(),
                any::<bool>(),
            )
        })
        .prop_map(
            |(rows, sep, crlf, bom, noise, padded, final_newline)| Written {
                rows,
                sep,
                crlf,
                bom,
                noise,
                padded,
                final_newline,
            },
        )
}

impl Written {
    /// The text, and the 1-based line number of each data row.
    fn text(&self) -> (String, Vec<usize>) {
        let mut lines: Vec<String> = Vec::new();
        let mut data_lines = Vec::new();
        for (k, row) in self.rows.iter().enumerate() {
            for (at, noise) in &self.noise {
                if at.index(self.rows.len()) == k {
                    lines.push(noise.to_string());
                }
            }
            let line = row.join(self.sep);
            lines.push(if self.padded {
                format!("  {line} ")
            } else {
                line
            });
            data_lines.push(lines.len());
        }
        let end = if self.crlf { "\r\n" } else { "\n" };
        let mut text = lines.join(end);
        if self.final_newline {
            text.push_str(end);
        }
        if self.bom {
            text.insert(0, '\u{feff}');
        }
        (text, data_lines)
    }

    fn values(&self) -> Array2<f64> {
        let cols = self.rows[0].len();
        Array2::from_shape_fn((self.rows.len(), cols), |(r, c)| {
            self.rows[r][c].parse().unwrap()
        })
    }
}

#[test]
fn fuzz_matrix_round_trip() {
    let strategy = (
        written(),
        prop::sample::select(vec!["csv", "tsv", "txt", ""]),
        any::<bool>(),
        1usize..=3,
    );
    run(
        "matrix_round_trip",
        2_000,
        strategy,
        |(w, ext, invert, downscale)| {
            let (text, _) = w.text();
            let opts = LoadOptions {
                invert,
                downscale,
                // The reference keeps the pixel values, so the two are compared too.
                levels: true,
                ..LoadOptions::default()
            };
            let mut values = w.values();
            if invert {
                let full = values.iter().copied().fold(0.0, f64::max);
                values.mapv_inplace(|v| full - v);
            }
            let loaded = load_bytes(text.as_bytes(), "m", ext, &opts);
            match Mass::from_values(&values, downscale, "m") {
                Ok(want) => {
                    let got = loaded.map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
                    check_mass(&got, &opts)?;
                    prop_assert_eq!(got, want, "{:?}", text);
                }
                Err(Error::ZeroMass { .. }) => prop_assert!(
                    matches!(loaded, Err(Error::ZeroMass { .. })),
                    "all-zero matrix must be a zero-mass error, got {loaded:?}"
                ),
                Err(e) => return Err(TestCaseError::fail(format!("reference mass failed: {e}"))),
            }
            Ok(())
        },
    );
}

/// A bad field or a short row in a matrix that is otherwise fine: the error names its line.
#[test]
fn fuzz_matrix_errors_name_the_line() {
    let bad = prop_oneof![
        Just(Some("x")),
        Just(Some("-1")),
        Just(Some("nan")),
        Just(Some("inf")),
        Just(Some("1e999")),
        Just(Some("0x10")),
        Just(None), // a field missing
    ];
    let strategy = (
        written(),
        any::<Index>(),
        any::<Index>(),
        bad,
        prop::sample::select(vec!["csv", "tsv", "txt"]),
    );
    run(
        "matrix_error_lines",
        2_000,
        strategy,
        |(mut w, row, col, bad, ext)| {
            let k = row.index(w.rows.len());
            let cols = w.rows[0].len();
            match bad {
                Some(token) => w.rows[k][col.index(cols)] = token.to_string(),
                // A row one field short is ragged unless it is the only row; as the first row it
                // makes the second row the one that differs.
                None if w.rows.len() > 1 && cols > 1 => {
                    w.rows[k].pop();
                }
                None => return Ok(()),
            }
            let (text, lines) = w.text();
            let want = match bad {
                None if k == 0 => lines[1],
                _ => lines[k],
            };
            let err = load_bytes(text.as_bytes(), "m", ext, &LoadOptions::default());
            let Err(Error::Decode { reason, .. }) = &err else {
                return Err(TestCaseError::fail(format!(
                    "{text:?}: expected a decode error, got {err:?}"
                )));
            };
            prop_assert!(
                reason.starts_with(&format!("line {want}:"))
                    || reason.starts_with(&format!("line {want},")),
                "{:?}: the error should name line {}: {}",
                text,
                want,
                reason
            );
            Ok(())
        },
    );
}
