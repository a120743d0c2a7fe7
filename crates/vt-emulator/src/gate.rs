//! What every API request passes before its handler: latency, the key
//! check, the quota, fault injection, and the counting for the stats.

use crate::accounting::{quota_message, usage_family, FaultKind};
use crate::api_error::ApiError;
use crate::{now_epoch, Emulator};
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use vt_model::ErrorCode;

/// The key a request came with, put in its extensions for the handlers.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: String,
    pub premium: bool,
}

impl Caller {
    /// How messages name this caller: never the key, nor a part of it.
    pub fn fingerprint(&self) -> String {
        crate::key_fingerprint(&self.key)
    }
}

/// Routes a browser or a signed link reaches without a key: counted, never
/// charged to a quota and never failed on purpose.
const OPEN_ROUTES: &[&str] = &[
    "/widget/html/{token}",
    "/_download/{token}",
    "/_zip_download/{token}",
];

pub async fn gate(State(emu): State<Emulator>, request: Request, next: Next) -> Response {
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().trim_start_matches("/api/v3").to_owned());
    let route = format!(
        "{} {}",
        request.method(),
        template.as_deref().unwrap_or("(unmatched)")
    );
    let response = if template
        .as_deref()
        .is_some_and(|t| OPEN_ROUTES.contains(&t))
    {
        sleep_latency(&emu).await;
        next.run(request).await
    } else {
        answer(&emu, template.as_deref().unwrap_or_default(), request, next).await
    };
    emu.accounting().record(route, response.status().as_u16());
    response
}

async fn sleep_latency(emu: &Emulator) {
    let latency = emu.config().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

async fn answer(emu: &Emulator, template: &str, mut request: Request, next: Next) -> Response {
    sleep_latency(emu).await;
    let caller = match authenticate(emu, &request) {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    let spent = emu.accounting().spend(
        &caller.key,
        usage_family(template),
        emu.quota_limits(),
        Instant::now(),
        now_epoch(),
    );
    if let Err((window, limit)) = spent {
        return ApiError::new(ErrorCode::QuotaExceeded, quota_message(window, limit))
            .into_response();
    }
    request.extensions_mut().insert(caller);
    let fault = {
        let mut plan = emu.faults();
        if plan.is_active() {
            plan.draw()
        } else {
            None
        }
    };
    match fault {
        None => next.run(request).await,
        Some(kind) => {
            tracing::debug!(?kind, "injecting fault");
            inject(kind, emu.config().fault_delay, request, next).await
        }
    }
}

fn authenticate(emu: &Emulator, request: &Request) -> Result<Caller, ApiError> {
    let key = request
        .headers()
        .get("x-apikey")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::AuthenticationRequired,
                "X-Apikey header is missing",
            )
        })?;
    let config = emu.config();
    let open = config.public_keys.is_empty() && config.premium_keys.is_empty();
    let premium = if open || config.premium_keys.iter().any(|k| k == key) {
        true
    } else if config.public_keys.iter().any(|k| k == key) {
        false
    } else {
        return Err(ApiError::new(ErrorCode::WrongCredentials, "Wrong API key"));
    };
    Ok(Caller {
        key: key.to_owned(),
        premium,
    })
}

async fn inject(kind: FaultKind, delay: Duration, request: Request, next: Next) -> Response {
    match kind {
        FaultKind::RateLimited => ApiError::new(
            ErrorCode::QuotaExceeded,
            "Quota exceeded (injected: the key's quota had room)",
        )
        .into_response(),
        FaultKind::MalformedJson => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "<html><body>502 Bad Gateway</body></html>",
        )
            .into_response(),
        FaultKind::Slow => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        FaultKind::Hang => {
            // Bounded, so that a graceful shutdown still ends.
            tokio::time::sleep(delay.saturating_mul(10)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        FaultKind::Transient => ApiError::new(
            ErrorCode::Transient,
            "Transient error, please try again later",
        )
        .into_response(),
        FaultKind::PlainServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Internal Server Error",
        )
            .into_response(),
        FaultKind::ConnectionReset => {
            // A body that fails before its first byte makes hyper abort the
            // connection: the client sees a reset, not an answer.
            let failing = futures_util::stream::once(async {
                Err::<bytes::Bytes, _>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected connection reset",
                ))
            });
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from_stream(failing))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        FaultKind::TruncatedBody => {
            let answer = next.run(request).await;
            let (mut parts, body) = answer.into_parts();
            let full = match axum::body::to_bytes(body, usize::MAX).await {
                Ok(full) => full,
                Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            };
            let half = full.slice(..full.len() / 2);
            // Content-Length promises the whole body; the stream ends halfway
            // with an error, so hyper closes the connection mid-body.
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(full.len().max(2)));
            // The pause lets hyper flush the head and the first half before
            // the error aborts the connection.
            let cut = futures_util::stream::once(async move { Ok(half) }).chain(
                futures_util::stream::once(async {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "injected truncated body",
                    ))
                }),
            );
            Response::from_parts(parts, Body::from_stream(cut))
        }
    }
}
