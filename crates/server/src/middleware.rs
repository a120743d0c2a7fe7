//! The layers every request passes: metrics, security headers, the time
//! limit, the body read under a size and time bound, and (per route, from
//! the route table) the token check.

use crate::{AppError, AppState, Role};
use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use std::time::Instant;

/// The index in [`crate::ROUTES`] of the route that answered, put on the
/// response by the route's own layer for the metrics layer outside.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteIndex(pub usize);

/// Per route: names the response by its route.
pub(crate) async fn tag_route(
    State(index): State<RouteIndex>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    response.extensions_mut().insert(index);
    response
}

/// Per protected route: the caller's token must have `role`; the
/// [`crate::Caller`] goes to the handler in the request's extensions.
pub(crate) async fn require_role(
    State((state, role)): State<(AppState, Role)>,
    mut request: Request,
    next: Next,
) -> Response {
    match state.tokens().authorize(request.headers(), role).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

/// Outermost: counts every answer by route and status, with its latency.
pub(crate) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let route = response.extensions().get::<RouteIndex>().map(|r| r.0);
    state
        .metrics()
        .request(route, response.status().as_u16(), started.elapsed());
    response
}

/// For JSON and text: nothing may load, nothing may frame it.
const CSP_API: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// For the pages under `/reports/`: their own inline styles and images,
/// no script at all.
const CSP_PAGE: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// A Content-Security-Policy (unless the handler set its own), `nosniff`
/// and no referrer on every answer.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let page = request.uri().path().starts_with("/reports/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let csp = if page { CSP_PAGE } else { CSP_API };
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Answers a request still running after the limit with a JSON 504
/// (tower-http's timeout layer would answer an empty body).
pub(crate) async fn time_limit(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limit = state.limits().request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => AppError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "Timeout",
            format!("no answer within {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

/// Reads the whole body before any handler runs, so a body over the limit
/// is a JSON 413 and one that trickles in (a slowloris client) is cut off
/// with a JSON 408 after the body read timeout, whatever the route.
pub(crate) async fn read_body(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let limits = state.limits();
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let too_large = || {
        AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "TooLarge",
            format!("the body is over {} bytes", limits.max_body_bytes),
        )
        .into_response()
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    let limited = http_body_util::Limited::new(body, limits.max_body_bytes);
    let bytes = match tokio::time::timeout(limits.body_read_timeout, limited.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return too_large()
        }
        Ok(Err(e)) => {
            return AppError::new(
                StatusCode::BAD_REQUEST,
                "InvalidBody",
                format!("the body could not be read: {e}"),
            )
            .into_response()
        }
        Err(_) => {
            return AppError::new(
                StatusCode::REQUEST_TIMEOUT,
                "BodyTimeout",
                format!(
                    "the body did not arrive within {} s",
                    limits.body_read_timeout.as_secs()
                ),
            )
            .into_response()
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
