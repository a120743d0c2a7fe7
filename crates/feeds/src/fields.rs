//! The columns a table or CSV shows: every field of a record by its JSON
//! name, plus `detected` (malicious/total), chosen with `--fields a,b,c`.

use std::fmt;
use verdict::Record;

/// One column of the table or the CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    Verdict,
    Type,
    /// `malicious/total`, or `-` without a report.
    Detected,
    Stale,
    Indicator,
    Input,
    Id,
    Detections,
    Reasons,
    Malicious,
    Suspicious,
    Total,
    LastAnalysisDate,
    Cached,
    Link,
    Error,
}

/// A name `--fields` does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown field {name:?} in --fields; valid fields: {}", valid_names())]
pub struct UnknownField {
    pub name: String,
}

impl Field {
    /// Every field, in the order `--help` and error messages list them.
    pub const ALL: [Field; 16] = [
        Field::Verdict,
        Field::Type,
        Field::Detected,
        Field::Stale,
        Field::Indicator,
        Field::Input,
        Field::Id,
        Field::Detections,
        Field::Reasons,
        Field::Malicious,
        Field::Suspicious,
        Field::Total,
        Field::LastAnalysisDate,
        Field::Cached,
        Field::Link,
        Field::Error,
    ];

    /// The terminal table's columns: what an analyst triages with. The
    /// error of a failed item is in `reasons`.
    pub const TABLE_DEFAULT: [Field; 7] = [
        Field::Verdict,
        Field::Type,
        Field::Detected,
        Field::Stale,
        Field::Indicator,
        Field::Detections,
        Field::Reasons,
    ];

    /// The CSV's columns: design.md's record (reasons joined with `; `),
    /// then the error and the detections.
    pub const CSV_DEFAULT: [Field; 15] = [
        Field::Indicator,
        Field::Input,
        Field::Type,
        Field::Id,
        Field::Verdict,
        Field::Reasons,
        Field::Malicious,
        Field::Suspicious,
        Field::Total,
        Field::LastAnalysisDate,
        Field::Stale,
        Field::Cached,
        Field::Link,
        Field::Error,
        Field::Detections,
    ];

    /// The name on the command line and in the CSV header (the record's
    /// JSON key where there is one).
    pub fn name(self) -> &'static str {
        match self {
            Field::Verdict => "verdict",
            Field::Type => "type",
            Field::Detected => "detected",
            Field::Stale => "stale",
            Field::Indicator => "indicator",
            Field::Input => "input",
            Field::Id => "id",
            Field::Detections => "detections",
            Field::Reasons => "reasons",
            Field::Malicious => "malicious",
            Field::Suspicious => "suspicious",
            Field::Total => "total",
            Field::LastAnalysisDate => "last_analysis_date",
            Field::Cached => "cached",
            Field::Link => "link",
            Field::Error => "error",
        }
    }

    /// Parses `a,b,c` (spaces around names allowed, case-insensitive).
    pub fn parse_list(list: &str) -> Result<Vec<Field>, UnknownField> {
        list.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|name| {
                Field::ALL
                    .into_iter()
                    .find(|f| f.name().eq_ignore_ascii_case(name))
                    .ok_or_else(|| UnknownField {
                        name: name.to_owned(),
                    })
            })
            .collect()
    }

    /// The field's value in full, as CSV carries it.
    pub fn value(self, r: &Record) -> String {
        match self {
            Field::Verdict => r.verdict.as_str().to_owned(),
            Field::Type => r.kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
            Field::Detected => {
                if r.id.is_some() {
                    format!("{}/{}", r.malicious, r.total)
                } else {
                    "-".to_owned()
                }
            }
            Field::Stale => r.stale.to_string(),
            Field::Indicator => r.indicator.clone(),
            Field::Input => r.input.clone(),
            Field::Id => r.id.clone().unwrap_or_default(),
            Field::Detections => r
                .detections
                .iter()
                .map(|d| format!("{}: {}", d.engine, d.result))
                .collect::<Vec<_>>()
                .join("; "),
            Field::Reasons => r.reasons.join("; "),
            Field::Malicious => r.malicious.to_string(),
            Field::Suspicious => r.suspicious.to_string(),
            Field::Total => r.total.to_string(),
            Field::LastAnalysisDate => r.last_analysis_date.clone().unwrap_or_default(),
            Field::Cached => r.cached.to_string(),
            Field::Link => r.link.clone().unwrap_or_default(),
            Field::Error => r
                .error
                .as_ref()
                .map(|e| format!("{}: {}", e.code, e.message))
                .unwrap_or_default(),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `verdict, type, …`: every name, for messages and help.
pub fn valid_names() -> String {
    Field::ALL.map(Field::name).join(", ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn field_lists_parse_by_name_and_unknown_names_list_the_valid_ones() {
        assert_eq!(
            Field::parse_list("verdict, Indicator,detections"),
            Ok(vec![Field::Verdict, Field::Indicator, Field::Detections])
        );
        let err = Field::parse_list("verdict,colour").unwrap_err();
        assert_eq!(err.name, "colour");
        let msg = err.to_string();
        for f in Field::ALL {
            assert!(msg.contains(f.name()), "{msg}");
        }
    }
}
