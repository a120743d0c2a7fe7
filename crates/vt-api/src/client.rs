//! The [`Client`] and its typed calls for objects, analyses and submissions.

use crate::ids::{AnalysisDescriptor, AnalysisId};
use crate::quota::{Governor, KeyQuotaStatus, QuotaLedger};
use crate::retry::{execute, poll_until, Call, Got, Payload, Want};
use crate::upload::{UploadSource, DIRECT_UPLOAD_LIMIT};
use crate::{ApiKey, ClientBuilder, Error, RetryPolicy};
use ioc::{Domain, FileHash, Indicator};
use reqwest::header::HeaderValue;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use vt_model::{
    AnalysisAttributes, AnalysisMeta, AnalysisStatus, DataEnvelope, DomainAttributes,
    FileAttributes, IpAddressAttributes, Object, Report, UrlAttributes,
};

/// An analysis as `GET /analyses/{id}` returns it: the object and the
/// `meta` (file or URL info) beside it.
pub type AnalysisReport = DataEnvelope<Object<AnalysisAttributes>, AnalysisMeta>;

/// A VirusTotal API v3 client. Cheap to clone: clones share the HTTP
/// connection pool, the quota governor and the metrics.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub http: reqwest::Client,
    /// The API root, e.g. `https://www.virustotal.com/api/v3`, no trailing slash.
    pub base: url::Url,
    pub keys: Vec<ApiKey>,
    /// `x-apikey` values, marked sensitive, in the order of `keys`.
    pub key_headers: Vec<HeaderValue>,
    pub governor: Governor,
    pub retry: RetryPolicy,
    pub metrics: Metrics,
    pub spend_log: Option<Arc<dyn crate::SpendLog>>,
    /// The budget shared with other processes, asked after the governor.
    pub shared_budget: Option<Arc<dyn crate::SharedBudget>>,
    pub quota_observer: Option<Arc<dyn crate::QuotaObserver>>,
    pub clock: Arc<dyn crate::Clock>,
    /// The proxy requests go through, if any.
    pub proxy: Option<Proxied>,
    /// Per key, the budget windows to learn from the API.
    pub learn: Vec<crate::LearnBudget>,
    /// Set once the budgets were learnt (or learning failed).
    pub learnt: tokio::sync::OnceCell<()>,
}

/// A configured proxy, as messages may name it.
pub(crate) struct Proxied {
    /// Its URL without credentials.
    pub shown: String,
    /// Hosts reached without it (loopback and `NO_PROXY`), lower case.
    pub bypass: Vec<String>,
}

impl Proxied {
    /// Whether a request to `host` goes through the proxy.
    pub fn carries(&self, host: &str) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        !self
            .bypass
            .iter()
            .any(|b| b == "*" || host == *b || host.ends_with(&format!(".{b}")))
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("keys", &self.inner.keys)
            .finish_non_exhaustive()
    }
}

/// Counters the client keeps, shared by its clones.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub requests_sent: AtomicU64,
    pub retries: AtomicU64,
    pub responses_429: AtomicU64,
    pub throttled_waits: AtomicU64,
    pub connect_failures: AtomicU64,
    /// Answers by HTTP status; `0` counts requests sent that got none
    /// (reset, timeout). A map behind a lock: one entry per status seen,
    /// touched once per request sent.
    pub by_status: std::sync::Mutex<std::collections::BTreeMap<u16, u64>>,
}

impl Metrics {
    pub(crate) fn answered(&self, status: u16) {
        let mut by_status = self.by_status.lock().unwrap_or_else(|p| p.into_inner());
        *by_status.entry(status).or_default() += 1;
    }
}

/// A reading of the client's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClientMetrics {
    /// HTTP requests put on the wire, retries included: the API calls spent.
    pub requests_sent: u64,
    /// Attempts after the first.
    pub retries: u64,
    /// 429 answers seen despite the governor.
    pub responses_429: u64,
    /// Requests the governor held back to stay inside a minute window.
    pub throttled_waits: u64,
    /// Attempts refused before reaching a server (connection refused,
    /// unreachable host): what a caller with a deadline (an application
    /// control decision) tells "VirusTotal cannot be reached" from "slow" by.
    pub connect_failures: u64,
}

impl Client {
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    pub(crate) fn from_inner(inner: Inner) -> Client {
        Client {
            inner: Arc::new(inner),
        }
    }

    /// The API root requests go to, e.g. `http://127.0.0.1:8080/api/v3`.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// Who answers: the scheme, host and port of the API URL (default
    /// ports left out), e.g. `https://www.virustotal.com`. Whatever keeps
    /// answers (a cache, a spend ledger) keys them by it, so one API's
    /// answers are never taken for another's.
    pub fn origin(&self) -> String {
        self.inner.base.origin().ascii_serialization()
    }

    pub fn metrics(&self) -> ClientMetrics {
        let m = &self.inner.metrics;
        ClientMetrics {
            requests_sent: m.requests_sent.load(Ordering::Relaxed),
            retries: m.retries.load(Ordering::Relaxed),
            responses_429: m.responses_429.load(Ordering::Relaxed),
            throttled_waits: m.throttled_waits.load(Ordering::Relaxed),
            connect_failures: m.connect_failures.load(Ordering::Relaxed),
        }
    }

    /// Requests sent by the status of their answer, ascending; status `0`
    /// counts those that got no answer (connection reset, timeout).
    pub fn answers_by_status(&self) -> Vec<(u16, u64)> {
        let by_status = self
            .inner
            .metrics
            .by_status
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        by_status.iter().map(|(s, n)| (*s, *n)).collect()
    }

    /// Each key's use of its budgets, named by its label.
    pub fn quota_status(&self) -> Vec<KeyQuotaStatus> {
        self.inner.governor.status()
    }

    /// The governor's memory, for a store to persist.
    pub fn quota_ledger(&self) -> QuotaLedger {
        self.inner.governor.snapshot()
    }

    /// Takes back a persisted ledger (keys matched by their labels).
    pub fn restore_quota_ledger(&self, ledger: &QuotaLedger) {
        self.inner.governor.restore(ledger);
    }

    /// The absolute URL of `segments` under the API root, each segment
    /// percent-encoded (so an id cannot add path levels).
    pub(crate) fn endpoint<S: AsRef<str>>(&self, segments: &[S]) -> String {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            for segment in segments {
                path.push(segment.as_ref());
            }
        }
        url.into()
    }

    /// A caller-given path (`/files/x/comments`) under the API root, or an
    /// absolute URL used as it is (how `links.next` and upload URLs work).
    pub(crate) fn resolve(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_owned();
        }
        let base = self.inner.base.as_str().trim_end_matches('/');
        format!("{base}/{}", path.trim_start_matches('/'))
    }

    /// Sends `call` and parses the whole answer as `T`.
    pub(crate) async fn fetch<T: DeserializeOwned>(&self, call: Call) -> Result<T, Error> {
        match execute(&self.inner, &call, Want::Parsed(parse_whole::<T>)).await? {
            Got::Parsed(value) => Ok(value),
            Got::Stream(_) => Err(Error::InvalidConfig(
                "internal: wanted a parsed body".into(),
            )),
        }
    }

    /// Sends `call` and parses the answer's `data`.
    pub(crate) async fn fetch_data<T: DeserializeOwned>(&self, call: Call) -> Result<T, Error> {
        match execute(&self.inner, &call, Want::Parsed(parse_data::<T>)).await? {
            Got::Parsed(value) => Ok(value),
            Got::Stream(_) => Err(Error::InvalidConfig(
                "internal: wanted a parsed body".into(),
            )),
        }
    }

    /// Sends `call` and reads the answer as UTF-8 text (an HTML page).
    pub(crate) async fn fetch_text(&self, call: Call) -> Result<String, Error> {
        match execute(&self.inner, &call, Want::Parsed(parse_text)).await? {
            Got::Parsed(value) => Ok(value),
            Got::Stream(_) => Err(Error::InvalidConfig(
                "internal: wanted a parsed body".into(),
            )),
        }
    }

    /// Sends `call` and hands back the response with its body unread.
    pub(crate) async fn fetch_stream(&self, call: Call) -> Result<reqwest::Response, Error> {
        match execute::<()>(&self.inner, &call, Want::Stream).await? {
            Got::Stream(response) => Ok(response),
            Got::Parsed(()) => Err(Error::InvalidConfig("internal: wanted a stream".into())),
        }
    }

    /// `GET path` with query parameters, the whole answer as JSON.
    pub async fn get_json(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<serde_json::Value, Error> {
        self.fetch(Call::get(self.resolve(path), owned(query)))
            .await
    }

    /// `POST path` with a JSON body, the whole answer as JSON.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        self.fetch(Call::post(self.resolve(path), Payload::Json(body.clone())))
            .await
    }

    /// `GET path`, its `data` as an object with raw attributes.
    pub async fn get_object(&self, path: &str) -> Result<Object, Error> {
        self.fetch_data(Call::get(self.resolve(path), Vec::new()))
            .await
    }

    /// `GET /files/{hash}`: md5, sha1 or sha256.
    pub async fn file(&self, hash: &FileHash) -> Result<Object<FileAttributes>, Error> {
        self.fetch_data(Call::get(
            self.endpoint(&["files", hash.as_str()]),
            Vec::new(),
        ))
        .await
    }

    /// `GET /urls/{id}`, with the unpadded base64url id so the server
    /// canonicalises the URL as it does for its own ids.
    pub async fn url(&self, url: &ioc::Url) -> Result<Object<UrlAttributes>, Error> {
        self.fetch_data(Call::get(self.endpoint(&["urls", &url.id()]), Vec::new()))
            .await
    }

    /// `GET /domains/{domain}`.
    pub async fn domain(&self, domain: &Domain) -> Result<Object<DomainAttributes>, Error> {
        self.fetch_data(Call::get(
            self.endpoint(&["domains", domain.as_str()]),
            Vec::new(),
        ))
        .await
    }

    /// `GET /ip_addresses/{ip}`.
    pub async fn ip_address(&self, ip: IpAddr) -> Result<Object<IpAddressAttributes>, Error> {
        self.fetch_data(Call::get(
            self.endpoint(&["ip_addresses", &ip.to_string()]),
            Vec::new(),
        ))
        .await
    }

    /// The report on any indicator: read once from the answer's bytes into
    /// typed attributes, its JSON kept as it came (see [`Report`]).
    pub async fn lookup(&self, indicator: &Indicator) -> Result<Report, Error> {
        let url = self.endpoint(&object_segments(indicator));
        match execute(
            &self.inner,
            &Call::get(url, Vec::new()),
            Want::Parsed(parse_report),
        )
        .await?
        {
            Got::Parsed(report) => Ok(report),
            Got::Stream(_) => Err(Error::InvalidConfig(
                "internal: wanted a parsed body".into(),
            )),
        }
    }

    /// Like [`Client::lookup`], with the first page of descriptors of each
    /// named relationship embedded (`?relationships=a,b`): one call for a
    /// report and what it relates to. Names the API does not know for the
    /// object, or a public key may not read, come back absent, not failed.
    pub async fn lookup_with(
        &self,
        indicator: &Indicator,
        relationships: &[&str],
    ) -> Result<Report, Error> {
        let url = self.endpoint(&object_segments(indicator));
        let query = if relationships.is_empty() {
            Vec::new()
        } else {
            vec![("relationships".to_owned(), relationships.join(","))]
        };
        match execute(
            &self.inner,
            &Call::get(url, query),
            Want::Parsed(parse_report),
        )
        .await?
        {
            Got::Parsed(report) => Ok(report),
            Got::Stream(_) => Err(Error::InvalidConfig(
                "internal: wanted a parsed body".into(),
            )),
        }
    }

    /// `GET /analyses/{id}`.
    pub async fn analysis(&self, id: &AnalysisId) -> Result<AnalysisReport, Error> {
        self.fetch(Call::get(
            self.endpoint(&["analyses", id.as_str()]),
            Vec::new(),
        ))
        .await
    }

    /// Polls `GET /analyses/{id}` every `interval` until the analysis is
    /// `completed` or `max_wait` has passed; returns the last report, so
    /// check its status. Every poll is an API call under the quota.
    pub async fn wait_for_analysis(
        &self,
        id: &AnalysisId,
        interval: Duration,
        max_wait: Duration,
    ) -> Result<AnalysisReport, Error> {
        self.wait_for_analysis_observed(id, interval, max_wait, |_| {})
            .await
    }

    /// Like [`Client::wait_for_analysis`], showing `observe` every report
    /// polled (for a display of queued → in-progress → completed).
    pub async fn wait_for_analysis_observed(
        &self,
        id: &AnalysisId,
        interval: Duration,
        max_wait: Duration,
        observe: impl Fn(&AnalysisReport),
    ) -> Result<AnalysisReport, Error> {
        poll_until(
            interval,
            max_wait,
            || self.analysis(id),
            |report| {
                observe(report);
                is_completed(report)
            },
        )
        .await
    }

    /// `POST /urls`: queues a scan of `url`.
    pub async fn submit_url(&self, url: &ioc::Url) -> Result<AnalysisDescriptor, Error> {
        let form = vec![("url".to_owned(), url.as_str().to_owned())];
        self.fetch_data(Call::post(self.endpoint(&["urls"]), Payload::Form(form)))
            .await
    }

    /// `POST /files` (or, above 32 MB, `GET /files/upload_url` then a POST
    /// there), the file streamed from disk. Files over 650 MB are refused
    /// before anything is sent.
    pub async fn upload_file(&self, path: impl AsRef<Path>) -> Result<AnalysisDescriptor, Error> {
        let source = UploadSource::inspect(path.as_ref()).await?;
        self.upload(source, &["files"]).await
    }

    /// Uploads to `collection` (`files` or `private/files`), through an
    /// upload URL when the file is too large for a direct POST.
    pub(crate) async fn upload(
        &self,
        source: UploadSource,
        collection: &[&str],
    ) -> Result<AnalysisDescriptor, Error> {
        let target = if source.size() > DIRECT_UPLOAD_LIMIT {
            let mut segments = collection.to_vec();
            segments.push("upload_url");
            self.upload_url_at(&segments).await?
        } else {
            self.endpoint(collection)
        };
        tracing::info!(size = source.size(), "uploading a file to virustotal");
        self.fetch_data(Call::post(target, Payload::Upload(source)))
            .await
    }

    /// `GET /files/upload_url`: a single-use URL for a file over 32 MB.
    pub async fn upload_url(&self) -> Result<String, Error> {
        self.upload_url_at(&["files", "upload_url"]).await
    }

    /// `GET /private/files/upload_url`: the same for private scanning.
    pub async fn private_upload_url(&self) -> Result<String, Error> {
        self.upload_url_at(&["private", "files", "upload_url"])
            .await
    }

    async fn upload_url_at(&self, segments: &[&str]) -> Result<String, Error> {
        let raw: String = self
            .fetch_data(Call::get(self.endpoint(segments), Vec::new()))
            .await?;
        match url::Url::parse(&raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(raw),
            _ => Err(Error::Decode {
                request: format!("GET /{}", segments.join("/")),
                reason: "the upload URL is not an absolute http(s) URL".into(),
                excerpt: crate::error::excerpt(raw.as_bytes()),
                truncated: false,
            }),
        }
    }

    /// `POST /files/{hash}/analyse`: asks for a fresh scan.
    pub async fn rescan_file(&self, hash: &FileHash) -> Result<AnalysisDescriptor, Error> {
        let url = self.endpoint(&["files", hash.as_str(), "analyse"]);
        self.fetch_data(Call::post(url, Payload::Empty)).await
    }

    /// `POST /urls/{id}/analyse`.
    pub async fn rescan_url(&self, url: &ioc::Url) -> Result<AnalysisDescriptor, Error> {
        let endpoint = self.endpoint(&["urls", &url.id(), "analyse"]);
        self.fetch_data(Call::post(endpoint, Payload::Empty)).await
    }
}

/// Collection and id of an indicator's object, as path segments.
pub(crate) fn object_segments(indicator: &Indicator) -> [String; 2] {
    match indicator {
        Indicator::File(hash) => ["files".into(), hash.as_str().to_owned()],
        Indicator::Url(url) => ["urls".into(), url.id()],
        Indicator::Domain(domain) => ["domains".into(), domain.as_str().to_owned()],
        Indicator::Ip(ip) => ["ip_addresses".into(), ip.to_string()],
    }
}

pub(crate) fn owned(query: &[(&str, &str)]) -> Vec<(String, String)> {
    query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn parse_whole<T: DeserializeOwned>(body: &[u8]) -> serde_json::Result<T> {
    serde_json::from_slice(body)
}

fn parse_report(body: &[u8]) -> serde_json::Result<Report> {
    Report::from_body(body).map_err(|e| match e {
        vt_model::ReportError::Json(e) => e,
        other => serde::de::Error::custom(other),
    })
}

/// Whether an analysis report says `completed`.
pub(crate) fn is_completed(report: &AnalysisReport) -> bool {
    report.data.attributes.as_ref().and_then(|a| a.status) == Some(AnalysisStatus::Completed)
}

fn parse_text(body: &[u8]) -> serde_json::Result<String> {
    String::from_utf8(body.to_vec()).map_err(serde::de::Error::custom)
}

fn parse_data<T: DeserializeOwned>(body: &[u8]) -> serde_json::Result<T> {
    serde_json::from_slice::<DataEnvelope<T>>(body).map(|envelope| envelope.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Client {
        Client::builder()
            .api_key(ApiKey::new("k".repeat(64)).expect("key"))
            .base_url(base)
            .build()
            .expect("client")
    }

    #[test]
    fn endpoints_encode_ids_so_they_cannot_add_path_levels() {
        let c = client("http://127.0.0.1:9/");
        assert_eq!(
            c.endpoint(&["analyses", "a/b+c=="]),
            "http://127.0.0.1:9/api/v3/analyses/a%2Fb+c=="
        );
        assert_eq!(
            c.resolve("/files/x/comments"),
            "http://127.0.0.1:9/api/v3/files/x/comments"
        );
        assert_eq!(
            c.resolve("https://elsewhere.test/u"),
            "https://elsewhere.test/u"
        );
    }

    #[test]
    fn indicators_map_to_their_object_paths() {
        let c = client("http://127.0.0.1:9");
        let cases = [
            ("8.8.8.8", "http://127.0.0.1:9/api/v3/ip_addresses/8.8.8.8"),
            (
                "example.com",
                "http://127.0.0.1:9/api/v3/domains/example.com",
            ),
            (
                "http://www.virustotal.com",
                "http://127.0.0.1:9/api/v3/urls/aHR0cDovL3d3dy52aXJ1c3RvdGFsLmNvbS8",
            ),
            (
                "44d88612fea8a8f36de82e1278abb02f",
                "http://127.0.0.1:9/api/v3/files/44d88612fea8a8f36de82e1278abb02f",
            ),
        ];
        for (input, want) in cases {
            let indicator = Indicator::parse(input).expect(input);
            assert_eq!(c.endpoint(&object_segments(&indicator)), want, "{input}");
        }
    }

    #[test]
    fn client_debug_shows_no_key() {
        let c = client("http://127.0.0.1:9");
        let shown = format!("{c:?}");
        assert!(!shown.contains(&"k".repeat(8)), "{shown}");
    }
}
