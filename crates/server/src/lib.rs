//! `vtc serve`: the enrichment service. Threat-intel platforms, SOAR tools
//! and scripts call it over HTTP instead of each holding its own key,
//! cache and quota.
//!
//! [`AppState`] is built once from [`app::Settings`] (one store, one client,
//! the enrichers sharing them, the action [`actions::Context`] and the
//! [`Tokens`] it keeps); [`router`] assembles one function per route group; [`serve`]
//! runs it until the shutdown future resolves, finishing requests in flight.
//! Every failure is an [`AppError`], a JSON body.
//!
//! This crate knows nothing of command-line parsing or terminals: the
//! binary parses `--listen`, builds the state and calls [`serve`]. It never
//! reads a local file a request names (`read_local_files = false`) and
//! takes no downloads (no sample sink).

mod auth;
mod error;
mod feeds;
mod routes;

pub use auth::{create_token, new_token, token_digest, Caller, Role, TokenError, Tokens};
pub use error::AppError;

use axum::Router;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Largest request body accepted (an action's JSON input).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// A request still running after this is answered 504.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    /// Cache first, one call per indicator in flight; always builds the
    /// full object, dropped from the answer unless `?full=true`, so full
    /// and plain requests for one new indicator share one call.
    enricher: enrich::Enricher,
    /// The same store and client, asking VirusTotal whatever the cache
    /// holds (`?refresh=true`).
    refresher: enrich::Enricher,
    store: Arc<dyn store::Store>,
    actions: actions::Context,
    tokens: Tokens,
    /// The `[feeds]` table: how the feeds present themselves, their secret.
    feeds: ::feeds::FeedConfig,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error(transparent)]
    App(#[from] app::AppError),
    #[error(transparent)]
    Tokens(#[from] TokenError),
    #[error("cannot serve on {addr}: {source}")]
    Io {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

impl AppState {
    /// Opens the store, builds the client sharing it, the enrichers and the
    /// action context, and reads the `[[tokens]]` of the settings.
    pub async fn build(settings: &app::Settings) -> Result<AppState, ServerError> {
        let store = settings.open_store().await?;
        match store.tokens().await {
            Ok(kept) if kept.is_empty() => tracing::warn!(
                "no tokens yet (`vtc token create`): every /v1 request is refused (401)"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!("cannot list the tokens: {e}"),
        }
        let tokens = Tokens::new(store.clone());
        let client = settings.client_sharing(&store).await?;
        let options = |refresh| enrich::EnrichOptions {
            verdict: settings.verdict.clone(),
            ttl: settings.cache,
            refresh,
            max_age: None,
            full: true,
            rescan_stale: false,
            shared_lookups: settings.shares_database(),
        };
        let enricher = enrich::Enricher::new(client.clone(), store.clone(), options(false));
        let refresher = enrich::Enricher::new(client.clone(), store.clone(), options(true));
        let mut actions = actions::Context::new(client);
        actions.read_local_files = false;
        actions.samples = None;
        actions.quota_key = settings.keys.first().map(|k| actions::QuotaKey {
            key: k.key.clone(),
            minute_budget: k.minute,
        });
        Ok(AppState {
            inner: Arc::new(Inner {
                enricher,
                refresher,
                store,
                actions,
                tokens,
                feeds: settings.feeds.clone(),
            }),
        })
    }

    pub fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }

    /// The store the service reads and writes (tokens are made there).
    pub fn store(&self) -> &Arc<dyn store::Store> {
        &self.inner.store
    }
}

/// The whole service: every route group, under the shared layers.
pub fn router(state: AppState) -> Router {
    use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    Router::new()
        .merge(routes::health())
        .merge(routes::observables())
        .merge(routes::reports())
        .merge(routes::quota())
        .merge(routes::actions())
        .merge(feeds::feeds())
        .fallback(routes::no_route)
        .method_not_allowed_fallback(routes::wrong_method)
        .with_state(state)
        .layer(
            tower::ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(
                    request_id.clone(),
                    routes::SequentialRequestId::default(),
                ))
                // The path only: a feed URL's query holds its secret.
                .layer(
                    tower_http::trace::TraceLayer::new_for_http().make_span_with(
                        |request: &axum::http::Request<_>| {
                            tracing::debug_span!(
                                "request",
                                method = %request.method(),
                                path = %request.uri().path(),
                            )
                        },
                    ),
                )
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(axum::middleware::from_fn(time_limit))
                // axum's own limit, so a body too large is a JSON 413 from
                // the handler (tower-http's would answer plain text).
                .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
}

/// Answers a request still running after [`REQUEST_TIMEOUT`] with a JSON
/// 504 (tower-http's timeout layer would answer an empty body).
async fn time_limit(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => AppError::new(
            axum::http::StatusCode::GATEWAY_TIMEOUT,
            "Timeout",
            format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
        )
        .into_response(),
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then stops
/// taking connections and lets the requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let enricher = state.inner.enricher.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| ServerError::Io { addr, source })?;
    // Cache writes that run behind an answer land before the process ends.
    enricher.flush_cache_writes().await;
    Ok(())
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM: what [`serve`] is usually given.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
