//! The async side of a decision: the rating, asked for only when a policy
//! needs it, from memory, then the cache, then VirusTotal within the
//! policy's deadline.

use crate::endpoint::{FileRequest, RequestError};
use crate::engine::{Decision, PolicySet, RatingLookup};
use enrich::Enricher;
use ioc::{FileHash, Indicator};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use verdict::{Record, Verdict};

/// How long a rating is remembered in memory before the cache is read
/// again (the cache keeps it far longer; memory only spares its read).
pub const REMEMBER_FOR: Duration = Duration::from_secs(300);
/// Most ratings remembered in memory.
pub const MAX_REMEMBERED: usize = 100_000;

/// A decision and what it was made from.
#[derive(Debug, Clone)]
pub struct Decided {
    /// The request as checked (hashes lower-case, platform inferred).
    pub request: FileRequest,
    pub decision: Decision,
    /// VirusTotal's record of the file, when it was looked up.
    pub record: Option<Arc<Record>>,
    /// The rating came from memory or the cache, not the network.
    pub cached: bool,
}

/// Decides with one policy set, asking the enricher for ratings.
#[derive(Clone)]
pub struct Decider {
    policies: Arc<PolicySet>,
    /// `None` without an API key: a decision that needs a rating takes
    /// the unreachable fallback.
    enricher: Option<Enricher>,
    memory: Arc<Mutex<HashMap<String, Remembered>>>,
}

#[derive(Clone)]
struct Remembered {
    record: Arc<Record>,
    until: Instant,
}

impl Decider {
    pub fn new(policies: Arc<PolicySet>, enricher: Option<Enricher>) -> Decider {
        Decider {
            policies,
            enricher,
            memory: Arc::default(),
        }
    }

    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// Decides one request. Fails only on a malformed request.
    pub async fn decide(&self, request: FileRequest) -> Result<Decided, RequestError> {
        let request = request.normalised()?;
        let Some(wait) = self.policies.rating_needed(&request) else {
            let decision = self.policies.decide(&request, RatingLookup::NotAsked);
            return Ok(Decided {
                request,
                decision,
                record: None,
                cached: false,
            });
        };
        let hash = request.best_hash().unwrap_or_default().to_owned();
        let (lookup, record, cached) = self.rating(&hash, wait).await;
        let mut decision = self.policies.decide(&request, lookup);
        if let Some(r) = &record {
            if decision.rating.is_some() {
                let d = r.detection();
                decision.reasons.push(format!(
                    "{} of {} engines flag it",
                    d.malicious + d.suspicious,
                    d.total
                ));
            }
        }
        Ok(Decided {
            request,
            decision,
            record,
            cached,
        })
    }

    /// The rating of `hash`: remembered, cached, or asked within `wait`.
    async fn rating(
        &self,
        hash: &str,
        wait: Duration,
    ) -> (RatingLookup, Option<Arc<Record>>, bool) {
        if let Some(r) = self.remembered(hash) {
            return (RatingLookup::Rated(r.verdict), Some(r), true);
        }
        let Some(file) = FileHash::parse(hash) else {
            // The request's hashes were checked; this is not reached.
            return (RatingLookup::Unreachable, None, false);
        };
        let indicator = Indicator::File(file);
        let Some(enricher) = &self.enricher else {
            return (RatingLookup::Unreachable, None, false);
        };
        match enricher.cached_record(&indicator, hash).await {
            Ok(Some(record)) if record.error.is_none() => {
                let record = self.remember(hash, record);
                return (RatingLookup::Rated(record.verdict), Some(record), true);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("cannot read the cache for a decision: {e}"),
        }
        let before = enricher.client().metrics();
        let asked = {
            let this = self.clone();
            let hash = hash.to_owned();
            // Spawned, so a lookup past the deadline goes on and the next
            // decision for the file finds its rating.
            tokio::spawn(async move { this.ask(&hash).await })
        };
        match tokio::time::timeout(wait, asked).await {
            Ok(Ok((lookup, record))) => (lookup, record, false),
            Ok(Err(e)) => {
                tracing::warn!("a rating lookup failed: {e}");
                (RatingLookup::Unreachable, None, false)
            }
            Err(_) => {
                // Still running: why it is slow tells the fallback.
                let after = enricher.client().metrics();
                let lookup = if after.connect_failures > before.connect_failures {
                    RatingLookup::Unreachable
                } else if after.throttled_waits > before.throttled_waits {
                    RatingLookup::BudgetSpent
                } else {
                    RatingLookup::Pending
                };
                (lookup, None, false)
            }
        }
    }

    async fn ask(&self, hash: &str) -> (RatingLookup, Option<Arc<Record>>) {
        let Some(enricher) = &self.enricher else {
            return (RatingLookup::Unreachable, None);
        };
        match enricher.try_enrich_line(hash).await {
            Ok(record) if record.error.is_none() => {
                let record = self.remember(hash, record);
                (RatingLookup::Rated(record.verdict), Some(record))
            }
            Ok(record) => {
                let code = record.error.as_ref().map(|e| e.code.as_str()).unwrap_or("");
                tracing::info!(code, "the rating lookup failed");
                (RatingLookup::Unreachable, None)
            }
            Err(enrich::EnrichError::Stopped { source, .. }) => {
                let spent = source.is_rate_limited()
                    || matches!(source.as_ref(), vt_api::Error::QuotaExhausted { .. });
                tracing::info!("the rating lookup stopped: {source}");
                if spent {
                    (RatingLookup::BudgetSpent, None)
                } else {
                    (RatingLookup::Unreachable, None)
                }
            }
            Err(e) => {
                tracing::warn!("the rating lookup failed: {e}");
                (RatingLookup::Unreachable, None)
            }
        }
    }

    fn remembered(&self, hash: &str) -> Option<Arc<Record>> {
        let memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        memory
            .get(hash)
            .filter(|r| r.until > Instant::now())
            .map(|r| r.record.clone())
    }

    fn remember(&self, hash: &str, record: Record) -> Arc<Record> {
        let record = Arc::new(record);
        let until = Instant::now() + REMEMBER_FOR;
        let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        if memory.len() >= MAX_REMEMBERED {
            let now = Instant::now();
            memory.retain(|_, r| r.until > now);
            if memory.len() >= MAX_REMEMBERED {
                memory.clear();
            }
        }
        // A file is asked for by any of its hashes: remember it by all.
        let keys = [
            Some(hash),
            record.sha256.as_deref(),
            record.sha1.as_deref(),
            record.md5.as_deref(),
        ];
        for key in keys.into_iter().flatten() {
            memory.insert(
                key.to_ascii_lowercase(),
                Remembered {
                    record: record.clone(),
                    until,
                },
            );
        }
        record
    }
}

impl Decided {
    /// Whether the file's rating is one VirusTotal gave (not unknown).
    pub fn rated(&self) -> Option<Verdict> {
        self.decision.rating.filter(|v| *v != Verdict::Unknown)
    }
}
