//! GET routes for single objects and analyses.

use crate::api_error::{ApiError, BaseUrl};
use crate::Emulator;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

type ApiResult = Result<Json<Value>, ApiError>;

fn data(object: Value) -> Json<Value> {
    Json(json!({ "data": object }))
}

pub async fn file(State(emu): State<Emulator>, base: BaseUrl, Path(id): Path<String>) -> ApiResult {
    emu.file_record(&id, &base).map(|r| data(r.object))
}

pub async fn url(State(emu): State<Emulator>, base: BaseUrl, Path(id): Path<String>) -> ApiResult {
    emu.url_record(&id, &base).map(|r| data(r.object))
}

pub async fn domain(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Path(id): Path<String>,
) -> ApiResult {
    emu.domain_object(&id, &base).map(data)
}

pub async fn ip_address(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Path(id): Path<String>,
) -> ApiResult {
    emu.ip_object(&id, &base).map(data)
}

fn analysis_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Analysis \"{id}\" not found"))
}

pub async fn analysis(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Path(id): Path<String>,
) -> ApiResult {
    let found = emu
        .store()
        .analyses
        .get(&id)
        .filter(|a| a.private_owner.is_none())
        .cloned();
    let analysis = found.ok_or_else(|| analysis_not_found(&id))?;
    Ok(Json(emu.analysis_document(
        &id, &analysis, "analysis", "analyses", &base,
    )))
}

pub async fn analysis_item(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Path(id): Path<String>,
) -> ApiResult {
    let found = emu
        .store()
        .analyses
        .get(&id)
        .filter(|a| a.private_owner.is_none())
        .map(|a| a.target.clone());
    let target = found.ok_or_else(|| analysis_not_found(&id))?;
    emu.analysis_target_object(&target, &base).map(data)
}
