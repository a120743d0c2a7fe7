//! `GET /files/{hash}/download` into the caller's [`SampleSink`], its
//! digests checked against the hash asked for; and
//! `GET /files/{hash}/download_url`.

use crate::parse;
use crate::reports::api_error;
use crate::{ActionError, Context, ErrorKind};
use file_digest::AsyncHashingWriter;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The zip password every malware exchange uses.
pub const ZIP_PASSWORD: &str = "infected";

/// How a sample is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SampleFormat {
    /// The bare sample: live malware.
    Raw,
    /// A ZipCrypto zip, password `infected`, one entry named by sha256.
    Zip,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadRequest {
    /// The sample's md5, sha1 or sha256.
    pub hash: String,
    /// Keep the bare sample, not a zip (default false).
    #[serde(default)]
    pub raw: bool,
}

/// A kept sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DownloadOutput {
    /// Where the sample went (for the CLI, the file written).
    pub path: String,
    pub format: SampleFormat,
    pub sha256: String,
    pub sha1: String,
    pub md5: String,
    /// The sample's size in bytes.
    pub size: u64,
    /// The zip's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The zip's encryption (`ZipCrypto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadUrlRequest {
    /// The sample's md5, sha1 or sha256.
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DownloadUrlOutput {
    /// A signed link, valid for an hour, that needs no key.
    pub url: String,
}

/// Says what a 403 means for a call only premium keys may make.
pub(crate) fn premium(what: &str, err: vt_api::Error) -> ActionError {
    if err.status() == Some(403) {
        ActionError::api(err, Some(format!("{what} needs a premium API key")))
    } else {
        ActionError::api(err, None)
    }
}

/// [`premium`] when the call is premium-only, else the error as it is.
pub(crate) fn premium_if(premium_only: bool, what: &str, err: vt_api::Error) -> ActionError {
    if premium_only {
        premium(what, err)
    } else {
        ActionError::api(err, None)
    }
}

pub async fn download(ctx: &Context, req: DownloadRequest) -> Result<DownloadOutput, ActionError> {
    let hash = parse::file_hash("hash", &req.hash)?;
    let format = if req.raw {
        SampleFormat::Raw
    } else {
        SampleFormat::Zip
    };
    let sink = ctx
        .samples
        .as_ref()
        .ok_or_else(|| ActionError::invalid("this front end keeps no downloaded samples"))?;
    sink.check(&hash, format)?;
    let mut draft = sink.create()?;
    let mut writer = AsyncHashingWriter::new(draft.writer());
    let size = ctx.client.download(&hash, &mut writer).await.map_err(|e| {
        if e.is_not_found() {
            api_error(e, &hash)
        } else {
            premium("downloading samples", e)
        }
    })?;
    let (digests, _) = writer.finish();
    if !digests.matches(hash.as_str()) || digests.size != size {
        return Err(ActionError::new(
            ErrorKind::Integrity,
            format!(
                "the download does not match {hash} (got sha256 {}); nothing kept",
                digests.sha256
            ),
        ));
    }
    let kept = draft.keep(&digests, format, ZIP_PASSWORD).await?;
    let zipped = format == SampleFormat::Zip;
    Ok(DownloadOutput {
        path: kept.location,
        format,
        sha256: digests.sha256,
        sha1: digests.sha1,
        md5: digests.md5,
        size,
        password: zipped.then(|| ZIP_PASSWORD.to_owned()),
        encryption: zipped.then(|| "ZipCrypto".to_owned()),
    })
}

pub async fn download_url(
    ctx: &Context,
    req: DownloadUrlRequest,
) -> Result<DownloadUrlOutput, ActionError> {
    let hash = parse::file_hash("hash", &req.hash)?;
    let url = ctx.client.download_url(&hash).await.map_err(|e| {
        if e.is_not_found() {
            api_error(e, &hash)
        } else {
            premium("download links", e)
        }
    })?;
    Ok(DownloadUrlOutput { url })
}
