//! Where downloaded samples go. The caller provides a [`SampleSink`]; an
//! action's input never names a path to write. [`FileSink`] is the one for
//! a local folder or file: the bytes stream into a temporary file beside
//! the target (never held whole in memory), and only once their digest
//! matches are they moved into place, as they are or packed into a
//! password-protected zip. Never executable (mode 0644); an existing file
//! is never replaced unless the sink was made with `force`.

use crate::download::SampleFormat;
use crate::{ActionError, BoxFuture, ErrorKind};
use file_digest::Digests;
use ioc::FileHash;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;
use tokio::io::AsyncWrite;

/// Where a kept sample went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// A path, or whatever names the place for this sink (a job's artifact).
    pub location: String,
}

/// Takes downloaded samples.
pub trait SampleSink: Send + Sync {
    /// Before anything is downloaded: whether the sample of `hash` could be
    /// kept (e.g. no file in the way), so a refusal costs no API call.
    fn check(&self, hash: &FileHash, format: SampleFormat) -> Result<(), ActionError>;

    /// A fresh place for one sample's bytes.
    fn create(&self) -> Result<Box<dyn SampleDraft>, ActionError>;
}

/// One sample being written. Dropped without [`SampleDraft::keep`], it
/// leaves nothing behind.
pub trait SampleDraft: Send {
    /// Where the bytes go, as they arrive.
    fn writer(&mut self) -> &mut (dyn AsyncWrite + Unpin + Send);

    /// Keeps the sample, whose digests have been checked, in `format`.
    fn keep(
        self: Box<Self>,
        digests: &Digests,
        format: SampleFormat,
        password: &str,
    ) -> BoxFuture<'static, Result<Kept, ActionError>>;
}

/// Samples saved on the local disk: into `output` (a file, or a folder
/// where they are named by sha256), or by sha256 into the current folder.
#[derive(Debug, Clone, Default)]
pub struct FileSink {
    pub output: Option<PathBuf>,
    /// Replace an existing file.
    pub force: bool,
}

impl FileSink {
    pub fn new(output: Option<PathBuf>, force: bool) -> FileSink {
        FileSink { output, force }
    }

    /// The folder the temporary file goes in: the target's own, so that
    /// moving it into place is a rename.
    fn folder(&self) -> PathBuf {
        match &self.output {
            Some(p) if p.is_dir() => p.clone(),
            Some(p) => match p.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
                _ => PathBuf::from("."),
            },
            None => PathBuf::from("."),
        }
    }

    /// The file a sample of `sha256` becomes.
    fn target(&self, sha256: &str, format: SampleFormat) -> PathBuf {
        let name = match format {
            SampleFormat::Raw => sha256.to_owned(),
            SampleFormat::Zip => format!("{sha256}.zip"),
        };
        match &self.output {
            Some(p) if p.is_dir() => p.join(name),
            Some(p) => p.clone(),
            None => PathBuf::from(name),
        }
    }
}

fn in_the_way(path: &Path) -> ActionError {
    ActionError::invalid(format!(
        "{} already exists; remove it, choose another output, or force (--force) to replace it",
        path.display()
    ))
}

impl SampleSink for FileSink {
    fn check(&self, hash: &FileHash, format: SampleFormat) -> Result<(), ActionError> {
        if self.force {
            return Ok(());
        }
        let target = match (&self.output, hash) {
            (Some(p), _) if !p.is_dir() => Some(p.clone()),
            // Named by sha256: known in advance only when asked by sha256.
            (_, FileHash::Sha256(sha256)) => Some(self.target(sha256.as_str(), format)),
            _ => None,
        };
        match target {
            Some(t) if t.exists() => Err(in_the_way(&t)),
            _ => Ok(()),
        }
    }

    fn create(&self) -> Result<Box<dyn SampleDraft>, ActionError> {
        let folder = self.folder();
        let part = tempfile::Builder::new()
            .prefix(".vtc-download-")
            .tempfile_in(&folder)
            .map_err(|e| {
                ActionError::invalid(format!("cannot write in {}: {e}", folder.display()))
            })?;
        let file = part
            .as_file()
            .try_clone()
            .map_err(|e| ActionError::internal(format!("cannot write the download: {e}")))?;
        Ok(Box::new(FileDraft {
            sink: self.clone(),
            part,
            file: tokio::fs::File::from_std(file),
        }))
    }
}

struct FileDraft {
    sink: FileSink,
    part: NamedTempFile,
    file: tokio::fs::File,
}

impl SampleDraft for FileDraft {
    fn writer(&mut self) -> &mut (dyn AsyncWrite + Unpin + Send) {
        &mut self.file
    }

    fn keep(
        self: Box<Self>,
        digests: &Digests,
        format: SampleFormat,
        password: &str,
    ) -> BoxFuture<'static, Result<Kept, ActionError>> {
        let target = self.sink.target(&digests.sha256, format);
        let entry = digests.sha256.clone();
        let password = password.to_owned();
        let force = self.sink.force;
        let part = self.part;
        Box::pin(async move {
            let shown = target.display().to_string();
            tokio::task::spawn_blocking(move || match format {
                SampleFormat::Raw => persist(part, &target, force),
                SampleFormat::Zip => write_zip(part, &entry, &password, &target, force),
            })
            .await
            .map_err(|e| ActionError::internal(format!("saving stopped: {e}")))??;
            Ok(Kept { location: shown })
        })
    }
}

/// Moves `file` to `target`, readable, never executable; replaces an
/// existing file only with `force`.
fn persist(file: NamedTempFile, target: &Path, force: bool) -> Result<(), ActionError> {
    not_executable(file.as_file())
        .map_err(|e| ActionError::internal(format!("cannot set the sample's mode: {e}")))?;
    let result = if force {
        file.persist(target).map(drop)
    } else {
        file.persist_noclobber(target).map(drop)
    };
    result.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            in_the_way(target)
        } else {
            ActionError::new(
                ErrorKind::InvalidInput,
                format!("cannot write {}: {}", target.display(), e.error),
            )
        }
    })
}

/// Packs the downloaded sample into a zip at `target`: one entry named
/// `entry`, deflated, encrypted with `password`. ZipCrypto, not AES: the
/// password is public (the field's `infected`); the point is that no tool
/// runs or quarantines the sample by accident, and every unzip (Info-ZIP,
/// Windows Explorer, 7-Zip) opens it. The zip is built beside `target` and
/// moved into place only when complete.
fn write_zip(
    mut part: NamedTempFile,
    entry: &str,
    password: &str,
    target: &Path,
    force: bool,
) -> Result<(), ActionError> {
    let io = |e: std::io::Error| ActionError::internal(format!("cannot build the zip: {e}"));
    let zip_error =
        |e: zip::result::ZipError| ActionError::internal(format!("cannot build the zip: {e}"));
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut archive = tempfile::Builder::new()
        .prefix(".vtc-zip-")
        .tempfile_in(dir)
        .map_err(|e| ActionError::invalid(format!("cannot write in {}: {e}", dir.display())))?;
    let size = part.as_file().metadata().map_err(io)?.len();
    part.as_file_mut().seek(SeekFrom::Start(0)).map_err(io)?;
    use zip::unstable::write::FileOptionsExt;
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644)
        .large_file(size >= u64::from(u32::MAX))
        .with_deprecated_encryption(password.as_bytes());
    let mut zip = zip::ZipWriter::new(archive.as_file_mut());
    zip.start_file(entry, options).map_err(zip_error)?;
    std::io::copy(part.as_file_mut(), &mut zip).map_err(io)?;
    zip.finish().map_err(zip_error)?;
    persist(archive, target, force)
}

#[cfg(unix)]
fn not_executable(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn not_executable(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn save(
        sink: &FileSink,
        bytes: &[u8],
        format: SampleFormat,
    ) -> Result<Kept, ActionError> {
        let mut draft = sink.create()?;
        draft.writer().write_all(bytes).await.unwrap();
        draft.writer().flush().await.unwrap();
        let digests = file_digest::digest_reader(bytes).unwrap();
        draft.keep(&digests, format, "infected").await
    }

    #[tokio::test]
    async fn a_folder_output_saves_inside_it_named_by_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let sink = FileSink::new(Some(dir.path().to_owned()), false);
        let kept = save(&sink, b"abc", SampleFormat::Raw).await.unwrap();
        let sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(kept.location, dir.path().join(sha256).display().to_string());
        assert_eq!(std::fs::read(dir.path().join(sha256)).unwrap(), b"abc");
    }

    #[tokio::test]
    async fn an_existing_file_is_not_replaced_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sample.zip");
        std::fs::write(&target, b"keep me").unwrap();
        let hash =
            FileHash::parse("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
                .unwrap();
        let sink = FileSink::new(Some(target.clone()), false);
        let refused = sink.check(&hash, SampleFormat::Zip).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::InvalidInput);
        // Even past the check (a file that appeared meanwhile) it stays.
        let err = save(&sink, b"abc", SampleFormat::Zip).await.unwrap_err();
        assert!(err.message().contains("already exists"), "{err}");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
        let forced = FileSink::new(Some(target.clone()), true);
        save(&forced, b"abc", SampleFormat::Zip).await.unwrap();
        assert_ne!(std::fs::read(&target).unwrap(), b"keep me");
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary files left");
    }
}
