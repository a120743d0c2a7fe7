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

/// What a route's own layer knows: its index, and the role its token
/// must have (none for a public route or one whose handler checks).
#[derive(Clone)]
pub(crate) struct RouteGuard {
    pub index: RouteIndex,
    pub needs: Option<(AppState, Role)>,
}

/// Per route: checks the token (the [`crate::Caller`] goes to the handler
/// in the request's extensions) and names the response by its route, so
/// a 401 is counted under the route too. One layer for both: each
/// `from_fn` layer costs a boxed service clone per request.
pub(crate) async fn guard_route(
    State(guard): State<RouteGuard>,
    mut request: Request,
    next: Next,
) -> Response {
    let mut response = match &guard.needs {
        Some((state, role)) => match state.tokens().authorize(request.headers(), *role).await {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                next.run(request).await
            }
            Err(e) => e.into_response(),
        },
        None => next.run(request).await,
    };
    response.extensions_mut().insert(guard.index);
    response
}

/// Outermost of ours, one layer for what every request gets (each
/// `from_fn` layer costs a boxed service clone per request): the body read
/// under its bounds, the time limit, the security headers, and the
/// metrics of the answer by route and status, with its latency.
pub(crate) async fn frame(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let page = request.uri().path().starts_with("/reports/");
    let mut response = match read_body(&state, request).await {
        Ok(request) => time_limit(&state, request, next).await,
        Err(refused) => refused,
    };
    security_headers(page, &mut response);
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
fn security_headers(page: bool, response: &mut Response) {
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
}

/// Answers a request still running after the limit with a JSON 504
/// (tower-http's timeout layer would answer an empty body).
async fn time_limit(state: &AppState, request: Request, next: Next) -> Response {
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
async fn read_body(state: &AppState, request: Request) -> Result<Request, Response> {
    let limits = state.limits();
    if request.body().is_end_stream() {
        return Ok(request);
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
        return Err(too_large());
    }
    let (parts, body) = request.into_parts();
    let limited = http_body_util::Limited::new(body, limits.max_body_bytes);
    match tokio::time::timeout(limits.body_read_timeout, limited.collect()).await {
        Ok(Ok(collected)) => Ok(Request::from_parts(parts, Body::from(collected.to_bytes()))),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Ok(Err(e)) => Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "InvalidBody",
            format!("the body could not be read: {e}"),
        )
        .into_response()),
        Err(_) => Err(AppError::new(
            StatusCode::REQUEST_TIMEOUT,
            "BodyTimeout",
            format!(
                "the body did not arrive within {} s",
                limits.body_read_timeout.as_secs()
            ),
        )
        .into_response()),
    }
}
