//! Manifests: the pairs of a run as CSV, TSV or JSON Lines rows.

use serde_json::Value;

use super::Plan;
use crate::error::{Error, Result};

impl Plan {
    /// Parses a manifest: CSV or TSV rows `a,b[,id]` (optionally under a header naming the
    /// columns `a`, `b`, `id` in any order; other columns are ignored), or JSON Lines objects
    /// `{"a": …, "b": …, "id": …}` (`id` optional, a string or an integer). The first data line
    /// decides: `{` means JSON Lines; otherwise a tab outside quotes in the first row means TSV,
    /// else CSV (with `"` quoting). Blank
    /// lines and lines starting with `#` are skipped; a UTF-8 byte order mark and CRLF line
    /// ends are accepted, and a quoted CSV/TSV field may hold line breaks. `name` labels errors.
    ///
    /// # Errors
    /// [`Error::Decode`] naming the line of the first malformed row or repeated id.
    pub fn from_manifest(text: &str, name: &str) -> Result<Plan> {
        let err = |line: usize, reason: String| Error::Decode {
            source_name: name.to_string(),
            reason: format!("line {line}: {reason}"),
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let text = &lone_carriage_returns_as_newlines(text);
        let skipped = |line: &str| line.trim().is_empty() || line.trim_start().starts_with('#');
        let Some(first) = text.lines().find(|l| !skipped(l)) else {
            return Ok(Plan::default());
        };
        let mut triples = Vec::new();
        let mut lines = Vec::new();
        if first.trim_start().starts_with('{') {
            let rows = text
                .lines()
                .enumerate()
                .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
                .filter(|(_, l)| !skipped(l));
            for (no, line) in rows {
                let v: Value = serde_json::from_str(line)
                    .map_err(|e| err(no, format!("not a JSON object ({e})")))?;
                let field = |key: &str, required: bool| -> Result<Option<String>> {
                    match v.get(key) {
                        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                        Some(Value::Number(n)) if key == "id" && (n.is_i64() || n.is_u64()) => {
                            Ok(Some(n.to_string()))
                        }
                        None | Some(Value::Null) if !required => Ok(None),
                        None => Err(err(no, format!("missing \"{key}\""))),
                        Some(other) => Err(err(
                            no,
                            format!("\"{key}\" must be a non-empty string, not {other}"),
                        )),
                    }
                };
                if !v.is_object() {
                    return Err(err(no, "not a JSON object".into()));
                }
                let a = field("a", true)?.expect("required");
                let b = field("b", true)?.expect("required");
                triples.push((a, b, field("id", false)?));
                lines.push(no);
            }
        } else {
            // `first` is a slice of `text`: its offset, not a search for its content (which
            // could match inside an earlier comment).
            let start = first.as_ptr() as usize - text.as_ptr() as usize;
            let delim = first_delimiter(&text[start..]);
            let rows = delimited_rows(text, delim).map_err(|(no, r)| err(no, r))?;
            let Some((_, head)) = rows.first() else {
                return Ok(Plan::default());
            };
            let pos = |n: &str| head.iter().position(|h| h.eq_ignore_ascii_case(n));
            let (columns, body) = match (pos("a"), pos("b")) {
                (Some(a), Some(b)) => ((a, b, pos("id")), &rows[1..]),
                _ => ((0, 1, Some(2)), &rows[..]),
            };
            let width = columns.0.max(columns.1) + 1;
            let headless = body.len() == rows.len();
            for (no, fields) in body {
                if fields.len() < width || (headless && fields.len() > 3) {
                    return Err(err(
                        *no,
                        format!(
                            "{} fields; expected a{d}b[{d}id]",
                            fields.len(),
                            d = if delim == '\t' { "<TAB>" } else { "," }
                        ),
                    ));
                }
                let (a, b) = (&fields[columns.0], &fields[columns.1]);
                if a.is_empty() || b.is_empty() {
                    return Err(err(*no, "empty path".into()));
                }
                let id = columns
                    .2
                    .and_then(|c| fields.get(c))
                    .filter(|s| !s.is_empty());
                triples.push((a.to_string(), b.to_string(), id.map(String::from)));
                lines.push(*no);
            }
        }
        Plan::from_triples(triples, name, |k| format!("line {}", lines[k]))
    }
}

/// The rows of a CSV or TSV manifest with the numbers of the lines they start on, blank and
/// `#` lines left out, fields trimmed. A quoted field may hold line breaks (a file name may);
/// one still open at the end of the text is an error, given as the line and the reason.
fn delimited_rows(
    text: &str,
    delim: char,
) -> std::result::Result<Vec<(usize, csv::StringRecord)>, (usize, String)> {
    let raw: Vec<&str> = text.lines().collect();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delim as u8)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let read = reader.read_record(&mut record);
        let (mut line, start) = record
            .position()
            .map_or((0, 0), |p| (p.line() as usize, p.byte() as usize));
        match read {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err((line, e.to_string())),
        }
        // The record's position is where the reader stood: before the empty and `#` lines it
        // passed over to reach the record.
        let mut span = &text[start..reader.position().byte() as usize];
        while span.starts_with(['\n', '\r', '#']) {
            let end = if span.starts_with('#') {
                span.find('\n').map_or(span.len(), |i| i + 1)
            } else if span.starts_with("\r\n") {
                2
            } else {
                1
            };
            span = &span[end..];
            line += 1;
        }
        let span = span.strip_suffix('\n').unwrap_or(span);
        let span = span.strip_suffix('\r').unwrap_or(span);
        if ends_in_quotes(span, delim) {
            return Err((line, "unterminated quoted field".into()));
        }
        let own_line = raw.get(line - 1).copied().unwrap_or_default();
        if own_line.trim().is_empty() || own_line.trim_start().starts_with('#') {
            continue;
        }
        rows.push((line, record.clone()));
    }
    Ok(rows)
}

/// `text` with every carriage return that does not start a CRLF, outside quotes, turned into a
/// line feed: a lone CR ends a line (as in old Mac text), for the line count and the reader
/// alike.
fn lone_carriage_returns_as_newlines(text: &str) -> std::borrow::Cow<'_, str> {
    let lone = |i: usize| text.as_bytes().get(i + 1) != Some(&b'\n');
    if !text.bytes().enumerate().any(|(i, b)| b == b'\r' && lone(i)) {
        return text.into();
    }
    let mut quoted = false;
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '\r' if !quoted && lone(i) => {
                out.push('\n');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out.into()
}

/// The delimiter of a CSV or TSV text: a tab if the first row (up to its first line break
/// outside quotes) has one outside quotes, else a comma.
fn first_delimiter(text: &str) -> char {
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\t' if !quoted => return '\t',
            '\n' if !quoted => break,
            _ => {}
        }
    }
    ','
}

/// True when a quoted field is still open at the end of `row`. As in CSV, a `"` opens a quoted
/// field only as the field's first character, and `""` inside stands for one quote.
fn ends_in_quotes(row: &str, delim: char) -> bool {
    let (mut quoted, mut field_start) = (false, true);
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' && chars.next_if_eq(&'"').is_none() {
                quoted = false;
            }
        } else if c == '"' && field_start {
            quoted = true;
        }
        field_start = !quoted && c == delim;
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::plan::{Pair, Pairs};

    #[test]
    fn manifests_csv_tsv_header_and_jsonl() {
        let ids = |p: &Plan| {
            (0..p.len())
                .map(|k| p.id(k).to_string())
                .collect::<Vec<_>>()
        };
        let csv = Plan::from_manifest("# pairs\nx.png, y.png\n\"a,1.png\",y.png,k\n", "m").unwrap();
        assert_eq!(csv.inputs, ["x.png", "y.png", "a,1.png"]);
        assert_eq!(ids(&csv), ["x.png|y.png", "k"]);
        let tsv = Plan::from_manifest("id\tb\ta\nk\ty.png\tx.png\n", "m").unwrap();
        assert_eq!(tsv.inputs, ["x.png", "y.png"]);
        assert_eq!(ids(&tsv), ["k"]);
        let jsonl = Plan::from_manifest(
            "{\"a\":\"x\",\"b\":\"y\"}\n{\"a\":\"y\",\"b\":\"x\",\"id\":7}\n",
            "m",
        )
        .unwrap();
        assert_eq!(ids(&jsonl), ["x|y", "7"]);
        assert_eq!(jsonl.pair(1), (1, 0));
        // Only given ids are stored; the default `A|B` stands for itself.
        assert_eq!(
            jsonl.pairs,
            Pairs::Listed(vec![
                Pair {
                    a: 0,
                    b: 1,
                    id: None
                },
                Pair {
                    a: 1,
                    b: 0,
                    id: Some("7".into())
                }
            ])
        );
        let err = |t: &str| Plan::from_manifest(t, "m").unwrap_err().to_string();
        assert!(
            err("x,y\nz\n").contains("m: line 2: 1 fields"),
            "{}",
            err("x,y\nz\n")
        );
        assert!(err("x,y,k\nz,w,k\n").contains("line 2: pair id 'k' repeats line 1"));
        assert!(err("{\"a\":\"x\"}\n").contains("missing \"b\""));
        assert!(err("\"x,y\n").contains("unterminated"));
        assert!(
            Plan::from_manifest("\n# nothing\n", "m")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn manifests_with_a_byte_order_mark_and_crlf_line_ends() {
        for text in [
            "\u{feff}a,b\r\nx.png,y.png\r\n",
            "\u{feff}id\ta\tb\r\n# note\r\nk\tx.png\ty.png\r\n",
            "\u{feff}{\"a\":\"x.png\",\"b\":\"y.png\"}\r\n",
        ] {
            let plan = Plan::from_manifest(text, "m").unwrap();
            assert_eq!(plan.inputs, ["x.png", "y.png"], "{text:?}");
            assert_eq!(plan.len(), 1, "{text:?}");
        }
        let quoted =
            Plan::from_manifest("a,b\r\n\"x,1.png\",\"y \"\"2\"\".png\"\r\n", "m").unwrap();
        assert_eq!(quoted.inputs, ["x,1.png", "y \"2\".png"]);
    }

    #[test]
    fn a_lone_carriage_return_ends_a_line() {
        assert_eq!(
            Plan::from_manifest("\rx.csv,y.csv\n", "m").unwrap().inputs,
            ["x.csv", "y.csv"]
        );
        let plan = Plan::from_manifest("a.csv,b.csv,p1\n\ra.csv,b.csv,p2\rc,d\n", "m").unwrap();
        assert_eq!(plan.len(), 3);
        let err = Plan::from_manifest("x,y\rz\n", "m")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "m: line 2: 1 fields; expected a,b[,id]");
        let quoted = Plan::from_manifest("\"p\rq\",r\n", "m").unwrap();
        assert_eq!(quoted.inputs, ["p\rq", "r"]);
        assert!(Plan::from_manifest("\r\r", "m").unwrap().is_empty());
    }

    #[test]
    fn quoted_fields_may_hold_line_breaks() {
        let plan = Plan::from_manifest("a,b\n\"two\nlines.png\",c.png\r\nx,y\n", "m").unwrap();
        assert_eq!(plan.inputs, ["two\nlines.png", "c.png", "x", "y"]);
        let tsv = Plan::from_manifest("\"p\nq\"\tr,1\n# note\ns\tt\n", "m").unwrap();
        assert_eq!(tsv.inputs, ["p\nq", "r,1", "s", "t"]);
        let csv = Plan::from_manifest("\"p\tq\",r\n", "m").unwrap();
        assert_eq!(csv.inputs, ["p\tq", "r"]);
        // A comment holding the first row's text and a tab does not decide the delimiter.
        let after_comment = Plan::from_manifest("# x,b\tc\nx,b\n", "m").unwrap();
        assert_eq!(after_comment.inputs, ["x", "b"]);
        let err = |t: &str| Plan::from_manifest(t, "m").unwrap_err().to_string();
        // Rows are numbered by the line they start on, counting the breaks inside fields.
        assert_eq!(
            err("x,y\n\"a\nb\",c\nz\n"),
            "m: line 4: 1 fields; expected a,b[,id]"
        );
        assert_eq!(
            err("x,y\n\"a\nb,c\n"),
            "m: line 2: unterminated quoted field"
        );
    }

    #[test]
    fn rows_and_their_line_numbers() {
        let err = |t: &str| Plan::from_manifest(t, "m").unwrap_err().to_string();
        assert_eq!(
            err("x,y\n  # note\n\n\"a,b"),
            "m: line 4: unterminated quoted field"
        );
        assert_eq!(
            err("# note\nx,y\nz\n"),
            "m: line 3: 1 fields; expected a,b[,id]"
        );
        assert_eq!(
            err("x\ty\n\nz\n"),
            "m: line 3: 1 fields; expected a<TAB>b[<TAB>id]"
        );
        assert!(!ends_in_quotes("a\"b,\"c\"\"d\",e", ','));
        assert!(ends_in_quotes("a,\"b\"\"", ','));
    }
}
