//! Output formats: how enrichment records leave vtc.
//!
//! [`RecordWriter`] streams [`verdict::Record`]s as a terminal table, one
//! JSON array, JSON lines or CSV, one record at a time so a batch of a
//! million indicators never sits in memory. [`html`] renders the report
//! page of a run. [`Field`] names the columns a table or CSV shows
//! (`--fields`). [`intel`] writes the threat-intelligence feeds other
//! platforms subscribe to: Carbon Black EDR feed JSON, STIX 2.1, MISP.
//!
//! This crate formats data it is given: it does no network or database I/O
//! and knows nothing of the VirusTotal client. Every string in a record may
//! come from an attacker (file names, URLs, engine labels): the HTML output
//! escapes and bounds them, the table bounds them.

mod fields;
mod file_ratings;
pub mod html;
pub mod intel;
mod table;

pub use fields::{valid_names, Field, UnknownField};
pub use file_ratings::{
    render_file_ratings, DecisionLine, FileRating, MAX_DECISIONS_SHOWN, MAX_FILES, MAX_NAMES,
};
pub use intel::{
    FeedConfig, FeedEntry, FeedFilter, FeedFormat, FeedSecret, FilterError, MinVerdict,
};

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
    /// The input's own column names, kept in front of vtc's (an input CSV
    /// enriched by one of its columns); empty otherwise.
    input_header: Vec<String>,
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
        RecordWriter::with_input_header(out, format, fields, Vec::new())
    }

    /// A writer whose records each carry a row of the input: in CSV the
    /// input's columns come first, then vtc's; in JSON a `columns` object
    /// maps the input's column names to the row's values; a table shows
    /// vtc's columns only.
    pub fn with_input_header(
        out: W,
        format: Format,
        fields: Option<&[Field]>,
        input_header: Vec<String>,
    ) -> Result<Self, FeedError> {
        let inner = match format {
            Format::Csv => {
                let fields = fields.unwrap_or(&Field::CSV_DEFAULT).to_vec();
                let mut w = csv::Writer::from_writer(out);
                let header = input_header
                    .iter()
                    .map(String::as_str)
                    .chain(fields.iter().map(|f| f.name()));
                w.write_record(header)?;
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
            input_header,
        })
    }

    /// Writes one record.
    pub fn write(&mut self, record: &Record) -> Result<(), FeedError> {
        self.write_with_input(record, &[])
    }

    /// Writes one record with its input row (see
    /// [`RecordWriter::with_input_header`]); a short row is padded with
    /// empty values, a long one cut to the header.
    pub fn write_with_input(&mut self, record: &Record, row: &[String]) -> Result<(), FeedError> {
        let cells = self.input_header.len();
        let row = (0..cells).map(|i| row.get(i).cloned().unwrap_or_default());
        match &mut self.inner {
            Inner::Plain(out) => {
                let pretty = self.format == Format::Json;
                if pretty {
                    out.write_all(if self.written == 0 { b"[\n" } else { b",\n" })?;
                }
                if cells == 0 {
                    write_json(&mut *out, record, pretty)?;
                } else {
                    let mut value = serde_json::to_value(record)?;
                    let columns: serde_json::Map<String, serde_json::Value> = self
                        .input_header
                        .iter()
                        .cloned()
                        .zip(row.map(serde_json::Value::String))
                        .collect();
                    if let Some(object) = value.as_object_mut() {
                        object.insert("columns".into(), columns.into());
                    }
                    write_json(&mut *out, &value, pretty)?;
                }
                if !pretty {
                    out.write_all(b"\n")?;
                }
            }
            Inner::Csv(w, fields) => {
                let line = row.chain(fields.iter().map(|f| f.value(record)));
                w.write_record(line.collect::<Vec<String>>())?;
            }
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

fn write_json<W: Write, T: serde::Serialize>(
    out: W,
    value: &T,
    pretty: bool,
) -> Result<(), serde_json::Error> {
    if pretty {
        serde_json::to_writer_pretty(out, value)
    } else {
        serde_json::to_writer(out, value)
    }
}
