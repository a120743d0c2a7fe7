//! Files streamed from disk as the multipart body VirusTotal expects.

use crate::Error;
use reqwest::multipart::{Form, Part};
use std::path::{Path, PathBuf};
use tokio_util::io::ReaderStream;

/// Largest file `POST /files` takes directly; larger ones go through an
/// upload URL.
pub const DIRECT_UPLOAD_LIMIT: u64 = 32 * 1024 * 1024;

/// Largest file VirusTotal accepts at all (through an upload URL).
pub const MAX_UPLOAD_SIZE: u64 = 650 * 1024 * 1024;

/// A file to upload: where it is, what to call it, how big it is, and the
/// extra form fields (password, private-scanning options).
#[derive(Debug, Clone)]
pub(crate) struct UploadSource {
    path: PathBuf,
    file_name: String,
    size: u64,
    fields: Vec<(String, String)>,
}

impl UploadSource {
    /// Reads the file's size and name; refuses files over the API's limit
    /// before anything is sent.
    pub async fn inspect(path: &Path) -> Result<UploadSource, Error> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let metadata = tokio::fs::metadata(path).await.map_err(io)?;
        if !metadata.is_file() {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        let size = metadata.len();
        if size > MAX_UPLOAD_SIZE {
            return Err(Error::FileTooLarge {
                path: path.to_owned(),
                size,
                limit: MAX_UPLOAD_SIZE,
            });
        }
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "unknown".into());
        Ok(UploadSource {
            path: path.to_owned(),
            file_name,
            size,
            fields: Vec::new(),
        })
    }

    pub fn with_field(mut self, name: &str, value: impl Into<String>) -> Self {
        self.fields.push((name.to_owned(), value.into()));
        self
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The multipart body: part `file` streamed from disk (never read into
    /// memory whole), then the extra fields.
    pub async fn form(&self) -> Result<Form, Error> {
        let file = tokio::fs::File::open(&self.path)
            .await
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?;
        let body = reqwest::Body::wrap_stream(ReaderStream::with_capacity(file, 256 * 1024));
        let part = Part::stream_with_length(body, self.size)
            .file_name(self.file_name.clone())
            .mime_str("application/octet-stream")
            .map_err(|e| Error::InvalidConfig(format!("multipart part: {e}")))?;
        let mut form = Form::new().part("file", part);
        for (name, value) in &self.fields {
            form = form.text(name.clone(), value.clone());
        }
        Ok(form)
    }
}
