//! Reading inputs into a [`Mass`]: images of every format the `image` crate decodes, numeric
//! matrices as CSV/TSV text, from a file or standard input.
//!
//! # From pixels to light
//! Each pixel's value is scaled to `[0, 1]` by its format's full scale (255 for 8-bit, 65535 for
//! 16-bit, 1.0 for floating point). Colour pixels become luma with the Rec. 709 weights
//! `0.2126 R + 0.7152 G + 0.0722 B` applied to the stored (gamma-encoded) values. Alpha is
//! premultiplied: a pixel's light is `luma × alpha`, so transparent pixels carry no mass.
//! With [`LoadOptions::invert`] the light is `(1 − luma) × alpha`, for dark-on-light inputs.
//!
//! Numeric matrices (`.csv`, `.tsv`, `.txt`, or any text that is not an image) hold one grid row
//! per line, fields separated by commas, semicolons, tabs or spaces; blank lines and lines
//! starting with `#` are skipped. Values must be finite and non-negative. For a matrix the full
//! scale used by `invert` is its largest value.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::{DynamicImage, ImageReader};
use ndarray::Array2;

use crate::error::{Error, Result};
use crate::mask::Mask;
use crate::mass::Mass;

/// Default for [`LoadOptions::max_pixels`]: 2²⁶ = 67,108,864 pixels (e.g. 8192 × 8192).
pub const DEFAULT_MAX_PIXELS: u64 = 1 << 26;

/// Where an input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file on disk.
    Path(PathBuf),
    /// Standard input (written `-` on the command line).
    Stdin,
}

impl Source {
    /// `-` means standard input, anything else a path.
    pub fn parse(arg: &str) -> Source {
        if arg == "-" {
            Source::Stdin
        } else {
            Source::Path(PathBuf::from(arg))
        }
    }

    /// The name used in messages and reports (`-` for standard input).
    pub fn name(&self) -> String {
        match self {
            Source::Path(p) => p.display().to_string(),
            Source::Stdin => "-".to_string(),
        }
    }
}

/// How inputs become masses.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// Mass from `(full scale − value)` instead of the value. Default: false.
    pub invert: bool,
    /// Block size `K` of the `K×K` block-sum downscale; 1 keeps every pixel. Default: 1.
    pub downscale: usize,
    /// Largest accepted pixel count; larger inputs fail before decoding.
    /// Default: [`DEFAULT_MAX_PIXELS`].
    pub max_pixels: u64,
    /// Pixels to ignore; an input of another size fails with [`Error::MaskSize`]. Default: none.
    pub mask: Option<Arc<Mask>>,
    /// Keep the distribution of pixel values ([`Mass::levels`]) that the `hist` metric needs.
    /// It costs a sort of the pixel values, so it is off unless asked for. Default: false.
    pub levels: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            invert: false,
            downscale: 1,
            max_pixels: DEFAULT_MAX_PIXELS,
            mask: None,
            levels: false,
        }
    }
}

impl LoadOptions {
    /// Checks the options before any input is read.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `downscale` 0 or `max_pixels` above its ceiling.
    pub fn validate(&self) -> Result<()> {
        if self.downscale == 0 {
            return Err(Error::InvalidParameter {
                name: "--downscale",
                reason: "must be at least 1".into(),
            });
        }
        crate::metric::limits::check_max_pixels(self.max_pixels)
    }
}

/// [`Error::TooLarge`] when an input of `pixels` pixels exceeds [`LoadOptions::max_pixels`].
fn check_pixels(name: &str, pixels: u64, opts: &LoadOptions) -> Result<()> {
    if pixels > opts.max_pixels {
        return Err(Error::TooLarge {
            source_name: name.to_string(),
            pixels,
            limit: opts.max_pixels,
        });
    }
    Ok(())
}

/// Reads and normalises one input.
///
/// # Errors
/// Any [`Error`] of reading, decoding, the pixel limit, or zero mass.
pub fn load(source: &Source, opts: &LoadOptions) -> Result<Mass> {
    let (bytes, ext) = read_source(source)?;
    load_bytes(&bytes, &source.name(), &ext, opts)
}

/// Reads a mask: an image or numeric matrix whose nonzero pixels are to be ignored. Alpha
/// counts as it does for inputs (a transparent pixel is 0); `max_pixels` bounds its size.
///
/// # Errors
/// Any [`Error`] of reading, decoding or the pixel limit.
pub fn load_mask(source: &Source, max_pixels: u64) -> Result<Mask> {
    let (bytes, ext) = read_source(source)?;
    mask_from_bytes(&bytes, &source.name(), &ext, max_pixels)
}

/// Decodes a mask already in memory, as [`load_mask`] reads one from a file; `ext` is as for
/// [`load_bytes`], and `name` labels the mask in messages.
///
/// # Errors
/// Any [`Error`] of decoding or the pixel limit.
pub fn mask_from_bytes(bytes: &[u8], name: &str, ext: &str, max_pixels: u64) -> Result<Mask> {
    let opts = LoadOptions {
        max_pixels,
        ..LoadOptions::default()
    };
    Ok(Mask::from_values(
        &decode_values(bytes, name, ext, &opts)?,
        name,
    ))
}

/// The bytes of a source and its lower-case extension (empty for standard input).
fn read_source(source: &Source) -> Result<(Vec<u8>, String)> {
    let name = source.name();
    let bytes = match source {
        Source::Path(path) => read_file(path, &name)?,
        Source::Stdin => {
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .map_err(|source| Error::Io {
                    source_name: name.clone(),
                    source,
                })?;
            buf
        }
    };
    let ext = match source {
        Source::Path(p) => extension(p),
        Source::Stdin => String::new(),
    };
    Ok((bytes, ext))
}

/// Decodes an input already in memory. `ext` is the lower-case file extension (may be empty):
/// `csv`, `tsv` and `txt` force the matrix reader; otherwise the content decides.
///
/// # Errors
/// As [`load`].
pub fn load_bytes(bytes: &[u8], name: &str, ext: &str, opts: &LoadOptions) -> Result<Mass> {
    mass_of(&decode_values(bytes, name, ext, opts)?, name, opts)
}

/// The mass of decoded values under the options' mask, downscale and levels.
fn mass_of(values: &Array2<f64>, name: &str, opts: &LoadOptions) -> Result<Mass> {
    Mass::from_pixels(values, opts.downscale, opts.mask.clone(), opts.levels, name)
}

/// Each pixel's light (or a matrix's values), as the module documentation says.
fn decode_values(bytes: &[u8], name: &str, ext: &str, opts: &LoadOptions) -> Result<Array2<f64>> {
    opts.validate()?;
    if bytes.is_empty() {
        return Err(decode_err(name, "empty input"));
    }
    let values = if matches!(ext, "csv" | "tsv" | "txt") {
        parse_matrix(bytes, name, opts)?
    } else if image::guess_format(bytes).is_ok() {
        decode_image(bytes, name, None, opts)?
    } else if let Some(format) = image::ImageFormat::from_extension(ext) {
        // No signature the content can be recognised by (TGA has none): the extension decides,
        // and the decoder explains content that is not of that format.
        decode_image(bytes, name, Some(format), opts)?
    } else {
        parse_matrix(bytes, name, opts).map_err(|err| match err {
            Error::Decode { reason, .. } => decode_err(
                name,
                &format!("not a supported image format, nor a numeric matrix ({reason})"),
            ),
            other => other,
        })?
    };
    Ok(values)
}

fn read_file(path: &Path, name: &str) -> Result<Vec<u8>> {
    if path.is_dir() {
        return Err(decode_err(name, "is a directory, not a file"));
    }
    std::fs::read(path).map_err(|source| Error::Io {
        source_name: name.to_string(),
        source,
    })
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

fn decode_err(name: &str, reason: &str) -> Error {
    Error::Decode {
        source_name: name.to_string(),
        reason: reason.to_string(),
    }
}

/// Decodes an image whose format is `format`, or recognised from its content when `None`.
fn decode_image(
    bytes: &[u8],
    name: &str,
    format: Option<image::ImageFormat>,
    opts: &LoadOptions,
) -> Result<Array2<f64>> {
    let reader = || match format {
        Some(format) => Ok(ImageReader::with_format(Cursor::new(bytes), format)),
        None => ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| decode_err(name, &e.to_string())),
    };
    let (w, h) = reader()?
        .into_dimensions()
        .map_err(|e| decode_err(name, &image_reason(&e)))?;
    check_pixels(name, u64::from(w) * u64::from(h), opts)?;
    let mut limits = image::Limits::default();
    // Room for the widest pixel type (4 channels of f32) plus the decoder's own buffers.
    limits.max_alloc = Some(opts.max_pixels.saturating_mul(32).max(1 << 20));
    let mut r = reader()?;
    r.limits(limits);
    // A decoder may panic on malformed data (the png crate did, on a palette that is not a whole
    // number of colours): that is this input's decode error, not a crash, and a panic hook can
    // tell it from a bug.
    let img = crate::error::catch_input_panic(|| r.decode())
        .map_err(|message| {
            decode_err(
                name,
                &format!("cannot decode image: the decoder failed on malformed data ({message})"),
            )
        })?
        .map_err(|e| decode_err(name, &image_reason(&e)))?;
    Ok(light(&img, opts.invert))
}

fn image_reason(e: &image::ImageError) -> String {
    match e {
        image::ImageError::Unsupported(u) => format!("unsupported image: {u}"),
        other => format!("cannot decode image: {other}"),
    }
}

/// Per-pixel light in `[0, 1]` (luma × alpha, or (1 − luma) × alpha when inverted).
fn light(img: &DynamicImage, invert: bool) -> Array2<f64> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut out = Array2::<f64>::zeros((h, w));
    let tone = |luma: f64| if invert { 1.0 - luma } else { luma };
    let rgb = |r: f64, g: f64, b: f64| 0.2126 * r + 0.7152 * g + 0.0722 * b;
    macro_rules! fill {
        ($buf:expr, $scale:expr, |$p:ident| $luma_alpha:expr) => {{
            for (x, y, px) in $buf.enumerate_pixels() {
                let mut $p = [0.0f64; 4];
                for (slot, &v) in $p.iter_mut().zip(px.0.iter()) {
                    *slot = f64::from(v) / $scale;
                }
                let (luma, alpha): (f64, f64) = $luma_alpha;
                out[[y as usize, x as usize]] = tone(luma) * alpha;
            }
        }};
    }
    match img {
        DynamicImage::ImageLuma8(b) => fill!(b, 255.0, |p| (p[0], 1.0)),
        DynamicImage::ImageLumaA8(b) => fill!(b, 255.0, |p| (p[0], p[1])),
        DynamicImage::ImageRgb8(b) => fill!(b, 255.0, |p| (rgb(p[0], p[1], p[2]), 1.0)),
        DynamicImage::ImageRgba8(b) => fill!(b, 255.0, |p| (rgb(p[0], p[1], p[2]), p[3])),
        DynamicImage::ImageLuma16(b) => fill!(b, 65535.0, |p| (p[0], 1.0)),
        DynamicImage::ImageLumaA16(b) => fill!(b, 65535.0, |p| (p[0], p[1])),
        DynamicImage::ImageRgb16(b) => fill!(b, 65535.0, |p| (rgb(p[0], p[1], p[2]), 1.0)),
        DynamicImage::ImageRgba16(b) => fill!(b, 65535.0, |p| (rgb(p[0], p[1], p[2]), p[3])),
        other => {
            let b = other.to_rgba32f();
            fill!(b, 1.0, |p| (rgb(p[0], p[1], p[2]), p[3]))
        }
    }
    out
}

fn parse_matrix(bytes: &[u8], name: &str, opts: &LoadOptions) -> Result<Array2<f64>> {
    let text = std::str::from_utf8(bytes).map_err(|_| decode_err(name, "not UTF-8 text"))?;
    // A byte-order mark (as some spreadsheets write) is not data.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut data = Vec::new();
    let mut cols = 0usize;
    let mut rows = 0usize;
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = if line.contains(',') {
            line.split(',').collect()
        } else if line.contains(';') {
            line.split(';').collect()
        } else {
            line.split_whitespace().collect()
        };
        if rows == 0 {
            cols = fields.len();
        } else if fields.len() != cols {
            return Err(decode_err(
                name,
                &format!(
                    "line {}: {} fields, but the first row has {cols} (rows must have equal length)",
                    lineno + 1,
                    fields.len()
                ),
            ));
        }
        for (k, field) in fields.iter().enumerate() {
            let field = field.trim();
            let v: f64 = field.parse().map_err(|_| {
                decode_err(
                    name,
                    &format!(
                        "line {}, field {}: '{field}' is not a number",
                        lineno + 1,
                        k + 1
                    ),
                )
            })?;
            if !v.is_finite() || v < 0.0 {
                return Err(decode_err(
                    name,
                    &format!(
                        "line {}, field {}: {field} is not a finite non-negative number",
                        lineno + 1,
                        k + 1
                    ),
                ));
            }
            data.push(v);
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(decode_err(name, "no numbers found"));
    }
    check_pixels(name, (rows * cols) as u64, opts)?;
    let mut values =
        Array2::from_shape_vec((rows, cols), data).expect("rows × cols values were collected");
    if opts.invert {
        invert_matrix(&mut values);
    }
    Ok(values)
}

/// `full − v` for every value, the full scale being the largest value (a matrix has no format
/// to say what full scale is).
fn invert_matrix(values: &mut Array2<f64>) {
    let full = values.iter().copied().fold(0.0, f64::max);
    values.mapv_inplace(|v| full - v);
}

/// Turns values already in memory (from another program, say) into a mass, as a numeric matrix
/// input is: values must be finite and non-negative, [`LoadOptions::invert`] takes the largest
/// value as full scale, then the block-sum downscale and the normalisation. `name` labels the
/// input in error messages.
///
/// # Errors
/// [`Error::TooLarge`] above [`LoadOptions::max_pixels`], [`Error::Decode`] for a value that is
/// negative or not finite, [`Error::ZeroMass`], or an invalid option.
pub fn from_values(mut values: Array2<f64>, name: &str, opts: &LoadOptions) -> Result<Mass> {
    opts.validate()?;
    check_pixels(name, values.len() as u64, opts)?;
    if opts.invert && values.iter().all(|v| v.is_finite() && *v >= 0.0) {
        invert_matrix(&mut values);
    }
    mass_of(&values, name, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> LoadOptions {
        LoadOptions::default()
    }

    #[test]
    fn values_in_memory_load_as_a_matrix_file_does() {
        let text = b"1,2\n3,0\n";
        let values = ndarray::array![[1.0, 2.0], [3.0, 0.0]];
        for invert in [false, true] {
            let opts = LoadOptions { invert, ..opts() };
            let from_file = load_bytes(text, "m", "csv", &opts).unwrap();
            assert_eq!(from_values(values.clone(), "m", &opts).unwrap(), from_file);
        }
        // Column-major memory holds the same matrix.
        let fortran = values.t().as_standard_layout().t().to_owned();
        assert_eq!(
            from_values(fortran, "m", &opts()).unwrap(),
            from_values(values.clone(), "m", &opts()).unwrap()
        );
        // A NaN or negative value is an error, inverted or not (inverting must not hide it).
        for bad in [f64::NAN, -1.0, f64::INFINITY] {
            let mut v = values.clone();
            v[[1, 0]] = bad;
            for invert in [false, true] {
                let opts = LoadOptions { invert, ..opts() };
                let err = from_values(v.clone(), "m", &opts).unwrap_err().to_string();
                assert!(
                    err.contains("row 2, column 1"),
                    "{bad} invert={invert}: {err}"
                );
            }
        }
        let small = LoadOptions {
            max_pixels: 3,
            ..opts()
        };
        assert!(matches!(
            from_values(values.clone(), "m", &small),
            Err(Error::TooLarge { pixels: 4, .. })
        ));
        assert!(matches!(
            from_values(Array2::zeros((2, 2)), "m", &opts()),
            Err(Error::ZeroMass { .. })
        ));
    }

    #[test]
    fn masks_in_memory_decode_as_mask_files_do() {
        let mask = mask_from_bytes(b"0,1\n2,0\n", "m", "csv", DEFAULT_MAX_PIXELS).unwrap();
        assert_eq!(mask.name(), "m");
        assert_eq!(
            mask.ignore(),
            &ndarray::array![[false, true], [true, false]]
        );
        let img = image::GrayImage::from_raw(2, 1, vec![0, 7]).unwrap();
        let from_png = mask_from_bytes(&png(DynamicImage::ImageLuma8(img)), "p", "", 99).unwrap();
        assert_eq!(from_png.ignore(), &ndarray::array![[false, true]]);
        assert!(matches!(
            mask_from_bytes(b"0,1\n2,0\n", "m", "csv", 3),
            Err(Error::TooLarge { pixels: 4, .. })
        ));
    }

    #[test]
    fn matrix_separators_and_comments() {
        let m = load_bytes(b"# grid\n1,2\n3,4\n\n", "m", "csv", &opts()).unwrap();
        assert_eq!(m.as_slice(), &[0.1, 0.2, 0.3, 0.4]);
        let t = load_bytes(b"1\t2\n3\t4\n", "m", "", &opts()).unwrap();
        assert_eq!(t, m);
        let s = load_bytes(b"1 2\n3   4\n", "m", "txt", &opts()).unwrap();
        assert_eq!(s, m);
        let bom = load_bytes(b"\xef\xbb\xbf1,2\r\n3,4\r\n", "m", "csv", &opts()).unwrap();
        assert_eq!(bom, m, "a byte-order mark and CRLF line ends");
    }

    #[test]
    fn matrix_errors_name_the_line() {
        let err = |b: &[u8]| load_bytes(b, "m", "csv", &opts()).unwrap_err().to_string();
        assert!(err(b"1,2\n3\n").contains("line 2"), "{}", err(b"1,2\n3\n"));
        assert!(err(b"1,x\n").contains("'x' is not a number"));
        assert!(err(b"1,-2\n").contains("non-negative"));
        assert!(err(b"1,nan\n").contains("non-negative"));
        assert!(err(b"0,0\n").contains("zero total mass"));
        assert!(err(b"\n\n").contains("no numbers"));
    }

    #[test]
    fn invert_matrix_uses_its_maximum_as_full_scale() {
        let m = load_bytes(
            b"0,1\n2,3\n",
            "m",
            "csv",
            &LoadOptions {
                invert: true,
                ..opts()
            },
        )
        .unwrap();
        assert_eq!(m.as_slice(), &[0.5, 2.0 / 6.0, 1.0 / 6.0, 0.0]);
    }

    fn png(img: DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn alpha_is_premultiplied_and_colour_uses_rec709() {
        let mut img = image::RgbaImage::new(2, 1);
        img.put_pixel(0, 0, image::Rgba([255, 0, 0, 255]));
        img.put_pixel(1, 0, image::Rgba([255, 255, 255, 0]));
        let m = load_bytes(&png(DynamicImage::ImageRgba8(img)), "c", "png", &opts()).unwrap();
        assert_eq!(m.raw_total(), 0.2126);
        assert_eq!(m.as_slice(), &[1.0, 0.0]);
    }

    #[test]
    fn sixteen_bit_uses_full_scale_65535() {
        let img =
            image::ImageBuffer::<image::Luma<u16>, _>::from_raw(2, 1, vec![65535u16, 0]).unwrap();
        let m = load_bytes(&png(DynamicImage::ImageLuma16(img)), "s", "png", &opts()).unwrap();
        assert_eq!(m.raw_total(), 1.0);
        let inv = LoadOptions {
            invert: true,
            ..opts()
        };
        let img =
            image::ImageBuffer::<image::Luma<u16>, _>::from_raw(2, 1, vec![65535u16, 0]).unwrap();
        let m = load_bytes(&png(DynamicImage::ImageLuma16(img)), "s", "png", &inv).unwrap();
        assert_eq!(m.as_slice(), &[0.0, 1.0]);
    }

    #[test]
    fn pixel_limit_is_checked_before_decoding() {
        let img = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(10, 10, image::Luma([1])));
        let small = LoadOptions {
            max_pixels: 99,
            ..opts()
        };
        assert!(matches!(
            load_bytes(&png(img), "big", "png", &small),
            Err(Error::TooLarge { pixels: 100, .. })
        ));
    }

    #[test]
    fn formats_without_a_signature_are_read_by_extension() {
        let img = image::RgbaImage::from_pixel(3, 2, image::Rgba([255, 255, 255, 255]));
        let mut tga = Cursor::new(Vec::new());
        DynamicImage::ImageRgba8(img)
            .write_to(&mut tga, image::ImageFormat::Tga)
            .unwrap();
        let tga = tga.into_inner();
        assert!(image::guess_format(&tga).is_err(), "TGA has no signature");
        let m = load_bytes(&tga, "t.tga", "tga", &opts()).unwrap();
        assert_eq!(m.pixel_shape(), (2, 3));
        assert_eq!(m.raw_total(), 6.0);
        let err = load_bytes(b"\x00\x01 not a picture", "t.tga", "tga", &opts()).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    }

    #[test]
    fn corrupt_and_unknown_inputs_are_decode_errors() {
        let mut bytes = png(DynamicImage::ImageLuma8(image::GrayImage::from_pixel(
            8,
            8,
            image::Luma([9]),
        )));
        bytes.truncate(bytes.len() / 2);
        assert!(matches!(
            load_bytes(&bytes, "t", "png", &opts()),
            Err(Error::Decode { .. })
        ));
        let err = load_bytes(&[0xff, 0x00, 0x12], "u", "", &opts()).unwrap_err();
        assert!(
            err.to_string().contains("not a supported image format"),
            "{err}"
        );
    }
}
