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
mod client_quota;
mod decide;
mod error;
mod feeds;
mod ingest;
mod jobs;
mod routes;
mod webhooks;

pub use auth::{
    create_token, create_token_with_quota, new_token, token_digest, Caller, Role, TokenError,
    Tokens,
};
pub use client_quota::{ClientQuota, QuotaParseError, QuotaWindow};
pub use error::AppError;
pub use ingest::PolicyError;
pub use jobs::{JobSettings, WorkerSummary};
pub use webhooks::WebhookRetry;

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
    /// Application control: the decider and the decision log.
    decide: decide::DecideState,
    /// The `[feeds]` table: how the feeds present themselves, their secret.
    feeds: ::feeds::FeedConfig,
    /// The job queue's limits and worker settings.
    jobs: JobSettings,
    /// `[[policies]]`, in the order written: the first that matches decides.
    policies: Vec<ingest::Policy>,
    webhooks: webhooks::Webhooks,
    /// Wakes the job worker when a job is queued.
    work: tokio::sync::Notify,
}

/// What a service is built with besides its settings (tests shorten the
/// webhook back-off).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceOptions {
    pub webhook_retry: WebhookRetry,
    /// The job queue's settings instead of the `[service]` table's
    /// (`vtc worker --concurrency`, `--lease-secs`).
    pub jobs: Option<JobSettings>,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error(transparent)]
    App(#[from] app::AppError),
    #[error(transparent)]
    Tokens(#[from] TokenError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("[service] bulk_reserve_percent is a percentage (0 to 100), not {0}")]
    BulkReserve(u8),
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
        AppState::build_with(settings, ServiceOptions::default()).await
    }

    /// [`AppState::build`] with `options`. Starts the webhook dispatcher
    /// on the current runtime.
    pub async fn build_with(
        settings: &app::Settings,
        options: ServiceOptions,
    ) -> Result<AppState, ServerError> {
        if let Some(p) = settings.service.bulk_reserve_percent.filter(|p| *p > 100) {
            return Err(ServerError::BulkReserve(p));
        }
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
        let enrich_options = |refresh, max_age| enrich::EnrichOptions {
            verdict: settings.verdict.clone(),
            ttl: settings.cache,
            refresh,
            max_age,
            full: true,
            rescan_stale: false,
            shared_lookups: settings.shares_database(),
        };
        let enricher =
            enrich::Enricher::new(client.clone(), store.clone(), enrich_options(false, None));
        let refresher =
            enrich::Enricher::new(client.clone(), store.clone(), enrich_options(true, None));
        let mut policies: Vec<ingest::Policy> = Vec::new();
        for config in &settings.policies {
            let policy = ingest::Policy::from_config(config, |max_age| match max_age {
                None => enricher.clone(),
                Some(_) => enrich::Enricher::new(
                    client.clone(),
                    store.clone(),
                    enrich_options(false, max_age),
                ),
            })?;
            if policies.iter().any(|p| p.name == policy.name) {
                return Err(PolicyError::duplicate(&policy.name).into());
            }
            policies.push(policy);
        }
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
                decide: decide::DecideState::new(store.clone()),
                store,
                actions,
                tokens,
                feeds: settings.feeds.clone(),
                jobs: options
                    .jobs
                    .unwrap_or_else(|| JobSettings::from_config(&settings.service)),
                policies,
                webhooks: webhooks::Webhooks::start(options.webhook_retry),
                work: tokio::sync::Notify::new(),
            }),
        })
    }

    /// The policy named `name`, if configured.
    pub(crate) fn policy(&self, name: &str) -> Option<&ingest::Policy> {
        self.inner.policies.iter().find(|p| p.name == name)
    }

    /// Webhook deliveries so far: delivered, failed for good, dropped.
    pub fn webhook_counts(&self) -> (u64, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let c = self.inner.webhooks.counts();
        (
            c.delivered.load(Relaxed),
            c.failed.load(Relaxed),
            c.dropped.load(Relaxed),
        )
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
        .merge(decide::routes())
        .merge(feeds::feeds())
        .merge(jobs::routes())
        .merge(ingest::routes())
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
    let after = state.clone();
    let worker = jobs::Worker::start(state.clone(), None);
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| ServerError::Io { addr, source });
    // Items in progress are handed back (their leases ended), so the next
    // start takes them again at once.
    worker.stop().await;
    served?;
    // Cache writes and decision-log writes that run behind an answer land
    // before the process ends.
    enricher.flush_cache_writes().await;
    after.inner.decide.flush().await;
    Ok(())
}

/// Runs the job worker of `state` alone, without the HTTP routes, until
/// `shutdown` resolves (`vtc worker`): the worker every `vtc serve` runs,
/// so any number of services and workers sharing one database share its
/// job queue. `name` names it on its leases (`None`: the pid and random
/// digits); `started` is told that name once it runs. Items in progress
/// at the stop are handed back, and cache writes land before it returns.
pub async fn work(
    state: AppState,
    name: Option<String>,
    started: impl FnOnce(&str),
    shutdown: impl Future<Output = ()>,
) -> WorkerSummary {
    let worker = jobs::Worker::start(state.clone(), name);
    started(worker.name());
    shutdown.await;
    let summary = worker.stop().await;
    state.inner.enricher.flush_cache_writes().await;
    summary
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
