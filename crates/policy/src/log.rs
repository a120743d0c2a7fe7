//! The decision log: every decision kept in the store, written in batches
//! behind the answers so a write is never in a decision's path, and
//! flushed before a clean shutdown so none is lost.

use crate::endpoint::Platform;
use crate::engine::{Action, FallbackCase};
use crate::lookup::Decided;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::{NewDecision, Store};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use verdict::{EngineDetection, Verdict};

/// One decision as the log keeps it (the JSON of `GET /v1/decisions` and
/// `vtc decisions`): enough to rebuild the File Security Rating Details
/// report without asking VirusTotal again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedDecision {
    /// RFC 3339, UTC.
    pub time: String,
    pub host: Option<String>,
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    pub path: Option<String>,
    pub file_name: Option<String>,
    pub platform: Option<Platform>,
    pub sha256: Option<String>,
    pub sha1: Option<String>,
    pub md5: Option<String>,
    pub decision: Action,
    pub allowed: bool,
    pub policy: Option<String>,
    pub rating: Option<Verdict>,
    pub fallback: Option<FallbackCase>,
    pub message: Option<String>,
    pub reasons: Vec<String>,
    /// Engines that flagged it, and out of how many.
    pub malicious: Option<u32>,
    pub suspicious: Option<u32>,
    pub total: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detections: Vec<EngineDetection>,
    pub first_seen: Option<String>,
    pub link: Option<String>,
    /// The rating came from memory or the cache.
    pub cached: bool,
}

impl LoggedDecision {
    pub fn of(d: &Decided, at: OffsetDateTime) -> LoggedDecision {
        let r = d.record.as_deref();
        let req = &d.request;
        let from_record = |f: fn(&verdict::Record) -> Option<String>| r.and_then(f);
        LoggedDecision {
            time: at.format(&Rfc3339).unwrap_or_default(),
            host: req.host.clone(),
            user: req.user.clone(),
            groups: req.groups.clone(),
            path: req.endpoint_path().map(|p| p.as_str().to_owned()),
            file_name: req.file_name(),
            platform: req.platform,
            sha256: req
                .sha256
                .clone()
                .or_else(|| from_record(|r| r.sha256.clone())),
            sha1: req.sha1.clone().or_else(|| from_record(|r| r.sha1.clone())),
            md5: req.md5.clone().or_else(|| from_record(|r| r.md5.clone())),
            decision: d.decision.decision,
            allowed: d.decision.allowed,
            policy: d.decision.policy.clone(),
            rating: d.decision.rating,
            fallback: d.decision.fallback,
            message: d.decision.message.clone(),
            reasons: d.decision.reasons.clone(),
            malicious: r.filter(|r| r.id.is_some()).map(|r| r.malicious),
            suspicious: r.filter(|r| r.id.is_some()).map(|r| r.suspicious),
            total: r.filter(|r| r.id.is_some()).map(|r| r.total),
            detections: r.map(|r| r.detections.clone()).unwrap_or_default(),
            first_seen: from_record(|r| r.first_submission_date.clone()),
            link: from_record(|r| r.link.clone()),
            cached: d.cached,
        }
    }

    /// The row the store keeps.
    pub fn to_row(&self, at: OffsetDateTime) -> NewDecision {
        NewDecision {
            at,
            host: self.host.clone().unwrap_or_default(),
            user: self.user.clone().unwrap_or_default(),
            sha256: self
                .sha256
                .clone()
                .or_else(|| self.sha1.clone())
                .or_else(|| self.md5.clone())
                .unwrap_or_default(),
            action: self.decision.as_str().to_owned(),
            policy: self.policy.clone().unwrap_or_default(),
            json: serde_json::to_string(self).unwrap_or_default(),
        }
    }
}

/// Most decisions written in one transaction.
const BATCH: usize = 1_000;
/// Decisions queued before a decision waits for the writer (backpressure,
/// never a loss).
const QUEUE: usize = 100_000;
/// Attempts to write a batch before it is given up (with an error logged).
const WRITE_ATTEMPTS: u32 = 3;

enum Message {
    Decision(Box<NewDecision>),
    Flush(oneshot::Sender<()>),
}

/// Queues decisions for the store; one task writes them in batches.
/// Cheap to clone.
#[derive(Clone)]
pub struct DecisionLog {
    tx: mpsc::Sender<Message>,
}

impl DecisionLog {
    /// Starts the writer on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> DecisionLog {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, rx));
        DecisionLog { tx }
    }

    /// Queues one decision.
    pub async fn record(&self, d: &Decided) {
        let at = OffsetDateTime::now_utc();
        let row = LoggedDecision::of(d, at).to_row(at);
        if self
            .tx
            .send(Message::Decision(Box::new(row)))
            .await
            .is_err()
        {
            tracing::error!("the decision log writer has stopped: a decision was not kept");
        }
    }

    /// Waits until every decision queued before this call is written.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

async fn write_batches(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Message>) {
    let mut inbox = Vec::with_capacity(BATCH);
    let mut batch: Vec<NewDecision> = Vec::with_capacity(BATCH);
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    while rx.recv_many(&mut inbox, BATCH).await > 0 {
        for m in inbox.drain(..) {
            match m {
                Message::Decision(d) => batch.push(*d),
                Message::Flush(done) => waiting.push(done),
            }
        }
        if !batch.is_empty() {
            let mut attempt = 1;
            loop {
                match store.add_decisions(&batch).await {
                    Ok(()) => break,
                    Err(e) if attempt < WRITE_ATTEMPTS => {
                        tracing::warn!(attempt, "cannot write the decision log, trying again: {e}");
                        attempt += 1;
                    }
                    Err(e) => {
                        tracing::error!(lost = batch.len(), "cannot write the decision log: {e}");
                        break;
                    }
                }
            }
            batch.clear();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}
