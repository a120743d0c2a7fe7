//! [`AppError`]: every way a request fails, as one JSON body
//! `{"error": {"code", "message"}}`. A 5xx is logged with its details and
//! answered with a generic message: the caller learns that it failed, not
//! how the service is built.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use serde_json::json;

/// What every failure answers: `{"error": {"code", "message"}}` (plus,
/// on a 429, when to come back). The schema of the body `IntoResponse`
/// writes, for the OpenAPI document.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[allow(dead_code)]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[allow(dead_code)]
pub(crate) struct ErrorDetail {
    /// Stable: VirusTotal's error code (`NotFoundError`, `QuotaExceededError`,
    /// ...) or the service's own (`InvalidInput`, `Unauthorized`, ...).
    pub code: String,
    /// For people; a 5xx says only that the service failed.
    pub message: String,
    /// RFC 3339: when a refused request may succeed (429).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<String>,
    /// Seconds until then, as the `Retry-After` header says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// A failed request: the status, a stable code and a message for the caller.
#[derive(Debug, Clone)]
pub struct AppError {
    status: StatusCode,
    code: String,
    message: String,
    /// When a refused request may succeed (a 429): answered as
    /// `Retry-After` (seconds) and `error.resets_at`.
    resets_at: Option<time::OffsetDateTime>,
    /// A 5xx whose message is the service's own words about its
    /// configuration (no policy loaded), shown to the caller as it is.
    shown: bool,
}

impl AppError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        AppError {
            status,
            code: code.into(),
            message: message.into(),
            resets_at: None,
            shown: false,
        }
    }

    /// A 5xx that is the service's own configuration, not a failure: its
    /// message (written by the service, holding nothing secret) is shown.
    pub fn shown(mut self) -> Self {
        self.shown = true;
        self
    }

    /// The answer says when to try again, `seconds` from now.
    pub fn with_retry_after(self, seconds: u64) -> Self {
        let seconds = i64::try_from(seconds).unwrap_or(i64::MAX / 2);
        self.resets_at(time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds))
    }

    /// Says when the refused request may succeed (`Retry-After`).
    pub fn resets_at(mut self, at: time::OffsetDateTime) -> Self {
        self.resets_at = Some(at);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        AppError::new(StatusCode::BAD_REQUEST, "InvalidInput", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        AppError::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    pub fn unauthorized() -> Self {
        AppError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "a valid bearer token is required (Authorization: Bearer TOKEN)",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    /// A failure of the service itself; `detail` is logged, never answered.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal",
            detail.to_string(),
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<actions::ActionError> for AppError {
    fn from(err: actions::ActionError) -> Self {
        let status =
            StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        AppError::new(status, err.code(), err.message())
    }
}

/// A database that does not answer (restarting, unreachable, its pool
/// exhausted) is a 503 the client may retry, not a 500: the service
/// recovers by itself when the database is back (the pool reconnects).
impl From<store::StoreError> for AppError {
    fn from(err: store::StoreError) -> Self {
        match err {
            store::StoreError::Backend(_)
            | store::StoreError::Closed
            | store::StoreError::Open { .. } => {
                tracing::error!("the database does not answer: {err}");
                AppError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "DatabaseUnavailable",
                    "the database does not answer; try again shortly",
                )
            }
            other => AppError::internal(format!("store: {other}")),
        }
    }
}

/// Enrichment stops only for errors every lookup would share: the service's
/// key refused, its budget spent, VirusTotal unreachable.
impl From<enrich::EnrichError> for AppError {
    fn from(err: enrich::EnrichError) -> Self {
        match err {
            enrich::EnrichError::Stopped { source, .. } => {
                let (status, code) = if source.is_rate_limited()
                    || matches!(
                        *source,
                        vt_api::Error::QuotaExhausted { .. } | vt_api::Error::BulkReserve { .. }
                    ) {
                    (StatusCode::TOO_MANY_REQUESTS, "QuotaExceededError")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "Unavailable")
                };
                let error = AppError::new(status, code, format!("virustotal: {source}"));
                match *source {
                    vt_api::Error::QuotaExhausted { resets_at, .. } => {
                        let wait = resets_at - time::OffsetDateTime::now_utc();
                        error.with_retry_after(wait.whole_seconds().max(1).unsigned_abs())
                    }
                    _ => error,
                }
            }
            enrich::EnrichError::Store(e) => AppError::from(e),
            other => AppError::internal(other),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let message = if self.status.is_server_error() && !self.shown {
            tracing::error!(status = %self.status, code = %self.code, "{}", self.message);
            match self.status {
                StatusCode::INTERNAL_SERVER_ERROR => "internal error (logged by the service)",
                _ => "VirusTotal could not answer; try again later",
            }
            .to_owned()
        } else {
            self.message
        };
        let mut body = json!({"error": {"code": self.code, "message": message}});
        match self.resets_at {
            Some(at) => {
                let now = time::OffsetDateTime::now_utc();
                // Whole seconds, rounded up, at least 1: a client that waits
                // that long finds the new window open.
                let wait = (at - now).whole_milliseconds().max(0);
                let seconds = (wait + 999) / 1000;
                body["error"]["resets_at"] = json!(at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default());
                body["error"]["retry_after"] = json!(seconds.max(1) as u64);
                let mut response = (self.status, Json(body)).into_response();
                if let Ok(value) = axum::http::HeaderValue::from_str(&seconds.max(1).to_string()) {
                    response
                        .headers_mut()
                        .insert(axum::http::header::RETRY_AFTER, value);
                }
                response
            }
            None => (self.status, Json(body)).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    async fn body_of(err: AppError) -> (StatusCode, serde_json::Value) {
        let response = err.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_5xx_hides_its_details_and_a_4xx_says_what_is_wrong() {
        let (status, body) = body_of(AppError::internal("disk /var/lib/vtc/x is full")).await;
        assert_eq!(status, 500);
        assert_eq!(body["error"]["code"], "Internal");
        assert!(!body.to_string().contains("/var/lib"), "{body}");

        let unavailable = actions::ActionError::new(
            actions::ErrorKind::Unavailable,
            "connect to 10.0.0.7:443 refused",
        );
        let (status, body) = body_of(unavailable.into()).await;
        assert_eq!(status, 503);
        assert!(!body.to_string().contains("10.0.0.7"), "{body}");

        let invalid = actions::ActionError::invalid("file_report: hash: missing field");
        let (status, body) = body_of(invalid.into()).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "InvalidInput");
        assert_eq!(body["error"]["message"], "file_report: hash: missing field");

        let quota = actions::ActionError::new(actions::ErrorKind::QuotaExceeded, "spent");
        assert_eq!(body_of(quota.into()).await.0, 429);
    }
}
