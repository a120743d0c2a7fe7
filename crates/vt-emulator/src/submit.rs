//! Routes that start analyses: file uploads (direct and through an upload
//! URL), URL submissions and rescans.

use crate::api_error::{ApiError, BaseUrl};
use crate::gate::Caller;
use crate::store::{Analysis, PrivateFile, Target, Upload, MAX_UPLOAD_BYTES};
use crate::world::FileIdentity;
use crate::{now_epoch, Emulator};
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::header;
use axum::{Extension, Form, Json};
use base64::Engine;
use bytes::{Bytes, BytesMut};
use md5::Md5;
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

type ApiResult = Result<Json<Value>, ApiError>;

/// A file part read off a multipart body.
pub struct Received {
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub size: u64,
    pub name: Option<String>,
    pub bytes: Option<Bytes>,
}

fn too_large() -> ApiError {
    ApiError::bad_request(format!(
        "File too large: the maximum size is {} MB",
        MAX_UPLOAD_BYTES / (1024 * 1024)
    ))
}

/// Streams the multipart part named `file`, hashing it (md5, sha1, sha256)
/// in one pass and refusing more than [`MAX_UPLOAD_BYTES`].
pub async fn receive_file(request: Request) -> Result<Received, ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Multipart framing adds a little; anything beyond that cannot fit.
    if declared.is_some_and(|len| len > MAX_UPLOAD_BYTES + 64 * 1024) {
        return Err(too_large());
    }
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    let bad = |e: axum::extract::multipart::MultipartError| ApiError::bad_request(e.body_text());
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field
            .file_name()
            .filter(|n| !n.is_empty())
            // Clients may send a whole path (vt-py sends `file.name`): keep the base name.
            .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n))
            .filter(|n| !n.is_empty())
            .map(|n| n.chars().take(255).collect::<String>());
        let (mut md5, mut sha1, mut sha256) = (Md5::new(), Sha1::new(), Sha256::new());
        let mut size = 0u64;
        let mut kept = BytesMut::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            size += chunk.len() as u64;
            if size > MAX_UPLOAD_BYTES {
                return Err(too_large());
            }
            md5.update(&chunk);
            sha1.update(&chunk);
            sha256.update(&chunk);
            kept.extend_from_slice(&chunk);
        }
        return Ok(Received {
            md5: hex::encode(md5.finalize()),
            sha1: hex::encode(sha1.finalize()),
            sha256: hex::encode(sha256.finalize()),
            size,
            name,
            bytes: Some(kept.freeze()),
        });
    }
    Err(ApiError::bad_request(
        "No file was provided: send a multipart part named \"file\"",
    ))
}

/// `{"data": {"type", "id", "links": {"self"}}}` of a new analysis.
pub fn descriptor(kind: &str, collection: &str, id: &str, base: &BaseUrl) -> Json<Value> {
    Json(json!({"data": {
        "type": kind,
        "id": id,
        "links": {"self": base.api(&format!("/{collection}/{id}"))},
    }}))
}

/// Id of a file analysis: base64 of `<md5>:<unix ts>`.
pub fn file_analysis_id(md5: &str, date: i64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{md5}:{date}"))
}

impl Emulator {
    /// Records an uploaded file (publicly, or privately for `private_owner`)
    /// and starts its analysis; returns the analysis id.
    pub(crate) fn accept_upload(&self, received: Received, private_owner: Option<&str>) -> String {
        let identity = Arc::new(FileIdentity::real(
            received.md5,
            received.sha1,
            received.sha256,
        ));
        {
            let mut store = self.store_mut();
            match private_owner {
                None => store.add_upload(Upload {
                    identity: identity.clone(),
                    size: received.size,
                    name: received.name,
                    bytes: received.bytes,
                }),
                Some(owner) => {
                    store.private_files.insert(
                        (owner.to_owned(), identity.sha256.clone()),
                        PrivateFile {
                            identity: identity.clone(),
                            size: received.size,
                            name: received.name,
                            date: now_epoch(),
                        },
                    );
                }
            }
        }
        self.accounting().record_upload();
        tracing::debug!(sha256 = %identity.sha256, size = received.size, "file uploaded");
        self.start_analysis(
            Target::File {
                identity,
                size: received.size,
            },
            private_owner,
        )
    }

    /// Starts an analysis of `target` (private to `private_owner` if set); returns its id.
    pub(crate) fn start_analysis(&self, target: Target, private_owner: Option<&str>) -> String {
        let date = now_epoch();
        let id = match (&target, private_owner) {
            (Target::File { identity, .. }, None) => file_analysis_id(&identity.md5, date),
            (Target::File { identity, .. }, Some(_)) => base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}:{date}", identity.md5, identity.sha256)),
            (Target::Url { sha256, .. }, None) => format!("u-{sha256}-{date}"),
            (Target::Url { sha256, .. }, Some(_)) => format!("u-{sha256}-{date}-p"),
        };
        let analysis = Analysis {
            target,
            date,
            started: Instant::now(),
            delay: self.config().analysis_delay,
            private_owner: private_owner.map(str::to_owned),
        };
        self.store_mut().add_analysis(id.clone(), analysis);
        id
    }
}

pub async fn upload_file(
    State(emu): State<Emulator>,
    base: BaseUrl,
    request: Request,
) -> ApiResult {
    let received = receive_file(request).await?;
    let id = emu.accept_upload(received, None);
    Ok(descriptor("analysis", "analyses", &id, &base))
}

/// A fresh single-use upload URL on the host the client used.
pub fn new_upload_url(emu: &Emulator, base: &BaseUrl, prefix: &str) -> Json<Value> {
    let token = format!("{:032x}", fastrand::u128(..));
    emu.store_mut()
        .upload_tokens
        .insert(format!("{prefix}{token}"));
    Json(json!({"data": base.api(&format!("/_upload/{prefix}{token}"))}))
}

pub async fn upload_url(State(emu): State<Emulator>, base: BaseUrl) -> Json<Value> {
    new_upload_url(&emu, &base, "")
}

pub async fn upload_to_url(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Path(token): Path<String>,
    Extension(caller): Extension<Caller>,
    request: Request,
) -> ApiResult {
    if !emu.store_mut().upload_tokens.remove(&token) {
        return Err(ApiError::not_found("Upload URL not found or already used"));
    }
    let received = receive_file(request).await?;
    if token.starts_with('p') {
        let id = emu.accept_upload(received, Some(&caller.key));
        return Ok(descriptor(
            "private_analysis",
            "private/analyses",
            &id,
            &base,
        ));
    }
    let id = emu.accept_upload(received, None);
    Ok(descriptor("analysis", "analyses", &id, &base))
}

/// Reads the `url` field of a form (urlencoded or multipart).
pub async fn url_field(request: Request) -> Result<String, ApiError> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    let missing = || ApiError::bad_request("Missing url parameter");
    if is_multipart {
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?
        {
            if field.name() == Some("url") {
                return field
                    .text()
                    .await
                    .map_err(|e| ApiError::bad_request(e.body_text()));
            }
        }
        return Err(missing());
    }
    let Form(fields) = Form::<HashMap<String, String>>::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    fields.get("url").cloned().ok_or_else(missing)
}

/// Canonicalises a submitted URL and remembers it.
pub fn canonical_url(emu: &Emulator, raw: &str) -> Result<(String, String), ApiError> {
    let url = ioc::Url::parse(raw.trim())
        .map_err(|_| ApiError::invalid_argument("Unable to canonicalize url"))?;
    let sha256 = url.sha256();
    emu.remember_url(&sha256, url.as_str());
    Ok((sha256, url.as_str().to_owned()))
}

pub async fn submit_url(State(emu): State<Emulator>, base: BaseUrl, request: Request) -> ApiResult {
    let raw = url_field(request).await?;
    let (sha256, url) = canonical_url(&emu, &raw)?;
    let id = emu.start_analysis(Target::Url { sha256, url }, None);
    Ok(descriptor("analysis", "analyses", &id, &base))
}

pub async fn rescan_file(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Path(id): Path<String>,
) -> ApiResult {
    let record = emu.file_record(&id, &base)?;
    let analysis = emu.start_analysis(
        Target::File {
            identity: record.identity,
            size: record.size,
        },
        None,
    );
    Ok(descriptor("analysis", "analyses", &analysis, &base))
}

pub async fn rescan_url(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Path(id): Path<String>,
) -> ApiResult {
    let record = emu.url_record(&id, &base)?;
    let analysis = emu.start_analysis(
        Target::Url {
            sha256: record.sha256,
            url: record.url,
        },
        None,
    );
    Ok(descriptor("analysis", "analyses", &analysis, &base))
}
