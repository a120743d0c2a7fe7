//! Batch jobs: `POST /v1/enrich` queues a job and answers at once;
//! `GET /v1/jobs/{id}`, `GET /v1/jobs/{id}/results`, `DELETE /v1/jobs/{id}`.
//! Jobs and their items live in the store, so they survive a restart.
//!
//! The [`Worker`] takes items from the store ([`store::Store::claim_items`],
//! a lease renewed while it works), enriches each with the service's
//! enricher (cache, coalescing) at the item's priority, and stores its
//! record ([`store::Store::complete_item`], which refuses an item whose
//! lease went to someone else, so no item is completed twice). Interactive
//! items have worker slots of their own, so bulk work waiting for its
//! budget never holds them up. A service killed mid-job leaves leases that
//! run out after `lease_seconds`; the next one takes those items again.

use crate::{client_quota, AppError, AppState, Caller, Role};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use store::{ClaimedItem, EnrichJob, EnrichJobId, ItemState, QueuePriority};
use time::OffsetDateTime;
use tokio::sync::{watch, Semaphore};

/// Longest line of a batch (an indicator is far shorter).
const MAX_INPUT_CHARS: usize = 2048;
/// Results per page by default, and at most.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// How the job queue runs (the config file's `[service]`).
#[derive(Debug, Clone, Copy)]
pub struct JobSettings {
    /// Most indicators in one batch or ingest.
    pub max_batch: usize,
    /// Items enriched at once, per priority.
    pub workers: usize,
    /// How long a claim on an item lasts without renewal.
    pub lease: Duration,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            max_batch: 10_000,
            workers: 4,
            lease: Duration::from_secs(60),
        }
    }
}

impl JobSettings {
    pub fn from_config(service: &app::ServiceConfig) -> JobSettings {
        let d = JobSettings::default();
        JobSettings {
            max_batch: service.max_batch.filter(|n| *n > 0).unwrap_or(d.max_batch),
            workers: service
                .workers
                .filter(|n| *n > 0)
                .unwrap_or(d.workers)
                .min(64),
            lease: service
                .lease_seconds
                .filter(|s| *s > 0)
                .map_or(d.lease, Duration::from_secs),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchObject {
    indicators: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BatchBody {
    List(Vec<String>),
    Object(BatchObject),
}

/// The indicators of a batch body: JSON (an array of strings or
/// `{"indicators": [...]}`) or, as `text/plain`, one per line (blank lines
/// and `#` comments skipped).
fn batch_inputs(headers: &HeaderMap, body: &[u8], max: usize) -> Result<Vec<String>, AppError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let inputs: Vec<String> = if content_type.starts_with("text/plain") {
        let text = std::str::from_utf8(body)
            .map_err(|_| AppError::bad_request("the body is not UTF-8 text"))?;
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    } else {
        match serde_json::from_slice::<BatchBody>(body) {
            Ok(BatchBody::List(list)) => list,
            Ok(BatchBody::Object(o)) => o.indicators,
            Err(_) => {
                return Err(AppError::bad_request(
                    "the body must be a JSON array of strings, {\"indicators\": [...]}, \
                     or indicators one per line with Content-Type: text/plain",
                ))
            }
        }
    };
    if inputs.is_empty() {
        return Err(AppError::bad_request("the batch holds no indicator"));
    }
    if inputs.len() > max {
        return Err(too_many(inputs.len(), max));
    }
    if let Some(at) = inputs
        .iter()
        .position(|i| i.chars().count() > MAX_INPUT_CHARS)
    {
        return Err(AppError::bad_request(format!(
            "indicator {at}: longer than {MAX_INPUT_CHARS} characters"
        )));
    }
    Ok(inputs)
}

pub(crate) fn too_many(n: usize, max: usize) -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "BatchTooLarge",
        format!("{n} indicators; a request may carry at most {max}"),
    )
}

pub(crate) fn body_error(e: axum::extract::rejection::BytesRejection) -> AppError {
    AppError::new(e.status(), "InvalidBody", e.body_text())
}

pub(crate) async fn enrich_batch(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, AppError> {
    let caller = state.tokens().authorize(&headers, Role::Analyst).await?;
    let body = body.map_err(body_error)?;
    let inputs = batch_inputs(&headers, &body, state.inner.jobs.max_batch)?;
    client_quota::charge(&state, &caller, inputs.len() as u64).await?;
    let items: Vec<store::NewItem<'_>> = inputs
        .iter()
        .map(|input| store::NewItem {
            input,
            policy: None,
        })
        .collect();
    let id = state
        .store()
        .create_enrich_job(
            &store::NewEnrichJob {
                owner: &caller.name,
                priority: QueuePriority::Interactive,
                items: &items,
            },
            OffsetDateTime::now_utc(),
        )
        .await?;
    state.inner.work.notify_one();
    accepted(&state, id).await
}

/// 202 with the new job's status and a `Location`.
pub(crate) async fn accepted(state: &AppState, id: EnrichJobId) -> Result<Response, AppError> {
    let job = state
        .store()
        .enrich_job(id)
        .await?
        .ok_or_else(|| AppError::internal(format!("job {id} vanished after it was made")))?;
    let location = format!("/v1/jobs/{id}");
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(job_json(&job)),
    )
        .into_response())
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `queued`, `running`, `done`, `failed` (every item failed) or `cancelled`.
fn job_state(job: &EnrichJob) -> &'static str {
    if job.cancelled_at.is_some() {
        "cancelled"
    } else if job.finished_at.is_some() {
        if job.total > 0 && job.failed == job.total {
            "failed"
        } else {
            "done"
        }
    } else if job.done + job.leased > 0 {
        "running"
    } else {
        "queued"
    }
}

pub(crate) fn job_json(job: &EnrichJob) -> Value {
    let id = job.id;
    json!({
        "id": id,
        "state": job_state(job),
        "priority": match job.priority {
            QueuePriority::Interactive => "interactive",
            QueuePriority::Bulk => "bulk",
        },
        "owner": job.owner,
        "items": {
            "total": job.total,
            "queued": job.queued,
            "running": job.leased,
            "done": job.done,
            "failed": job.failed,
            "cancelled": job.cancelled,
        },
        "created_at": rfc3339(job.created_at),
        "cancelled_at": job.cancelled_at.map(rfc3339),
        "finished_at": job.finished_at.map(rfc3339),
        "links": {
            "self": format!("/v1/jobs/{id}"),
            "results": format!("/v1/jobs/{id}/results"),
        },
    })
}

/// The job `id` names, if the caller may see it: its owner's or, for an
/// admin, anyone's. Others get the same 404 as for no job at all.
async fn visible_job(state: &AppState, caller: &Caller, id: &str) -> Result<EnrichJob, AppError> {
    let not_found = || AppError::not_found("no such job");
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let job = state
        .store()
        .enrich_job(EnrichJobId::new(id))
        .await?
        .ok_or_else(not_found)?;
    if job.owner != caller.name && caller.role != Role::Admin {
        return Err(not_found());
    }
    Ok(job)
}

pub(crate) async fn job_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    let caller = state.tokens().authorize(&headers, Role::Reader).await?;
    let job = visible_job(&state, &caller, &id).await?;
    Ok(Json(job_json(&job)))
}

pub(crate) async fn cancel_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    let caller = state.tokens().authorize(&headers, Role::Analyst).await?;
    let job = visible_job(&state, &caller, &id).await?;
    if !state
        .store()
        .cancel_enrich_job(job.id, OffsetDateTime::now_utc())
        .await?
    {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "JobFinished",
            format!("job {} is already {}", job.id, job_state(&job)),
        ));
    }
    let job = visible_job(&state, &caller, &id).await?;
    Ok(Json(job_json(&job)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultsQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn job_results(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<Value>, AppError> {
    let caller = state.tokens().authorize(&headers, Role::Reader).await?;
    let query: ResultsQuery = crate::routes::parse_query(&uri)?;
    let job = visible_job(&state, &caller, &id).await?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(AppError::bad_request(format!(
            "limit: from 1 to {MAX_PAGE}"
        )));
    }
    let after = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            c.parse::<u64>()
                .map_err(|_| AppError::bad_request("cursor: not one this service gave"))?,
        ),
    };
    // One more than asked: whether another page follows.
    let mut page = state
        .store()
        .job_results_page(job.id, after, limit + 1)
        .await?;
    let more = page.len() > limit;
    page.truncate(limit);
    let next_cursor = more
        .then(|| page.last().map(|i| i.seq.to_string()))
        .flatten();
    let mut data = Vec::with_capacity(page.len());
    for item in page {
        let record = match &item.record {
            Some(text) => Some(serde_json::from_str::<Value>(text).map_err(|e| {
                AppError::internal(format!("job {} item {}: {e}", job.id, item.seq))
            })?),
            None => None,
        };
        data.push(json!({
            "seq": item.seq,
            "input": item.input,
            "state": match item.state {
                ItemState::Queued => "queued",
                ItemState::Leased => "running",
                ItemState::Done => "done",
                ItemState::Cancelled => "cancelled",
            },
            "record": record,
        }));
    }
    Ok(Json(json!({
        "job": job_json(&job),
        "data": data,
        "next_cursor": next_cursor,
    })))
}

// --- the worker ---------------------------------------------------------

/// How often an idle worker looks for work it was not woken for (items
/// whose lease ran out, jobs another instance queued).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// What a job worker did, from its start to its stop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerSummary {
    /// Items it completed (their records are the ones kept).
    pub completed: u64,
    /// Items it finished after another worker had taken them over when
    /// its lease ran out: their records were not stored twice.
    pub taken_over: u64,
}

#[derive(Default)]
struct Counts {
    completed: AtomicU64,
    taken_over: AtomicU64,
}

/// The job worker of one process (`vtc serve`, `vtc worker`); stopped by
/// [`Worker::stop`].
pub(crate) struct Worker {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    counts: Arc<Counts>,
    name: String,
}

impl Worker {
    /// Starts taking items from the store on the current runtime, named
    /// `name` on its leases (`None`: the pid and random digits).
    pub fn start(state: AppState, name: Option<String>) -> Worker {
        let (stop, stopped) = watch::channel(false);
        let name = name.unwrap_or_else(worker_id);
        tracing::info!(worker = %name, "job worker started");
        let counts = Arc::new(Counts::default());
        let task = tokio::spawn(run(state, name.clone(), counts.clone(), stopped));
        Worker {
            stop,
            task,
            counts,
            name,
        }
    }

    /// Its name on leases.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stops taking items; items in progress are given up and their leases
    /// ended, so the next start (or another worker) takes them again at once.
    pub async fn stop(self) -> WorkerSummary {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        WorkerSummary {
            completed: self.counts.completed.load(Ordering::Relaxed),
            taken_over: self.counts.taken_over.load(Ordering::Relaxed),
        }
    }
}

/// This process' name in leases: the pid and random digits.
fn worker_id() -> String {
    let mut bytes = [0u8; 6];
    let _ = getrandom::fill(&mut bytes);
    format!("{}-{}", std::process::id(), hex::encode(bytes))
}

async fn run(state: AppState, id: String, counts: Arc<Counts>, mut stopped: watch::Receiver<bool>) {
    let settings = state.inner.jobs;
    let store = state.store().clone();
    let renewing = {
        let (store, id) = (store.clone(), id.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(settings.lease / 3);
            loop {
                every.tick().await;
                let until = OffsetDateTime::now_utc() + settings.lease;
                if let Err(e) = store.renew_leases(&id, until).await {
                    tracing::warn!("cannot renew the job worker's leases: {e}");
                }
            }
        })
    };
    let interactive = Arc::new(Semaphore::new(settings.workers));
    let bulk = Arc::new(Semaphore::new(settings.workers));
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        if *stopped.borrow() {
            break;
        }
        while tasks.try_join_next().is_some() {}
        let mut claimed = 0;
        // Interactive items first, on slots of their own; then anything
        // (interactive items first again) on the bulk slots.
        for (slots, with_bulk) in [(&interactive, false), (&bulk, true)] {
            let free = slots.available_permits();
            if free == 0 {
                continue;
            }
            let now = OffsetDateTime::now_utc();
            match store
                .claim_items(&id, free, settings.lease, with_bulk, now)
                .await
            {
                Ok(items) => {
                    for item in items {
                        let Ok(permit) = slots.clone().try_acquire_owned() else {
                            break;
                        };
                        claimed += 1;
                        tasks.spawn(process(
                            state.clone(),
                            id.clone(),
                            counts.clone(),
                            item,
                            permit,
                        ));
                    }
                }
                Err(e) => tracing::warn!("cannot take queued items: {e}"),
            }
        }
        if claimed > 0 {
            continue;
        }
        tokio::select! {
            () = state.inner.work.notified() => {}
            () = tokio::time::sleep(IDLE_POLL) => {}
            _ = stopped.changed() => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    renewing.abort();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    // Given up, not lost: the next worker may take them at once.
    if let Err(e) = store.renew_leases(&id, OffsetDateTime::now_utc()).await {
        tracing::warn!("cannot hand back the job worker's items: {e}");
    }
    tracing::info!(worker = %id, "job worker stopped");
}

/// How long an item waits before trying again after an error that every
/// lookup would share: until the budget resets (at most a minute at a
/// time), else a few seconds.
fn pause_after(err: &vt_api::Error) -> Duration {
    let until = match err {
        vt_api::Error::QuotaExhausted { resets_at, .. }
        | vt_api::Error::BulkReserve { resets_at, .. } => Some(*resets_at),
        _ => None,
    };
    match until {
        Some(at) => {
            let wait = at - OffsetDateTime::now_utc();
            Duration::try_from(wait)
                .unwrap_or(Duration::ZERO)
                .clamp(Duration::from_secs(1), Duration::from_secs(60))
        }
        None => Duration::from_secs(5),
    }
}

async fn process(
    state: AppState,
    worker: String,
    counts: Arc<Counts>,
    item: ClaimedItem,
    _slot: tokio::sync::OwnedSemaphorePermit,
) {
    let policy = item.policy.as_deref().and_then(|p| state.policy(p));
    let enricher = policy.map_or(&state.inner.enricher, |p| &p.enricher);
    let priority = match item.priority {
        QueuePriority::Interactive => vt_api::Priority::Interactive,
        QueuePriority::Bulk => vt_api::Priority::Bulk,
    };
    let mut record = loop {
        match priority.scope(enricher.try_enrich_line(&item.input)).await {
            Ok(record) => break record,
            Err(enrich::EnrichError::Stopped { source, .. }) => {
                // The item keeps its lease (renewed) and tries again later.
                let wait = pause_after(&source);
                tracing::info!(
                    job = %item.job,
                    seq = item.seq,
                    priority = priority.as_str(),
                    wait_ms = wait.as_millis() as u64,
                    "item waits: {source}"
                );
                tokio::time::sleep(wait).await;
            }
            Err(e) => {
                tracing::warn!(job = %item.job, seq = item.seq, "item waits: {e}");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    };
    record.full = None;
    let json = match serde_json::to_string(&record) {
        Ok(json) => json,
        Err(e) => {
            tracing::error!("cannot encode a record: {e}");
            return;
        }
    };
    let completed = state
        .store()
        .complete_item(
            item.job,
            item.seq,
            &worker,
            &json,
            record.error.is_some(),
            OffsetDateTime::now_utc(),
        )
        .await;
    match completed {
        Ok(true) => {
            counts.completed.fetch_add(1, Ordering::Relaxed);
            if let Some(url) = policy.and_then(|p| p.webhook.as_ref()) {
                if record.error.is_none() {
                    state.inner.webhooks.send(url, json);
                }
            }
        }
        Ok(false) => {
            counts.taken_over.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
            job = %item.job,
            seq = item.seq,
            "item no longer leased by this worker: its record was not stored twice"
            )
        }
        Err(e) => tracing::warn!(job = %item.job, seq = item.seq, "cannot store a record: {e}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        h
    }

    #[test]
    fn batches_come_as_json_lists_objects_or_lines() {
        let json = headers("application/json");
        assert_eq!(
            batch_inputs(&json, br#"["a", "b"]"#, 10).unwrap(),
            ["a", "b"]
        );
        assert_eq!(
            batch_inputs(&json, br#"{"indicators": ["a"]}"#, 10).unwrap(),
            ["a"]
        );
        let text = headers("text/plain; charset=utf-8");
        assert_eq!(
            batch_inputs(&text, b"a\n\n# comment\n  b  \r\n", 10).unwrap(),
            ["a", "b"]
        );
        assert_eq!(batch_inputs(&json, b"[]", 10).unwrap_err().status(), 400);
        assert_eq!(
            batch_inputs(&json, br#"{"x": 1}"#, 10)
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(batch_inputs(&json, b"[1]", 10).unwrap_err().status(), 400);
        assert_eq!(
            batch_inputs(&json, br#"["a","b","c"]"#, 2)
                .unwrap_err()
                .status(),
            413
        );
        let long = format!(r#"["{}"]"#, "a".repeat(3000));
        assert_eq!(
            batch_inputs(&json, long.as_bytes(), 2)
                .unwrap_err()
                .status(),
            400
        );
    }
}
