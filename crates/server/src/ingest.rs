//! `POST /v1/ingest` and the enrichment policies (`[[policies]]` in the
//! config file). A threat-intel platform forwards feed indicators with a
//! source name and tags; the first policy whose types, sources and tags
//! match an indicator decides whether it is enriched automatically, at
//! bulk priority (after every interactive request, never spending the
//! bulk reserve: the client's governor sees to both). The answer says per
//! indicator whether it was queued or skipped, and by which rule.
//!
//! Skipped: no policy matches; the cache holds an answer younger than the
//! policy's `max_age` (no `max_age`: any live cache entry); the source used
//! its `daily_share_percent` of the day's budget (counted per policy and
//! source in the store, per UTC day); a duplicate in the same request.

use crate::{client_quota, jobs, AppError, AppState, Role};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ioc::{Indicator, IndicatorKind};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;
use time::OffsetDateTime;

/// Bounds on what a feed may send.
const MAX_SOURCE_CHARS: usize = 128;
const MAX_TAGS: usize = 32;
const MAX_TAG_CHARS: usize = 64;
const MAX_VALUE_CHARS: usize = 2048;
/// Characters of a refused value repeated in the answer.
const SHOWN_VALUE_CHARS: usize = 256;

/// One policy, checked and ready: what it matches, its limits, and the
/// enricher its items go through (with its `max_age`).
pub(crate) struct Policy {
    pub name: String,
    kinds: Vec<IndicatorKind>,
    /// Lower case.
    sources: Vec<String>,
    /// Lower case.
    tags: Vec<String>,
    daily_share_percent: Option<u8>,
    max_age: Option<Duration>,
    pub webhook: Option<reqwest::Url>,
    pub enricher: enrich::Enricher,
}

/// A `[[policies]]` entry that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("policy {name:?}: {reason}")]
pub struct PolicyError {
    name: String,
    reason: String,
}

impl PolicyError {
    pub(crate) fn duplicate(name: &str) -> PolicyError {
        PolicyError {
            name: name.to_owned(),
            reason: "two policies have this name".into(),
        }
    }
}

/// `12h`, `30m`, `7d`, `2w`, `90s`.
pub(crate) fn parse_age(text: &str) -> Option<Duration> {
    let text = text.trim();
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    let (n, unit) = text.split_at(digits);
    let n: u64 = n.parse().ok()?;
    let unit_secs = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(unit_secs).map(Duration::from_secs)
}

impl Policy {
    /// Checks a policy as written; `enricher` builds its enricher from its
    /// `max_age`.
    pub fn from_config(
        config: &app::PolicyConfig,
        enricher: impl FnOnce(Option<Duration>) -> enrich::Enricher,
    ) -> Result<Policy, PolicyError> {
        let fail = |reason: String| PolicyError {
            name: config.name.chars().take(64).collect(),
            reason,
        };
        if config.name.is_empty()
            || config.name.chars().count() > 64
            || config.name.chars().any(char::is_control)
        {
            return Err(fail("a name is 1 to 64 printable characters".into()));
        }
        let mut kinds = Vec::new();
        for t in &config.types {
            kinds.push(match t.as_str() {
                "file" => IndicatorKind::File,
                "url" => IndicatorKind::Url,
                "domain" => IndicatorKind::Domain,
                "ip" => IndicatorKind::Ip,
                other => {
                    return Err(fail(format!(
                        "type {other:?} is not file, url, domain or ip"
                    )))
                }
            });
        }
        if config
            .daily_share_percent
            .is_some_and(|p| p == 0 || p > 100)
        {
            return Err(fail("daily_share_percent is from 1 to 100".into()));
        }
        let max_age = match &config.max_age {
            None => None,
            Some(text) => Some(parse_age(text).ok_or_else(|| {
                fail(format!(
                    "max_age {text:?} is not a duration like 90s, 30m, 12h, 7d or 2w"
                ))
            })?),
        };
        let webhook = match &config.webhook {
            None => None,
            Some(text) => {
                let url =
                    reqwest::Url::parse(text).map_err(|_| fail("webhook is not a URL".into()))?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err(fail("webhook must be an http:// or https:// URL".into()));
                }
                Some(url)
            }
        };
        Ok(Policy {
            name: config.name.clone(),
            kinds,
            sources: config.sources.iter().map(|s| s.to_lowercase()).collect(),
            tags: config.tags.iter().map(|t| t.to_lowercase()).collect(),
            daily_share_percent: config.daily_share_percent,
            max_age,
            webhook,
            enricher: enricher(max_age),
        })
    }

    fn matches(&self, kind: IndicatorKind, source: &str, tags: &[String]) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&kind))
            && (self.sources.is_empty() || self.sources.iter().any(|s| *s == source))
            && (self.tags.is_empty() || tags.iter().any(|t| self.tags.contains(t)))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestRequest {
    source: String,
    indicators: Vec<IngestIndicator>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestIndicator {
    value: String,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum Decision {
    Queued,
    Skipped,
    Invalid,
}

#[derive(Serialize)]
struct Outcome {
    value: String,
    /// The normal form, when the value is an indicator.
    indicator: Option<String>,
    status: Decision,
    /// The policy that decided, if one matched.
    policy: Option<String>,
    reason: String,
}

fn shown(value: &str) -> String {
    value.chars().take(SHOWN_VALUE_CHARS).collect()
}

fn check_request(request: &IngestRequest, max: usize) -> Result<(), AppError> {
    let source = &request.source;
    if source.is_empty()
        || source.chars().count() > MAX_SOURCE_CHARS
        || source.chars().any(char::is_control)
    {
        return Err(AppError::bad_request(format!(
            "source: 1 to {MAX_SOURCE_CHARS} printable characters"
        )));
    }
    if request.indicators.is_empty() {
        return Err(AppError::bad_request("indicators: none given"));
    }
    if request.indicators.len() > max {
        return Err(jobs::too_many(request.indicators.len(), max));
    }
    for (i, item) in request.indicators.iter().enumerate() {
        if item.value.chars().count() > MAX_VALUE_CHARS {
            return Err(AppError::bad_request(format!(
                "indicators[{i}].value: longer than {MAX_VALUE_CHARS} characters"
            )));
        }
        if item.tags.len() > MAX_TAGS
            || item
                .tags
                .iter()
                .any(|t| t.chars().count() > MAX_TAG_CHARS || t.chars().any(char::is_control))
        {
            return Err(AppError::bad_request(format!(
                "indicators[{i}].tags: at most {MAX_TAGS}, each at most {MAX_TAG_CHARS} printable characters"
            )));
        }
    }
    Ok(())
}

/// The whole day's budget over every key; `None` when one is unlimited.
fn daily_budget(state: &AppState) -> Option<u64> {
    let mut total = 0u64;
    for key in state.inner.enricher.client().quota_status() {
        total += u64::from(key.day.allowed?);
    }
    Some(total)
}

pub(crate) async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, AppError> {
    let caller = state.tokens().authorize(&headers, Role::Analyst).await?;
    let body = body.map_err(jobs::body_error)?;
    let request: IngestRequest = serde_json::from_slice(&body).map_err(|e| {
        AppError::bad_request(format!(
            "the body must be {{\"source\": \"...\", \"indicators\": [{{\"value\": \"...\", \"tags\": [...]}}]}}: {e}"
        ))
    })?;
    check_request(&request, state.inner.jobs.max_batch)?;
    let source = request.source.to_lowercase();
    let now = OffsetDateTime::now_utc();
    let day_start = now.date().midnight().assume_utc();
    let budget = daily_budget(&state);
    let origin = state.inner.enricher.origin().to_owned();
    let mut seen = HashSet::new();
    let mut outcomes = Vec::with_capacity(request.indicators.len());
    // (outcome index, normal form, policy name) of those to queue.
    let mut queue: Vec<(usize, String, String)> = Vec::new();
    for item in &request.indicators {
        let tags: Vec<String> = item.tags.iter().map(|t| t.to_lowercase()).collect();
        let mut outcome = Outcome {
            value: shown(&item.value),
            indicator: None,
            status: Decision::Skipped,
            policy: None,
            reason: String::new(),
        };
        let indicator = match Indicator::parse(&item.value) {
            Ok(i) => i,
            Err(e) => {
                outcome.status = Decision::Invalid;
                outcome.reason = format!("not an indicator: {e}");
                outcomes.push(outcome);
                continue;
            }
        };
        let key = indicator.to_string();
        outcome.indicator = Some(key.clone());
        let Some(policy) = state
            .inner
            .policies
            .iter()
            .find(|p| p.matches(indicator.kind(), &source, &tags))
        else {
            outcome.reason = "no policy matches its type, source and tags".into();
            outcomes.push(outcome);
            continue;
        };
        outcome.policy = Some(policy.name.clone());
        if !seen.insert(key.clone()) {
            outcome.reason = "a duplicate in this request".into();
            outcomes.push(outcome);
            continue;
        }
        if let Some(cached) = state.store().get_report(&origin, &key, now).await? {
            let age = now - cached.fetched_at();
            let fresh = match policy.max_age {
                Some(max) => age < max,
                None => true,
            };
            if fresh {
                outcome.reason = match policy.max_age {
                    Some(_) => format!(
                        "enriched {} s ago, within the policy's max_age",
                        age.whole_seconds()
                    ),
                    None => "already in the cache".into(),
                };
                outcomes.push(outcome);
                continue;
            }
        }
        if let (Some(percent), Some(budget)) = (policy.daily_share_percent, budget) {
            let share = budget * u64::from(percent) / 100;
            let subject = format!("source:{}:{source}", policy.name);
            let charged = state
                .store()
                .charge_usage(&subject, day_start, 1, Some(share))
                .await?;
            if !charged.granted {
                outcome.reason = format!(
                    "source {:?} used its share today ({percent}% of the daily budget: {share})",
                    shown(&request.source)
                );
                outcomes.push(outcome);
                continue;
            }
        }
        outcome.status = Decision::Queued;
        outcome.reason = "matched; queued at bulk priority".into();
        queue.push((outcomes.len(), key, policy.name.clone()));
        outcomes.push(outcome);
    }
    client_quota::charge(&state, &caller, queue.len() as u64).await?;
    let queued = queue.len();
    let skipped = outcomes
        .iter()
        .filter(|o| matches!(o.status, Decision::Skipped))
        .count();
    let invalid = outcomes.len() - queued - skipped;
    let job = if queue.is_empty() {
        None
    } else {
        let items: Vec<store::NewItem<'_>> = queue
            .iter()
            .map(|(_, key, policy)| store::NewItem {
                input: key,
                policy: Some(policy),
            })
            .collect();
        let id = state
            .store()
            .create_enrich_job(
                &store::NewEnrichJob {
                    owner: &caller.name,
                    priority: store::QueuePriority::Bulk,
                    items: &items,
                },
                now,
            )
            .await?;
        state.inner.work.notify_one();
        Some(id)
    };
    let status = if job.is_some() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let body = json!({
        "job": job.map(|id| json!({"id": id, "links": {"self": format!("/v1/jobs/{id}")}})),
        "queued": queued,
        "skipped": skipped,
        "invalid": invalid,
        "indicators": outcomes,
    });
    Ok((status, Json(body)).into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn ages_parse() {
        assert_eq!(parse_age("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_age("12h"), Some(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_age("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_age("2w"), Some(Duration::from_secs(14 * 86_400)));
        for bad in ["", "d", "7", "7y", "-1d"] {
            assert_eq!(parse_age(bad), None, "{bad}");
        }
    }
}
