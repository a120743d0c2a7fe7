//! The control routes (`/_emulator/*`) and the answers for routes the API
//! does not have.

use crate::api_error::ApiError;
use crate::Emulator;
use axum::extract::State;
use axum::http::{Method, Uri};
use axum::Json;
use serde_json::{json, Value};
use vt_model::ErrorCode;

/// `GET /_emulator/stats`: not counted, no key needed.
pub async fn stats(State(emu): State<Emulator>) -> Json<Value> {
    Json(emu.stats())
}

/// `POST /_emulator/reset`: clears counters and quotas, keeps the world.
pub async fn reset(State(emu): State<Emulator>) -> Json<Value> {
    emu.reset();
    Json(json!({"data": "reset"}))
}

pub async fn unknown_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!("Resource not found: {}", uri.path()))
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        ErrorCode::BadRequest,
        format!("Method {method} not allowed for {}", uri.path()),
    )
}
