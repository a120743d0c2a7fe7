//! Building a [`Client`]: keys and their budgets, where the API is, how to
//! reach it, how patient to be.

use crate::client::{Client, Inner, Metrics};
use crate::quota::{Clock, Governor, QuotaBudget, SpendLog, SystemClock};
use crate::{ApiKey, Error, RetryPolicy};
use reqwest::header::HeaderValue;
use std::sync::Arc;
use std::time::Duration;

/// Where the real API lives.
pub const DEFAULT_BASE_URL: &str = "https://www.virustotal.com/api/v3";

/// Builds a [`Client`], octocrab style:
///
/// ```no_run
/// # async fn demo() -> Result<(), vt_api::Error> {
/// use vt_api::{ApiKey, Client, QuotaBudget};
/// let client = Client::builder()
///     .api_key(ApiKey::new("0123...")?)
///     .base_url("http://127.0.0.1:8080") // a bare host means /api/v3 under it
///     .quota_budget(QuotaBudget::PUBLIC)
///     .build()?;
/// # Ok(()) }
/// ```
pub struct ClientBuilder {
    keys: Vec<(ApiKey, Option<QuotaBudget>)>,
    /// Per key (same order), the windows learnt from the API.
    learn: Vec<crate::LearnBudget>,
    default_budget: QuotaBudget,
    base_url: String,
    proxy: Option<String>,
    accept_invalid_certs: bool,
    connect_timeout: Duration,
    request_timeout: Duration,
    user_agent: String,
    retry: RetryPolicy,
    quota_window: Duration,
    clock: Arc<dyn Clock>,
    spend_log: Option<Arc<dyn SpendLog>>,
    shared_budget: Option<Arc<dyn crate::SharedBudget>>,
    quota_observer: Option<Arc<dyn crate::QuotaObserver>>,
    bulk_reserve_percent: u8,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("keys", &self.keys)
            .field("base_url", &self.base_url)
            .field("proxy", &self.proxy.as_deref().map(without_credentials))
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            keys: Vec::new(),
            learn: Vec::new(),
            default_budget: QuotaBudget::PUBLIC,
            base_url: DEFAULT_BASE_URL.into(),
            proxy: None,
            accept_invalid_certs: false,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(300),
            user_agent: format!("vtc/{}", env!("CARGO_PKG_VERSION")),
            retry: RetryPolicy::default(),
            quota_window: Duration::from_secs(60),
            clock: Arc::new(SystemClock),
            spend_log: None,
            shared_budget: None,
            quota_observer: None,
            bulk_reserve_percent: 0,
        }
    }
}

impl ClientBuilder {
    pub fn new() -> Self {
        ClientBuilder::default()
    }

    /// Adds a key with the default budget (see [`ClientBuilder::quota_budget`]).
    /// Several keys form a pool whose budgets add up.
    pub fn api_key(mut self, key: ApiKey) -> Self {
        self.keys.push((key, None));
        self.learn.push(crate::LearnBudget::default());
        self
    }

    /// Adds a key with its own budget.
    pub fn api_key_with_budget(mut self, key: ApiKey, budget: QuotaBudget) -> Self {
        self.keys.push((key, Some(budget)));
        self.learn.push(crate::LearnBudget::default());
        self
    }

    /// Adds a key whose `learn` windows come from the API: before its first
    /// request the client reads `GET /users/{key}/overall_quotas` once (one
    /// call under the key's budget) and takes the allowances as the key's
    /// budget. Until then, and if that call fails, `budget` holds.
    pub fn api_key_learning_budget(
        mut self,
        key: ApiKey,
        budget: QuotaBudget,
        learn: crate::LearnBudget,
    ) -> Self {
        self.keys.push((key, Some(budget)));
        self.learn.push(learn);
        self
    }

    /// The budget of keys added without one; the public API's 4/minute,
    /// 500/day unless set.
    pub fn quota_budget(mut self, budget: QuotaBudget) -> Self {
        self.default_budget = budget;
        self
    }

    /// The API's base URL. A bare host (`http://127.0.0.1:8080`) means
    /// `/api/v3` under it, as on the real host.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// An HTTP(S) proxy for every request. Without one, no proxy is used
    /// (environment variables are the caller's business).
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Turns TLS certificate verification off. Dangerous: anyone on the
    /// path can read the API key. Logged as a warning when the client is
    /// built.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.accept_invalid_certs = accept;
        self
    }

    /// How long to wait for a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one attempt may take, body included (default 300 s, enough
    /// for a large upload).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Replaces the default `vtc/<version>` User-Agent.
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }

    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The length of the sliding "minute" window (default 60 s). Only tests
    /// against a server with a shorter window should change it.
    pub fn quota_window(mut self, window: Duration) -> Self {
        self.quota_window = window;
        self
    }

    /// A budget shared with other processes (see [`crate::SharedBudget`]):
    /// every request also reserves a unit there, so several instances on
    /// one key never together exceed its budget.
    pub fn shared_budget(mut self, budget: Arc<dyn crate::SharedBudget>) -> Self {
        self.shared_budget = Some(budget);
        self
    }

    /// Where the quota governor reads the time (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where every request sent is reported (see [`SpendLog`]); with
    /// [`Client::restore_quota_ledger`] it lets a budget span processes.
    pub fn spend_log(mut self, log: Arc<dyn SpendLog>) -> Self {
        self.spend_log = Some(log);
        self
    }

    /// Keeps `percent` (0 to 100, default 0) of every key's daily and
    /// monthly budget for interactive requests: work sent under
    /// [`crate::Priority::Bulk`] stops short of it.
    pub fn bulk_reserve_percent(mut self, percent: u8) -> Self {
        self.bulk_reserve_percent = percent;
        self
    }

    /// Who hears why requests wait (see [`crate::QuotaObserver`]).
    pub fn quota_observer(mut self, observer: Arc<dyn crate::QuotaObserver>) -> Self {
        self.quota_observer = Some(observer);
        self
    }

    /// The origin ([`Client::origin`]) the client built from this will have.
    pub fn origin(&self) -> Result<String, Error> {
        Ok(normalise_base_url(&self.base_url)?
            .origin()
            .ascii_serialization())
    }

    pub fn build(self) -> Result<Client, Error> {
        if self.keys.is_empty() {
            return Err(Error::InvalidConfig("no API key configured".into()));
        }
        if self.retry.max_attempts == 0 {
            return Err(Error::InvalidConfig(
                "the retry policy must allow at least one attempt".into(),
            ));
        }
        if self.quota_window.is_zero() {
            return Err(Error::InvalidConfig(
                "the quota window must be longer than zero".into(),
            ));
        }
        let base = normalise_base_url(&self.base_url)?;
        let mut http = reqwest::Client::builder()
            .user_agent(self.user_agent)
            // A redirect to another host would carry the x-apikey header
            // along; downloads follow redirects themselves, without the key.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout);
        let no_proxy = std::env::var("NO_PROXY")
            .or_else(|_| std::env::var("no_proxy"))
            .unwrap_or_default();
        let bypass = format!("localhost,127.0.0.1,::1,{no_proxy}");
        let mut proxied = None;
        http = match &self.proxy {
            Some(proxy) => {
                let shown = without_credentials(proxy);
                let parsed = reqwest::Proxy::all(proxy.as_str()).map_err(|_| {
                    Error::InvalidConfig(format!("the proxy {shown} is not a usable proxy URL"))
                })?;
                proxied = Some(crate::client::Proxied {
                    shown,
                    bypass: bypass
                        .split(',')
                        .map(|h| h.trim().trim_start_matches('.').to_ascii_lowercase())
                        .filter(|h| !h.is_empty())
                        .collect(),
                });
                http.proxy(parsed.no_proxy(reqwest::NoProxy::from_string(&bypass)))
            }
            None => http.no_proxy(),
        };
        if self.accept_invalid_certs {
            tracing::warn!(
                "TLS certificate verification is OFF: anyone between here and {} can read \
                 the API key and forge answers",
                base.host_str().unwrap_or("the API")
            );
            http = http.danger_accept_invalid_certs(true);
        }
        let http = http
            .build()
            .map_err(|e| Error::InvalidConfig(format!("cannot build the HTTP client: {e}")))?;
        let mut key_headers = Vec::with_capacity(self.keys.len());
        for (key, _) in &self.keys {
            let mut value = HeaderValue::from_str(key.expose_secret()).map_err(|_| {
                Error::InvalidConfig("the API key has characters a header cannot carry".into())
            })?;
            // Keeps the key out of the HTTP stack's own Debug output.
            value.set_sensitive(true);
            key_headers.push(value);
        }
        let budgets = self
            .keys
            .iter()
            .map(|(key, budget)| (key.label(), budget.unwrap_or(self.default_budget)))
            .collect();
        if self.bulk_reserve_percent > 100 {
            return Err(Error::InvalidConfig(format!(
                "the bulk reserve is a percentage (0 to 100), not {}",
                self.bulk_reserve_percent
            )));
        }
        let governor = Governor::new(budgets, self.clock.clone(), self.quota_window);
        governor.set_bulk_reserve(self.bulk_reserve_percent);
        Ok(Client::from_inner(Inner {
            http,
            base,
            keys: self.keys.into_iter().map(|(key, _)| key).collect(),
            key_headers,
            governor,
            retry: self.retry,
            metrics: Metrics::default(),
            spend_log: self.spend_log,
            shared_budget: self.shared_budget,
            quota_observer: self.quota_observer,
            clock: self.clock,
            proxy: proxied,
            learn: self.learn,
            learnt: tokio::sync::OnceCell::new(),
        }))
    }
}

/// A URL as it may be shown: user name and password removed
/// (`http://bob:hunter2@proxy:3128` -> `http://proxy:3128`). Text that is
/// not a URL is not repeated at all, since it may still hold a secret.
pub fn without_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.as_str().trim_end_matches('/').to_owned()
        }
        Err(_) => "(a proxy setting that is not a URL)".to_owned(),
    }
}

/// Parses the base URL; a bare host gets `/api/v3`; no trailing slash.
fn normalise_base_url(raw: &str) -> Result<url::Url, Error> {
    let raw = raw.trim();
    let invalid = |why: String| {
        Error::InvalidConfig(format!(
            "API URL {raw:?} {why}; give it as http(s)://HOST[:PORT][/api/v3]"
        ))
    };
    let mut url = url::Url::parse(raw).map_err(|e| invalid(format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!("has scheme {:?}", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("has no host".into()));
    }
    if url.cannot_be_a_base() {
        return Err(invalid("cannot hold a path".into()));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(if path.is_empty() { "/api/v3" } else { &path });
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_hosts_get_the_api_prefix_and_paths_are_kept() {
        let cases = [
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v3"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/api/v3"),
            (
                "https://www.virustotal.com/api/v3",
                "https://www.virustotal.com/api/v3",
            ),
            (
                "https://www.virustotal.com/api/v3/",
                "https://www.virustotal.com/api/v3",
            ),
            (
                "http://proxy.test/vt/api/v3?x=1",
                "http://proxy.test/vt/api/v3",
            ),
        ];
        for (input, want) in cases {
            let got = normalise_base_url(input).expect(input);
            assert_eq!(got.as_str(), want, "{input}");
        }
        for bad in [
            "",
            "127.0.0.1:8080",
            "ftp://x.test",
            "not a url",
            "mailto:a@b.test",
        ] {
            assert!(
                matches!(normalise_base_url(bad), Err(Error::InvalidConfig(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_origin_is_scheme_host_and_port_only() {
        let key = ApiKey::new("k".repeat(64)).expect("key");
        for (url, origin) in [
            (
                "https://www.virustotal.com/api/v3",
                "https://www.virustotal.com",
            ),
            (
                "https://www.virustotal.com:443/api/v3/",
                "https://www.virustotal.com",
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://127.0.0.1:8081/api/v3", "http://127.0.0.1:8081"),
            ("http://PROXY.test/vt/api/v3", "http://proxy.test"),
        ] {
            let builder = ClientBuilder::new().api_key(key.clone()).base_url(url);
            assert_eq!(builder.origin().expect(url), origin, "{url}");
            assert_eq!(builder.build().expect(url).origin(), origin, "{url}");
        }
    }

    #[test]
    fn a_proxy_is_shown_without_its_credentials() {
        assert_eq!(
            without_credentials("http://bob:hunter2@proxy.test:3128"),
            "http://proxy.test:3128"
        );
        assert_eq!(
            without_credentials("http://bob:hunter2 proxy"),
            "(a proxy setting that is not a URL)"
        );
        let builder = ClientBuilder::new().proxy("http://bob:hunter2@proxy.test:3128");
        let shown = format!("{builder:?}");
        assert!(
            shown.contains("proxy.test") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn building_without_a_key_or_with_a_bad_url_is_a_config_error() {
        assert!(matches!(
            ClientBuilder::new().build(),
            Err(Error::InvalidConfig(_))
        ));
        let key = ApiKey::new("k".repeat(64)).expect("key");
        assert!(matches!(
            ClientBuilder::new()
                .api_key(key.clone())
                .base_url("nope")
                .build(),
            Err(Error::InvalidConfig(_))
        ));
        let err = ClientBuilder::new()
            .api_key(key)
            .proxy("::not a proxy::")
            .build()
            .expect_err("bad proxy");
        assert!(!err.to_string().contains(&"k".repeat(64)));
    }
}
