//! Output formats: how enrichment records leave vtc.
//!
//! [`RecordWriter`] streams [`verdict::Record`]s as a terminal table, one
//! JSON array, JSON lines or CSV, one record at a time so a batch of a
//! million indicators never sits in memory. [`html`] renders the report
//! page of a run. [`Field`] names the columns a table or CSV shows
//! (`--fields`).
//!
//! This crate formats data it is given: it does no network or database I/O
//! and knows nothing of the VirusTotal client. Every string in a record may
//! come from an attacker (file names, URLs, engine labels): the HTML output
//! escapes and bounds them, the table bounds them.

mod fields;
pub mod html;
mod table;

pub use fields::{valid_names, Field, UnknownField};

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

/// Streams records in one [`Format`].
pub struct RecordWriter<W: Write> {
    format: Format,
    inner: Inner<W>,
    written: u64,
}

enum Inner<W: Write> {
    Plain(W),
    // Boxed: the csv writer carries a large buffer inline.
    Csv(Box<csv::Writer<W>>, Vec<Field>),
    Table(table::TableWriter<W>),
}

impl<W: Write> RecordWriter<W> {
    /// A writer with the format's default columns.
    pub fn new(out: W, format: Format) -> Result<Self, FeedError> {
        RecordWriter::with_fields(out, format, None)
    }

    /// A writer whose table or CSV shows `fields` (`None`: the format's
    /// default); JSON always carries the whole record.
    pub fn with_fields(
        out: W,
        format: Format,
        fields: Option<&[Field]>,
    ) -> Result<Self, FeedError> {
        let inner = match format {
            Format::Csv => {
                let fields = fields.unwrap_or(&Field::CSV_DEFAULT).to_vec();
                let mut w = csv::Writer::from_writer(out);
                w.write_record(fields.iter().map(|f| f.name()))?;
                Inner::Csv(Box::new(w), fields)
            }
            Format::Table => {
                let fields = fields.unwrap_or(&Field::TABLE_DEFAULT).to_vec();
                Inner::Table(table::TableWriter::new(out, fields)?)
            }
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
            Inner::Csv(w, fields) => w.write_record(fields.iter().map(|f| f.value(record)))?,
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
            Inner::Csv(w, _) => w
                .into_inner()
                .map_err(|e| FeedError::Io(io::Error::other(e.to_string()))),
            Inner::Table(t) => Ok(t.finish()?),
        }
    }

    /// Flushes what is buffered (so a progress display and the output agree).
    pub fn flush(&mut self) -> Result<(), FeedError> {
        match &mut self.inner {
            Inner::Plain(out) => out.flush()?,
            Inner::Csv(w, _) => w.flush()?,
            Inner::Table(t) => t.flush()?,
        }
        Ok(())
    }
}
