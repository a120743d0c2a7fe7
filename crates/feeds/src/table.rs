//! The terminal table: fixed-width columns, so rows stream as they come.

use crate::FeedError;
use std::io::Write;
use verdict::Record;

/// Longest indicator shown in full; longer ones are cut with an ellipsis.
const INDICATOR_WIDTH: usize = 64;

pub(crate) struct TableWriter<W: Write> {
    out: W,
}

impl<W: Write> TableWriter<W> {
    pub(crate) fn new(mut out: W) -> Result<Self, FeedError> {
        writeln!(
            out,
            "{:<8} {:<6} {:>9}  {:<width$}  LINK / ERROR",
            "VERDICT",
            "TYPE",
            "DETECTED",
            "INDICATOR",
            width = INDICATOR_WIDTH
        )?;
        Ok(TableWriter { out })
    }

    pub(crate) fn write(&mut self, r: &Record) -> Result<(), FeedError> {
        let kind = r.kind.map(|k| k.as_str()).unwrap_or("?");
        let (verdict, ratio, tail) = match &r.error {
            Some(e) => (
                "error".to_owned(),
                "-".to_owned(),
                bounded(&format!("{}: {}", e.code, e.message), 160),
            ),
            None => (
                r.verdict.as_str().to_owned(),
                if r.id.is_some() {
                    r.detection().to_string()
                } else {
                    "-".to_owned()
                },
                r.link.clone().unwrap_or_default(),
            ),
        };
        let shown = if r.indicator.is_empty() {
            &r.input
        } else {
            &r.indicator
        };
        writeln!(
            self.out,
            "{:<8} {:<6} {:>9}  {:<width$}  {}",
            verdict,
            kind,
            ratio,
            bounded(&printable(shown), INDICATOR_WIDTH),
            tail,
            width = INDICATOR_WIDTH
        )?;
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
