//! Choosing the output format and where records go.

use crate::cli::{FailOn, OutputFormat};
use crate::exit::Exit;
use std::path::Path;
use verdict::{Record, Verdict};

pub fn feed_format(format: OutputFormat) -> feeds::Format {
    match format {
        OutputFormat::Table => feeds::Format::Table,
        OutputFormat::Json => feeds::Format::Json,
        OutputFormat::Jsonl => feeds::Format::Jsonl,
        OutputFormat::Csv => feeds::Format::Csv,
    }
}

/// The format for an output file: the flag if given, else from the file's
/// extension (`.csv`, `.json`), else JSON lines. A table is for terminals.
pub fn file_format(explicit: Option<OutputFormat>, path: &Path) -> OutputFormat {
    explicit.unwrap_or_else(|| match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => OutputFormat::Csv,
        Some("json") => OutputFormat::Json,
        _ => OutputFormat::Jsonl,
    })
}

/// Tracks what the records seen so far mean for the exit code.
#[derive(Debug, Default)]
pub struct ExitTracker {
    fail_on: Option<FailOn>,
    threshold_hit: bool,
    failures: bool,
}

impl ExitTracker {
    pub fn new(fail_on: Option<FailOn>) -> Self {
        ExitTracker {
            fail_on,
            ..ExitTracker::default()
        }
    }

    pub fn see(&mut self, record: &Record) {
        if record.error.is_some() {
            self.failures = true;
            return;
        }
        let threshold = match self.fail_on {
            Some(FailOn::Bad) => Verdict::Bad,
            Some(FailOn::Suspect) => Verdict::Suspect,
            None => return,
        };
        if record.verdict.severity() >= threshold.severity() {
            self.threshold_hit = true;
        }
    }

    pub fn exit(&self) -> Exit {
        if self.threshold_hit {
            Exit::VerdictThreshold
        } else if self.failures {
            Exit::PartialFailure
        } else {
            Exit::Success
        }
    }
}
