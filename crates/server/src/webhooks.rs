//! Webhook deliveries: each record a policy enriched is POSTed as JSON to
//! the policy's URL. Enrichment hands a delivery over without waiting
//! (a bounded queue; when it is full the delivery is dropped with a
//! warning); a dispatcher sends a few at once, each retried with doubling
//! back-off a bounded number of times. A failing receiver costs its own
//! deliveries, never the enrichment.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};

/// Deliveries waiting to be sent before new ones are dropped.
const QUEUE: usize = 10_000;
/// Deliveries in flight at once.
const CONCURRENT: usize = 16;

/// How hard a delivery is tried.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRetry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait after the first failure; doubled after each further one.
    pub first_delay: Duration,
    /// One attempt's limit.
    pub timeout: Duration,
}

impl Default for WebhookRetry {
    fn default() -> Self {
        WebhookRetry {
            attempts: 5,
            first_delay: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
        }
    }
}

struct Delivery {
    url: reqwest::Url,
    body: String,
}

/// What the webhooks did, for tests and the logs.
#[derive(Debug, Default)]
pub(crate) struct WebhookCounts {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
}

/// The sending side; cheap to clone.
#[derive(Clone)]
pub(crate) struct Webhooks {
    queue: mpsc::Sender<Delivery>,
    counts: Arc<WebhookCounts>,
}

impl Webhooks {
    /// Starts the dispatcher on the current runtime.
    pub fn start(retry: WebhookRetry) -> Webhooks {
        let (queue, mut incoming) = mpsc::channel::<Delivery>(QUEUE);
        let counts = Arc::new(WebhookCounts::default());
        let http = reqwest::Client::builder()
            .timeout(retry.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vtc/", env!("CARGO_PKG_VERSION"), " webhook"))
            .build()
            .unwrap_or_default();
        let sending = Arc::new(Semaphore::new(CONCURRENT));
        let dispatch_counts = counts.clone();
        tokio::spawn(async move {
            while let Some(delivery) = incoming.recv().await {
                let Ok(permit) = sending.clone().acquire_owned().await else {
                    return;
                };
                let (http, counts) = (http.clone(), dispatch_counts.clone());
                tokio::spawn(async move {
                    deliver(&http, &delivery, retry, &counts).await;
                    drop(permit);
                });
            }
        });
        Webhooks { queue, counts }
    }

    /// Queues `body` for `url` without waiting.
    pub fn send(&self, url: &reqwest::Url, body: String) {
        let delivery = Delivery {
            url: url.clone(),
            body,
        };
        if self.queue.try_send(delivery).is_err() {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                webhook = %shown(url),
                "webhook queue full: a record was not delivered"
            );
        }
    }

    pub fn counts(&self) -> &WebhookCounts {
        &self.counts
    }
}

/// A URL as logs show it: no credentials, no query (which may hold a token).
fn shown(url: &reqwest::Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    ) + url.path()
}

async fn deliver(
    http: &reqwest::Client,
    delivery: &Delivery,
    retry: WebhookRetry,
    counts: &WebhookCounts,
) {
    let mut delay = retry.first_delay;
    for attempt in 1..=retry.attempts.max(1) {
        let sent = http
            .post(delivery.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(delivery.body.clone())
            .send()
            .await;
        let failure = match sent {
            Ok(resp) if resp.status().is_success() => {
                counts.delivered.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(resp) => format!("answered {}", resp.status()),
            Err(e) => without_url(&e),
        };
        if attempt == retry.attempts.max(1) {
            counts.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                webhook = %shown(&delivery.url),
                attempts = attempt,
                "webhook delivery failed for good: {failure}"
            );
            return;
        }
        tracing::info!(
            webhook = %shown(&delivery.url),
            attempt,
            delay_ms = delay.as_millis() as u64,
            "webhook delivery failed, retrying: {failure}"
        );
        tokio::time::sleep(delay).await;
        delay = delay.saturating_mul(2);
    }
}

/// A reqwest error's text without the URL (which may carry a secret).
fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        "the request failed".into()
    }
}
