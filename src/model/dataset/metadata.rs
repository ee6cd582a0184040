//! A folder with a `metadata.csv` (the Hugging Face "audiofolder" convention): a header
//! naming at least `file_name` (relative to the folder) and `label`, optionally `speaker`
//! (or `speaker_id`); other columns are ignored. Fields may be quoted as RFC 4180 says
//! (`"a, b"`, `"say ""hi"""`), so names with commas work.

use std::path::{Component, Path};

use super::{is_audio, known_labels, Clip, DatasetError, Scan};
use crate::labels::Emotion;

/// The file that makes a folder this layout.
pub const FILE: &str = "metadata.csv";

/// One CSV record: its fields and the line it starts on (1-based).
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// Splits CSV text into records: commas between fields, LF or CRLF between records,
/// double quotes around a field that holds commas, quotes (doubled) or line breaks. A
/// leading UTF-8 byte-order mark and blank lines are skipped. Errors carry the 1-based
/// line they are on.
pub fn parse_csv(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut quoted = false;
    let mut quote_line = 0;
    // The current field was quoted and its closing quote has been read.
    let mut closed = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => {
                    quoted = false;
                    closed = true;
                }
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            ',' => {
                fields.push(std::mem::take(&mut field));
                closed = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                if !fields.is_empty() || !field.is_empty() || closed {
                    fields.push(std::mem::take(&mut field));
                    records.push(Record {
                        line: record_line,
                        fields: std::mem::take(&mut fields),
                    });
                }
                closed = false;
                line += 1;
                record_line = line;
            }
            '"' if field.is_empty() && !closed => {
                quoted = true;
                quote_line = line;
            }
            c if closed => {
                return Err((line, format!("'{c}' after a closing quote")));
            }
            c => field.push(c),
        }
    }
    if quoted {
        return Err((quote_line, "a quoted field is never closed".into()));
    }
    if !fields.is_empty() || !field.is_empty() || closed {
        fields.push(field);
        records.push(Record {
            line: record_line,
            fields,
        });
    }
    Ok(records)
}

/// Reads `dir/metadata.csv` and the clips it lists, in its order. A label emovox does not
/// know, a malformed line or a missing column is an error naming the line; a listed file
/// that is missing or not audio is rejected with the reason.
pub fn scan(dir: &Path, corpus: &str) -> Result<Scan, DatasetError> {
    let csv = dir.join(FILE);
    let text = std::fs::read_to_string(&csv).map_err(|reason| DatasetError::Io {
        path: csv.clone(),
        reason,
    })?;
    let at = |line: usize, what: String| DatasetError::Line {
        path: csv.clone(),
        line,
        what,
    };
    let records = parse_csv(&text).map_err(|(line, what)| at(line, what))?;
    let Some((header, rows)) = records.split_first() else {
        return Err(at(
            1,
            "empty: expected a header such as file_name,label,speaker".into(),
        ));
    };
    let names: Vec<String> = header
        .fields
        .iter()
        .map(|f| f.trim().to_ascii_lowercase())
        .collect();
    let column = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
    let (Some(file_col), Some(label_col)) = (column(&["file_name"]), column(&["label"])) else {
        return Err(at(
            header.line,
            format!(
                "the header must name the columns file_name and label (it has: {})",
                header.fields.join(", ")
            ),
        ));
    };
    let speaker_col = column(&["speaker", "speaker_id"]);

    let mut out = Scan::default();
    let mut seen = std::collections::HashMap::new();
    for row in rows {
        if row.fields.len() != names.len() {
            return Err(at(
                row.line,
                format!(
                    "{} fields, but the header has {} (quote a field that holds a comma)",
                    row.fields.len(),
                    names.len()
                ),
            ));
        }
        let field = |col: usize| row.fields.get(col).map_or("", |f| f.trim());
        let name = field(file_col);
        if name.is_empty() {
            return Err(at(row.line, "file_name is empty".into()));
        }
        let label = field(label_col);
        let Some(emotion) = Emotion::from_label(label) else {
            return Err(at(
                row.line,
                format!("{name}: unknown label '{label}' ({})", known_labels()),
            ));
        };
        let path = dir.join(name);
        let leaves_the_folder = Path::new(name)
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        if leaves_the_folder {
            out.rejected.push((
                path,
                format!(
                    "line {}: file_name must be a path inside the folder",
                    row.line
                ),
            ));
            continue;
        }
        if let Some(first) = seen.insert(path.clone(), row.line) {
            out.rejected.push((
                path,
                format!("line {}: listed already on line {first}", row.line),
            ));
            continue;
        }
        if !is_audio(&path) {
            out.rejected.push((
                path,
                format!(
                    "line {}: not an audio file (.wav, .flac, .mp3, .ogg)",
                    row.line
                ),
            ));
            continue;
        }
        if !path.is_file() {
            out.rejected.push((
                path,
                format!("line {}: listed in {FILE} but not found", row.line),
            ));
            continue;
        }
        let speaker = Some(speaker_col.map_or("", field)).filter(|s| !s.is_empty());
        out.clips.push(Clip::labelled(
            path,
            emotion,
            corpus,
            speaker.unwrap_or(corpus),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each record as its line and its fields joined by '|'.
    fn fields(text: &str) -> Vec<(usize, String)> {
        parse_csv(text)
            .unwrap()
            .into_iter()
            .map(|r| (r.line, r.fields.join("|")))
            .collect()
    }

    #[test]
    fn plain_and_quoted_fields() {
        assert_eq!(
            fields("a,b,c\n1,2,3\n"),
            vec![(1, "a|b|c".into()), (2, "1|2|3".into())]
        );
        assert_eq!(
            fields("\u{feff}file_name,label\r\n\"x, y.wav\",\"say \"\"hi\"\"\"\r\n\n,\n"),
            vec![
                (1, "file_name|label".into()),
                (2, "x, y.wav|say \"hi\"".into()),
                (4, "|".into()),
            ]
        );
        // A quoted line break: the next record starts two lines on. No final newline.
        assert_eq!(
            fields("\"a\nb\",c\nd,\"\""),
            vec![(1, "a\nb|c".into()), (3, "d|".into())]
        );
    }

    #[test]
    fn malformed_csv_names_the_line() {
        assert_eq!(
            parse_csv("a,b\n1,\"2\n3,4\n").unwrap_err().0,
            2,
            "an unclosed quote is reported where it opened"
        );
        let (line, why) = parse_csv("a,b\n\"1\"x,2\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(why.contains("after a closing quote"), "{why}");
    }
}
