//! The handlers; [`crate::ROUTES`] says which path, method and role each
//! one has. A protected handler runs after its token was checked (the
//! [`Caller`] is in the request's extensions).

use crate::{AppError, AppState, Caller, Role};
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ioc::{Indicator, IndicatorKind};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tower_http::request_id::{MakeRequestId, RequestId};

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

/// `{"status": "ok"}` / `{"status": "ready"}`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Status {
    pub status: &'static str,
}

pub(crate) async fn healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics().render(
        state.inner.enricher.client(),
        state.inner.enricher.coalesced() + state.inner.refresher.coalesced(),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

pub(crate) async fn openapi_document() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document_bytes(),
    )
        .into_response()
}

pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Status>, AppError> {
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
        Ok(_) => Ok(Json(Status { status: "ready" })),
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

pub(crate) async fn observable(
    State(state): State<AppState>,
    Path(input): Path<String>,
    Extension(caller): Extension<Caller>,
    uri: Uri,
) -> Result<Response, AppError> {
    let options: ObservableQuery = parse_query(&uri)?;
    let stix = match options.format.as_deref() {
        None | Some("json") => false,
        Some("stix") => true,
        Some(_) => return Err(AppError::bad_request("format: must be json or stix")),
    };
    let indicator = Indicator::parse(&input).map_err(|e| {
        AppError::new(
            StatusCode::BAD_REQUEST,
            "InvalidIndicator",
            format!("indicator: {e}"),
        )
    })?;
    let key = indicator.to_string();
    let memo = &state.inner.answers;
    if options.refresh {
        memo.forget(&key);
    } else if !stix {
        if let Some(json) = memo.get(&key, options.full) {
            state.metrics().cache_lookup(true);
            return Ok(json_bytes(json));
        }
    }
    // Only a lookup that may spend VirusTotal quota counts against the
    // client's own: a refresh, or a miss in the cache.
    let cached = !options.refresh
        && state
            .inner
            .store
            .get_report(
                state.inner.enricher.origin(),
                &key,
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
    let mut record = bounded(&state, enricher.try_enrich_line(&input)).await??;
    state.metrics().cache_lookup(record.cached);
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
    let json = Bytes::from(serde_json::to_vec(&record).map_err(AppError::internal)?);
    if record.cached {
        memo.put(key, options.full, json.clone());
    }
    Ok(json_bytes(json))
}

fn json_bytes(json: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}

/// What the client's quota governor counts per key (by label, never the
/// key): used and allowed per minute, day and month, and when it may next
/// send; and each client's own usage (the caller's, or everyone's for an
/// admin).
pub(crate) async fn quota_status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, AppError> {
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

pub(crate) async fn report(
    State(state): State<AppState>,
    Path((collection, id)): Path<(String, String)>,
) -> Result<Response, AppError> {
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
pub(crate) fn action_role(name: &str) -> Role {
    match name {
        "private_delete_file" => Role::Admin,
        _ => Role::Analyst,
    }
}

pub(crate) async fn action(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Extension(caller): Extension<Caller>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Value>, AppError> {
    // Unknown names are refused after the token was checked, so the table
    // of actions is not shown to anyone without one.
    let action = actions::find(&name).ok_or_else(|| {
        AppError::not_found(format!(
            "no action {:?} (GET the list with `vtc action --list`)",
            name.chars().take(64).collect::<String>()
        ))
    })?;
    let needed = action_role(action.name);
    if !caller.role.may(needed) {
        return Err(AppError::forbidden(format!(
            "{} needs the {needed} role; the token has {}",
            action.name, caller.role
        )));
    }
    let body = body.map_err(|e| AppError::new(e.status(), "InvalidBody", e.body_text()))?;
    // Only an empty body means `{}`: whitespace alone is not JSON
    // (schemathesis: a body of "\n" was taken as `{}`).
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AppError::bad_request(format!("the body is not JSON: {e}")))?
    };
    // Every action asks VirusTotal: each call counts against the client's quota.
    crate::client_quota::charge(&state, &caller, 1).await?;
    let data = bounded(&state, action.run(&state.inner.actions, input)).await??;
    Ok(Json(json!({ "data": data })))
}

/// `work` under [`crate::Limits::lookup_timeout`]. Past it the work is
/// dropped (a lookup shared with others goes on for them) and the caller
/// hears 429 with `Retry-After` if the governor is holding every key back,
/// else 504.
async fn bounded<T>(
    state: &AppState,
    work: impl std::future::Future<Output = T>,
) -> Result<T, AppError> {
    let limit = state.limits().lookup_timeout;
    match tokio::time::timeout(limit, work).await {
        Ok(done) => Ok(done),
        Err(_) => {
            let now = time::OffsetDateTime::now_utc();
            let next_free = state
                .inner
                .enricher
                .client()
                .quota_status()
                .iter()
                .filter_map(|k| k.next_free_slot)
                .min();
            match next_free {
                Some(at) if at > now => {
                    let wait = (at - now).whole_seconds().max(1).unsigned_abs();
                    Err(AppError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "QuotaExceededError",
                        format!("VirusTotal's budget holds requests back; try again in {wait} s"),
                    )
                    .with_retry_after(wait))
                }
                _ => Err(AppError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "Timeout",
                    format!("VirusTotal did not answer within {} s", limit.as_secs()),
                )),
            }
        }
    }
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
