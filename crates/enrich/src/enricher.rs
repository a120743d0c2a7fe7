//! One indicator at a time: cache first, one shared call per indicator in
//! flight, the verdict, the record.

use crate::CacheTtls;
use ioc::Indicator;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::Store;
use time::OffsetDateTime;
use tokio::sync::OnceCell;
use verdict::{Assessment, FullObject, Record, VerdictConfig};
use vt_model::Report;

/// What an [`Enricher`] is told once, at start.
#[derive(Debug, Clone, Default)]
pub struct EnrichOptions {
    pub verdict: VerdictConfig,
    pub ttl: CacheTtls,
    /// Ask VirusTotal even when the cache holds a fresh answer.
    pub refresh: bool,
    /// Treat cached answers older than this as missing, whatever their TTL.
    pub max_age: Option<Duration>,
    /// Put the whole VirusTotal object in each record.
    pub full: bool,
    /// Ask VirusTotal to analyse again a file or URL whose report is
    /// stale (costs one call each; the fresh report is fetched next time).
    pub rescan_stale: bool,
    /// The store is shared with other instances: before asking VirusTotal,
    /// mark the indicator in flight there ([`store::Store::begin_fetch`]),
    /// and when another instance holds the mark, wait for its answer in the
    /// cache instead of spending a second call.
    pub shared_lookups: bool,
}

/// How long an in-flight mark in a shared store holds: longer than one
/// lookup with its retries takes, short enough that an instance that died
/// holding one delays the others by no more than this.
pub const SHARED_FETCH_LEASE: Duration = Duration::from_secs(30);

/// How often an instance waiting for another's lookup looks in the cache.
const SHARED_FETCH_POLL: Duration = Duration::from_millis(50);

/// The answer for one indicator, from the cache or from VirusTotal.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Found(Arc<Report>),
    NotFound,
    /// VirusTotal or the network failed for this item.
    Failed(Arc<vt_api::Error>),
}

/// Looks indicators up through the cache and the client. Cheap to clone.
#[derive(Clone)]
pub struct Enricher {
    inner: Arc<Inner>,
}

struct Inner {
    client: vt_api::Client,
    /// The client's API origin: what the cache is keyed by besides the
    /// indicator, so one API's answers are never served for another.
    origin: String,
    store: Arc<dyn Store>,
    options: EnrichOptions,
    /// Lookups under way, by normalised indicator: a second request for
    /// the same one waits on the first instead of spending a call.
    in_flight: InFlight,
    /// Cache writes still running behind a batch (see [`CacheWrite`]).
    pending_writes: Arc<PendingWrites>,
    /// This process' name on in-flight marks in a shared store.
    holder: String,
    /// Lookups that shared another's call instead of making their own.
    coalesced: std::sync::atomic::AtomicU64,
}

type InFlight = Arc<Mutex<HashMap<String, Arc<OnceCell<Outcome>>>>>;

/// When the cache write of a fetched answer happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheWrite {
    /// Before the answer is handed back.
    Awaited,
    /// Behind it: the lookup's slot goes to the next indicator at once, so
    /// the writes, serial behind the store, are not in every lookup's path
    /// (docs/BENCHMARKS.md, issue 9). The indicator stays in flight until
    /// its write lands, so a second request for it never misses the cache;
    /// [`Enricher::flush_cache_writes`] waits for them all.
    Behind,
}

/// How many cache writes run behind; woken when none is left.
#[derive(Default)]
struct PendingWrites {
    count: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

impl Enricher {
    pub fn new(client: vt_api::Client, store: Arc<dyn Store>, options: EnrichOptions) -> Enricher {
        Enricher {
            inner: Arc::new(Inner {
                origin: client.origin(),
                client,
                store,
                options,
                in_flight: InFlight::default(),
                pending_writes: Arc::default(),
                holder: format!("{}-{:016x}", std::process::id(), fastrand::u64(..)),
                coalesced: Default::default(),
            }),
        }
    }

    pub fn client(&self) -> &vt_api::Client {
        &self.inner.client
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The API origin answers come from ([`vt_api::Client::origin`]).
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    pub fn options(&self) -> &EnrichOptions {
        &self.inner.options
    }

    /// Lookups so far that waited on another's VirusTotal call for the same
    /// indicator instead of making their own.
    pub fn coalesced(&self) -> u64 {
        self.inner.coalesced.load(Ordering::Relaxed)
    }

    /// Parses one input line and enriches it. Never fails: an input that is
    /// not an indicator, or a lookup that failed, is a record with `error`.
    pub async fn enrich_line(&self, input: &str) -> Record {
        match Indicator::parse(input) {
            Ok(indicator) => self.enrich(&indicator, input).await,
            Err(e) => Record::failed(input, None, crate::batch::INVALID_INDICATOR, &e.to_string()),
        }
    }

    /// Like [`Enricher::enrich_line`], but an error that every further
    /// lookup would share (a rejected key, a spent budget, an unreachable
    /// server) is returned instead of becoming a record.
    pub async fn try_enrich_line(&self, input: &str) -> Result<Record, crate::EnrichError> {
        let indicator = match Indicator::parse(input) {
            Ok(indicator) => indicator,
            Err(e) => {
                return Ok(Record::failed(
                    input,
                    None,
                    crate::batch::INVALID_INDICATOR,
                    &e.to_string(),
                ))
            }
        };
        let (outcome, cached) = self.outcome(&indicator).await;
        if let Outcome::Failed(err) = &outcome {
            if stops_batch(err) {
                return Err(crate::EnrichError::Stopped {
                    done: 0,
                    source: err.clone(),
                });
            }
        }
        Ok(self.finish(&indicator, input, &outcome, cached).await)
    }

    /// The record of `indicator` if the cache holds a fresh answer (found
    /// or not found); never asks VirusTotal. For callers that must not wait
    /// on the network (an application-control decision).
    pub async fn cached_record(
        &self,
        indicator: &Indicator,
        input: &str,
    ) -> Result<Option<Record>, crate::EnrichError> {
        match self.cached(&cache_key(indicator)).await? {
            Some(outcome) => Ok(Some(self.record(indicator, input, &outcome, true))),
            None => Ok(None),
        }
    }

    /// Enriches one parsed indicator.
    pub async fn enrich(&self, indicator: &Indicator, input: &str) -> Record {
        let (outcome, cached) = self.outcome(indicator).await;
        self.finish(indicator, input, &outcome, cached).await
    }

    /// The record of an outcome, after asking for a rescan when it is stale
    /// and that is allowed.
    pub(crate) async fn finish(
        &self,
        indicator: &Indicator,
        input: &str,
        outcome: &Outcome,
        cached: bool,
    ) -> Record {
        let mut record = self.record(indicator, input, outcome, cached);
        if self.inner.options.rescan_stale && record.stale && record.error.is_none() {
            self.rescan(indicator, &mut record).await;
        }
        record
    }

    /// Queues a new analysis of a stale file or URL and shortens its cache
    /// life, so the next run fetches the fresh report instead of the stale one.
    async fn rescan(&self, indicator: &Indicator, record: &mut Record) {
        let client = &self.inner.client;
        let queued = match indicator {
            Indicator::File(hash) => client.rescan_file(hash).await,
            Indicator::Url(url) => client.rescan_url(url).await,
            // Domains and IP addresses are not analysed on demand.
            Indicator::Domain(_) | Indicator::Ip(_) => return,
        };
        match queued {
            Ok(analysis) => {
                record
                    .reasons
                    .push(format!("rescan requested (analysis {})", analysis.id));
                let key = cache_key(indicator);
                let now = OffsetDateTime::now_utc();
                let expire = self
                    .inner
                    .store
                    .expire_report(&self.inner.origin, &key, now + RESCAN_SETTLE)
                    .await;
                if let Err(e) = expire {
                    tracing::warn!("cannot shorten the cache life of a rescanned report: {e}");
                }
            }
            Err(e) => record.reasons.push(format!("rescan failed: {e}")),
        }
    }

    pub(crate) fn record(
        &self,
        indicator: &Indicator,
        input: &str,
        outcome: &Outcome,
        cached: bool,
    ) -> Record {
        let now = OffsetDateTime::now_utc();
        match outcome {
            Outcome::Found(report) => {
                let assessment = verdict::assess(report.as_ref(), &self.inner.options.verdict, now);
                let mut record = Record::from_report(indicator, input, report, &assessment, cached);
                if self.inner.options.full {
                    record.full = Some(FullObject::of(report));
                }
                record
            }
            Outcome::NotFound => {
                Record::from_assessment(indicator, input, None, &Assessment::unknown(), cached)
            }
            Outcome::Failed(err) => Record::failed(
                input,
                Some(indicator.kind()),
                &error_code(err),
                &err.to_string(),
            )
            .with_indicator(indicator),
        }
    }

    /// Waits until every cache write running behind a lookup has landed.
    pub async fn flush_cache_writes(&self) {
        let pending = &self.inner.pending_writes;
        loop {
            let idle = pending.idle.notified();
            if pending.count.load(std::sync::atomic::Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// The answer for an indicator and whether it came from the cache.
    pub(crate) async fn outcome(&self, indicator: &Indicator) -> (Outcome, bool) {
        self.outcome_writing(indicator, CacheWrite::Awaited).await
    }

    /// [`Enricher::outcome`], the cache write of a fetched answer done as `write` says.
    pub(crate) async fn outcome_writing(
        &self,
        indicator: &Indicator,
        write: CacheWrite,
    ) -> (Outcome, bool) {
        let key = cache_key(indicator);
        if !self.inner.options.refresh {
            match self.cached(&key).await {
                Ok(Some(outcome)) => return (outcome, true),
                Ok(None) => {}
                // A broken cache costs a call, not the answer.
                Err(e) => tracing::warn!("cache read failed for {key}: {e}"),
            }
        }
        let cell = {
            let mut in_flight = self
                .inner
                .in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            in_flight.entry(key.clone()).or_default().clone()
        };
        let mut fetched = false;
        let outcome = cell
            .get_or_init(|| {
                fetched = true;
                async { self.fetch(indicator, &key, &cell, write).await }
            })
            .await
            .clone();
        if !fetched {
            self.inner.coalesced.fetch_add(1, Ordering::Relaxed);
        }
        // A write behind the answer takes the indicator out of flight itself.
        if write == CacheWrite::Awaited || matches!(outcome, Outcome::Failed(_)) {
            let mut in_flight = self
                .inner
                .in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if in_flight.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                in_flight.remove(&key);
            }
        }
        (outcome, false)
    }

    async fn cached(&self, key: &str) -> Result<Option<Outcome>, crate::EnrichError> {
        let now = OffsetDateTime::now_utc();
        let found = self
            .inner
            .store
            .get_report(&self.inner.origin, key, now)
            .await?;
        let Some(found) = found else { return Ok(None) };
        if let Some(max_age) = self.inner.options.max_age {
            if now - found.fetched_at() > max_age {
                return Ok(None);
            }
        }
        Ok(match found {
            store::Cached::Found { json, .. } => match Report::from_cached(&json) {
                Ok(report) => Some(Outcome::Found(Arc::new(report))),
                Err(e) => {
                    tracing::warn!("ignoring unreadable cached report: {e}");
                    None
                }
            },
            store::Cached::NotFound { .. } => Some(Outcome::NotFound),
        })
    }

    /// Asks VirusTotal and remembers the answer (failures are not cached);
    /// with a shared store, only if no other instance is asking already.
    async fn fetch(
        &self,
        indicator: &Indicator,
        key: &str,
        cell: &Arc<OnceCell<Outcome>>,
        write: CacheWrite,
    ) -> Outcome {
        if !self.inner.options.shared_lookups {
            return self.fetch_and_cache(indicator, key, cell, write).await;
        }
        if let Some(answer) = self.wait_for_other_instances(key).await {
            return answer;
        }
        // The mark is this process': the answer goes into the cache before
        // the mark goes, so a waiter finds one or the other.
        let outcome = self
            .fetch_and_cache(indicator, key, cell, CacheWrite::Awaited)
            .await;
        let (store, origin) = (&self.inner.store, &self.inner.origin);
        if let Err(e) = store.end_fetch(origin, key, &self.inner.holder).await {
            tracing::warn!("cannot clear the in-flight mark of {key}: {e}");
        }
        outcome
    }

    /// Takes the in-flight mark of `key` in the shared store (`None`: the
    /// caller fetches), or waits while another instance holds it and
    /// returns that instance's answer from the cache. A store that fails
    /// costs a call, not the answer.
    async fn wait_for_other_instances(&self, key: &str) -> Option<Outcome> {
        let (store, origin, holder) = (&self.inner.store, &self.inner.origin, &self.inner.holder);
        let deadline = tokio::time::Instant::now() + 2 * SHARED_FETCH_LEASE;
        loop {
            let now = OffsetDateTime::now_utc();
            match store
                .begin_fetch(origin, key, holder, SHARED_FETCH_LEASE, now)
                .await
            {
                Ok(true) => {
                    // Another instance may have finished between our cache
                    // miss and taking the mark.
                    return match self.cached(key).await {
                        Ok(Some(answer)) => {
                            let _ = store.end_fetch(origin, key, holder).await;
                            Some(answer)
                        }
                        _ => None,
                    };
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!("cannot mark {key} in flight in the shared store: {e}");
                    return None;
                }
            }
            tokio::time::sleep(SHARED_FETCH_POLL).await;
            if let Ok(Some(answer)) = self.cached(key).await {
                return Some(answer);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
        }
    }

    async fn fetch_and_cache(
        &self,
        indicator: &Indicator,
        key: &str,
        cell: &Arc<OnceCell<Outcome>>,
        write: CacheWrite,
    ) -> Outcome {
        let outcome = match self.inner.client.lookup(indicator).await {
            Ok(report) => Outcome::Found(Arc::new(report)),
            Err(e) if e.is_not_found() => Outcome::NotFound,
            Err(e) => return Outcome::Failed(Arc::new(e)),
        };
        let ttl = &self.inner.options.ttl;
        let now = OffsetDateTime::now_utc();
        let kind = indicator.kind();
        let (ttl_found, ttl_not_found) = (ttl.for_kind(kind), ttl.not_found());
        let is_file = matches!(indicator, Indicator::File(_));
        let key = key.to_owned();
        let written = {
            let (outcome, key) = (outcome.clone(), key.clone());
            let (store, origin) = (self.inner.store.clone(), self.inner.origin.clone());
            async move {
                let result = match &outcome {
                    Outcome::Found(report) => {
                        // The JSON as VirusTotal sent it: nothing is serialised again.
                        let aliases = aliases(is_file, report, &key);
                        let aliases: Vec<&str> = aliases.iter().map(String::as_str).collect();
                        let report = store::NewReport {
                            key: &key,
                            aliases: &aliases,
                            kind: kind.as_str(),
                            json: report.json(),
                        };
                        store.put_report(&origin, report, ttl_found, now).await
                    }
                    _ => store.put_not_found(&origin, &key, ttl_not_found, now).await,
                };
                if let Err(e) = result {
                    tracing::warn!("cache write failed: {e}");
                }
            }
        };
        match write {
            CacheWrite::Awaited => written.await,
            CacheWrite::Behind => {
                let pending = self.inner.pending_writes.clone();
                let in_flight = self.inner.in_flight.clone();
                let cell = cell.clone();
                pending
                    .count
                    .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                tokio::spawn(async move {
                    written.await;
                    {
                        let mut in_flight = in_flight.lock().unwrap_or_else(|p| p.into_inner());
                        if in_flight.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                            in_flight.remove(&key);
                        }
                    }
                    if pending
                        .count
                        .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
                        == 1
                    {
                        pending.idle.notify_waiters();
                    }
                });
            }
        }
        outcome
    }
}

/// How long a rescanned report stays cached: about the time an analysis takes.
const RESCAN_SETTLE: time::Duration = time::Duration::minutes(10);

/// The cache key of an indicator: its normalised form.
pub(crate) fn cache_key(indicator: &Indicator) -> String {
    indicator.to_string()
}

/// Other keys the same object answers to: a file's three hashes, a URL's id.
fn aliases(is_file: bool, report: &Report, own: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let (true, Some(file)) = (is_file, report.file()) {
        for hash in [&file.md5, &file.sha1, &file.sha256].into_iter().flatten() {
            out.push(hash.to_ascii_lowercase());
        }
    }
    out.retain(|a| *a != own);
    out
}

/// The code a failed record carries: the API's error code when it sent one.
pub(crate) fn error_code(err: &vt_api::Error) -> String {
    err.code_name().to_owned()
}

/// Errors after which every further lookup would fail the same way: going
/// on would only spend time (and, for a 429 storm, goodwill).
pub(crate) fn stops_batch(err: &vt_api::Error) -> bool {
    err.is_auth_error()
        || err.is_connect_error()
        // The API URL leads to another server: every item would fail alike.
        || matches!(err, vt_api::Error::NotTheApi { .. })
        // Still 429 after the client's bounded back-off: the server's real
        // budget is smaller than the configured one.
        || err.is_rate_limited()
        || matches!(
            err,
            vt_api::Error::QuotaExhausted { .. } | vt_api::Error::BulkReserve { .. }
        )
}
