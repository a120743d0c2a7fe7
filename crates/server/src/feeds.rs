//! The feed URLs: `GET /feeds/cb.json`, `/feeds/stix.json` and
//! `/feeds/misp.json`, the same documents `vtc feed export` writes, for
//! EDR servers and threat-intel platforms to subscribe to; and the STIX
//! form of one observable (`GET /v1/observables/{v}?format=stix`).
//!
//! A feed is read with a reader token, or with the `[feeds] secret` in the
//! URL (`?secret=...`) as EDR servers subscribe to a bare URL. The secret
//! is compared in constant time and never logged: the trace layer logs
//! the path, never the query.

use crate::{AppError, AppState, Role};
use axum::extract::State;
use axum::http::{header, HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use feeds::intel::{stix, FeedEntry, FeedFilter, FeedFormat, SOURCE_ENRICH};
use serde::Deserialize;

/// `GET /feeds/cb.json` (a [`crate::ROUTES`] entry): reader token or feed secret.
pub(crate) fn carbon_black() -> MethodRouter<AppState> {
    get(|s, h, u| feed(s, h, u, FeedFormat::CarbonBlack))
}

/// `GET /feeds/stix.json`.
pub(crate) fn stix_feed() -> MethodRouter<AppState> {
    get(|s, h, u| feed(s, h, u, FeedFormat::Stix))
}

/// `GET /feeds/misp.json`.
pub(crate) fn misp() -> MethodRouter<AppState> {
    get(|s, h, u| feed(s, h, u, FeedFormat::Misp))
}

/// The query of a feed URL: the filters of `vtc feed export`, and the secret.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedQuery {
    secret: Option<String>,
    min_verdict: Option<String>,
    since: Option<String>,
    #[serde(rename = "type")]
    kinds: Option<String>,
    source: Option<String>,
}

async fn feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    format: FeedFormat,
) -> Result<Response, AppError> {
    let query: FeedQuery = crate::routes::parse_query(&uri)?;
    let config = &state.inner.feeds;
    match &query.secret {
        // A secret in the URL stands for a token, if it is the one configured.
        Some(given) => {
            if !config.secret.as_ref().is_some_and(|s| s.matches(given)) {
                return Err(AppError::new(
                    axum::http::StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "wrong feed secret (or none configured: set [feeds] secret, or send a reader token)",
                ));
            }
        }
        None => {
            state.inner.tokens.authorize(&headers, Role::Reader).await?;
        }
    }
    let now = time::OffsetDateTime::now_utc();
    let filter = FeedFilter::from_parts(
        query.min_verdict.as_deref(),
        query.since.as_deref(),
        query.kinds.as_deref(),
        query.source.as_deref(),
        now,
    )
    .map_err(|e| AppError::bad_request(e.to_string()))?;
    let enricher = &state.inner.enricher;
    let body = app::export_feed(
        state.inner.store.as_ref(),
        enricher.origin(),
        &enricher.options().verdict,
        config,
        format,
        &filter,
        now,
    )
    .await
    .map_err(AppError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// One record as a STIX 2.1 bundle (its indicator, observable and analysis).
pub(crate) fn stix_of(state: &AppState, record: verdict::Record) -> Result<Response, AppError> {
    let entry = FeedEntry {
        record,
        sources: vec![SOURCE_ENRICH.to_owned()],
        updated_at: time::OffsetDateTime::now_utc(),
    };
    let bundle = stix::bundle(&state.inner.feeds, &[&entry]);
    let body = serde_json::to_vec(&bundle).map_err(AppError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
