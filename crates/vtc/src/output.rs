//! Choosing the output format and where records go.

use crate::cli::{FailOn, FieldList, OutputFormat};
use crate::exit::{usage, Exit};
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

/// A record writer in `format` with the columns `--fields` chose; those
/// are for a table or CSV, so with JSON they are a usage error rather than
/// silently ignored.
pub fn record_writer<W: std::io::Write>(
    out: W,
    format: OutputFormat,
    fields: Option<&FieldList>,
) -> anyhow::Result<feeds::RecordWriter<W>> {
    record_writer_with_input(out, format, fields, Vec::new())
}

/// [`record_writer`] whose records carry a row of an input CSV with this
/// header (see `feeds::RecordWriter::with_input_header`).
pub fn record_writer_with_input<W: std::io::Write>(
    out: W,
    format: OutputFormat,
    fields: Option<&FieldList>,
    input_header: Vec<String>,
) -> anyhow::Result<feeds::RecordWriter<W>> {
    if fields.is_some() && matches!(format, OutputFormat::Json | OutputFormat::Jsonl) {
        return Err(usage(
            "--fields chooses the columns of table or csv output; JSON carries every field",
        ));
    }
    let fields = fields.map(|f| f.0.as_slice());
    Ok(feeds::RecordWriter::with_input_header(
        out,
        feed_format(format),
        fields,
        input_header,
    )?)
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
