//! The result of comparing one pair, and its text and JSON forms.
//!
//! Text: one `name<TAB>value` line per metric, values in shortest round-trip form (`inf` when
//! infinite). JSON: one object, documented in the README ("JSON output").

use std::io::{self, Write};

use serde_json::ser::{CompactFormatter, Formatter};
use serde_json::{Map, Value, json};

use crate::mass::Mass;
use crate::metric::{Measurement, MetricKind};

/// What the report says about one input.
#[derive(Debug, Clone, PartialEq)]
pub struct InputInfo {
    /// The path as given (`-` for standard input).
    pub path: String,
    /// Width in pixels (columns).
    pub width: usize,
    /// Height in pixels (rows).
    pub height: usize,
    /// Grid size after downscaling, `(rows, columns)`.
    pub grid: (usize, usize),
    /// Total raw mass before normalisation (sum of light in `[0, 1]` units per pixel).
    pub total: f64,
}

impl InputInfo {
    /// Describes a loaded input.
    pub fn new(path: &str, mass: &Mass) -> InputInfo {
        let (height, width) = mass.pixel_shape();
        InputInfo {
            path: path.to_string(),
            width,
            height,
            grid: mass.shape(),
            total: mass.raw_total(),
        }
    }
}

/// One metric's outcome, with its threshold if one was set.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricResult {
    /// Which metric.
    pub kind: MetricKind,
    /// What it computed.
    pub measurement: Measurement,
    /// The `--max` threshold, if any.
    pub max: Option<f64>,
}

impl MetricResult {
    /// True unless a threshold is set and the value is above it or not finite.
    pub fn passed(&self) -> bool {
        match self.max {
            None => true,
            Some(max) => self.measurement.value.is_finite() && self.measurement.value <= max,
        }
    }
}

/// The comparison of one pair: inputs, options and every metric's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The two inputs, A then B.
    pub inputs: [InputInfo; 2],
    /// Block size of the downscale (1 = none).
    pub downscale: usize,
    /// Whether the inputs were inverted.
    pub invert: bool,
    /// Results in the order the metrics were requested.
    pub metrics: Vec<MetricResult>,
}

/// Formats a value for the text output: shortest round-trip decimal, scientific notation for
/// very small or large magnitudes, `inf`/`nan` when not finite.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else if v != 0.0 && (v.abs() < 1e-4 || v.abs() >= 1e15) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

impl Report {
    /// True when every metric passed its threshold.
    pub fn passed(&self) -> bool {
        self.metrics.iter().all(MetricResult::passed)
    }

    /// Writes one `name<TAB>value` line per metric.
    ///
    /// # Errors
    /// Any error of the writer.
    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        for m in &self.metrics {
            writeln!(out, "{}\t{}", m.kind, format_value(m.measurement.value))?;
        }
        Ok(())
    }

    /// The JSON form of the report, as a value (parsed back from [`Report::write_json`]).
    pub fn to_json(&self) -> Value {
        let mut buf = Vec::new();
        self.write_json(&mut buf)
            .expect("writing to memory does not fail");
        serde_json::from_slice(&buf).expect("the report's JSON form parses")
    }

    /// Writes the JSON form on one line, followed by a newline.
    ///
    /// # Errors
    /// Any error of the writer.
    pub fn write_json<W: Write + ?Sized>(&self, out: &mut W) -> io::Result<()> {
        let mut buf = Vec::with_capacity(512);
        buf.push(b'{');
        self.write_json_fields(&mut buf);
        buf.extend_from_slice(b"}\n");
        out.write_all(&buf)
    }

    /// Appends the fields of the JSON form (without the braces) to `out`, so that a batch record
    /// can put its own fields first. The one writer of the JSON schema: constant text is copied
    /// as is, strings and numbers are written exactly as `serde_json` writes them.
    pub(crate) fn write_json_fields(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(
            concat!(
                r#""version":""#,
                env!("CARGO_PKG_VERSION"),
                r#"","inputs":{"a":"#
            )
            .as_bytes(),
        );
        self.inputs[0].write_json(out);
        out.extend_from_slice(br#","b":"#);
        self.inputs[1].write_json(out);
        out.extend_from_slice(br#"},"options":{"downscale":"#);
        json_uint(out, self.downscale);
        out.extend_from_slice(br#","invert":"#);
        json_bool(out, self.invert);
        out.extend_from_slice(br#"},"metrics":{"#);
        let mut first = true;
        for (i, m) in self.metrics.iter().enumerate() {
            // A kind listed twice appears once, at its first place with its last result, as a
            // JSON object keeps one value per key.
            if self.metrics[..i].iter().any(|e| e.kind == m.kind) {
                continue;
            }
            let last = self.metrics[i..]
                .iter()
                .rfind(|e| e.kind == m.kind)
                .unwrap_or(m);
            if !first {
                out.push(b',');
            }
            first = false;
            json_str(out, m.kind.as_str());
            out.push(b':');
            last.write_json(out);
        }
        out.extend_from_slice(br#"},"pass":"#);
        json_bool(out, self.passed());
    }
}

impl InputInfo {
    /// `{"path":…,"width":…,"height":…,"grid_rows":…,"grid_cols":…,"total":…}`.
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"path":"#);
        json_str(out, &self.path);
        out.extend_from_slice(br#","width":"#);
        json_uint(out, self.width);
        out.extend_from_slice(br#","height":"#);
        json_uint(out, self.height);
        out.extend_from_slice(br#","grid_rows":"#);
        json_uint(out, self.grid.0);
        out.extend_from_slice(br#","grid_cols":"#);
        json_uint(out, self.grid.1);
        out.extend_from_slice(br#","total":"#);
        json_f64(out, self.total);
        out.push(b'}');
    }
}

impl MetricResult {
    /// `{"value":…,"finite":…[,"value_text":…],"params":{…},"details":{…}[,"max":…],"pass":…}`:
    /// `value` is `null` and `value_text` present when the value is not finite; `max` only when
    /// set.
    fn write_json(&self, out: &mut Vec<u8>) {
        let v = self.measurement.value;
        out.extend_from_slice(br#"{"value":"#);
        json_f64(out, v);
        if v.is_finite() {
            out.extend_from_slice(br#","finite":true"#);
        } else {
            out.extend_from_slice(br#","finite":false,"value_text":"#);
            json_str(out, &format_value(v));
        }
        out.extend_from_slice(br#","params":"#);
        json_map(out, &self.measurement.params);
        out.extend_from_slice(br#","details":"#);
        json_map(out, &self.measurement.details);
        if let Some(max) = self.max {
            out.extend_from_slice(br#","max":"#);
            json_f64(out, max);
        }
        out.extend_from_slice(br#","pass":"#);
        json_bool(out, self.passed());
        out.push(b'}');
    }
}

/// A JSON string: copied as is between quotes when nothing in it needs escaping, otherwise
/// escaped by `serde_json`.
pub(crate) fn json_str(out: &mut Vec<u8>, s: &str) {
    json_str_parts(out, &[s]);
}

/// Writes the concatenation of `parts` as one JSON string, without building it when no byte
/// needs escaping.
pub(crate) fn json_str_parts(out: &mut Vec<u8>, parts: &[&str]) {
    // A fold without early exit, so that the check runs many bytes at a time.
    let plain = parts.iter().all(|s| {
        s.bytes().fold(true, |plain, b| {
            plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
        })
    });
    if !plain {
        serde_json::to_writer(&mut *out, &parts.concat()).expect("writing to memory does not fail");
    } else {
        out.push(b'"');
        for s in parts {
            out.extend_from_slice(s.as_bytes());
        }
        out.push(b'"');
    }
}

/// A finite number in `serde_json`'s shortest round-trip form, anything else as `null`.
fn json_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        CompactFormatter
            .write_f64(out, v)
            .expect("writing to memory does not fail");
    } else {
        out.extend_from_slice(b"null");
    }
}

fn json_uint(out: &mut Vec<u8>, v: usize) {
    CompactFormatter
        .write_u64(out, v as u64)
        .expect("writing to memory does not fail");
}

fn json_bool(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

/// A JSON object of parameters or details.
fn json_map(out: &mut Vec<u8>, map: &Map<String, Value>) {
    if map.is_empty() {
        out.extend_from_slice(b"{}");
    } else {
        serde_json::to_writer(&mut *out, map).expect("a map with string keys serializes");
    }
}

/// A finite number as JSON, anything else as `null` (JSON has no infinities).
pub fn finite_or_null(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::metric::Extras;

    #[test]
    fn value_formatting() {
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(1.5e-7), "1.5e-7");
        assert_eq!(format_value(f64::INFINITY), "inf");
        assert_eq!(format_value(12.5), "12.5");
        for v in [1.0 / 3.0, 2.5e-9, 123456.789] {
            assert_eq!(format_value(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn thresholds() {
        let r = |value: f64, max: Option<f64>| MetricResult {
            kind: MetricKind::Tv,
            measurement: Measurement::new(value, Map::new()),
            max,
        };
        assert!(r(0.5, None).passed());
        assert!(r(0.5, Some(0.5)).passed());
        assert!(!r(0.6, Some(0.5)).passed());
        assert!(!r(f64::INFINITY, Some(1e300)).passed());
        let mut buf = Vec::new();
        r(f64::INFINITY, Some(1.0)).write_json(&mut buf);
        let j: Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(j["value"], Value::Null);
        assert_eq!(j["value_text"], "inf");
        assert_eq!(j["pass"], false);
    }

    /// The JSON form built the slow, obvious way: a `serde_json::Value` tree, then serialized.
    pub(crate) fn reference_json(report: &Report) -> Value {
        let input = |i: &InputInfo| {
            json!({
                "path": i.path,
                "width": i.width,
                "height": i.height,
                "grid_rows": i.grid.0,
                "grid_cols": i.grid.1,
                "total": i.total,
            })
        };
        let mut metrics = Map::new();
        for m in &report.metrics {
            let v = m.measurement.value;
            let mut obj = Map::new();
            obj.insert("value".into(), finite_or_null(v));
            obj.insert("finite".into(), json!(v.is_finite()));
            if !v.is_finite() {
                obj.insert("value_text".into(), json!(format_value(v)));
            }
            obj.insert("params".into(), Value::Object(m.measurement.params.clone()));
            obj.insert(
                "details".into(),
                Value::Object(m.measurement.details.clone()),
            );
            if let Some(max) = m.max {
                obj.insert("max".into(), json!(max));
            }
            obj.insert("pass".into(), json!(m.passed()));
            metrics.insert(m.kind.as_str().to_string(), Value::Object(obj));
        }
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "inputs": {"a": input(&report.inputs[0]), "b": input(&report.inputs[1])},
            "options": {"downscale": report.downscale, "invert": report.invert},
            "metrics": metrics,
            "pass": report.passed(),
        })
    }

    /// Reports that exercise every branch of the writer: each metric kind with its parameters
    /// and details, infinite and NaN values, thresholds, a kind listed twice, paths that need
    /// escaping.
    pub(crate) fn sample_reports() -> Vec<Report> {
        let input = |path: &str, total: f64| InputInfo {
            path: path.into(),
            width: 28,
            height: 30,
            grid: (15, 14),
            total,
        };
        let obj = |v: Value| match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let m = |kind, value, params: Value, details: Value, max| MetricResult {
            kind,
            measurement: Measurement {
                value,
                params: obj(params),
                details: obj(details),
                extras: Extras::None,
            },
            max,
        };
        let every = vec![
            m(
                MetricKind::Tv,
                0.27628702517258424,
                json!({}),
                json!({}),
                None,
            ),
            m(
                MetricKind::Kl,
                f64::INFINITY,
                json!({"eps": 0.0}),
                json!({}),
                Some(5.0),
            ),
            m(MetricKind::Js, 1e-300, json!({}), json!({}), Some(1e300)),
            m(MetricKind::Hellinger, f64::NAN, json!({}), json!({}), None),
            m(
                MetricKind::BlurL2,
                1.5e-7,
                json!({"sigma": 2.0, "truncate": 4.0}),
                json!({}),
                None,
            ),
            m(
                MetricKind::Sliced,
                2.0350867559438712,
                json!({"projections": 200, "seed": u64::MAX, "p": 1.0, "angles": "uniform"}),
                json!({"std_error": 0.052540007693302734}),
                Some(0.1),
            ),
            m(
                MetricKind::Emd,
                3.0,
                json!({"ground": "euclidean"}),
                json!({"cost": 3.0, "algorithm": "column-generation", "iterations": 11029,
                       "certificate": {"max_violation": 1.5e-13, "gap": -0.0}, "note": "a\"b"}),
                Some(f64::INFINITY),
            ),
        ];
        let twice = vec![
            m(MetricKind::Tv, 0.5, json!({}), json!({}), Some(0.1)),
            m(MetricKind::Js, 0.25, json!({}), json!({}), None),
            m(MetricKind::Tv, 0.125, json!({}), json!({}), None),
        ];
        vec![
            Report {
                inputs: [input("a.png", 518.3607843137277), input("b.png", 1.0)],
                downscale: 1,
                invert: false,
                metrics: every,
            },
            Report {
                inputs: [
                    input("dir/we\"ird\\name \u{1}\t\n\u{7f} ü.png", 1e21),
                    input("-", 123456789.0),
                ],
                downscale: 4,
                invert: true,
                metrics: twice,
            },
            Report {
                inputs: [input("x", 0.0), input("y", 5e-324)],
                downscale: 2,
                invert: false,
                metrics: Vec::new(),
            },
        ]
    }

    #[test]
    fn json_writer_matches_the_value_tree() {
        for report in sample_reports() {
            let mut got = Vec::new();
            report.write_json(&mut got).unwrap();
            let mut want = serde_json::to_vec(&reference_json(&report)).unwrap();
            want.push(b'\n');
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(want).unwrap()
            );
            assert_eq!(report.to_json(), reference_json(&report));
        }
    }
}
