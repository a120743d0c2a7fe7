//! Output formats: how enrichment records leave vtc.
//!
//! [`RecordWriter`] streams [`verdict::Record`]s as a terminal table, one
//! JSON array, JSON lines or CSV, one record at a time so a batch of a
//! million indicators never sits in memory. [`html`] renders the report
//! page of a run.
//!
//! This crate formats data it is given: it does no network or database I/O
//! and knows nothing of the VirusTotal client. Every string in a record may
//! come from an attacker (file names, URLs, engine labels): the HTML output
//! escapes and bounds them, the table bounds them.

pub mod html;
mod table;

use std::io::{self, Write};
use verdict::Record;

/// The machine and human formats every command offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
}

/// Why writing output failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    #[error("write failed")]
    Io(#[from] io::Error),
    #[error("cannot encode JSON")]
    Json(#[from] serde_json::Error),
    #[error("cannot write CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// CSV columns: the record's fields, `reasons` joined with `; ` and the
/// error as `code: message`.
pub const CSV_HEADER: [&str; 13] = [
    "indicator",
    "input",
    "type",
    "id",
    "verdict",
    "reasons",
    "malicious",
    "suspicious",
    "total",
    "last_analysis_date",
    "stale",
    "cached",
    "link",
];

/// Streams records in one [`Format`].
pub struct RecordWriter<W: Write> {
    format: Format,
    inner: Inner<W>,
    written: u64,
}

enum Inner<W: Write> {
    Plain(W),
    // Boxed: the csv writer carries a large buffer inline.
    Csv(Box<csv::Writer<W>>),
    Table(table::TableWriter<W>),
}

impl<W: Write> RecordWriter<W> {
    pub fn new(out: W, format: Format) -> Result<Self, FeedError> {
        let inner = match format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(out);
                let mut header: Vec<&str> = CSV_HEADER.to_vec();
                header.push("error");
                w.write_record(&header)?;
                Inner::Csv(Box::new(w))
            }
            Format::Table => Inner::Table(table::TableWriter::new(out)?),
            Format::Json | Format::Jsonl => Inner::Plain(out),
        };
        Ok(RecordWriter {
            format,
            inner,
            written: 0,
        })
    }

    /// Writes one record.
    pub fn write(&mut self, record: &Record) -> Result<(), FeedError> {
        match &mut self.inner {
            Inner::Plain(out) => {
                if self.format == Format::Json {
                    out.write_all(if self.written == 0 { b"[\n" } else { b",\n" })?;
                    serde_json::to_writer_pretty(&mut *out, record)?;
                } else {
                    serde_json::to_writer(&mut *out, record)?;
                    out.write_all(b"\n")?;
                }
            }
            Inner::Csv(w) => w.write_record(csv_row(record))?,
            Inner::Table(t) => t.write(record)?,
        }
        self.written += 1;
        Ok(())
    }

    /// Closes the JSON array, flushes, and hands the writer back.
    pub fn finish(self) -> Result<W, FeedError> {
        match self.inner {
            Inner::Plain(mut out) => {
                if self.format == Format::Json {
                    out.write_all(if self.written == 0 { b"[]\n" } else { b"\n]\n" })?;
                }
                out.flush()?;
                Ok(out)
            }
            Inner::Csv(w) => w
                .into_inner()
                .map_err(|e| FeedError::Io(io::Error::other(e.to_string()))),
            Inner::Table(t) => Ok(t.finish()?),
        }
    }

    /// Flushes what is buffered (so a progress display and the output agree).
    pub fn flush(&mut self) -> Result<(), FeedError> {
        match &mut self.inner {
            Inner::Plain(out) => out.flush()?,
            Inner::Csv(w) => w.flush()?,
            Inner::Table(t) => t.flush()?,
        }
        Ok(())
    }
}

fn csv_row(r: &Record) -> Vec<String> {
    vec![
        r.indicator.clone(),
        r.input.clone(),
        r.kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
        r.id.clone().unwrap_or_default(),
        r.verdict.as_str().to_owned(),
        r.reasons.join("; "),
        r.malicious.to_string(),
        r.suspicious.to_string(),
        r.total.to_string(),
        r.last_analysis_date.clone().unwrap_or_default(),
        r.stale.to_string(),
        r.cached.to_string(),
        r.link.clone().unwrap_or_default(),
        r.error
            .as_ref()
            .map(|e| format!("{}: {}", e.code, e.message))
            .unwrap_or_default(),
    ]
}
