//! Object routes beyond the four indicator reports, each consistent with
//! the world: `GET /yara_rulesets/{id}`, `/users/{id}`, `/comments/{id}`,
//! `/votes/{id}`, `/resolutions/{id}`, `/files/{id}/behaviour_summary`,
//! `/file_behaviours/{id}`, `/sigma_analyses/{id}`,
//! `/popular_threat_categories`, and `POST /intelligence/zip_files` with
//! `GET /intelligence/zip_files/{id}`.

use crate::api_error::{ApiError, BaseUrl};
use crate::downloads::require_premium;
use crate::gate::Caller;
use crate::relationships::class_of_object;
use crate::world::{self, WorldClass};
use crate::world_extras as extras;
use crate::{now_epoch, Emulator};
use axum::extract::{Path, State};
use axum::{Extension, Json};
use bytes::Bytes;
use serde_json::{json, Value};

type ApiResult = Result<Json<Value>, ApiError>;

fn data(object: Value) -> Json<Value> {
    Json(json!({ "data": object }))
}

pub async fn yara_ruleset(base: BaseUrl, Path(id): Path<String>) -> ApiResult {
    let ruleset = extras::yara_ruleset(&id)
        .ok_or_else(|| ApiError::not_found(format!("YaraRuleset \"{id}\" not found")))?;
    Ok(data(extras::yara_ruleset_object(ruleset, &base)))
}

/// `GET /users/{id}`: the caller's own user (by key or fingerprint).
pub async fn user(
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    crate::account::user_of(&caller, &id)?;
    let user_id = caller.fingerprint();
    let privileges = if caller.premium {
        json!({"intelligence": {"granted": true}, "downloads-tier-2": {"granted": true},
               "private-scanning": {"granted": true}})
    } else {
        json!({})
    };
    Ok(data(json!({
        "type": "user",
        "id": user_id,
        "links": {"self": base.api(&format!("/users/{user_id}"))},
        "attributes": {
            "status": "active",
            "user_since": world::world_epoch() - 400 * 86_400,
            "last_login": world::world_epoch(),
            "reputation": 1,
            "privileges": privileges,
            "has_2fa": false,
        },
    })))
}

/// The comment with this id, among those posted on this emulator.
pub async fn comment(State(emu): State<Emulator>, Path(id): Path<String>) -> ApiResult {
    let found = emu
        .store()
        .comments
        .values()
        .flatten()
        .find(|c| c["id"] == id.as_str())
        .cloned();
    found
        .map(data)
        .ok_or_else(|| ApiError::not_found(format!("Comment \"{id}\" not found")))
}

/// The vote with this id, among those cast on this emulator.
pub async fn vote(State(emu): State<Emulator>, Path(id): Path<String>) -> ApiResult {
    let found = emu
        .store()
        .votes
        .values()
        .flatten()
        .find(|v| v.object["id"] == id.as_str())
        .map(|v| v.object.clone());
    found
        .map(data)
        .ok_or_else(|| ApiError::not_found(format!("Vote \"{id}\" not found")))
}

/// `GET /resolutions/{ip}{host}`: known when both ends are.
pub async fn resolution(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Path(id): Path<String>,
) -> ApiResult {
    let not_found = || ApiError::not_found(format!("Resolution \"{id}\" not found"));
    let (ip, host) = extras::split_resolution_id(&id)
        .into_iter()
        .find(|(ip, host)| {
            emu.ip_object(ip, &base).is_ok() && emu.domain_object(host, &base).is_ok()
        })
        .ok_or_else(not_found)?;
    Ok(data(extras::resolution_object(&id, &ip, &host, &base)))
}

/// (sha256, class) of a file the world knows.
fn known_file(emu: &Emulator, id: &str, base: &BaseUrl) -> Result<(String, WorldClass), ApiError> {
    let record = emu.file_record(id, base)?;
    Ok((
        record.identity.sha256.clone(),
        class_of_object(&record.object),
    ))
}

pub async fn behaviour_summary(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Path(id): Path<String>,
) -> ApiResult {
    let (sha256, class) = known_file(&emu, &id, &base)?;
    Ok(data(extras::behaviour_summary(&sha256, class)))
}

/// `GET /file_behaviours/{sha256}_{sandbox}`.
pub async fn file_behaviour(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Path(id): Path<String>,
) -> ApiResult {
    let not_found = || ApiError::not_found(format!("File behaviour \"{id}\" not found"));
    let (hash, sandbox) = id.split_once('_').ok_or_else(not_found)?;
    let (sha256, class) = known_file(&emu, hash, &base).map_err(|_| not_found())?;
    let sandbox = extras::sandboxes_of(&sha256, class)
        .into_iter()
        .find(|s| *s == sandbox)
        .ok_or_else(not_found)?;
    Ok(data(extras::behaviour_object(
        &sha256, sandbox, class, &base,
    )))
}

pub async fn sigma_analysis(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Path(id): Path<String>,
) -> ApiResult {
    let (sha256, class) = known_file(&emu, &id, &base)
        .map_err(|_| ApiError::not_found(format!("Sigma analysis \"{id}\" not found")))?;
    Ok(data(extras::sigma_analysis_object(&sha256, class, &base)))
}

pub async fn popular_threat_categories() -> Json<Value> {
    Json(json!({ "data": crate::engines::CATEGORIES }))
}

/// A ZIP of samples asked for with `POST /intelligence/zip_files`.
#[derive(Debug, Clone)]
pub struct ZipFile {
    pub owner: String,
    pub hashes: Vec<String>,
    pub files_ok: usize,
    pub date: i64,
    /// The password the ZIP is encrypted with, if one was asked for.
    pub password: Option<String>,
}

fn zip_object(id: &str, zip: &ZipFile, base: &BaseUrl) -> Value {
    json!({
        "type": "zip_file",
        "id": id,
        "links": {"self": base.api(&format!("/intelligence/zip_files/{id}"))},
        "attributes": {
            "status": "finished",
            "progress": 100,
            "files_ok": zip.files_ok,
            "files_error": zip.hashes.len() - zip.files_ok,
            "date": zip.date,
        },
    })
}

/// `POST /intelligence/zip_files` `{"data": {"hashes": [...], "password": ...}}`
/// (premium): finished at once; hashes the world does not know count as errors.
pub async fn create_zip_file(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> ApiResult {
    require_premium(&caller)?;
    let doc: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
    let hashes: Vec<String> = doc
        .pointer("/data/hashes")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .filter(|list: &Vec<String>| !list.is_empty())
        .ok_or_else(|| ApiError::bad_request("\"data.hashes\" must be a non-empty list"))?;
    if hashes.len() > 10_000 {
        return Err(ApiError::bad_request("At most 10000 hashes per ZIP file"));
    }
    let files_ok = hashes
        .iter()
        .filter(|h| emu.file_record(h, &base).is_ok())
        .count();
    let zip = ZipFile {
        owner: caller.key.clone(),
        hashes,
        files_ok,
        date: now_epoch(),
        password: doc
            .pointer("/data/password")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .map(str::to_owned),
    };
    let id = format!("{:016x}", fastrand::u64(..));
    let object = zip_object(&id, &zip, &base);
    emu.store_mut().zip_files.insert(id, zip);
    Ok(data(object))
}

/// `GET /intelligence/zip_files/{id}`: the caller's own ZIP files only.
pub async fn zip_file(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    require_premium(&caller)?;
    let zip = emu
        .store()
        .zip_files
        .get(&id)
        .filter(|z| z.owner == caller.key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("Zip file \"{id}\" not found")))?;
    Ok(data(zip_object(&id, &zip, &base)))
}

/// The caller's own ZIP file `id`.
fn own_zip(emu: &Emulator, caller: &Caller, id: &str) -> Result<ZipFile, ApiError> {
    emu.store()
        .zip_files
        .get(id)
        .filter(|z| z.owner == caller.key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("Zip file \"{id}\" not found")))
}

/// The ZIP's bytes: one entry per sample the emulator has content for,
/// named by sha256, ZipCrypto-encrypted with the password when one was
/// given (as VirusTotal builds them).
fn zip_bytes(emu: &Emulator, zip: &ZipFile, base: &BaseUrl) -> Result<Vec<u8>, ApiError> {
    use std::io::Write;
    use zip::unstable::write::FileOptionsExt;
    let failed = |e: String| {
        ApiError::new(
            vt_model::ErrorCode::Transient,
            format!("Cannot build the ZIP file: {e}"),
        )
    };
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut seen = std::collections::HashSet::new();
    for hash in &zip.hashes {
        let Ok((sha256, bytes)) = emu.downloadable(hash, base) else {
            continue;
        };
        if !seen.insert(sha256.clone()) {
            continue;
        }
        let mut options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        if let Some(password) = &zip.password {
            options = options.with_deprecated_encryption(password.as_bytes());
        }
        writer
            .start_file(sha256.as_str(), options)
            .map_err(|e| failed(e.to_string()))?;
        writer
            .write_all(&bytes)
            .map_err(|e| failed(e.to_string()))?;
    }
    let cursor = writer.finish().map_err(|e| failed(e.to_string()))?;
    Ok(cursor.into_inner())
}

fn zip_response(bytes: Vec<u8>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_TYPE, "application/zip")],
        bytes,
    )
        .into_response()
}

/// `GET /intelligence/zip_files/{id}/download`: the ZIP itself.
pub async fn zip_file_download(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    require_premium(&caller)?;
    let zip = own_zip(&emu, &caller, &id)?;
    Ok(zip_response(zip_bytes(&emu, &zip, &base)?))
}

/// `GET /intelligence/zip_files/{id}/download_url`: a signed link to the
/// ZIP that needs no key.
pub async fn zip_file_download_url(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    require_premium(&caller)?;
    own_zip(&emu, &caller, &id)?;
    let token = format!("{:032x}", fastrand::u128(..));
    emu.store_mut().zip_tokens.insert(token.clone(), id);
    Ok(data(json!(base.api(&format!("/_zip_download/{token}")))))
}

/// The signed link of a ZIP file.
pub async fn signed_zip_download(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Path(token): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    let id = emu.store().zip_tokens.get(&token).cloned();
    let zip = id
        .and_then(|id| emu.store().zip_files.get(&id).cloned())
        .ok_or_else(|| ApiError::not_found("Download URL not found"))?;
    Ok(zip_response(zip_bytes(&emu, &zip, &base)?))
}
