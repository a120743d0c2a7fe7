//! `vtc hash PATH...`: md5, sha1, sha256 and size in one read of each file.

use crate::cli::{HashArgs, OutputFormat};
use crate::exit::Exit;
use anyhow::Context;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;

#[derive(Debug, serde::Serialize)]
pub(crate) struct FileHashes {
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

/// Feeds each block read to all three digests, so the file is read once.
pub(crate) fn hash_file(path: &Path) -> anyhow::Result<FileHashes> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let (mut md5, mut sha1, mut sha256) = (Md5::new(), Sha1::new(), Sha256::new());
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        md5.update(chunk);
        sha1.update(chunk);
        sha256.update(chunk);
        size += n as u64;
    }
    Ok(FileHashes {
        path: path.display().to_string(),
        md5: hex::encode(md5.finalize()),
        sha1: hex::encode(sha1.finalize()),
        sha256: hex::encode(sha256.finalize()),
        size,
    })
}
