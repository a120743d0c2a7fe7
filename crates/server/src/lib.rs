//! `vtc serve`: the enrichment service. Threat-intel platforms, SOAR tools
//! and scripts call it over HTTP instead of each holding its own key,
//! cache and quota.
//!
//! [`AppState`] is built once from [`app::Settings`] (one store, one client,
//! the enrichers sharing them, the action [`actions::Context`], the
//! [`Tokens`] it keeps and the [`Metrics`]); [`ROUTES`] is the one table of
//! routes (method, path, role, OpenAPI operation) that [`router`] mounts,
//! `/openapi.json` documents and the auth tests walk; [`serve`] runs it on
//! its own accept loop (header read timeout, header size bound) until the
//! shutdown future resolves, finishing requests in flight. Every failure is
//! an [`AppError`], a JSON body.
//!
//! This crate knows nothing of command-line parsing or terminals: the
//! binary parses `--listen`, builds the state and calls [`serve`]. It never
//! reads a local file a request names (`read_local_files = false`) and
//! takes no downloads (no sample sink).

mod answer_memo;
mod auth;
mod client_quota;
mod decide;
mod error;
mod feeds;
mod ingest;
mod jobs;
mod metrics;
mod middleware;
mod openapi;
mod route_table;
mod routes;
mod webhooks;

pub use answer_memo::MEMO_TTL;
pub use auth::{
    create_token, create_token_with_quota, new_token, token_digest, Caller, Role, TokenError,
    Tokens, TOKEN_RECHECK,
};
pub use client_quota::{ClientQuota, QuotaParseError, QuotaWindow};
pub use error::AppError;
pub use ingest::PolicyError;
pub use jobs::{JobSettings, WorkerSummary};
pub use metrics::{Gauge, Metrics};
pub use openapi::document as openapi_document;
pub use route_table::{operations, Access, Operation, Route, Verb, EXAMPLE_SHA256, ROUTES};
pub use webhooks::WebhookRetry;

use axum::Router;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tower_http::compression::Predicate;

/// Largest request body accepted (an action's JSON input).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// A request still running after this is answered 504.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Answers larger than this are gzip-compressed for clients that ask.
pub const COMPRESS_ABOVE_BYTES: u16 = 4096;

/// The bounds every connection and request is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A larger body is a 413.
    pub max_body_bytes: usize,
    /// A request still running after this is a 504.
    pub request_timeout: Duration,
    /// A lookup or action still waiting for VirusTotal after this is
    /// answered: 429 with `Retry-After` when the governor is holding the
    /// keys back (a 429 back-off, a spent minute), else 504. Interactive
    /// callers learn when to come back instead of holding a connection
    /// through a back-off of minutes.
    pub lookup_timeout: Duration,
    /// A request whose headers have not all arrived after this (from the
    /// connection's start or the previous answer) loses its connection.
    pub header_read_timeout: Duration,
    /// A body still arriving after this is a 408.
    pub body_read_timeout: Duration,
    /// Request line and headers together; larger (or more than 100
    /// headers) is a 431.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: MAX_BODY_BYTES,
            request_timeout: REQUEST_TIMEOUT,
            lookup_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
        }
    }
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    limits: Limits,
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
    metrics: Metrics,
    /// Cached answers' JSON, for two seconds (`answer_memo.rs`).
    answers: answer_memo::AnswerMemo,
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
                metrics: Metrics::new(ROUTES.iter().map(Route::label).collect()),
                answers: answer_memo::AnswerMemo::default(),
                feeds: settings.feeds.clone(),
                jobs: options
                    .jobs
                    .unwrap_or_else(|| JobSettings::from_config(&settings.service)),
                policies,
                webhooks: webhooks::Webhooks::start(options.webhook_retry),
                work: tokio::sync::Notify::new(),
            }),
            limits: Limits::default(),
        })
    }

    /// The same state held to other bounds (tests shorten the timeouts).
    pub fn with_limits(mut self, limits: Limits) -> AppState {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The counters `/metrics` shows; a front end sets the jobs gauges.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
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

/// The whole service: every route of [`ROUTES`] behind its access check,
/// under the shared layers.
pub fn router(state: AppState) -> Router {
    use axum::middleware::from_fn_with_state;
    use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
    let mut router = Router::new();
    for (index, route) in ROUTES.iter().enumerate() {
        // The feed routes and pages check their token or secret themselves.
        let needs = match route.access {
            Access::Role(role) => Some((state.clone(), role)),
            Access::Public | Access::RoleOrFeedSecret(_) | Access::RoleOrQueryToken(_) => None,
        };
        let guard = middleware::RouteGuard {
            index: middleware::RouteIndex(index),
            needs,
        };
        let handler =
            (route.handler)().route_layer(from_fn_with_state(guard, middleware::guard_route));
        router = router.route(route.path, handler);
    }
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    router
        .fallback(routes::no_route)
        .method_not_allowed_fallback(routes::wrong_method)
        .with_state(state.clone())
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
                .layer(from_fn_with_state(state, middleware::frame))
                // Fastest, and only past 4 KiB: at the default level a
                // 1.7 KiB record cost 80 us of deflate (most of it the
                // compressor's state, allocated per answer) for ~1 KiB saved.
                .layer(
                    tower_http::compression::CompressionLayer::new()
                        .quality(tower_http::CompressionLevel::Fastest)
                        .compress_when(tower_http::compression::DefaultPredicate::new().and(
                            tower_http::compression::predicate::SizeAbove::new(
                                COMPRESS_ABOVE_BYTES,
                            ),
                        )),
                ),
        )
}

/// Serves `state` on `listener` until `shutdown` resolves, then stops
/// taking connections and lets the requests in flight finish.
///
/// The accept loop is hyper's own rather than `axum::serve`, which has no
/// header read timeout: a client sending its headers a byte at a time
/// (slowloris) loses its connection after [`Limits::header_read_timeout`],
/// and headers over [`Limits::max_header_bytes`] are a 431.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let limits = state.limits();
    let enricher = state.inner.enricher.clone();
    let worker = jobs::Worker::start(state.clone(), None);
    let after = state.clone();
    let app = router(state);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(source) if is_fatal_accept_error(&source) => {
                    return Err(ServerError::Io { addr, source });
                }
                Err(e) => {
                    // Out of file descriptors and the like: pause, go on.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    // Items in progress are handed back (their leases ended), so the next
    // start takes them again at once.
    worker.stop().await;
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

/// Errors of `accept` that will not go away by waiting.
fn is_fatal_accept_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::PermissionDenied
    )
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
