//! Downloaded samples on disk: hashed while they stream in, then either
//! moved into place as they are or packed into a password-protected zip.
//! Neither is ever executable (mode 0644), and nothing is held whole in
//! memory.

use ioc::FileHash;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::io::{Seek, SeekFrom};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use tempfile::NamedTempFile;
use tokio::io::AsyncWrite;

/// md5, sha1 and sha256 of what went through a [`HashingWriter`].
#[derive(Debug, Clone)]
pub struct Digests {
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
}

impl Digests {
    /// Whether these are the digests of the file `hash` names.
    pub fn matches(&self, hash: &FileHash) -> bool {
        let want = hash.as_str();
        [&self.md5, &self.sha1, &self.sha256]
            .iter()
            .any(|got| got.eq_ignore_ascii_case(want))
    }
}

/// Passes writes through to `inner`, hashing exactly the bytes it accepted.
pub struct HashingWriter<W> {
    inner: W,
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
}

impl<W> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            md5: Md5::new(),
            sha1: Sha1::new(),
            sha256: Sha256::new(),
        }
    }

    pub fn finish(self) -> Digests {
        Digests {
            md5: hex::encode(self.md5.finalize()),
            sha1: hex::encode(self.sha1.finalize()),
            sha256: hex::encode(self.sha256.finalize()),
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for HashingWriter<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &poll {
            let written = &buf[..*n];
            this.md5.update(written);
            this.sha1.update(written);
            this.sha256.update(written);
        }
        poll
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Moves the downloaded sample to `target`, readable, never executable.
pub fn persist_raw(part: NamedTempFile, target: &Path) -> anyhow::Result<()> {
    not_executable(part.as_file())?;
    part.persist(target).map_err(|e| {
        crate::exit::usage(format!("cannot write {}: {}", target.display(), e.error))
    })?;
    Ok(())
}

/// Packs the downloaded sample into a zip at `target`: one entry named
/// `entry`, deflated, encrypted with `password`. ZipCrypto, not AES: the
/// password is public (the field's `infected`); the point is that no tool
/// runs or quarantines the sample by accident, and every unzip (Info-ZIP,
/// Windows Explorer, 7-Zip) opens it. The zip is built beside `target` and
/// moved into place only when complete.
pub fn write_zip(
    mut part: NamedTempFile,
    entry: &str,
    password: &str,
    target: &Path,
) -> anyhow::Result<()> {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut archive = tempfile::Builder::new()
        .prefix(".vtc-zip-")
        .tempfile_in(dir)?;
    let size = part.as_file().metadata()?.len();
    part.as_file_mut().seek(SeekFrom::Start(0))?;
    use zip::unstable::write::FileOptionsExt;
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644)
        .large_file(size >= u64::from(u32::MAX))
        .with_deprecated_encryption(password.as_bytes());
    let mut zip = zip::ZipWriter::new(archive.as_file_mut());
    zip.start_file(entry, options)?;
    std::io::copy(part.as_file_mut(), &mut zip)?;
    zip.finish()?;
    not_executable(archive.as_file())?;
    archive.persist(target).map_err(|e| {
        crate::exit::usage(format!("cannot write {}: {}", target.display(), e.error))
    })?;
    Ok(())
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
