//! The terminal table: fixed-width columns, so rows stream as they come.
//! Every cell loses its control characters and is bounded; the last column
//! is not padded.

use crate::{FeedError, Field};
use std::io::Write;
use verdict::Record;

/// Longest last cell, in characters.
const LAST_CELL_MAX: usize = 200;

pub(crate) struct TableWriter<W: Write> {
    out: W,
    fields: Vec<Field>,
}

/// Width of a column, and whether it is right-aligned.
fn layout(field: Field) -> (usize, bool) {
    match field {
        Field::Verdict => (7, false),
        Field::Type => (6, false),
        Field::Detected => (8, true),
        Field::Stale => (5, false),
        Field::Indicator | Field::Id => (64, false),
        Field::Input => (40, false),
        Field::Detections => (56, false),
        Field::Reasons | Field::Error => (72, false),
        Field::Malicious => (9, true),
        Field::Suspicious => (10, true),
        Field::Total => (5, true),
        Field::LastAnalysisDate => (20, false),
        Field::Cached => (6, false),
        Field::Link => (72, false),
    }
}

impl<W: Write> TableWriter<W> {
    pub(crate) fn new(out: W, fields: Vec<Field>) -> Result<Self, FeedError> {
        let mut t = TableWriter { out, fields };
        let header: Vec<String> = t.fields.iter().map(|f| f.name().to_uppercase()).collect();
        t.line(&header)?;
        Ok(t)
    }

    pub(crate) fn write(&mut self, r: &Record) -> Result<(), FeedError> {
        let cells: Vec<String> = self.fields.iter().map(|f| cell(*f, r)).collect();
        self.line(&cells)
    }

    fn line(&mut self, cells: &[String]) -> Result<(), FeedError> {
        let mut line = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, (field, text)) in self.fields.iter().zip(cells).enumerate() {
            let (width, right) = layout(*field);
            let text = printable(text);
            if i > 0 {
                line.push_str("  ");
            }
            if i == last {
                line.push_str(&bounded(&text, LAST_CELL_MAX.max(width)));
                continue;
            }
            let text = bounded(&text, width);
            let pad = width.saturating_sub(text.chars().count());
            if right {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(&text);
            } else {
                line.push_str(&text);
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(self.out, "{}", line.trim_end())?;
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> Result<(), FeedError> {
        self.out.flush()?;
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<W, FeedError> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// What a field shows in the table: shorter than in CSV where that helps
/// reading (a stale flag, the first engines, the error in place of reasons).
fn cell(field: Field, r: &Record) -> String {
    match field {
        Field::Stale => if r.stale { "stale" } else { "" }.to_owned(),
        Field::Type => r.kind.map_or("?", |k| k.as_str()).to_owned(),
        Field::Indicator if r.indicator.is_empty() => r.input.clone(),
        Field::Reasons => match &r.error {
            Some(e) => format!("{}: {}", e.code, e.message),
            None => r.reasons.join("; "),
        },
        Field::Detections => detections_cell(r, layout(Field::Detections).0),
        Field::Cached => if r.cached { "cached" } else { "" }.to_owned(),
        other => other.value(r),
    }
}

/// As many `engine: result` as fit in `width` (at least one), then how
/// many more engines flagged it.
fn detections_cell(r: &Record, width: usize) -> String {
    let flagged = (r.malicious.saturating_add(r.suspicious) as usize).max(r.detections.len());
    let mut cell = String::new();
    for (shown, d) in r.detections.iter().enumerate() {
        let item = format!("{}: {}", d.engine, d.result);
        let rest = flagged - shown - 1;
        let tail = if rest > 0 {
            format!(", +{rest} more")
        } else {
            String::new()
        };
        let sep = if shown == 0 { "" } else { ", " };
        let used = cell.chars().count() + sep.len() + item.chars().count() + tail.len();
        if shown > 0 && used > width {
            cell.push_str(&format!(", +{} more", flagged - shown));
            return cell;
        }
        cell.push_str(sep);
        cell.push_str(&item);
    }
    let rest = flagged.saturating_sub(r.detections.len());
    if rest > 0 {
        cell.push_str(&format!(", +{rest} more"));
    }
    cell
}

/// Control characters from an attacker-supplied string would move the
/// cursor or recolour the terminal: show them escaped.
fn printable(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// At most `max` characters, the cut marked with `…`.
pub(crate) fn bounded(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_values_cut() {
        assert_eq!(printable("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(bounded("abcdef", 4), "abc…");
        assert_eq!(bounded("abc", 4), "abc");
    }
}
