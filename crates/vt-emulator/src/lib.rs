//! A faithful local VirusTotal API v3, so the official clients (vt-py,
//! vt-go) and every test of the project can run offline, without a key and
//! without burning quota.
//!
//! [`Emulator`] holds the shared state and builds the axum [`Router`]
//! (`/api/v3/...` as on the real host, plus the control routes
//! `GET /_emulator/stats` and `POST /_emulator/reset`);
//! [`Emulator::spawn`] serves it on a socket and hands back a
//! [`RunningEmulator`]. [`EmulatorConfig`] sets per-key quotas (a sliding
//! 60 s window, UTC day and month counters), latency, reproducible fault
//! injection, the analysis delay, key allow-lists and a fixtures folder.
//!
//! The world is synthetic and deterministic: every file hash, URL, domain
//! and IP address gets a report computed from a hash of its id (see
//! [`world`] for the exact rule and [`world_class`] to find ids of each
//! class); fixtures override it per id, and uploads, URL submissions and
//! rescans add to it while the emulator runs. The EICAR test file is built
//! in.
//!
//! Routes (all under `/api/v3`, key in `x-apikey`; success is always 200
//! with `application/json` unless noted):
//!
//! | route | notes |
//! |---|---|
//! | `GET /files/{md5\|sha1\|sha256}`, `/urls/{sha256\|base64url}`, `/domains/{d}`, `/ip_addresses/{ip}` | objects |
//! | `POST /files`, `GET /files/upload_url` + `POST` to it | multipart part `file`, ≤ [`MAX_UPLOAD_BYTES`] |
//! | `POST /urls`, `POST /files/{id}/analyse`, `POST /urls/{id}/analyse` | analysis descriptors |
//! | `GET /analyses/{id}`, `/analyses/{id}/item` | `queued` → `in-progress` → `completed` over `analysis_delay` |
//! | `GET /{collection}/{id}/{relationship}`, `/{collection}/{id}/relationships/{relationship}` | paginated (`limit`, `cursor`) |
//! | `GET\|POST /{collection}/{id}/comments`, `/votes` | a second vote by a key is 409 |
//! | `GET /files/{id}/download` (octets), `/download_url` | premium keys |
//! | `GET /search?query=`, `GET /intelligence/search?query=` | the latter premium: `type:`, `positives:N[+\\|-]` (`p:`), `tag:`, `name:`, `entity:file\\|url\\|domain\\|ip`, bare indicators, `order` |
//! | `GET /widget/url?query=`, `GET /widget/html/{token}` (HTML, no key) | |
//! | `/private/files[...]`, `/private/analyses/{id}`, `POST /private/urls`, `GET /private/urls/{id}` | premium, visible to their key only (404 for another key) |
//! | `GET /private/files/{sha256}/{relationship}`, `/private/files/{sha256}/relationships/{relationship}` | a file's relationships, paginated (`limit`, `cursor`); the uploader's key only |
//! | `GET /users/{id}/overall_quotas`, `/users/{id}/api_usage`, `GET /metadata` | the caller's own account (`{id}`: the key or its [`key_fingerprint`]) |
//! | `GET /users/{id}`, `/yara_rulesets/{id}`, `/comments/{id}`, `/votes/{id}`, `/resolutions/{id}`, `/file_behaviours/{id}`, `/sigma_analyses/{id}`, `/files/{id}/behaviour_summary`, `/popular_threat_categories` | objects of the world beyond the four reports |
//! | `POST /intelligence/zip_files`, `GET /intelligence/zip_files/{id}`, `/download`, `/download_url` | premium; finished at once; a ZipCrypto ZIP of the known samples |
//!
//! Relationships: every one documented for files, URLs, domains and IP
//! addresses ([`relationships_markdown`] lists them), premium-only ones
//! `403 ForbiddenError` for public keys.
//!
//! Fixtures (`EmulatorConfig::fixtures`): each `*.json` in the folder is one
//! object as the API returns it (`{"data": {"type", "id", "attributes"}}`),
//! overriding the world for its id (files under md5, sha1 and sha256 from
//! its attributes); `content/<sha256>` holds bytes for the download routes.
//! The crate's own `fixtures/` folder is an example.
//!
//! The emulator knows only the API's wire types (`vt-model`) and indicator
//! parsing (`ioc`): nothing of the client, storage, verdicts or policies.
//! It never touches the disk after start-up, except in record mode
//! ([`RecordConfig`]), where it writes the fixtures it records.
//!
//! Keys are secrets here too: the stats, messages and logs name a key by
//! its [`key_fingerprint`] (`key-` and 12 hex digits of its sha256), never
//! by the key or a part of it.

mod account;
mod accounting;
mod api_error;
mod collection;
mod community;
mod control;
mod downloads;
mod engines;
mod fingerprint;
mod fixtures;
mod gate;
mod lookup;
mod object_routes;
mod objects;
mod private;
mod record;
mod relationship_table;
mod relationships;
mod search;
mod store;
mod submit;
mod widget;
pub mod world;
mod world_config;
mod world_extras;

pub use accounting::{FaultKind, DEFAULT_FAULT_KINDS};
pub use fingerprint::key_fingerprint;
pub use record::RecordConfig;
pub use store::MAX_UPLOAD_BYTES;

/// The documented relationships the emulator serves, as the Markdown table
/// docs/emulator.md carries (object, name, target, premium only, context).
pub fn relationships_markdown() -> String {
    relationship_table::markdown_table()
}
pub use world::{world_class, WorldClass, EICAR, EICAR_MD5, EICAR_SHA1, EICAR_SHA256};
pub use world_config::{WorldMode, DEFAULT_KNOWN_FILES};

use accounting::{Accounting, FaultPlan, QuotaLimits};
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use fixtures::Fixtures;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use store::Store;

/// How the emulator behaves. The default: no quota, no latency, no faults,
/// analyses complete at once, any non-empty key accepted as premium.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Requests per key in any sliding 60 s window (`None` or `Some(0)` =
    /// unlimited: `0` means unlimited here as in the client's budgets).
    pub quota_minute: Option<u32>,
    /// The length of that sliding "minute": 60 s, shorter only for tests of
    /// many windows (clients then set `VTC_QUOTA_WINDOW_SECONDS` to match).
    pub quota_window: Duration,
    /// Requests per key per UTC day (`None` or `Some(0)` = unlimited).
    pub quota_day: Option<u32>,
    /// Requests per key per UTC month (`None` or `Some(0)` = unlimited).
    pub quota_month: Option<u32>,
    /// Added before every API answer.
    pub latency: Duration,
    /// Fraction (0.0..=1.0) of API requests that fail.
    pub fault_rate: f64,
    /// Seed of the fault sequence, so faults are reproducible.
    pub fault_seed: u64,
    /// The kinds of fault injected, in turn (empty: 503, 500, reset and
    /// truncated body, the ones a client survives without a timeout).
    pub fault_kinds: Vec<FaultKind>,
    /// How long a [`FaultKind::Slow`] answer waits (a [`FaultKind::Hang`]
    /// waits ten times this before the connection is dropped).
    pub fault_delay: Duration,
    /// Folder of fixture objects (`*.json`) and `content/<sha256>` samples.
    pub fixtures: Option<PathBuf>,
    /// An analysis is `queued` for half of this, then `in-progress`, then `completed`.
    pub analysis_delay: Duration,
    /// Keys accepted as public (no premium routes). Both lists empty: any key, as premium.
    pub public_keys: Vec<String>,
    /// Keys accepted as premium.
    pub premium_keys: Vec<String>,
    /// Share (0.0..=1.0) of the file hash space the world knows
    /// ([`DEFAULT_KNOWN_FILES`] = the pinned rule of [`world`]).
    pub known_files: f64,
    /// [`WorldMode::Empty`]: only built-ins, fixtures and uploads exist.
    pub world: WorldMode,
    /// Record mode: pass every API request upstream and save what it
    /// answers as fixtures (see [`RecordConfig`]).
    pub record: Option<RecordConfig>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            quota_minute: None,
            quota_window: Duration::from_secs(60),
            quota_day: None,
            quota_month: None,
            latency: Duration::ZERO,
            fault_rate: 0.0,
            fault_seed: 0,
            fault_kinds: Vec::new(),
            fault_delay: Duration::from_secs(30),
            fixtures: None,
            analysis_delay: Duration::ZERO,
            public_keys: Vec::new(),
            premium_keys: Vec::new(),
            known_files: DEFAULT_KNOWN_FILES,
            world: WorldMode::Synthetic,
            record: None,
        }
    }
}

/// Why the emulator could not start or serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    #[error("bad fixture file {}: {reason}", path.display())]
    Fixture { path: PathBuf, reason: String },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(#[source] std::io::Error),
}

pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub fixtures: Fixtures,
    pub store: RwLock<Store>,
    pub accounting: Mutex<Accounting>,
    pub faults: Mutex<FaultPlan>,
    pub recorder: Option<record::Recorder>,
}

/// The emulator's state; cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator").finish_non_exhaustive()
    }
}

impl Emulator {
    /// Builds an emulator, loading the fixtures folder if one is set.
    pub fn new(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        let fixtures = match &config.fixtures {
            Some(dir) => Fixtures::load(dir)?,
            None => Fixtures::default(),
        };
        let faults = FaultPlan::new(config.fault_rate, config.fault_seed, &config.fault_kinds);
        let recorder = config
            .record
            .as_ref()
            .map(record::Recorder::new)
            .transpose()?;
        let accounting = Accounting::with_minute_window(config.quota_window);
        Ok(Emulator {
            shared: Arc::new(Shared {
                config,
                fixtures,
                store: RwLock::new(Store::default()),
                accounting: Mutex::new(accounting),
                faults: Mutex::new(faults),
                recorder,
            }),
        })
    }

    /// The whole application: `/api/v3/...` and `/_emulator/...`.
    pub fn router(&self) -> Router {
        let unlimited_body = || DefaultBodyLimit::disable();
        let mut api = Router::new()
            .route(
                "/api/v3/files",
                post(submit::upload_file).layer(unlimited_body()),
            )
            .route("/api/v3/files/upload_url", get(submit::upload_url))
            .route(
                "/api/v3/_upload/{token}",
                post(submit::upload_to_url).layer(unlimited_body()),
            )
            .route("/api/v3/files/{id}", get(lookup::file))
            .route("/api/v3/files/{id}/analyse", post(submit::rescan_file))
            .route("/api/v3/files/{id}/download", get(downloads::download))
            .route(
                "/api/v3/files/{id}/download_url",
                get(downloads::download_url),
            )
            .route("/api/v3/_download/{token}", get(downloads::signed_download))
            .route(
                "/api/v3/_zip_download/{token}",
                get(object_routes::signed_zip_download),
            )
            .route("/api/v3/urls", post(submit::submit_url))
            .route("/api/v3/urls/{id}", get(lookup::url))
            .route("/api/v3/urls/{id}/analyse", post(submit::rescan_url))
            .route("/api/v3/domains/{id}", get(lookup::domain))
            .route("/api/v3/ip_addresses/{id}", get(lookup::ip_address))
            .route("/api/v3/analyses/{id}", get(lookup::analysis))
            .route("/api/v3/analyses/{id}/item", get(lookup::analysis_item))
            .route("/api/v3/search", get(search::search))
            .route(
                "/api/v3/intelligence/search",
                get(search::intelligence_search),
            )
            .route("/api/v3/widget/url", get(widget::widget_url))
            .route("/api/v3/widget/html/{token}", get(widget::widget_html))
            .route(
                "/api/v3/private/files",
                get(private::list)
                    .post(private::upload)
                    .layer(unlimited_body()),
            )
            .route("/api/v3/private/files/upload_url", get(private::upload_url))
            .route(
                "/api/v3/private/files/{id}",
                get(private::file).delete(private::delete),
            )
            .route("/api/v3/private/files/{id}/analyse", post(private::analyse))
            .route("/api/v3/private/analyses/{id}", get(private::analysis))
            .route(
                "/api/v3/private/analyses/{id}/item",
                get(private::analysis_item),
            )
            .route(
                "/api/v3/private/files/{id}/{relationship}",
                get(relationships::private_file_related),
            )
            .route(
                "/api/v3/private/files/{id}/relationships/{relationship}",
                get(relationships::private_file_related),
            )
            .route("/api/v3/private/urls", post(private::submit_url))
            .route("/api/v3/private/urls/{id}", get(private::url))
            .route(
                "/api/v3/users/{id}/overall_quotas",
                get(account::overall_quotas),
            )
            .route("/api/v3/users/{id}/api_usage", get(account::api_usage))
            .route("/api/v3/metadata", get(account::metadata))
            .route("/api/v3/users/{id}", get(object_routes::user))
            .route(
                "/api/v3/yara_rulesets/{id}",
                get(object_routes::yara_ruleset),
            )
            .route("/api/v3/comments/{id}", get(object_routes::comment))
            .route("/api/v3/votes/{id}", get(object_routes::vote))
            .route("/api/v3/resolutions/{id}", get(object_routes::resolution))
            .route(
                "/api/v3/files/{id}/behaviour_summary",
                get(object_routes::behaviour_summary),
            )
            .route(
                "/api/v3/file_behaviours/{id}",
                get(object_routes::file_behaviour),
            )
            .route(
                "/api/v3/sigma_analyses/{id}",
                get(object_routes::sigma_analysis),
            )
            .route(
                "/api/v3/popular_threat_categories",
                get(object_routes::popular_threat_categories),
            )
            .route(
                "/api/v3/intelligence/zip_files",
                post(object_routes::create_zip_file),
            )
            .route(
                "/api/v3/intelligence/zip_files/{id}",
                get(object_routes::zip_file),
            )
            .route(
                "/api/v3/intelligence/zip_files/{id}/download",
                get(object_routes::zip_file_download),
            )
            .route(
                "/api/v3/intelligence/zip_files/{id}/download_url",
                get(object_routes::zip_file_download_url),
            );
        for collection in ["files", "urls", "domains", "ip_addresses"] {
            api = api
                .route(
                    &format!("/api/v3/{collection}/{{id}}/comments"),
                    get(community::list_comments).post(community::add_comment),
                )
                .route(
                    &format!("/api/v3/{collection}/{{id}}/votes"),
                    get(community::list_votes).post(community::add_vote),
                )
                .route(
                    &format!("/api/v3/{collection}/{{id}}/{{relationship}}"),
                    get(relationships::related),
                )
                .route(
                    &format!("/api/v3/{collection}/{{id}}/relationships/{{relationship}}"),
                    get(relationships::related),
                );
        }
        let api = api
            .fallback(control::unknown_route)
            .method_not_allowed_fallback(control::method_not_allowed)
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                gate::gate,
            ));
        api.route("/_emulator/stats", get(control::stats))
            .route("/_emulator/reset", post(control::reset))
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                record::record,
            ))
            .with_state(self.clone())
    }

    /// Serves the emulator on `listener` until the process ends.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> Result<(), EmulatorError> {
        let router = self.router();
        axum::serve(listener, router)
            .await
            .map_err(EmulatorError::Serve)
    }

    /// Binds `addr` (port 0 picks a free one) and serves in a background task.
    pub async fn spawn(self, addr: SocketAddr) -> Result<RunningEmulator, EmulatorError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| EmulatorError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind { addr, source })?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = self.router();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "emulator server failed");
            }
        });
        tracing::info!(addr = %local, "emulator listening");
        Ok(RunningEmulator {
            addr: local,
            emulator: self,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The counters, as `GET /_emulator/stats` returns them.
    pub fn stats(&self) -> serde_json::Value {
        self.accounting().snapshot(Instant::now(), now_epoch())
    }

    /// Clears counters and quotas, keeps the world.
    pub fn reset(&self) {
        *self.accounting() = Accounting::with_minute_window(self.shared.config.quota_window);
    }

    pub(crate) fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    pub(crate) fn recorder(&self) -> Option<&record::Recorder> {
        self.shared.recorder.as_ref()
    }

    pub(crate) fn fixtures(&self) -> &Fixtures {
        &self.shared.fixtures
    }

    /// The configured budgets, `0` read as unlimited (`None`).
    pub(crate) fn quota_limits(&self) -> QuotaLimits {
        let c = &self.shared.config;
        let limit = |n: Option<u32>| n.filter(|n| *n > 0);
        QuotaLimits {
            minute: limit(c.quota_minute),
            day: limit(c.quota_day),
            month: limit(c.quota_month),
        }
    }

    pub(crate) fn store(&self) -> RwLockReadGuard<'_, Store> {
        self.shared
            .store
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn store_mut(&self) -> RwLockWriteGuard<'_, Store> {
        self.shared
            .store
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn accounting(&self) -> MutexGuard<'_, Accounting> {
        self.shared
            .accounting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultPlan> {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Current time in epoch seconds.
pub(crate) fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// An emulator serving on a socket in a background task; stopped on drop.
#[derive(Debug)]
pub struct RunningEmulator {
    addr: SocketAddr,
    emulator: Emulator,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningEmulator {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the host to give vt-py.
    pub fn base_url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("http://{addr}")
    }

    /// `http://127.0.0.1:PORT/api/v3`.
    pub fn api_url(&self) -> String {
        format!("{}/api/v3", self.base_url())
    }

    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// Stops accepting connections and waits (at most 5 s) for open ones to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
