//! Labelled regions of a recording, and Audacity's label-track text format
//! (`start\tend\tlabel`, seconds, one region per line), so labels open in Audacity.

use crate::labels::Emotion;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Region {
    pub start_s: f64,
    pub end_s: f64,
    pub label: Emotion,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LabelError {
    #[error("line {line}: expected start, end and label separated by tabs")]
    Fields { line: usize },
    #[error("line {line}: \"{text}\" is not a time in seconds")]
    Time { line: usize, text: String },
    #[error("line {line}: the region ends ({end}) before it starts ({start})")]
    Backwards { line: usize, start: f64, end: f64 },
    #[error("line {line}: \"{text}\" is not one of the eight emotions")]
    Label { line: usize, text: String },
}

/// The regions as an Audacity label track.
pub fn to_audacity(regions: &[Region]) -> String {
    regions
        .iter()
        .map(|r| format!("{:.6}\t{:.6}\t{}\n", r.start_s, r.end_s, r.label.name()))
        .collect()
}

/// Reads an Audacity label track. Blank lines are skipped; Audacity's frequency lines
/// (starting with `\`) too.
pub fn parse_audacity(text: &str) -> Result<Vec<Region>, LabelError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() || raw.starts_with('\\') {
            continue;
        }
        let fields: Vec<&str> = raw.split('\t').collect();
        let [start, end, label] = fields[..] else {
            return Err(LabelError::Fields { line });
        };
        let time = |s: &str| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or(LabelError::Time {
                    line,
                    text: s.to_owned(),
                })
        };
        let (start_s, end_s) = (time(start)?, time(end)?);
        if end_s < start_s {
            return Err(LabelError::Backwards {
                line,
                start: start_s,
                end: end_s,
            });
        }
        let label = label
            .trim()
            .parse::<Emotion>()
            .map_err(|_| LabelError::Label {
                line,
                text: label.trim().to_owned(),
            })?;
        out.push(Region {
            start_s,
            end_s,
            label,
        });
    }
    Ok(out)
}

/// Keeps regions sorted and apart: `new` wins where it overlaps older ones, which are
/// trimmed, split or removed.
pub fn insert(regions: &mut Vec<Region>, new: Region) {
    let mut kept = Vec::with_capacity(regions.len() + 2);
    for r in regions.drain(..) {
        if r.end_s <= new.start_s || r.start_s >= new.end_s {
            kept.push(r);
            continue;
        }
        if r.start_s < new.start_s {
            kept.push(Region {
                end_s: new.start_s,
                ..r.clone()
            });
        }
        if r.end_s > new.end_s {
            kept.push(Region {
                start_s: new.end_s,
                ..r
            });
        }
    }
    if new.end_s > new.start_s || new.end_s.is_infinite() {
        kept.push(new);
    }
    kept.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    *regions = kept;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(a: f64, b: f64, e: Emotion) -> Region {
        Region {
            start_s: a,
            end_s: b,
            label: e,
        }
    }

    #[test]
    fn audacity_text_round_trips() {
        let regions = vec![r(0.5, 2.25, Emotion::Angry), r(3.0, 4.125, Emotion::Calm)];
        let text = to_audacity(&regions);
        assert_eq!(
            text,
            "0.500000\t2.250000\tangry\n3.000000\t4.125000\tcalm\n"
        );
        assert_eq!(parse_audacity(&text).unwrap(), regions);
    }

    #[test]
    fn bad_lines_are_named() {
        assert_eq!(
            parse_audacity("0\t1\tangry\n0 1 angry\n"),
            Err(LabelError::Fields { line: 2 })
        );
        assert!(matches!(
            parse_audacity("x\t1\tangry"),
            Err(LabelError::Time { line: 1, .. })
        ));
        assert!(matches!(
            parse_audacity("2\t1\tangry"),
            Err(LabelError::Backwards { line: 1, .. })
        ));
        assert!(matches!(
            parse_audacity("0\t1\tgrumpy"),
            Err(LabelError::Label { line: 1, .. })
        ));
        // Audacity's spectral-selection lines and blank lines are not regions.
        assert_eq!(parse_audacity("\\\t100\t200\n\n").unwrap(), vec![]);
    }

    #[test]
    fn a_new_region_wins_where_it_overlaps() {
        let mut regions = vec![r(0.0, 10.0, Emotion::Calm)];
        insert(&mut regions, r(2.0, 4.0, Emotion::Angry));
        assert_eq!(
            regions,
            vec![
                r(0.0, 2.0, Emotion::Calm),
                r(2.0, 4.0, Emotion::Angry),
                r(4.0, 10.0, Emotion::Calm)
            ]
        );
        insert(&mut regions, r(1.0, 12.0, Emotion::Sad));
        assert_eq!(
            regions,
            vec![r(0.0, 1.0, Emotion::Calm), r(1.0, 12.0, Emotion::Sad)]
        );
    }
}
