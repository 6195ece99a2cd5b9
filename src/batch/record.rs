//! The outcome of one pair and its JSON form.

use std::io;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::PairId;
use crate::metric::MetricKind;
use crate::report::Report;

/// The outcome of one pair: its report, or why it could not be computed. Its names borrow
/// from the [`Plan`](super::Plan).
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'p> {
    /// Position of the pair in the plan.
    pub index: usize,
    /// The pair id.
    pub id: PairId<'p>,
    /// Path of input A as written.
    pub a: &'p str,
    /// Path of input B as written.
    pub b: &'p str,
    /// The report, or the one-line reason the pair could not be computed.
    pub outcome: std::result::Result<Report, String>,
}

impl Record<'_> {
    /// True when the pair was computed.
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok()
    }

    /// True when the pair was computed and every value is within its `--max`.
    pub fn passed(&self) -> bool {
        self.outcome.as_ref().is_ok_and(Report::passed)
    }

    /// `"ok"` or `"error"`.
    pub fn status(&self) -> &'static str {
        if self.is_ok() { "ok" } else { "error" }
    }

    /// The value of one metric, if the pair was computed and the metric requested.
    pub fn value(&self, kind: MetricKind) -> Option<f64> {
        let report = self.outcome.as_ref().ok()?;
        report
            .metrics
            .iter()
            .find(|m| m.kind == kind)
            .map(|m| m.measurement.value)
    }

    /// Writes the JSON record on one line, followed by a newline: the single-pair report's JSON
    /// form with `id` and `status` put first (an error record: `id`, `status`, `error`,
    /// `version`, `inputs.a.path`, `inputs.b.path`).
    ///
    /// # Errors
    /// Any error of the writer.
    pub fn write_json<W: io::Write + ?Sized>(&self, out: &mut W) -> io::Result<()> {
        let mut buf = Vec::with_capacity(512);
        self.append_json(&mut buf);
        out.write_all(&buf)
    }

    /// Appends what [`Record::write_json`] writes to a buffer.
    pub fn append_json(&self, buf: &mut Vec<u8>) {
        serde_json::to_writer(&mut *buf, self).expect("a record serializes");
        buf.push(b'\n');
    }
}

/// The JSON record: `id` and `status` first, then the report's fields, or for an error
/// `error`, `version` and the two input paths.
impl Serialize for Record<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Path<'r> {
            path: &'r str,
        }
        #[derive(Serialize)]
        struct Paths<'r> {
            a: Path<'r>,
            b: Path<'r>,
        }
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("status", self.status())?;
        match &self.outcome {
            Ok(report) => report.serialize_fields(&mut map)?,
            Err(reason) => {
                map.serialize_entry("error", reason)?;
                map.serialize_entry("version", env!("CARGO_PKG_VERSION"))?;
                let paths = Paths {
                    a: Path { path: self.a },
                    b: Path { path: self.b },
                };
                map.serialize_entry("inputs", &paths)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_records_are_the_report_with_id_and_status_first() {
        use crate::report::tests::{reference_json, sample_reports};
        use serde_json::{Map, Value, json};
        let mut outcomes: Vec<std::result::Result<Report, String>> =
            sample_reports().into_iter().map(Ok).collect();
        outcomes.push(Err("b \"1\".png: cannot read: \\ \u{1}".into()));
        let ids = [
            PairId::Given("a.png|b \"1\".png\t"),
            PairId::Joined("a.png", "b \"1\".png"),
            PairId::Joined("a.png", "b.png"),
        ];
        for (outcome, id) in outcomes.into_iter().zip(ids.into_iter().cycle()) {
            let record = Record {
                index: 3,
                id,
                a: "a.png",
                b: "b \"1\".png",
                outcome,
            };
            // The record as it was first defined: a map built field by field.
            let mut want = Map::new();
            want.insert("id".into(), json!(record.id.to_string()));
            want.insert("status".into(), json!(record.status()));
            match &record.outcome {
                Ok(report) => {
                    if let Value::Object(fields) = reference_json(report) {
                        want.extend(fields);
                    }
                }
                Err(reason) => {
                    want.insert("error".into(), json!(reason));
                    want.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
                    want.insert(
                        "inputs".into(),
                        json!({"a": {"path": record.a}, "b": {"path": record.b}}),
                    );
                }
            }
            let mut want = serde_json::to_vec(&Value::Object(want)).unwrap();
            want.push(b'\n');
            let mut got = Vec::new();
            record.write_json(&mut got).unwrap();
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(want).unwrap()
            );
        }
    }
}
