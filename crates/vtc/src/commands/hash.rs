//! `vtc hash PATH...`: md5, sha1, sha256 and size in one read of each file.

use crate::cli::{HashArgs, OutputFormat};
use crate::exit::{usage, Exit};
use std::io::{IsTerminal, Write};
use std::path::Path;

#[derive(Debug, serde::Serialize)]
struct FileHashes {
    pub path: String,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub size: u64,
}

pub async fn run(args: HashArgs, format: Option<OutputFormat>) -> anyhow::Result<Exit> {
    let format = format.unwrap_or(if std::io::stdout().is_terminal() {
        OutputFormat::Table
    } else {
        OutputFormat::Jsonl
    });
    let results = tokio::task::spawn_blocking(move || {
        args.paths
            .iter()
            .map(|p| hash_file(p))
            .collect::<anyhow::Result<Vec<_>>>()
    })
    .await??;
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Table => {
            for h in &results {
                // A file name may hold terminal escapes: shown without them.
                writeln!(
                    out,
                    "{}  {}  {}  {:>10}  {}",
                    h.md5,
                    h.sha1,
                    h.sha256,
                    h.size,
                    crate::object_view::cell(&h.path, 4096)
                )?;
            }
        }
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &results)?;
            writeln!(out)?;
        }
        OutputFormat::Jsonl => {
            for h in &results {
                serde_json::to_writer(&mut out, h)?;
                writeln!(out)?;
            }
        }
        OutputFormat::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            for h in &results {
                csv.serialize(h)?;
            }
            csv.flush()?;
        }
    }
    out.flush()?;
    Ok(Exit::Success)
}

/// md5, sha1, sha256 and size in one read (`file_digest`). A file that
/// cannot be opened is the user's to fix (exit 2), as for `scan file`.
fn hash_file(path: &Path) -> anyhow::Result<FileHashes> {
    let digests = file_digest::digest_file(path).map_err(|e| {
        if e.is_open_error() {
            usage(e.to_string())
        } else {
            anyhow::Error::new(e)
        }
    })?;
    Ok(FileHashes {
        path: path.display().to_string(),
        md5: digests.md5,
        sha1: digests.sha1,
        sha256: digests.sha256,
        size: digests.size,
    })
}
