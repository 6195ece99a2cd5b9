//! `--skip-done`: the pairs recorded as done in earlier JSON Lines output, and their values.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use imgdist::MetricKind;
use imgdist::batch::Plan;
use imgdist::matrix::Matrix;

/// The fields of an earlier record that resuming needs.
#[derive(Deserialize)]
struct DoneRecord {
    id: String,
    status: String,
    #[serde(default)]
    metrics: HashMap<String, DoneMetric>,
}

/// One metric of an earlier record: its value, or `value_text` when it is not finite.
#[derive(Deserialize)]
struct DoneMetric {
    value: Option<f64>,
    value_text: Option<String>,
}

impl DoneMetric {
    /// The value, `+∞` for `"value_text": "inf"`.
    fn value(&self) -> Option<f64> {
        self.value
            .or_else(|| self.value_text.as_deref()?.parse().ok())
    }
}

/// What earlier runs recorded.
#[derive(Default)]
pub(super) struct Done {
    /// The ids of the records with `"status": "ok"`.
    pub(super) ids: HashSet<String>,
    /// The matrix metric's value by id, from any record that has one (the last one read).
    values: HashMap<String, f64>,
}

impl Done {
    /// Reads the records of one JSON Lines output, each line once. Lines that are not such
    /// records (e.g. a last line cut short when a run was killed, even inside a multi-byte
    /// character) are ignored. With `matrix_metric`, keeps that metric's values.
    pub(super) fn read(&mut self, jsonl: &[u8], matrix_metric: Option<MetricKind>) {
        for line in jsonl.split(|&b| b == b'\n') {
            let Ok(record) = serde_json::from_slice::<DoneRecord>(line) else {
                continue;
            };
            if let Some(kind) = matrix_metric
                && let Some(v) = record
                    .metrics
                    .get(kind.as_str())
                    .and_then(DoneMetric::value)
            {
                self.values.insert(record.id.clone(), v);
            }
            if record.status == "ok" {
                self.ids.insert(record.id);
            }
        }
    }

    /// Puts the recorded values of the plan's pairs that are done into the matrix.
    pub(super) fn fill_matrix(&self, plan: &Plan, matrix: &mut Matrix) {
        for k in 0..plan.len() {
            let id = plan.id(k).to_cow();
            if self.ids.contains(id.as_ref())
                && let Some(&v) = self.values.get(id.as_ref())
            {
                let (a, b) = plan.pair(k);
                matrix.set(a, b, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_records_are_done_and_cut_lines_ignored() {
        let mut done = Done::default();
        let text = "{\"id\":\"a\",\"status\":\"ok\"}\n{\"id\":\"b\",\"status\":\"error\"}\n{\"id\":\"c\",\"sta";
        done.read(text.as_bytes(), None);
        assert_eq!(done.ids, HashSet::from(["a".to_string()]));
    }

    #[test]
    fn a_line_cut_inside_a_character_is_ignored() {
        let whole = "{\"id\":\"a\",\"status\":\"ok\"}\n{\"id\":\"ü|b\",\"status\":\"ok\"}\n";
        let cut = whole.find('ü').unwrap() + 1;
        let mut done = Done::default();
        done.read(&whole.as_bytes()[..cut], None);
        assert_eq!(done.ids, HashSet::from(["a".to_string()]));
        done.read(whole.as_bytes(), None);
        assert_eq!(done.ids.len(), 2);
    }

    #[test]
    fn values_of_done_pairs_fill_the_matrix() {
        let files: Vec<String> = ["p", "q", "r"].map(String::from).to_vec();
        let plan = Plan::all_pairs(&files).unwrap();
        let mut done = Done::default();
        let text = concat!(
            r#"{"id":"p|q","status":"ok","metrics":{"tv":{"value":0.5},"js":{"value":0.1}}}"#,
            "\n",
            r#"{"id":"p|r","status":"ok","metrics":{"tv":{"value":null,"value_text":"inf"}}}"#,
            "\n",
            r#"{"id":"q|r","status":"error","metrics":{"tv":{"value":0.7}}}"#,
            "\n"
        );
        done.read(text.as_bytes(), Some(MetricKind::Tv));
        let mut m = Matrix::new(files);
        done.fill_matrix(&plan, &mut m);
        assert_eq!(m.get(0, 1), Some(0.5));
        assert_eq!(m.get(2, 0), Some(f64::INFINITY));
        assert_eq!(m.get(1, 2), None, "not done");
    }
}
