//! Sample downloads (premium): `GET /files/{id}/download`, `/download_url`
//! and the signed link it hands out. Bytes come from uploads, the built-in
//! EICAR file or the fixtures' `content/` folder; any other file is 404.

use crate::api_error::{ApiError, BaseUrl};
use crate::gate::Caller;
use crate::world::{EICAR, EICAR_SHA256};
use crate::Emulator;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use serde_json::{json, Value};

pub fn require_premium(caller: &Caller) -> Result<(), ApiError> {
    if caller.premium {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "You are not allowed to perform the requested operation",
        ))
    }
}

impl Emulator {
    /// The bytes of a file the emulator has content for.
    pub(crate) fn content_of(&self, sha256: &str) -> Option<Bytes> {
        if sha256 == EICAR_SHA256 {
            return Some(Bytes::from_static(EICAR));
        }
        if let Some(bytes) = self.fixtures().content(sha256) {
            return Some(bytes.clone());
        }
        self.store()
            .uploads
            .get(sha256)
            .and_then(|u| u.bytes.clone())
    }

    pub(crate) fn downloadable(
        &self,
        id: &str,
        base: &BaseUrl,
    ) -> Result<(String, Bytes), ApiError> {
        let record = self.file_record(id, base)?;
        let sha256 = record.identity.sha256.clone();
        let bytes = self
            .content_of(&sha256)
            .ok_or_else(|| ApiError::not_found(format!("File \"{id}\" not found")))?;
        Ok((sha256, bytes))
    }
}

fn octets(bytes: Bytes) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        bytes,
    )
        .into_response()
}

pub async fn download(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require_premium(&caller)?;
    let (_, bytes) = emu.downloadable(&id, &base)?;
    Ok(octets(bytes))
}

pub async fn download_url(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_premium(&caller)?;
    let (sha256, _) = emu.downloadable(&id, &base)?;
    let token = format!("{:032x}", fastrand::u128(..));
    emu.store_mut()
        .download_tokens
        .insert(token.clone(), sha256);
    Ok(Json(
        json!({"data": base.api(&format!("/_download/{token}"))}),
    ))
}

/// The signed link: no key needed, usable repeatedly.
pub async fn signed_download(
    State(emu): State<Emulator>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let sha256 = emu.store().download_tokens.get(&token).cloned();
    let sha256 = sha256.ok_or_else(|| ApiError::not_found("Download URL not found"))?;
    let bytes = emu
        .content_of(&sha256)
        .ok_or_else(|| ApiError::not_found("Download URL not found"))?;
    Ok(octets(bytes))
}
