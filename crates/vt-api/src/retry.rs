//! Sending a request: quota permit, attempt, classification, backoff.
//!
//! This is the one module of the client that sleeps or retries: it waits
//! for the governor's slot, and between attempts it sleeps an exponential
//! backoff with full jitter (or the server's `Retry-After`). Everything
//! else builds a [`Call`] and hands it here.

use crate::client::Inner;
use crate::error::{excerpt, printable, ApiCode};
use crate::key::scrub;
use crate::upload::UploadSource;
use crate::Error;
use bytes::Bytes;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, Response};
use std::sync::atomic::Ordering;
use std::time::Duration;
use vt_model::{ErrorCode, ErrorEnvelope};

/// How often and how patiently a failed request is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; `1` disables retries.
    pub max_attempts: u32,
    /// The cap of the first backoff; each retry doubles it.
    pub base_delay: Duration,
    /// No single wait between attempts is longer, `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Full-jitter backoff before retry number `retry` (0 for the first):
    /// uniform in `[0, min(max_delay, base_delay * 2^retry)]`.
    pub fn backoff(&self, retry: u32, rng: &mut fastrand::Rng) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(31));
        let cap = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.u64(0..=cap_nanos))
    }

    /// The wait before retry number `retry`: the server's `Retry-After`
    /// when it sent one, else the jittered backoff; never above `max_delay`.
    pub fn delay(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        rng: &mut fastrand::Rng,
    ) -> Duration {
        retry_after
            .map(|d| d.min(self.max_delay))
            .unwrap_or_else(|| self.backoff(retry, rng))
    }
}

/// The body of a request.
#[derive(Debug)]
pub(crate) enum Payload {
    Empty,
    Form(Vec<(String, String)>),
    Json(serde_json::Value),
    /// A file streamed from disk as multipart part `file`, re-opened on
    /// each attempt.
    Upload(UploadSource),
}

/// One request, described so it can be sent again.
#[derive(Debug)]
pub(crate) struct Call {
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    pub query: Vec<(String, String)>,
    pub payload: Payload,
    /// The key (index in the client's keys) this request must go with,
    /// rather than any key of the pool.
    pub key: Option<usize>,
}

impl Call {
    pub fn get(url: String, query: Vec<(String, String)>) -> Call {
        Call {
            method: Method::GET,
            url,
            query,
            payload: Payload::Empty,
            key: None,
        }
    }

    pub fn post(url: String, payload: Payload) -> Call {
        Call {
            method: Method::POST,
            url,
            query: Vec::new(),
            payload,
            key: None,
        }
    }

    pub fn delete(url: String, query: Vec<(String, String)>) -> Call {
        Call {
            method: Method::DELETE,
            url,
            query,
            payload: Payload::Empty,
            key: None,
        }
    }

    /// The same request, sent with key number `key` only.
    pub fn with_key(mut self, key: Option<usize>) -> Call {
        self.key = key;
        self
    }

    /// `GET /api/v3/files/...`: method and path, for messages (never the
    /// query); scrub it of keys before showing it.
    fn label(&self) -> String {
        let path = url::Url::parse(&self.url)
            .map(|u| u.path().to_owned())
            .unwrap_or_else(|_| self.url.clone());
        format!("{} {path}", self.method)
    }

    /// Whether a failure may be retried: idempotent requests whenever the
    /// error is retryable; others only when the server refused before doing
    /// anything (429, 503 TransientError), so nothing is submitted twice.
    fn may_retry(&self, error: &Error) -> bool {
        let idempotent = matches!(
            self.method,
            Method::GET | Method::HEAD | Method::DELETE | Method::PUT | Method::OPTIONS
        );
        if idempotent {
            return error.is_retryable();
        }
        error.is_rate_limited() || error.error_code() == Some(ErrorCode::Transient)
    }
}

/// What the caller wants from a successful answer.
pub(crate) enum Want<T> {
    /// The whole body, parsed inside the retry loop so a truncated body is
    /// retried like any other transient failure.
    Parsed(fn(&[u8]) -> serde_json::Result<T>),
    /// The response with its body unread, for streaming (not retried once
    /// the caller starts reading).
    Stream,
}

pub(crate) enum Got<T> {
    Parsed(T),
    Stream(Response),
}

struct Failure {
    error: Error,
    retry_after: Option<Duration>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            retry_after: None,
        }
    }
}

/// Sends `call` under the governor and the retry policy.
pub(crate) async fn execute<T>(inner: &Inner, call: &Call, want: Want<T>) -> Result<Got<T>, Error> {
    let policy = inner.retry;
    let mut rng = fastrand::Rng::new();
    // A user id in a path may be the API key itself (`/users/{key}`).
    let label = scrub(&call.label(), &inner.keys);
    if inner.learn.iter().any(|l| l.any()) {
        inner.learnt.get_or_init(|| learn_budgets(inner)).await;
    }
    let mut attempt: u32 = 1;
    loop {
        let priority = crate::Priority::current();
        let permit = loop {
            match inner.governor.reserve_for(call.key, priority)? {
                crate::quota::Reservation::Granted(permit) => break permit,
                // Bulk work waits without booking, so interactive requests
                // that arrive meanwhile go first.
                crate::quota::Reservation::Deferred(wait) => tokio::time::sleep(wait).await,
            }
        };
        if !permit.wait.is_zero() {
            wait_for_quota(
                inner,
                &label,
                permit.wait,
                permit.reason,
                "a free slot in the quota",
            )
            .await;
        }
        let attempted = match reserve_shared(inner, permit.key, &label).await {
            Ok(reserved) => {
                let attempted = attempt_once(inner, call, &label, permit.key, &want).await;
                if let Some(reserved_at) = reserved {
                    settle_shared(inner, permit.key, reserved_at).await;
                }
                attempted
            }
            Err(error) => {
                if matches!(error, Error::QuotaExhausted { .. }) {
                    inner.governor.release(&permit);
                    return Err(error);
                }
                Err(Failure {
                    error,
                    retry_after: None,
                })
            }
        };
        let failure = match attempted {
            Ok(got) => {
                inner.governor.succeeded(permit.key);
                return Ok(got);
            }
            Err(failure) => failure,
        };
        if failure.error.is_connect_error() || matches!(failure.error, Error::SharedQuota { .. }) {
            // Refused before a byte was sent: no quota was spent.
            inner.governor.release(&permit);
            inner
                .metrics
                .connect_failures
                .fetch_add(1, Ordering::Relaxed);
        }
        if failure.error.is_rate_limited() {
            inner.metrics.responses_429.fetch_add(1, Ordering::Relaxed);
            let strikes = inner.governor.back_off(permit.key, failure.retry_after);
            let giving_up = strikes >= crate::MAX_UNEXPECTED_429_STRIKES;
            tracing::warn!(
                request = %label,
                strikes,
                "the server answered 429 although the budget had room"
            );
            if let Some(observer) = &inner.quota_observer {
                observer.observe(crate::QuotaEvent::Unexpected429 { strikes, giving_up });
            }
            if giving_up {
                return Err(failure.error);
            }
        } else {
            inner.governor.succeeded(permit.key);
        }
        if attempt >= policy.max_attempts || !call.may_retry(&failure.error) {
            return Err(failure.error);
        }
        let delay = policy.delay(attempt - 1, failure.retry_after, &mut rng);
        inner.metrics.retries.fetch_add(1, Ordering::Relaxed);
        // Info, not warn: a retry is the client doing its job; the final
        // error (if any) is what the user needs to read.
        tracing::info!(
            request = %label,
            attempt,
            delay_ms = delay.as_millis() as u64,
            error = %failure.error,
            "request failed, retrying"
        );
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// How much longer than the minute window a shared reservation holds.
const SHARED_WINDOW_MARGIN: Duration = Duration::from_millis(250);

/// Reserves one unit of key `key`'s budget in the ledger shared with other
/// processes, waiting while their minute is full. Nothing to do without
/// one.
/// `Some(when)` when a unit of a per-minute budget was booked, to settle
/// with [`settle_shared`] once the answer came.
async fn reserve_shared(
    inner: &Inner,
    key: usize,
    label: &str,
) -> Result<Option<time::OffsetDateTime>, Error> {
    let Some(shared) = &inner.shared_budget else {
        return Ok(None);
    };
    let (Some(api_key), Some(budget)) = (inner.keys.get(key), inner.governor.budget(key)) else {
        return Ok(None);
    };
    let key_label = api_key.label();
    // A reservation is held a little longer than the window: the request
    // reaches the server a moment after it is reserved, and that moment
    // varies, so a server counting arrivals could otherwise see one call
    // too many in its minute.
    let window = inner.governor.window() + SHARED_WINDOW_MARGIN;
    loop {
        let at = inner.clock.now();
        let grant = shared
            .reserve(&key_label, budget, window, at)
            .await
            .map_err(|reason| Error::SharedQuota { reason })?;
        match grant {
            crate::SharedGrant::Granted => {
                return Ok((budget.per_minute > 0).then_some(at));
            }
            crate::SharedGrant::Exhausted { window, resets_at } => {
                return Err(Error::QuotaExhausted { window, resets_at })
            }
            crate::SharedGrant::Wait(wait) => {
                // A little past the instant the window frees, so processes
                // woken together do not all ask in the same millisecond.
                let wait = wait + Duration::from_millis(fastrand::u64(1..25));
                let reason = crate::HoldReason::MinuteBudget {
                    per_minute: budget.per_minute,
                };
                wait_for_quota(inner, label, wait, Some(reason), "the shared quota").await;
            }
        }
    }
}

/// Sleeps `wait` for a quota (the governor's slot or the shared ledger),
/// counted as a throttled wait, logged, and told to the observer.
async fn wait_for_quota(
    inner: &Inner,
    label: &str,
    wait: Duration,
    reason: Option<crate::HoldReason>,
    what: &str,
) {
    inner
        .metrics
        .throttled_waits
        .fetch_add(1, Ordering::Relaxed);
    tracing::debug!(
        request = %label,
        wait_ms = wait.as_millis() as u64,
        "waiting for {what}"
    );
    if let (Some(observer), Some(reason)) = (&inner.quota_observer, reason) {
        observer.observe(crate::QuotaEvent::Waiting { wait, reason });
    }
    tokio::time::sleep(wait).await;
}

/// Holds the shared unit booked at `reserved_at` from now on: the server
/// counted the call somewhere between the two, so the unit cannot leave
/// the window before the server's count does (a first request that waits
/// for its connection would otherwise let the window free too early).
async fn settle_shared(inner: &Inner, key: usize, reserved_at: time::OffsetDateTime) {
    let (Some(shared), Some(api_key)) = (&inner.shared_budget, inner.keys.get(key)) else {
        return;
    };
    if let Err(e) = shared
        .settle(&api_key.label(), reserved_at, inner.clock.now())
        .await
    {
        tracing::warn!("cannot settle a call in the shared quota ledger: {e}");
    }
}

/// Reads `GET /users/{key}/overall_quotas` once for each key that learns
/// its budget, with that key, under its current budget, without retries;
/// a failure keeps the configured budget (with a warning).
async fn learn_budgets(inner: &Inner) {
    for (index, learn) in inner.learn.iter().enumerate() {
        let (Some(key), true) = (inner.keys.get(index), learn.any()) else {
            continue;
        };
        let mut url = inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(["users", key.expose_secret(), "overall_quotas"]);
        }
        let call = Call::get(url.into(), Vec::new()).with_key(Some(index));
        let label = format!("GET /users/{}/overall_quotas", key);
        let permit = match inner.governor.reserve_key(index) {
            Ok(permit) => permit,
            Err(e) => {
                tracing::warn!("cannot learn the key's quota from the API: {e}");
                continue;
            }
        };
        if !permit.wait.is_zero() {
            tokio::time::sleep(permit.wait).await;
        }
        // Under the configured budget, shared with other instances too.
        let reserved = match reserve_shared(inner, index, &label).await {
            Ok(reserved) => reserved,
            Err(e) => {
                inner.governor.release(&permit);
                tracing::warn!("cannot learn the key's quota from the API: {e}");
                continue;
            }
        };
        let want = Want::Parsed(|body: &[u8]| {
            serde_json::from_slice::<vt_model::DataEnvelope<vt_model::JsonMap>>(body)
                .map(|e| e.data)
        });
        let learnt = attempt_once(inner, &call, &label, index, &want).await;
        if let Some(reserved_at) = reserved {
            settle_shared(inner, index, reserved_at).await;
        }
        match learnt {
            Ok(Got::Parsed(quotas)) => {
                inner.governor.succeeded(index);
                if let Some(configured) = inner.governor.budget(index) {
                    let learnt = learn.apply(configured, &quotas);
                    tracing::info!(
                        per_minute = learnt.per_minute,
                        per_day = learnt.per_day,
                        per_month = learnt.per_month,
                        "budget learnt from the API's quota allowances (0 = unlimited)"
                    );
                    inner.governor.set_budget(index, learnt);
                }
            }
            Ok(Got::Stream(_)) => {}
            Err(failure) => {
                if failure.error.is_connect_error()
                    || matches!(failure.error, Error::SharedQuota { .. })
                {
                    inner.governor.release(&permit);
                }
                // Info, not a warning: the request that follows meets the
                // same trouble and reports it.
                tracing::info!(
                    "cannot learn the key's quota from the API, keeping the configured budget: {}",
                    failure.error
                );
            }
        }
    }
}

/// Fetches with `fetch` until `done` accepts the value or `max_wait` has
/// passed, sleeping `interval` between fetches (each fetch is a full
/// request through the governor). Returns the last value either way.
pub(crate) async fn poll_until<T, F, Fut>(
    interval: Duration,
    max_wait: Duration,
    mut fetch: F,
    done: impl Fn(&T) -> bool,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let deadline = tokio::time::Instant::now() + max_wait;
    loop {
        let value = fetch().await?;
        if done(&value) || tokio::time::Instant::now() + interval > deadline {
            return Ok(value);
        }
        tokio::time::sleep(interval).await;
    }
}

async fn attempt_once<T>(
    inner: &Inner,
    call: &Call,
    label: &str,
    key: usize,
    want: &Want<T>,
) -> Result<Got<T>, Failure> {
    let header = inner
        .key_headers
        .get(key)
        .cloned()
        .ok_or_else(|| Error::InvalidConfig("no API key configured".into()))?;
    let mut request = inner
        .http
        .request(call.method.clone(), &call.url)
        .header("x-apikey", header);
    if !call.query.is_empty() {
        request = request.query(&call.query);
    }
    request = match &call.payload {
        Payload::Empty => request,
        Payload::Form(fields) => request.form(fields),
        Payload::Json(body) => request.json(body),
        Payload::Upload(source) => request.multipart(source.form().await?),
    };
    inner.metrics.requests_sent.fetch_add(1, Ordering::Relaxed);
    let sent = request.send().await;
    if let Some(log) = &inner.spend_log {
        // A refused connection reached no server and cost nothing.
        if !sent.as_ref().is_err_and(reqwest::Error::is_connect) {
            if let Some(key) = inner.keys.get(key) {
                log.spent(&key.label(), inner.clock.now());
            }
        }
    }
    match &sent {
        Ok(response) => inner.metrics.answered(response.status().as_u16()),
        Err(e) if !e.is_connect() => inner.metrics.answered(0),
        Err(_) => {}
    }
    let response = sent.map_err(|e| network_error(e, call, label, inner))?;
    let status = response.status();
    // Redirects are not followed (a redirect elsewhere would carry the key
    // along); a streaming caller gets them to handle.
    let stream_redirect = matches!(want, Want::Stream) && status.is_redirection();
    if !status.is_success() && !stream_redirect {
        let retry_after = retry_after(response.headers());
        let error = api_error(response, label, inner).await;
        return Err(Failure { error, retry_after });
    }
    match want {
        Want::Stream => Ok(Got::Stream(response)),
        Want::Parsed(parse) => {
            let body = read_body(response, label).await?;
            parse(&body)
                .map(Got::Parsed)
                .map_err(|e| decode_error(label, &e, &body, inner).into())
        }
    }
}

async fn read_body(response: Response, label: &str) -> Result<Bytes, Error> {
    response.bytes().await.map_err(|e| Error::Decode {
        request: label.to_owned(),
        reason: format!("the body was cut short: {}", root_cause(&e)),
        excerpt: String::new(),
        truncated: true,
    })
}

/// Maps an error answer: the JSON envelope when there is one; else, for a
/// 4xx other than 429, [`Error::NotTheApi`] (VirusTotal always sends the
/// envelope, so the server is another one); else `ClientError`/
/// `ServerError` with an excerpt of the body (a 5xx or 429 from a front
/// server in trouble, worth a retry).
async fn api_error(response: Response, label: &str, inner: &Inner) -> Error {
    let status = response.status().as_u16();
    let server = server_of(response.url());
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|t| printable(t, 100))
        .unwrap_or_else(|| "no content type".into());
    let body = match response.bytes().await {
        Ok(body) => body,
        // An error answer cut short says nothing of the server: without
        // this, a 404 whose body was cut off read as "not the API" and an
        // item failed for good on a transient fault.
        Err(e) => {
            return Error::Decode {
                request: label.to_owned(),
                reason: format!("the {status} answer was cut short: {}", root_cause(&e)),
                excerpt: String::new(),
                truncated: true,
            }
        }
    };
    let envelope = serde_json::from_slice::<ErrorEnvelope>(&body);
    if envelope.is_err() && (400..500).contains(&status) && status != 429 {
        return Error::NotTheApi {
            server,
            status,
            content_type,
            excerpt: scrub(&excerpt(&body), &inner.keys),
        };
    }
    match envelope {
        Ok(envelope) => Error::Api {
            status,
            code: ApiCode::parse(&printable(&envelope.error.code, 64)),
            message: scrub(&printable(&envelope.error.message, 500), &inner.keys),
        },
        Err(_) => Error::Api {
            status,
            code: ApiCode::Unknown(if (400..500).contains(&status) {
                "ClientError".into()
            } else {
                "ServerError".into()
            }),
            message: scrub(&excerpt(&body), &inner.keys),
        },
    }
}

fn decode_error(label: &str, error: &serde_json::Error, body: &[u8], inner: &Inner) -> Error {
    Error::Decode {
        request: label.to_owned(),
        reason: error.to_string(),
        excerpt: scrub(&excerpt(body), &inner.keys),
        // Not JSON at all (a front server's page, bytes garbled on the
        // way) is worth another attempt like a cut-off body; JSON of the
        // wrong shape is not (it would fail the same way again).
        truncated: error.is_eof() || error.is_syntax(),
    }
}

fn network_error(error: reqwest::Error, call: &Call, label: &str, inner: &Inner) -> Failure {
    let url = url::Url::parse(&call.url).ok();
    let target = url
        .as_ref()
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_else(|| "the API".into());
    let proxy = inner.proxy.as_ref().filter(|p| {
        url.as_ref()
            .and_then(url::Url::host_str)
            .is_some_and(|host| p.carries(host))
    });
    let cause = root_cause(&error);
    let message = if error.is_timeout() {
        format!("{label} to {target} timed out")
    } else if let (true, Some(proxy)) = (error.is_connect(), proxy) {
        // Through a proxy, a connection that fails is the one to the proxy.
        format!(
            "cannot connect to the proxy {} (on the way to {target}): {cause} (check --proxy or HTTPS_PROXY)",
            proxy.shown
        )
    } else if error.is_connect() {
        format!("cannot connect to {target}: {cause} (check the API URL)")
    } else {
        format!("{label} to {target} failed: {cause}")
    };
    Failure {
        error: Error::Network {
            message,
            // The URL may hold a user id that is the key; the message names the host.
            source: error.without_url(),
        },
        retry_after: None,
    }
}

/// `scheme://host:port` of a URL: what a message may show of a server
/// (never a path, which may hold a key, nor credentials).
pub(crate) fn server_of(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("the server");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// The innermost cause: "connection refused" rather than reqwest's wrapper.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// `Retry-After` in seconds (the HTTP-date form is not used by the API).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_the_doubling_cap_and_the_max_delay() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        };
        let mut rng = fastrand::Rng::with_seed(7);
        for retry in 0..40 {
            let cap = Duration::from_millis(100)
                .saturating_mul(2u32.saturating_pow(retry.min(31)))
                .min(Duration::from_secs(2));
            let mut longest = Duration::ZERO;
            for _ in 0..200 {
                let d = policy.backoff(retry, &mut rng);
                assert!(d <= cap, "retry {retry}: {d:?} > {cap:?}");
                longest = longest.max(d);
            }
            // Full jitter spreads over the whole range, not just near zero.
            assert!(
                longest >= cap / 2,
                "retry {retry}: longest {longest:?} of {cap:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_but_bounded_by_max_delay() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(30),
        };
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(7)), &mut rng),
            Duration::from_secs(7)
        );
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(3600)), &mut rng),
            Duration::from_secs(30)
        );
        assert!(policy.delay(0, None, &mut rng) <= Duration::from_millis(10));
    }

    #[test]
    fn retry_after_header_parses_seconds_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "12".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(12)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().expect("header"),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn posts_are_retried_only_when_refused_before_processing() {
        let api = |status: u16, code: ErrorCode| Error::Api {
            status,
            code: ApiCode::Known(code),
            message: String::new(),
        };
        let post = Call::post("http://127.0.0.1/api/v3/urls".into(), Payload::Empty);
        let get = Call::get("http://127.0.0.1/api/v3/urls/x".into(), Vec::new());
        let truncated = || Error::Decode {
            request: String::new(),
            reason: String::new(),
            excerpt: String::new(),
            truncated: true,
        };
        assert!(post.may_retry(&api(429, ErrorCode::QuotaExceeded)));
        assert!(post.may_retry(&api(503, ErrorCode::Transient)));
        assert!(!post.may_retry(&api(504, ErrorCode::DeadlineExceeded)));
        assert!(!post.may_retry(&truncated()));
        assert!(get.may_retry(&api(504, ErrorCode::DeadlineExceeded)));
        assert!(get.may_retry(&truncated()));
        assert!(!get.may_retry(&api(404, ErrorCode::NotFound)));
    }
}
