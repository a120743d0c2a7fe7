//! The route groups, one function each, and their handlers.

use crate::{AppError, AppState, Role};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ioc::{Indicator, IndicatorKind};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tower_http::request_id::{MakeRequestId, RequestId};

/// `/healthz` (the process answers) and `/readyz` (the store answers too):
/// no token, for load balancers and orchestrators.
pub(crate) fn health() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// `GET /v1/observables/{indicator}`: one record (analyst: may spend quota).
pub(crate) fn observables() -> Router<AppState> {
    Router::new().route("/v1/observables/{*indicator}", get(observable))
}

/// `GET /v1/reports/{type}/{id}`: the cached object only (reader).
pub(crate) fn reports() -> Router<AppState> {
    Router::new().route("/v1/reports/{type}/{*id}", get(report))
}

/// `GET /v1/quota`: the VirusTotal budget of each key (reader: spends nothing).
pub(crate) fn quota() -> Router<AppState> {
    Router::new().route("/v1/quota", get(quota_status))
}

/// `POST /v1/actions/{name}`: every action of the action library.
pub(crate) fn actions() -> Router<AppState> {
    Router::new().route("/v1/actions/{name}", post(action))
}

pub(crate) async fn no_route() -> AppError {
    AppError::not_found("no such route")
}

pub(crate) async fn wrong_method() -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "this route does not take that method",
    )
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let inner = &state.inner;
    let probe = inner
        .store
        .get_report(
            inner.enricher.origin(),
            "readyz-probe",
            time::OffsetDateTime::now_utc(),
        )
        .await;
    match probe {
        Ok(_) => Ok(Json(json!({"status": "ready"}))),
        Err(e) => {
            tracing::error!("readyz: the store does not answer: {e}");
            Err(AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "NotReady",
                "the store does not answer",
            ))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObservableQuery {
    #[serde(default)]
    refresh: bool,
    #[serde(default)]
    full: bool,
    /// `stix`: the record as a STIX 2.1 bundle.
    format: Option<String>,
}

/// The query string as `T` (none is `T::default()`), or a 400 saying
/// what is wrong with it.
pub(crate) fn parse_query<T: serde::de::DeserializeOwned + Default>(
    uri: &Uri,
) -> Result<T, AppError> {
    if uri.query().is_none() {
        return Ok(T::default());
    }
    Query::<T>::try_from_uri(uri)
        .map(|Query(q)| q)
        .map_err(|e| AppError::bad_request(format!("query string: {}", e.body_text())))
}

async fn observable(
    State(state): State<AppState>,
    Path(input): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, AppError> {
    let caller = state
        .inner
        .tokens
        .authorize(&headers, Role::Analyst)
        .await?;
    let options: ObservableQuery = parse_query(&uri)?;
    let stix = match options.format.as_deref() {
        None | Some("json") => false,
        Some("stix") => true,
        Some(_) => return Err(AppError::bad_request("format: must be json or stix")),
    };
    let indicator = match Indicator::parse(&input) {
        Ok(indicator) => indicator,
        Err(e) => {
            return Err(AppError::new(
                StatusCode::BAD_REQUEST,
                "InvalidIndicator",
                format!("indicator: {e}"),
            ))
        }
    };
    // Only a lookup that may spend VirusTotal quota counts against the
    // client's own: a refresh, or a miss in the cache.
    let cached = !options.refresh
        && state
            .inner
            .store
            .get_report(
                state.inner.enricher.origin(),
                &indicator.to_string(),
                time::OffsetDateTime::now_utc(),
            )
            .await
            .ok()
            .flatten()
            .is_some();
    if !cached {
        crate::client_quota::charge(&state, &caller, 1).await?;
    }
    let enricher = if options.refresh {
        &state.inner.refresher
    } else {
        &state.inner.enricher
    };
    let mut record = enricher.try_enrich_line(&input).await?;
    // The input parsed, so a failure is VirusTotal's or the network's: a
    // 503 (its details logged), not a 200 a playbook could read as clean.
    if let Some(error) = &record.error {
        return Err(AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            error.code.clone(),
            format!("{}: {}", record.indicator, error.message),
        ));
    }
    if !options.full {
        record.full = None;
    }
    if stix {
        return crate::feeds::stix_of(&state, record);
    }
    Ok(Json(record).into_response())
}

/// What the client's quota governor counts per key (by label, never the
/// key): used and allowed per minute, day and month, and when it may next
/// send; and each client's own usage (the caller's, or everyone's for an
/// admin).
async fn quota_status(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    let caller = state.inner.tokens.authorize(&headers, Role::Reader).await?;
    let clients = crate::client_quota::usage(&state, &caller).await?;
    Ok(Json(json!({
        "keys": state.inner.enricher.client().quota_status(),
        "clients": clients,
    })))
}

/// `{type}` of `/v1/reports`: VirusTotal's collection names.
fn collection_kind(collection: &str) -> Option<IndicatorKind> {
    match collection {
        "files" => Some(IndicatorKind::File),
        "urls" => Some(IndicatorKind::Url),
        "domains" => Some(IndicatorKind::Domain),
        "ip_addresses" => Some(IndicatorKind::Ip),
        _ => None,
    }
}

async fn report(
    State(state): State<AppState>,
    Path((collection, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    state.inner.tokens.authorize(&headers, Role::Reader).await?;
    let kind = collection_kind(&collection).ok_or_else(|| {
        AppError::bad_request("type: must be files, urls, domains or ip_addresses")
    })?;
    let indicator = Indicator::parse(&id).map_err(|e| AppError::bad_request(format!("id: {e}")))?;
    if indicator.kind() != kind {
        return Err(AppError::bad_request(format!(
            "id: a {} is not in {collection}",
            indicator.kind()
        )));
    }
    let inner = &state.inner;
    let cached = inner
        .store
        .get_report(
            inner.enricher.origin(),
            &indicator.to_string(),
            time::OffsetDateTime::now_utc(),
        )
        .await?;
    match cached {
        Some(store::Cached::Found { json, .. }) => {
            Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
        }
        Some(store::Cached::NotFound { .. }) | None => Err(AppError::not_found(format!(
            "no cached report of {indicator} (this route never asks VirusTotal)"
        ))),
    }
}

/// The role an action needs: deleting is an admin's; everything else may
/// spend quota, an analyst's.
fn action_role(name: &str) -> Role {
    match name {
        "private_delete_file" => Role::Admin,
        _ => Role::Analyst,
    }
}

async fn action(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Value>, AppError> {
    let action = actions::find(&name);
    // Unknown names are refused after the token is checked, so the table
    // of actions is not shown to anyone without one.
    let needed = action.map_or(Role::Reader, |a| action_role(a.name));
    let caller = state.inner.tokens.authorize(&headers, needed).await?;
    let action = action.ok_or_else(|| {
        AppError::not_found(format!(
            "no action {:?} (GET the list with `vtc action --list`)",
            name.chars().take(64).collect::<String>()
        ))
    })?;
    let body = body.map_err(|e| AppError::new(e.status(), "InvalidBody", e.body_text()))?;
    let input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::bad_request(format!("the body is not JSON: {e}")))?
    };
    // Every action asks VirusTotal: each call counts against the client's quota.
    crate::client_quota::charge(&state, &caller, 1).await?;
    let data = action.run(&state.inner.actions, input).await?;
    Ok(Json(json!({ "data": data })))
}

/// `x-request-id`: a number per request, unless the caller sent one.
#[derive(Clone, Default)]
pub(crate) struct SequentialRequestId {
    next: Arc<AtomicU64>,
}

impl MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        axum::http::HeaderValue::from_str(&n.to_string())
            .ok()
            .map(RequestId::new)
    }
}
