//! [`Metrics`]: the counters behind `GET /metrics`, written in Prometheus'
//! text exposition format (0.0.4).
//!
//! Hand-formatted rather than through `prometheus-client` or `metrics`:
//! the set of metrics is fixed and small, the format is a few lines of
//! text, and the counters are atomics on the request path, so a crate
//! would add a registry, locks and dependencies for nothing. The output
//! is checked with Prometheus' own parser from PyPI (`prometheus-client`,
//! tests/metrics.rs).

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 120.0,
];

/// A value a front end sets (jobs queued, jobs running).
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    pub fn add(&self, delta: i64) {
        self.0.fetch_add(delta, Ordering::Relaxed);
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
struct Histogram {
    /// Not cumulative: one count per bucket, the last one above every bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// The service's counters; cheap to clone (shared). Routes are named by
/// their index in [`crate::ROUTES`]; requests no route matched are counted
/// under `unmatched`, so a scanner's paths cannot grow the label set.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    /// Route labels by index; the last is `unmatched`.
    routes: Vec<String>,
    /// By route index and status.
    requests: Mutex<HashMap<(usize, u16), u64>>,
    latency: Vec<Histogram>,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    jobs_queued: Gauge,
    jobs_running: Gauge,
}

impl Metrics {
    pub(crate) fn new(routes: Vec<String>) -> Metrics {
        let mut routes = routes;
        routes.push("unmatched".into());
        let latency = routes.iter().map(|_| Histogram::default()).collect();
        Metrics {
            inner: Arc::new(Inner {
                routes,
                requests: Mutex::default(),
                latency,
                cache_hits: AtomicU64::new(0),
                cache_misses: AtomicU64::new(0),
                jobs_queued: Gauge::default(),
                jobs_running: Gauge::default(),
            }),
        }
    }

    /// One request answered: `route` is its index in [`crate::ROUTES`]
    /// (`None`: no route matched).
    pub(crate) fn request(&self, route: Option<usize>, status: u16, elapsed: Duration) {
        let unmatched = self.inner.routes.len() - 1;
        let route = route.filter(|r| *r < unmatched).unwrap_or(unmatched);
        {
            let mut requests = self
                .inner
                .requests
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            *requests.entry((route, status)).or_default() += 1;
        }
        self.inner.latency[route].observe(elapsed);
    }

    /// A lookup answered from the cache (`true`) or not.
    pub fn cache_lookup(&self, hit: bool) {
        let counter = if hit {
            &self.inner.cache_hits
        } else {
            &self.inner.cache_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Enrichment jobs waiting to start (set by the jobs runner).
    pub fn jobs_queued(&self) -> &Gauge {
        &self.inner.jobs_queued
    }

    /// Enrichment jobs under way.
    pub fn jobs_running(&self) -> &Gauge {
        &self.inner.jobs_running
    }

    /// The exposition text: these counters, and what the client and the
    /// enricher count (VirusTotal answers by status, 429s, each key's
    /// budget by label, coalesced lookups).
    pub(crate) fn render(&self, client: &vt_api::Client, coalesced: u64) -> String {
        let inner = &self.inner;
        let mut out = String::with_capacity(4096);
        header(
            &mut out,
            "vtc_http_requests_total",
            "counter",
            "HTTP requests answered, by route and status",
        );
        let mut requests: Vec<((usize, u16), u64)> = inner
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect();
        requests.sort_unstable();
        for ((route, status), count) in requests {
            let _ = writeln!(
                out,
                "vtc_http_requests_total{{route=\"{}\",status=\"{status}\"}} {count}",
                escape(&inner.routes[route])
            );
        }
        header(
            &mut out,
            "vtc_http_request_duration_seconds",
            "histogram",
            "Time from a request's arrival to its answer, by route",
        );
        for (route, histogram) in inner.routes.iter().zip(&inner.latency) {
            let route = escape(route);
            let mut cumulative = 0u64;
            for (i, bucket) in histogram.buckets.iter().enumerate() {
                cumulative += bucket.load(Ordering::Relaxed);
                let bound = BUCKETS
                    .get(i)
                    .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
                let _ = writeln!(
                    out,
                    "vtc_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let sum = histogram.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "vtc_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "vtc_http_request_duration_seconds_count{{route=\"{route}\"}} {cumulative}"
            );
        }
        single(
            &mut out,
            "vtc_cache_hits_total",
            "counter",
            "Lookups answered from the cache",
            inner.cache_hits.load(Ordering::Relaxed),
        );
        single(
            &mut out,
            "vtc_cache_misses_total",
            "counter",
            "Lookups the cache could not answer",
            inner.cache_misses.load(Ordering::Relaxed),
        );
        single(
            &mut out,
            "vtc_coalesced_requests_total",
            "counter",
            "Lookups that shared another's VirusTotal call for the same indicator",
            coalesced,
        );
        header(
            &mut out,
            "vtc_virustotal_requests_total",
            "counter",
            "Requests sent to VirusTotal, retries included, by the status of the answer (0: none)",
        );
        for (status, count) in client.answers_by_status() {
            let _ = writeln!(
                out,
                "vtc_virustotal_requests_total{{status=\"{status}\"}} {count}"
            );
        }
        let client_metrics = client.metrics();
        single(
            &mut out,
            "vtc_virustotal_429_total",
            "counter",
            "429 answers VirusTotal gave although the budget had room",
            client_metrics.responses_429,
        );
        single(
            &mut out,
            "vtc_virustotal_retries_total",
            "counter",
            "Attempts after the first",
            client_metrics.retries,
        );
        let quotas = client.quota_status();
        for (name, help, remaining) in [
            (
                "vtc_virustotal_quota_remaining",
                "Requests left in the window, by key label (windows with a budget only)",
                true,
            ),
            (
                "vtc_virustotal_quota_used",
                "Requests spent in the window, by key label",
                false,
            ),
        ] {
            header(&mut out, name, "gauge", help);
            for quota in &quotas {
                let key = escape(&quota.key);
                for (window, usage) in [
                    ("minute", &quota.minute),
                    ("day", &quota.day),
                    ("month", &quota.month),
                ] {
                    let value = if remaining {
                        match usage.allowed {
                            Some(allowed) => allowed.saturating_sub(usage.used),
                            None => continue,
                        }
                    } else {
                        usage.used
                    };
                    let _ = writeln!(out, "{name}{{key=\"{key}\",window=\"{window}\"}} {value}");
                }
            }
        }
        header(
            &mut out,
            "vtc_jobs_queued",
            "gauge",
            "Enrichment jobs waiting to start",
        );
        let _ = writeln!(out, "vtc_jobs_queued {}", inner.jobs_queued.get());
        header(
            &mut out,
            "vtc_jobs_running",
            "gauge",
            "Enrichment jobs under way",
        );
        let _ = writeln!(out, "vtc_jobs_running {}", inner.jobs_running.get());
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn single(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    header(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// A label value as the format wants it: backslash, quote and newline
/// escaped (a key's label comes from the config file).
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_and_labels_are_escaped() {
        let metrics = Metrics::new(vec!["GET /a".into()]);
        metrics.request(Some(0), 200, Duration::from_micros(300));
        metrics.request(Some(0), 200, Duration::from_millis(3));
        metrics.request(None, 404, Duration::from_millis(200));
        metrics.request(Some(7), 404, Duration::from_millis(200));
        let client = vt_api::Client::builder()
            .api_key(vt_api::ApiKey::new("k").unwrap())
            .build()
            .unwrap();
        let text = metrics.render(&client, 0);
        assert!(
            text.contains("vtc_http_requests_total{route=\"GET /a\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("vtc_http_requests_total{route=\"unmatched\",status=\"404\"} 2"),
            "{text}"
        );
        assert!(
            text.contains(
                "vtc_http_request_duration_seconds_bucket{route=\"GET /a\",le=\"0.0005\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "vtc_http_request_duration_seconds_bucket{route=\"GET /a\",le=\"0.005\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "vtc_http_request_duration_seconds_bucket{route=\"GET /a\",le=\"+Inf\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("vtc_http_request_duration_seconds_count{route=\"unmatched\"} 2"),
            "{text}"
        );
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
