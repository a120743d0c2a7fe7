//! Reading indicator lists: one per line, or one CSV column. Inputs come
//! from anywhere (feeds, exports, attackers), so lines are bounded and bytes
//! that are not UTF-8 become a bad line, not a failed run. [`InputRows`]
//! finds the input row of each record, so an enriched CSV keeps its columns.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The longest line read as one; the rest of a longer line is skipped, so a
/// hostile input cannot make one line fill memory.
const MAX_LINE_BYTES: u64 = 64 * 1024;

/// Sends each line without its line ending. Bytes that are not UTF-8 are
/// replaced (the line then fails to parse and gets its own error row)
/// rather than ending the whole run.
pub fn read_lines(
    reader: Box<dyn Read + Send>,
    mut send: impl FnMut(std::io::Result<String>) -> bool,
) {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let read = (&mut reader)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut buf);
        match read {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                send(Err(e));
                return;
            }
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        } else if let Err(e) = skip_line(&mut reader) {
            send(Err(e));
            return;
        }
        if !send(Ok(String::from_utf8_lossy(&buf).into_owned())) {
            return;
        }
    }
}

/// Reads up to and including the next newline, keeping none of it.
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        match chunk.iter().position(|b| *b == b'\n') {
            Some(at) => {
                reader.consume(at + 1);
                return Ok(());
            }
            None => {
                let len = chunk.len();
                reader.consume(len);
            }
        }
    }
}

/// A CSV input read by one of its columns, its header already read.
pub struct CsvInput {
    csv: csv::Reader<Box<dyn Read + Send>>,
    index: usize,
    /// The input's column names, as written.
    pub header: Vec<String>,
}

impl CsvInput {
    /// Reads the header and finds `column` (a name, or a 1-based number).
    pub fn open(reader: Box<dyn Read + Send>, column: &str) -> std::io::Result<CsvInput> {
        let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
        let headers = csv
            .headers()
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .clone();
        let index = column
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .filter(|i| *i < headers.len())
            .or_else(|| {
                headers
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(column))
            })
            .ok_or_else(|| {
                std::io::Error::other(format!("no column {column:?} in the CSV header"))
            })?;
        Ok(CsvInput {
            csv,
            index,
            header: headers.iter().map(str::to_owned).collect(),
        })
    }

    /// The rows that read, as (the column's value, the whole row); a row
    /// that does not parse ends them.
    pub fn rows(self) -> impl Iterator<Item = (String, Vec<String>)> {
        let index = self.index;
        self.csv
            .into_byte_records()
            .map_while(Result::ok)
            .map(move |r| row_of(&r, index))
    }

    /// Sends each row as (the column's value, the whole row).
    pub fn read(mut self, mut send: impl FnMut(std::io::Result<(String, Vec<String>)>) -> bool) {
        // Byte records: a row that is not UTF-8 is one bad row (its cell
        // then fails to parse as an indicator), not the end of the run.
        for row in self.csv.byte_records() {
            let item = row
                .map(|r| row_of(&r, self.index))
                .map_err(|e| std::io::Error::other(e.to_string()));
            if !send(item) {
                return;
            }
        }
    }
}

/// The row's cell at `index` and all its cells, as text (bytes that are
/// not UTF-8 replaced), each bounded to [`MAX_LINE_BYTES`].
fn row_of(record: &csv::ByteRecord, index: usize) -> (String, Vec<String>) {
    let text = |field: &[u8]| {
        let bounded = &field[..field.len().min(MAX_LINE_BYTES as usize)];
        String::from_utf8_lossy(bounded).into_owned()
    };
    let cell = record.get(index).map(text).unwrap_or_default();
    (cell, record.iter().map(text).collect())
}

/// Rows of stdin, queued by the reader as it sends their lines.
pub type RowQueue =
    std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<(String, Vec<String>)>>>;

fn lock(
    queue: &RowQueue,
) -> std::sync::MutexGuard<'_, std::collections::VecDeque<(String, Vec<String>)>> {
    queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Finds the input row of each record. Records come in input order (a
/// resumed run's replayed ones first, also in input order), so one forward
/// pass finds them; rows that got no record (blank, repeated) are passed.
pub struct InputRows {
    /// The input's own column names.
    pub header: Vec<String>,
    source: RowSource,
}

enum RowSource {
    /// A second reader of the input file, reopened when a record's row is
    /// behind it (a line a resumed run redoes).
    File {
        path: PathBuf,
        column: String,
        rows: Option<Box<dyn Iterator<Item = (String, Vec<String>)>>>,
    },
    /// Rows of stdin, put here by the reader as it sends their lines.
    Queue(RowQueue),
}

impl InputRows {
    /// The row whose column holds `input` (trimmed, as records have it);
    /// empty when it cannot be found.
    /// Rows found again by reading the input file `path` a second time,
    /// so a resumed run finds the rows of the records it replays.
    pub fn from_file(header: Vec<String>, path: PathBuf, column: String) -> InputRows {
        InputRows {
            header,
            source: RowSource::File {
                path,
                column,
                rows: None,
            },
        }
    }

    /// Rows of a stream read once (stdin): the reader pushes each row with
    /// [`push_row`] as it sends its line.
    pub fn from_queue(header: Vec<String>) -> (InputRows, RowQueue) {
        let queue = RowQueue::default();
        (
            InputRows {
                header,
                source: RowSource::Queue(queue.clone()),
            },
            queue,
        )
    }

    pub fn row_of(&mut self, input: &str) -> Vec<String> {
        match &mut self.source {
            RowSource::Queue(queue) => {
                let mut queue = lock(queue);
                match queue.iter().position(|(cell, _)| cell == input) {
                    Some(at) => {
                        queue.drain(..at);
                        queue.pop_front().map(|(_, row)| row).unwrap_or_default()
                    }
                    None => Vec::new(),
                }
            }
            RowSource::File { path, column, rows } => {
                for pass in 0..2 {
                    if rows.is_none() || pass == 1 {
                        *rows = open_rows(path, column);
                    }
                    let Some(iter) = rows.as_mut() else {
                        return Vec::new();
                    };
                    if let Some((_, row)) = iter.find(|(cell, _)| cell == input) {
                        return row;
                    }
                }
                Vec::new()
            }
        }
    }
}

fn open_rows(path: &Path, column: &str) -> Option<Box<dyn Iterator<Item = (String, Vec<String>)>>> {
    let file: Box<dyn Read + Send> = Box::new(File::open(path).ok()?);
    let csv = CsvInput::open(file, column).ok()?;
    Some(Box::new(
        csv.rows().map(|(cell, row)| (cell.trim().to_owned(), row)),
    ))
}

/// Queues a row of stdin whose column held `cell`.
pub fn push_row(queue: &RowQueue, cell: &str, row: Vec<String>) {
    lock(queue).push_back((cell.trim().to_owned(), row));
}
