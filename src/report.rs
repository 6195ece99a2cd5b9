//! The result of comparing one pair, and its text and JSON forms.
//!
//! Text: one `name<TAB>value` line per metric, values in shortest round-trip form (`inf` when
//! infinite). JSON: one object, documented in the README ("JSON output").

use std::io::{self, Write};

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

    fn to_json(&self) -> Value {
        json!({
            "path": self.path,
            "width": self.width,
            "height": self.height,
            "grid_rows": self.grid.0,
            "grid_cols": self.grid.1,
            "total": self.total,
        })
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

    /// The JSON form of the report.
    pub fn to_json(&self) -> Value {
        let mut metrics = Map::new();
        for m in &self.metrics {
            metrics.insert(m.kind.as_str().to_string(), metric_json(m));
        }
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "inputs": {
                "a": self.inputs[0].to_json(),
                "b": self.inputs[1].to_json(),
            },
            "options": {
                "downscale": self.downscale,
                "invert": self.invert,
            },
            "metrics": metrics,
            "pass": self.passed(),
        })
    }

    /// Writes the JSON form on one line, followed by a newline.
    ///
    /// # Errors
    /// Any error of the writer.
    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer(&mut *out, &self.to_json())?;
        writeln!(out)
    }
}

fn metric_json(m: &MetricResult) -> Value {
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
    Value::Object(obj)
}

/// A finite number as JSON, anything else as `null` (JSON has no infinities).
pub fn finite_or_null(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let j = metric_json(&r(f64::INFINITY, Some(1.0)));
        assert_eq!(j["value"], Value::Null);
        assert_eq!(j["value_text"], "inf");
        assert_eq!(j["pass"], false);
    }
}
