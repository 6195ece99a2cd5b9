//! The records on standard output: JSON Lines as the library writes them, or CSV/TSV rows.

use std::borrow::Cow;
use std::io::{self, Write};

use indicatif::ProgressBar;

use imgdist::MetricKind;
use imgdist::batch::{Record, Sink};
use imgdist::matrix::Matrix;
use imgdist::report::format_value;

/// What a worker prepares for a chunk of consecutive pairs: their formatted records, and their
/// matrix cells.
#[derive(Default)]
pub(super) struct Lines {
    /// JSON Lines records.
    pub(super) text: Vec<u8>,
    /// CSV/TSV rows.
    pub(super) rows: Option<csv::Writer<Vec<u8>>>,
    /// `(input a, input b, value)` of the matrix metric.
    pub(super) cells: Vec<(usize, usize, f64)>,
}

/// Writes the records to standard output, ticks the progress bar, fills the matrix.
pub(super) struct Output<W: Write> {
    pub(super) out: W,
    /// None when no bar is drawn.
    pub(super) progress: Option<ProgressBar>,
    pub(super) matrix: Option<Matrix>,
    pub(super) error: Option<io::Error>,
}

impl<W: Write> Output<W> {
    /// False once writing failed; a broken pipe (`| head`) stops the run quietly, any other
    /// error is kept for the report.
    pub(super) fn check(&mut self, r: io::Result<()>) -> bool {
        match r {
            Ok(()) => true,
            Err(e) => {
                if e.kind() != io::ErrorKind::BrokenPipe {
                    self.error = Some(e);
                }
                false
            }
        }
    }
}

impl<W: Write> Sink<Lines> for Output<W> {
    fn record(&mut self, _first: usize, count: usize, lines: Lines) -> bool {
        if let Some(bar) = &self.progress {
            bar.inc(count as u64);
        }
        if let Some(m) = &mut self.matrix {
            for &(i, j, v) in &lines.cells {
                m.set(i, j, v);
            }
        }
        let r = self.out.write_all(&lines.text);
        let r = r.and_then(|()| match lines.rows {
            Some(rows) => {
                let rows = rows.into_inner().map_err(|e| e.into_error())?;
                self.out.write_all(&rows)
            }
            None => Ok(()),
        });
        self.check(r)
    }

    fn idle(&mut self) -> bool {
        let r = self.out.flush();
        self.check(r)
    }
}

/// A CSV (`delim = b','`) or TSV (`b'\t'`) writer: CSV quotes a field holding a comma, quote or
/// line break (RFC 4180); TSV is never quoted, its fields have tabs and line breaks replaced by
/// spaces ([`tsv_field`]).
fn delimited<W: Write>(out: W, delim: u8) -> csv::Writer<W> {
    let quoting = if delim == b'\t' {
        csv::QuoteStyle::Never
    } else {
        csv::QuoteStyle::Necessary
    };
    csv::WriterBuilder::new()
        .delimiter(delim)
        .quote_style(quoting)
        .from_writer(out)
}

/// A TSV field as written: tabs and line breaks become spaces.
fn tsv_field(field: &str, delim: u8) -> Cow<'_, str> {
    if delim == b'\t' && field.contains(['\t', '\n', '\r']) {
        Cow::Owned(field.replace(['\t', '\n', '\r'], " "))
    } else {
        Cow::Borrowed(field)
    }
}

/// Writes the header row of the CSV/TSV output: `id, a, b, status`, the metric names, `error`.
pub(super) fn write_header(
    out: &mut dyn Write,
    metrics: &[MetricKind],
    delim: u8,
) -> io::Result<()> {
    let mut fields = vec!["id", "a", "b", "status"];
    fields.extend(metrics.iter().map(|k| k.as_str()));
    fields.push("error");
    let mut csv = delimited(out, delim);
    csv.write_record(fields)?;
    csv.flush()
}

/// Adds one CSV/TSV row to `lines`: `id, a, b, status`, one value per metric of `metrics`
/// (empty on error), `error` (empty when ok).
pub(super) fn append_delimited(
    lines: &mut Lines,
    record: &Record<'_>,
    metrics: &[MetricKind],
    delim: u8,
) {
    let rows = lines
        .rows
        .get_or_insert_with(|| delimited(Vec::new(), delim));
    let id = record.id.to_string();
    let mut fields: Vec<Cow<str>> = vec![
        tsv_field(&id, delim).into_owned().into(),
        tsv_field(record.a, delim),
        tsv_field(record.b, delim),
        record.status().into(),
    ];
    for &k in metrics {
        fields.push(record.value(k).map(format_value).unwrap_or_default().into());
    }
    let error = record.outcome.as_ref().err().map_or("", String::as_str);
    fields.push(tsv_field(error, delim));
    rows.write_record(fields.iter().map(|f| f.as_bytes()))
        .expect("writing to memory does not fail");
}

#[cfg(test)]
mod tests {
    use imgdist::batch::PairId;

    use super::*;

    fn rows(delim: u8) -> String {
        let record = Record {
            index: 0,
            id: PairId::Given("k,\"1\"\tx"),
            a: "a,1.png",
            b: "b\t2.png",
            outcome: Err("cannot read: \"b\"\nline".into()),
        };
        let mut lines = Lines::default();
        append_delimited(&mut lines, &record, &[MetricKind::Tv], delim);
        append_delimited(&mut lines, &record, &[MetricKind::Tv], delim);
        let mut out = Vec::new();
        write_header(&mut out, &[MetricKind::Tv, MetricKind::Js], delim).unwrap();
        out.extend(lines.rows.unwrap().into_inner().unwrap());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_quotes_and_tsv_replaces_what_would_split_a_field() {
        let row =
            "\"k,\"\"1\"\"\tx\",\"a,1.png\",b\t2.png,error,,\"cannot read: \"\"b\"\"\nline\"\n";
        assert_eq!(rows(b','), format!("id,a,b,status,tv,js,error\n{row}{row}"));
        let row = "k,\"1\" x\ta,1.png\tb 2.png\terror\t\tcannot read: \"b\" line\n";
        assert_eq!(
            rows(b'\t'),
            format!("id\ta\tb\tstatus\ttv\tjs\terror\n{row}{row}")
        );
    }
}
