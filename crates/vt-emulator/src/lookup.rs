//! GET routes for single objects and analyses.

use crate::api_error::{ApiError, BaseUrl};
use crate::gate::Caller;
use crate::store::Analysis;
use crate::Emulator;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde_json::{json, Value};

type ApiResult = Result<Json<Value>, ApiError>;

fn data(object: Value) -> Json<Value> {
    Json(json!({ "data": object }))
}

pub async fn file(State(emu): State<Emulator>, base: BaseUrl, Path(id): Path<String>) -> ApiResult {
    emu.file_record(&id, &base)
        .map(|r| data(emu.with_votes("files", r.object)))
}

pub async fn url(State(emu): State<Emulator>, base: BaseUrl, Path(id): Path<String>) -> ApiResult {
    emu.url_record(&id, &base)
        .map(|r| data(emu.with_votes("urls", r.object)))
}

pub async fn domain(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Path(id): Path<String>,
) -> ApiResult {
    emu.domain_object(&id, &base)
        .map(|o| data(emu.with_votes("domains", o)))
}

pub async fn ip_address(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Path(id): Path<String>,
) -> ApiResult {
    emu.ip_object(&id, &base)
        .map(|o| data(emu.with_votes("ip_addresses", o)))
}

fn analysis_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Analysis \"{id}\" not found"))
}

/// An analysis the caller may see: public ones, and its own private ones
/// (vt-py polls private URL analyses on this public path).
fn visible_analysis(emu: &Emulator, id: &str, caller: &Caller) -> Result<Analysis, ApiError> {
    emu.store()
        .analyses
        .get(id)
        .filter(|a| a.private_owner.as_ref().is_none_or(|o| *o == caller.key))
        .cloned()
        .ok_or_else(|| analysis_not_found(id))
}

pub async fn analysis(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    let analysis = visible_analysis(&emu, &id, &caller)?;
    Ok(Json(emu.analysis_document(&id, &analysis, &base)))
}

pub async fn analysis_item(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    let analysis = visible_analysis(&emu, &id, &caller)?;
    emu.analysis_target_object(&analysis, &base).map(data)
}
