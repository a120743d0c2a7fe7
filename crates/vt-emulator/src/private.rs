//! Private scanning (premium keys only; public keys get 403): files and URLs
//! analysed without joining the public world, visible only to the key that
//! sent them.

use crate::api_error::{ApiError, BaseUrl};
use crate::collection::{page_of, PageQuery};
use crate::downloads::require_premium;
use crate::gate::Caller;
use crate::store::Target;
use crate::submit::{canonical_url, descriptor, new_upload_url, receive_file, url_field};
use crate::Emulator;
use axum::extract::{Path, Query, Request, State};
use axum::{Extension, Json};
use serde_json::{json, Value};

type ApiResult = Result<Json<Value>, ApiError>;

pub(crate) fn sha256_of(id: &str) -> Result<String, ApiError> {
    ioc::Sha256::parse(id)
        .map(|h| h.as_str().to_owned())
        .ok_or_else(|| {
            ApiError::invalid_argument(format!(
                "\"{id}\" is not a SHA-256: private files are named by sha256"
            ))
        })
}

pub async fn upload(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    request: Request,
) -> ApiResult {
    require_premium(&caller)?;
    let received = receive_file(request).await?;
    let id = emu.accept_upload(received, Some(&caller.key));
    Ok(descriptor(
        "private_analysis",
        "private/analyses",
        &id,
        &base,
    ))
}

pub async fn upload_url(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
) -> ApiResult {
    require_premium(&caller)?;
    Ok(new_upload_url(&emu, &base, "p"))
}

pub async fn list(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Query(query): Query<PageQuery>,
) -> ApiResult {
    require_premium(&caller)?;
    let window = query.window(40)?;
    let hashes: Vec<String> = emu
        .store()
        .private_files
        .keys()
        .filter(|(owner, _)| *owner == caller.key)
        .map(|(_, sha256)| sha256.clone())
        .collect();
    let objects = hashes
        .iter()
        .filter_map(|sha256| emu.private_file_object(&caller.key, sha256, &base).ok())
        .collect();
    Ok(Json(page_of(objects, window, &base, "/private/files")))
}

pub async fn file(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    require_premium(&caller)?;
    let sha256 = sha256_of(&id)?;
    let object = emu.private_file_object(&caller.key, &sha256, &base)?;
    Ok(Json(json!({"data": object})))
}

pub async fn delete(
    State(emu): State<Emulator>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    require_premium(&caller)?;
    let sha256 = sha256_of(&id)?;
    let removed = emu
        .store_mut()
        .private_files
        .remove(&(caller.key.clone(), sha256.clone()));
    match removed {
        Some(_) => Ok(Json(json!({}))),
        None => Err(ApiError::not_found(format!(
            "Private file \"{sha256}\" not found"
        ))),
    }
}

pub async fn analyse(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    require_premium(&caller)?;
    let sha256 = sha256_of(&id)?;
    let file = emu
        .store()
        .private_files
        .get(&(caller.key.clone(), sha256.clone()))
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("Private file \"{sha256}\" not found")))?;
    let analysis = emu.start_analysis(
        Target::File {
            identity: file.identity,
            size: file.size,
        },
        Some(&caller.key),
    );
    Ok(descriptor(
        "private_analysis",
        "private/analyses",
        &analysis,
        &base,
    ))
}

fn own_analysis(
    emu: &Emulator,
    id: &str,
    caller: &Caller,
) -> Result<crate::store::Analysis, ApiError> {
    emu.store()
        .analyses
        .get(id)
        .filter(|a| a.private_owner.as_deref() == Some(caller.key.as_str()))
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("Private analysis \"{id}\" not found")))
}

pub async fn analysis(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    require_premium(&caller)?;
    let analysis = own_analysis(&emu, &id, &caller)?;
    Ok(Json(emu.analysis_document(&id, &analysis, &base)))
}

pub async fn analysis_item(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    require_premium(&caller)?;
    let analysis = own_analysis(&emu, &id, &caller)?;
    let object = emu.analysis_target_object(&analysis, &base)?;
    Ok(Json(json!({"data": object})))
}

pub async fn submit_url(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    request: Request,
) -> ApiResult {
    require_premium(&caller)?;
    let raw = url_field(request).await?;
    let (sha256, url) = canonical_url(&emu, &raw)?;
    let id = emu.start_analysis(Target::Url { sha256, url }, Some(&caller.key));
    Ok(descriptor(
        "private_analysis",
        "private/analyses",
        &id,
        &base,
    ))
}

/// `GET /private/urls/{id}`: a URL this key submitted with `POST /private/urls`.
pub async fn url(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    require_premium(&caller)?;
    let object = emu.own_private_url(&caller.key, &id, &base)?;
    Ok(Json(json!({"data": object})))
}
