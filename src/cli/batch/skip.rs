//! `--skip-done`: the pairs recorded as done in earlier JSON Lines output, and their values.
//!
//! A pair is done when an earlier record of its id has `"status": "ok"`, the same options
//! (`downscale`, `invert`, `mask`) and every metric this run asks for, each with the parameters this
//! run would report (for `sliced`, the pair's own seed). Anything else is computed again.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

use imgdist::batch::{Plan, pair_seed};
use imgdist::matrix::Matrix;
use imgdist::{MetricKind, Settings};

/// The fields of an earlier record that resuming needs.
#[derive(Deserialize)]
struct DoneRecord {
    id: String,
    status: String,
    #[serde(default)]
    options: Value,
    #[serde(default)]
    metrics: HashMap<String, DoneMetric>,
}

/// One metric of an earlier record: its value (or `value_text` when it is not finite) and
/// the parameters it was computed with.
#[derive(Deserialize)]
struct DoneMetric {
    value: Option<f64>,
    value_text: Option<String>,
    #[serde(default)]
    params: Value,
}

impl DoneMetric {
    /// The value, `+∞` for `"value_text": "inf"`.
    fn value(&self) -> Option<f64> {
        self.value
            .or_else(|| self.value_text.as_deref()?.parse().ok())
    }
}

/// What a record of this run would hold, to compare earlier records with.
pub(super) struct Expected {
    options: Value,
    /// Each metric's name and reported parameters, the sliced seed being the run's seed.
    metrics: Vec<(MetricKind, Value)>,
    run_seed: u64,
}

impl Expected {
    pub(super) fn new(settings: &Settings) -> Expected {
        let metrics = settings
            .metrics
            .iter()
            .map(|&kind| {
                let params = settings.params.reported(kind);
                let json = serde_json::to_value(&params).unwrap_or(Value::Null);
                (kind, json)
            })
            .collect();
        let mut options = serde_json::json!({
            "downscale": settings.load.downscale,
            "invert": settings.load.invert,
        });
        if let Some(mask) = &settings.load.mask {
            options["mask"] = mask.name().into();
        }
        Expected {
            options,
            metrics,
            run_seed: settings.params.sliced.seed,
        }
    }

    /// True when `record` holds every metric of this run, computed as this run would.
    fn matches(&self, record: &DoneRecord) -> bool {
        record.options == self.options
            && self.metrics.iter().all(|(kind, want)| {
                let Some(got) = record.metrics.get(kind.as_str()) else {
                    return false;
                };
                if got.value().is_none() {
                    return false;
                }
                if *kind == MetricKind::Sliced {
                    let mut want = want.clone();
                    want["seed"] = pair_seed(self.run_seed, &record.id).into();
                    got.params == want
                } else {
                    got.params == *want
                }
            })
    }
}

/// What earlier runs recorded.
#[derive(Default)]
pub(super) struct Done {
    /// The ids of the records that are done (see the module's rule).
    pub(super) ids: HashSet<String>,
    /// Records with status ok that this run computes again: other metrics or parameters.
    pub(super) different: usize,
    /// The matrix metric's value by id, from the done records.
    values: HashMap<String, f64>,
}

impl Done {
    /// Reads the records of one JSON Lines output, each line once. Lines that are not such
    /// records (e.g. a last line cut short when a run was killed, even inside a multi-byte
    /// character) are ignored. With `matrix_metric`, keeps that metric's values.
    pub(super) fn read(
        &mut self,
        jsonl: &[u8],
        expected: &Expected,
        matrix_metric: Option<MetricKind>,
    ) {
        for line in jsonl.split(|&b| b == b'\n') {
            let Ok(record) = serde_json::from_slice::<DoneRecord>(line) else {
                continue;
            };
            if record.status != "ok" {
                continue;
            }
            if !expected.matches(&record) {
                self.different += 1;
                continue;
            }
            if let Some(kind) = matrix_metric
                && let Some(v) = record
                    .metrics
                    .get(kind.as_str())
                    .and_then(DoneMetric::value)
            {
                self.values.insert(record.id.clone(), v);
            }
            self.ids.insert(record.id);
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
    use imgdist::metric::{Angles, SlicedParams};

    fn tv_run() -> Expected {
        Expected::new(&Settings {
            metrics: vec![MetricKind::Tv],
            ..Settings::default()
        })
    }

    /// An ok record of `tv` = `value` with the default options.
    fn tv_record(id: &str, status: &str, value: &str) -> String {
        format!(
            r#"{{"id":"{id}","status":"{status}","options":{{"downscale":1,"invert":false}},"metrics":{{"tv":{{"value":{value},"params":{{}}}}}}}}"#
        )
    }

    #[test]
    fn ok_records_are_done_and_cut_lines_ignored() {
        let mut done = Done::default();
        let whole = [tv_record("a", "ok", "0.5"), tv_record("b", "error", "0.5")].join("\n");
        let cut = tv_record("c", "ok", "0.5");
        let text = format!("{whole}\n{}", &cut[..cut.len() / 2]);
        done.read(text.as_bytes(), &tv_run(), None);
        assert_eq!(done.ids, HashSet::from(["a".to_string()]));
    }

    #[test]
    fn a_line_cut_inside_a_character_is_ignored() {
        let whole = format!(
            "{}\n{}\n",
            tv_record("a", "ok", "1"),
            tv_record("ü|b", "ok", "1")
        );
        let cut = whole.find('ü').unwrap() + 1;
        let mut done = Done::default();
        done.read(&whole.as_bytes()[..cut], &tv_run(), None);
        assert_eq!(done.ids, HashSet::from(["a".to_string()]));
        done.read(whole.as_bytes(), &tv_run(), None);
        assert_eq!(done.ids.len(), 2);
    }

    #[test]
    fn only_records_of_every_metric_with_the_same_parameters_are_done() {
        let settings = Settings {
            metrics: vec![MetricKind::Tv, MetricKind::Sliced],
            params: imgdist::Params {
                sliced: SlicedParams {
                    projections: 20,
                    seed: 5,
                    p: 2.0,
                    angles: Angles::Uniform,
                },
                ..imgdist::Params::default()
            },
            ..Settings::default()
        };
        let expected = Expected::new(&settings);
        let record = |id: &str, options: &str, tv: &str, sliced: &str| {
            format!(
                r#"{{"id":"{id}","status":"ok","options":{options},"metrics":{{{tv}{sliced}}}}}"#
            )
        };
        let opts = r#"{"downscale":1,"invert":false}"#;
        let tv = r#""tv":{"value":0.1,"params":{}},"#;
        let sliced = |p: &str, seed: u64| {
            format!(
                r#""sliced":{{"value":0.2,"params":{{"projections":20,"seed":{seed},"p":{p},"angles":"uniform"}}}}"#
            )
        };
        let seed = |id: &str| pair_seed(5, id);
        let lines = [
            record("done", opts, tv, &sliced("2.0", seed("done"))),
            // Another run's metrics only.
            record("only-tv", opts, r#""tv":{"value":0.1,"params":{}}"#, ""),
            // Another p, another seed, other options, no value.
            record("p3", opts, tv, &sliced("3.0", seed("p3"))),
            record("seed", opts, tv, &sliced("2.0", seed("other"))),
            record(
                "invert",
                r#"{"downscale":1,"invert":true}"#,
                tv,
                &sliced("2.0", seed("invert")),
            ),
            r#"{"id":"empty","status":"ok","metrics":{}}"#.to_string(),
            record(
                "null",
                opts,
                r#""tv":{"value":null,"params":{}},"#,
                &sliced("2.0", seed("null")),
            ),
        ];
        let mut done = Done::default();
        done.read(lines.join("\n").as_bytes(), &expected, None);
        assert_eq!(done.ids, HashSet::from(["done".to_string()]));
        assert_eq!(done.different, lines.len() - 1);
    }

    #[test]
    fn values_of_done_pairs_fill_the_matrix() {
        let files: Vec<String> = ["p", "q", "r"].map(String::from).to_vec();
        let plan = Plan::all_pairs(&files).unwrap();
        let mut done = Done::default();
        let text = [
            tv_record("p|q", "ok", "0.5"),
            tv_record("p|r", "ok", r#"null,"value_text":"inf""#),
            tv_record("q|r", "error", "0.7"),
        ]
        .join("\n");
        done.read(text.as_bytes(), &tv_run(), Some(MetricKind::Tv));
        let mut m = Matrix::new(files);
        done.fill_matrix(&plan, &mut m);
        assert_eq!(m.get(0, 1), Some(0.5));
        assert_eq!(m.get(2, 0), Some(f64::INFINITY));
        assert_eq!(m.get(1, 2), None, "not done");
    }
}
