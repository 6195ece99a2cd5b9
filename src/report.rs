//! The result of comparing one pair, and its text and JSON forms.
//!
//! Text: one `name<TAB>value` line per metric, values in shortest round-trip form (`inf` when
//! infinite). JSON: one object, documented in the README ("JSON output").

use std::io::{self, Write};

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use serde_json::Value;

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
    /// The mask that applied, if any.
    pub mask: Option<MaskInfo>,
}

/// The mask an input was loaded with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaskInfo {
    /// The mask's path as given.
    pub path: String,
    /// How many of the input's pixels it ignores.
    pub ignored: usize,
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
            mask: mass.mask().map(|m| MaskInfo {
                path: m.name().to_string(),
                ignored: m.ignored(),
            }),
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

    /// The mask both inputs were loaded with (`--mask`), if they share one.
    pub fn shared_mask(&self) -> Option<&str> {
        match &self.inputs {
            [
                InputInfo { mask: Some(a), .. },
                InputInfo { mask: Some(b), .. },
            ] if a.path == b.path => Some(&a.path),
            _ => None,
        }
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

    /// The JSON form of the report, as a value.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a report serializes")
    }

    /// Writes the JSON form on one line, followed by a newline.
    ///
    /// # Errors
    /// Any error of the writer.
    pub fn write_json<W: Write + ?Sized>(&self, out: &mut W) -> io::Result<()> {
        let mut buf = Vec::with_capacity(512);
        serde_json::to_writer(&mut buf, self).expect("a report serializes");
        buf.push(b'\n');
        out.write_all(&buf)
    }

    /// Writes the fields of the JSON form into `map`, so that a batch record can put its own
    /// fields first.
    pub(crate) fn serialize_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        #[derive(Serialize)]
        struct Inputs<'r> {
            a: &'r InputInfo,
            b: &'r InputInfo,
        }
        #[derive(Serialize)]
        struct Options<'r> {
            downscale: usize,
            invert: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            mask: Option<&'r str>,
        }
        map.serialize_entry("version", env!("CARGO_PKG_VERSION"))?;
        let [a, b] = &self.inputs;
        map.serialize_entry("inputs", &Inputs { a, b })?;
        let options = Options {
            downscale: self.downscale,
            invert: self.invert,
            mask: self.shared_mask(),
        };
        map.serialize_entry("options", &options)?;
        map.serialize_entry("metrics", &Metrics(&self.metrics))?;
        map.serialize_entry("pass", &self.passed())
    }
}

/// The JSON form: `{"version", "inputs": {"a", "b"}, "options": {"downscale", "invert"[,
/// "mask"]},
/// "metrics": {name: result, …}, "pass"}`, as the README documents it.
impl Serialize for Report {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(5))?;
        self.serialize_fields(&mut map)?;
        map.end()
    }
}

/// The `metrics` object: one entry per kind. A kind listed twice appears once, at its first
/// place with its last result, as a JSON object keeps one value per key.
struct Metrics<'r>(&'r [MetricResult]);

impl Serialize for Metrics<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let all = self.0;
        let mut map = s.serialize_map(None)?;
        for (i, m) in all.iter().enumerate() {
            if all[..i].iter().any(|e| e.kind == m.kind) {
                continue;
            }
            let last = all[i..].iter().rfind(|e| e.kind == m.kind).unwrap_or(m);
            map.serialize_entry(m.kind.as_str(), last)?;
        }
        map.end()
    }
}

/// `{"path", "width", "height", "grid_rows", "grid_cols", "total"[, "mask": {"path",
/// "ignored"}]}`: `mask` only when one applied.
impl Serialize for InputInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("InputInfo", 7)?;
        st.serialize_field("path", &self.path)?;
        st.serialize_field("width", &self.width)?;
        st.serialize_field("height", &self.height)?;
        st.serialize_field("grid_rows", &self.grid.0)?;
        st.serialize_field("grid_cols", &self.grid.1)?;
        st.serialize_field("total", &self.total)?;
        if let Some(mask) = &self.mask {
            st.serialize_field("mask", mask)?;
        }
        st.end()
    }
}

/// `{"value", "finite"[, "value_text"], "params", "details"[, "max"], "pass"}`: `value` is `null`
/// and `value_text` present (`inf`, `nan`) when the value is not finite; `max` only when set.
/// Non-finite numbers are written as `null`, as JSON has no infinities.
impl Serialize for MetricResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.measurement.value;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("value", &v)?;
        map.serialize_entry("finite", &v.is_finite())?;
        if !v.is_finite() {
            map.serialize_entry("value_text", &format_value(v))?;
        }
        map.serialize_entry("params", &self.measurement.params)?;
        map.serialize_entry("details", &self.measurement.details)?;
        if let Some(max) = self.max {
            map.serialize_entry("max", &max)?;
        }
        map.serialize_entry("pass", &self.passed())?;
        map.end()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::metric::blur_l2::BlurL2Params;
    use crate::metric::divergence::KlParams;
    use crate::metric::emd::{Algorithm, CertificateDetails, EmdDetails, EmdParams, Ground};
    use crate::metric::sinkhorn::{Iterations, SinkhornDetails, SinkhornParams};
    use crate::metric::sliced::SlicedDetails;
    use crate::metric::{Angles, Details, Empty, Extras, MetricParams, SlicedParams};
    use serde_json::{Map, json};

    /// A finite number as JSON, anything else as `null`.
    fn finite_or_null(v: f64) -> Value {
        if v.is_finite() { json!(v) } else { Value::Null }
    }

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
            measurement: Measurement::new(value, MetricParams::None(Empty {})),
            max,
        };
        assert!(r(0.5, None).passed());
        assert!(r(0.5, Some(0.5)).passed());
        assert!(!r(0.6, Some(0.5)).passed());
        assert!(!r(f64::INFINITY, Some(1e300)).passed());
        let j = serde_json::to_value(r(f64::INFINITY, Some(1.0))).unwrap();
        assert_eq!(j["value"], Value::Null);
        assert_eq!(j["value_text"], "inf");
        assert_eq!(j["pass"], false);
    }

    /// The `params` object, field by field.
    fn params_tree(p: &MetricParams) -> Value {
        match p {
            MetricParams::None(_) => json!({}),
            MetricParams::Kl(k) => json!({"eps": k.eps}),
            MetricParams::BlurL2(b) => json!({"sigma": b.sigma, "truncate": b.truncate}),
            MetricParams::Sliced(s) => json!({
                "projections": s.projections,
                "seed": s.seed,
                "p": s.p,
                "angles": s.angles.as_str(),
            }),
            MetricParams::Emd(e) => json!({"ground": e.ground.as_str()}),
            MetricParams::Sinkhorn(s) => json!({
                "blur": s.blur,
                "eps": s.eps,
                "debias": s.debias,
                "tol": s.tol,
            }),
        }
    }

    /// The `details` object, field by field.
    fn details_tree(d: &Details) -> Value {
        match d {
            Details::None(_) => json!({}),
            Details::Sliced(s) => json!({"std_error": s.std_error}),
            Details::Emd(e) => {
                let mut obj = Map::new();
                obj.insert("cost".into(), json!(e.cost));
                obj.insert("algorithm".into(), json!(e.algorithm.as_str()));
                obj.insert("iterations".into(), json!(e.iterations));
                obj.insert("nodes".into(), json!(e.nodes));
                obj.insert("arcs".into(), json!(e.arcs));
                let c = &e.certificate;
                obj.insert(
                    "certificate".into(),
                    json!({
                        "max_violation": c.max_violation,
                        "gap": c.gap,
                        "rounds": c.rounds,
                        "pairs_priced": c.pairs_priced,
                        "pricing": c.pricing,
                    }),
                );
                obj.insert("solve_seconds".into(), json!(e.solve_seconds));
                Value::Object(obj)
            }
            Details::Sinkhorn(s) => {
                let mut obj = Map::new();
                obj.insert("eps".into(), json!(s.eps));
                obj.insert("divergence".into(), json!(s.divergence));
                obj.insert("ot_ab".into(), json!(s.ot_ab));
                obj.insert("ot_aa".into(), json!(s.ot_aa));
                obj.insert("ot_bb".into(), json!(s.ot_bb));
                obj.insert("sharp_cost".into(), json!(s.sharp_cost));
                obj.insert("iterations".into(), json!(s.iterations));
                let i = &s.iterations_per_problem;
                obj.insert(
                    "iterations_per_problem".into(),
                    json!({"ab": i.ab, "aa": i.aa, "bb": i.bb}),
                );
                obj.insert("marginal_error".into(), json!(s.marginal_error));
                obj.insert("solve_seconds".into(), json!(s.solve_seconds));
                Value::Object(obj)
            }
        }
    }

    /// The JSON form built the slow, obvious way: a `serde_json::Value` tree, then serialized.
    pub(crate) fn reference_json(report: &Report) -> Value {
        let input = |i: &InputInfo| {
            let mut obj = json!({
                "path": i.path,
                "width": i.width,
                "height": i.height,
                "grid_rows": i.grid.0,
                "grid_cols": i.grid.1,
                "total": i.total,
            });
            if let Some(mask) = &i.mask {
                obj["mask"] = json!({"path": mask.path, "ignored": mask.ignored});
            }
            obj
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
            obj.insert("params".into(), params_tree(&m.measurement.params));
            obj.insert("details".into(), details_tree(&m.measurement.details));
            if let Some(max) = m.max {
                obj.insert("max".into(), json!(max));
            }
            obj.insert("pass".into(), json!(m.passed()));
            metrics.insert(m.kind.as_str().to_string(), Value::Object(obj));
        }
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "inputs": {"a": input(&report.inputs[0]), "b": input(&report.inputs[1])},
            "options": match report.shared_mask() {
                None => json!({"downscale": report.downscale, "invert": report.invert}),
                Some(mask) => json!({
                    "downscale": report.downscale,
                    "invert": report.invert,
                    "mask": mask,
                }),
            },
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
            mask: None,
        };
        let m = |kind, value, params, details, max| MetricResult {
            kind,
            measurement: Measurement {
                value,
                params,
                details,
                extras: Extras::None,
            },
            max,
        };
        let none = || MetricParams::None(Empty {});
        let no = || Details::None(Empty {});
        let every = vec![
            m(MetricKind::Tv, 0.27628702517258424, none(), no(), None),
            m(
                MetricKind::Kl,
                f64::INFINITY,
                MetricParams::Kl(KlParams { eps: 0.0 }),
                no(),
                Some(5.0),
            ),
            m(MetricKind::Js, 1e-300, none(), no(), Some(1e300)),
            m(MetricKind::Hellinger, f64::NAN, none(), no(), None),
            m(
                MetricKind::BlurL2,
                1.5e-7,
                MetricParams::BlurL2(BlurL2Params {
                    sigma: 2.0,
                    truncate: 4.0,
                }),
                no(),
                None,
            ),
            m(
                MetricKind::Sliced,
                2.0350867559438712,
                MetricParams::Sliced(SlicedParams {
                    projections: 200,
                    seed: u64::MAX,
                    p: 1.0,
                    angles: Angles::Uniform,
                }),
                Details::Sliced(SlicedDetails {
                    std_error: 0.052540007693302734,
                }),
                Some(0.1),
            ),
            m(
                MetricKind::Emd,
                3.0,
                MetricParams::Emd(EmdParams {
                    ground: Ground::Euclidean,
                }),
                Details::Emd(EmdDetails {
                    cost: 3.0,
                    algorithm: Algorithm::ColumnGeneration,
                    iterations: 11029,
                    nodes: 1024,
                    arcs: 2519,
                    certificate: CertificateDetails {
                        max_violation: 1.5e-13,
                        gap: -0.0,
                        rounds: 8,
                        pairs_priced: 1048576,
                        pricing: "all-pairs",
                    },
                    solve_seconds: 0.016667927,
                }),
                Some(f64::INFINITY),
            ),
            m(
                MetricKind::Emd,
                7.0,
                MetricParams::Emd(EmdParams {
                    ground: Ground::Cityblock,
                }),
                Details::Emd(EmdDetails {
                    cost: 7.0,
                    algorithm: Algorithm::GridFlow,
                    iterations: 3,
                    nodes: 42,
                    arcs: 142,
                    certificate: CertificateDetails {
                        max_violation: 0.0,
                        gap: 1e-16,
                        rounds: 1,
                        pairs_priced: 1764,
                        pricing: "distance-transform",
                    },
                    solve_seconds: 1e-5,
                }),
                None,
            ),
            m(
                MetricKind::Sinkhorn,
                3.8236444755842,
                MetricParams::Sinkhorn(SinkhornParams {
                    blur: 1.0,
                    eps: 1.0,
                    debias: true,
                    tol: 1e-9,
                }),
                Details::Sinkhorn(SinkhornDetails {
                    eps: 1.0,
                    divergence: 14.620257075666114,
                    ot_ab: 20.314629817470607,
                    ot_aa: Some(5.65392559424633),
                    ot_bb: Some(5.734819889362654),
                    sharp_cost: 15.589025995846681,
                    iterations: 4173,
                    iterations_per_problem: Iterations {
                        ab: 4109,
                        aa: Some(32),
                        bb: Some(32),
                    },
                    marginal_error: 9.98e-10,
                    solve_seconds: 5.4,
                }),
                Some(4.0),
            ),
            m(
                MetricKind::Sinkhorn,
                4.5,
                MetricParams::Sinkhorn(SinkhornParams {
                    blur: 0.5,
                    eps: 0.25,
                    debias: false,
                    tol: 1e-6,
                }),
                Details::Sinkhorn(SinkhornDetails {
                    eps: 0.25,
                    divergence: 20.25,
                    ot_ab: 20.25,
                    ot_aa: None,
                    ot_bb: None,
                    sharp_cost: 20.0,
                    iterations: 17,
                    iterations_per_problem: Iterations {
                        ab: 17,
                        aa: None,
                        bb: None,
                    },
                    marginal_error: 1e-7,
                    solve_seconds: 0.5,
                }),
                None,
            ),
        ];
        let twice = vec![
            m(MetricKind::Tv, 0.5, none(), no(), Some(0.1)),
            m(MetricKind::Js, 0.25, none(), no(), None),
            m(MetricKind::Tv, 0.125, none(), no(), None),
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
                inputs: [
                    InputInfo {
                        mask: Some(MaskInfo {
                            path: "mask \"1\".png".into(),
                            ignored: 17,
                        }),
                        ..input("x", 0.0)
                    },
                    input("y", 5e-324),
                ],
                downscale: 2,
                invert: false,
                metrics: Vec::new(),
            },
            Report {
                inputs: [
                    InputInfo {
                        mask: Some(MaskInfo {
                            path: "m.png".into(),
                            ignored: 3,
                        }),
                        ..input("x", 0.5)
                    },
                    InputInfo {
                        mask: Some(MaskInfo {
                            path: "m.png".into(),
                            ignored: 4,
                        }),
                        ..input("y", 0.5)
                    },
                ],
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
