//! The rest of API v3: downloads, relationships, search, comments, votes,
//! the VT Augment widget, private scanning and a user's quotas.

use crate::client::{is_completed, object_segments, AnalysisReport};
use crate::ids::{AnalysisDescriptor, AnalysisId, Descriptor};
use crate::retry::{poll_until, Call, Payload};
use crate::upload::UploadSource;
use crate::{Client, Error};
use futures_util::{Stream, StreamExt};
use ioc::{FileHash, Indicator, Sha256};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::fmt;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use vt_model::{JsonMap, Object};

/// A user's verdict on an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoteVerdict {
    Harmless,
    Malicious,
}

impl VoteVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            VoteVerdict::Harmless => "harmless",
            VoteVerdict::Malicious => "malicious",
        }
    }
}

/// Colours of the widget, hex without `#` (the API's `fg1`, `bg1`, `bg2`, `bd1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WidgetTheme {
    pub fg1: Option<String>,
    pub bg1: Option<String>,
    pub bg2: Option<String>,
    pub bd1: Option<String>,
}

/// `data` of `GET /widget/url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WidgetUrl {
    /// The page to show in an iframe, valid for three days.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_ratio: Option<DetectionRatio>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<bool>,
    #[serde(flatten)]
    pub other: JsonMap,
}

/// `detection_ratio` of a widget URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectionRatio {
    pub detections: u32,
    pub total: u32,
}

impl WidgetUrl {
    /// The token at the end of the widget URL, for [`Client::widget_html`].
    pub fn token(&self) -> Option<WidgetToken> {
        let parsed = url::Url::parse(&self.url).ok()?;
        let last = parsed.path_segments()?.rfind(|s| !s.is_empty())?;
        WidgetToken::parse(last)
    }
}

/// The token of a widget page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WidgetToken(String);

impl WidgetToken {
    /// Letters, digits, `-`, `_`, `=` and `.` only: it goes into a path.
    pub fn parse(s: &str) -> Option<WidgetToken> {
        let ok = !s.is_empty()
            && s.len() <= 1024
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | '.'));
        ok.then(|| WidgetToken(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WidgetToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user, as `/users/{id}` names one: a user id, or an API key (then it
/// is scrubbed from every message like any key).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    pub fn parse(s: &str) -> Option<UserId> {
        let ok = !s.is_empty() && s.len() <= 256 && s.chars().all(|c| c.is_ascii_graphic());
        ok.then(|| UserId(s.to_owned()))
    }

    /// The user a key belongs to, named by the key itself.
    pub fn of_key(key: &crate::ApiKey) -> UserId {
        UserId(key.expose_secret().to_owned())
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // It may be a key: show none of it, not even a prefix.
        write!(f, "UserId([redacted], {} chars)", self.0.chars().count())
    }
}

/// Options of a private scan (upload or rescan).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivateScanOptions {
    /// Password of an encrypted ZIP.
    pub password: Option<String>,
    pub command_line: Option<String>,
    pub disable_sandbox: Option<bool>,
    pub enable_internet: Option<bool>,
    pub intercept_tls: Option<bool>,
    /// 1 to 28 days.
    pub retention_period_days: Option<u32>,
}

impl PrivateScanOptions {
    fn fields(&self) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        let mut put = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                fields.push((name.to_owned(), value));
            }
        };
        put("password", self.password.clone());
        put("command_line", self.command_line.clone());
        put(
            "disable_sandbox",
            self.disable_sandbox.map(|b| b.to_string()),
        );
        put(
            "enable_internet",
            self.enable_internet.map(|b| b.to_string()),
        );
        put("intercept_tls", self.intercept_tls.map(|b| b.to_string()));
        put(
            "retention_period_days",
            self.retention_period_days.map(|d| d.to_string()),
        );
        fields
    }
}

impl Client {
    /// `GET /files/{hash}/download`, the bytes streamed into `out` (never
    /// held whole in memory); returns how many were written. A redirect to
    /// another host is followed without the API key.
    pub async fn download<W>(&self, hash: &FileHash, out: &mut W) -> Result<u64, Error>
    where
        W: AsyncWrite + Unpin,
    {
        let url = self.endpoint(&["files", hash.as_str(), "download"]);
        let mut response = self
            .fetch_stream(Call::get(url.clone(), Vec::new()))
            .await?;
        for _ in 0..5 {
            if !response.status().is_redirection() {
                break;
            }
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url::Url::parse(response.url().as_str()).ok()?.join(l).ok())
                .ok_or_else(|| redirect_error("a redirect without a usable Location"))?;
            response = if self.same_origin(&location) {
                self.fetch_stream(Call::get(location.into(), Vec::new()))
                    .await?
            } else {
                self.fetch_foreign(location).await?
            };
        }
        if !response.status().is_success() {
            return Err(redirect_error("too many redirects"));
        }
        let mut written = 0u64;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Error::Decode {
                request: format!("GET /files/{hash}/download"),
                reason: format!("the download was cut short after {written} bytes: {e}"),
                excerpt: String::new(),
                truncated: true,
            })?;
            out.write_all(&chunk)
                .await
                .map_err(|source| Error::Write { source })?;
            written += chunk.len() as u64;
        }
        out.flush()
            .await
            .map_err(|source| Error::Write { source })?;
        Ok(written)
    }

    /// `GET /files/{hash}/download_url`: a signed URL, valid for an hour.
    pub async fn download_url(&self, hash: &FileHash) -> Result<String, Error> {
        let url = self.endpoint(&["files", hash.as_str(), "download_url"]);
        self.fetch_data(Call::get(url, Vec::new())).await
    }

    /// `GET /{collection}/{id}/{relationship}`: the related objects, page
    /// after page.
    pub fn relationship(
        &self,
        object: &Indicator,
        relationship: &str,
        page_size: u32,
    ) -> impl Stream<Item = Result<Object, Error>> + Send + 'static {
        let [collection, id] = object_segments(object);
        let url = self.endpoint(&[collection.as_str(), id.as_str(), relationship]);
        self.collection(&url, &[], page_size)
    }

    /// `GET /{collection}/{id}/relationships/{relationship}`: descriptors only.
    pub fn relationship_descriptors(
        &self,
        object: &Indicator,
        relationship: &str,
        page_size: u32,
    ) -> impl Stream<Item = Result<Descriptor, Error>> + Send + 'static {
        let [collection, id] = object_segments(object);
        let url = self.endpoint(&[
            collection.as_str(),
            id.as_str(),
            "relationships",
            relationship,
        ]);
        self.collection(&url, &[], page_size)
    }

    /// `GET /search?query=...`: files, URLs, domains, IPs or comments.
    pub fn search(
        &self,
        query: &str,
        page_size: u32,
    ) -> impl Stream<Item = Result<Object, Error>> + Send + 'static {
        self.collection("/search", &[("query", query)], page_size)
    }

    /// `GET /intelligence/search` (premium): `order` such as
    /// `last_submission_date-`; with `descriptors_only` the objects come
    /// without attributes.
    pub fn intelligence_search(
        &self,
        query: &str,
        order: Option<&str>,
        descriptors_only: bool,
        page_size: u32,
    ) -> impl Stream<Item = Result<Object, Error>> + Send + 'static {
        let mut params = vec![("query", query)];
        if let Some(order) = order {
            params.push(("order", order));
        }
        if descriptors_only {
            params.push(("descriptors_only", "true"));
        }
        self.collection("/intelligence/search", &params, page_size)
    }

    /// `GET /{collection}/{id}/comments`.
    pub fn comments(
        &self,
        object: &Indicator,
        page_size: u32,
    ) -> impl Stream<Item = Result<Object, Error>> + Send + 'static {
        self.relationship(object, "comments", page_size)
    }

    /// `POST /{collection}/{id}/comments`; words starting with `#` become tags.
    pub async fn add_comment(&self, object: &Indicator, text: &str) -> Result<Object, Error> {
        let [collection, id] = object_segments(object);
        let url = self.endpoint(&[collection.as_str(), id.as_str(), "comments"]);
        let body = json!({"data": {"type": "comment", "attributes": {"text": text}}});
        self.fetch_data(Call::post(url, Payload::Json(body))).await
    }

    /// `GET /{collection}/{id}/votes`.
    pub fn votes(
        &self,
        object: &Indicator,
        page_size: u32,
    ) -> impl Stream<Item = Result<Object, Error>> + Send + 'static {
        self.relationship(object, "votes", page_size)
    }

    /// `POST /{collection}/{id}/votes`; a second vote is 409 AlreadyExistsError.
    pub async fn add_vote(
        &self,
        object: &Indicator,
        verdict: VoteVerdict,
    ) -> Result<Object, Error> {
        let [collection, id] = object_segments(object);
        let url = self.endpoint(&[collection.as_str(), id.as_str(), "votes"]);
        let body = json!({"data": {"type": "vote", "attributes": {"verdict": verdict.as_str()}}});
        self.fetch_data(Call::post(url, Payload::Json(body))).await
    }

    /// `GET /widget/url?query=...`: an embeddable report page for `object`.
    pub async fn widget_url(
        &self,
        object: &Indicator,
        theme: Option<&WidgetTheme>,
    ) -> Result<WidgetUrl, Error> {
        let mut query = vec![("query".to_owned(), object.to_string())];
        if let Some(theme) = theme {
            for (name, value) in [
                ("fg1", &theme.fg1),
                ("bg1", &theme.bg1),
                ("bg2", &theme.bg2),
                ("bd1", &theme.bd1),
            ] {
                if let Some(value) = value {
                    query.push((name.to_owned(), value.trim_start_matches('#').to_owned()));
                }
            }
        }
        self.fetch_data(Call::get(self.endpoint(&["widget", "url"]), query))
            .await
    }

    /// `GET /widget/html/{token}`: the widget page itself (HTML, to be
    /// treated as untrusted).
    pub async fn widget_html(&self, token: &WidgetToken) -> Result<String, Error> {
        let url = self.endpoint(&["widget", "html", token.as_str()]);
        self.fetch_text(Call::get(url, Vec::new())).await
    }

    /// `POST /private/files` (through `/private/files/upload_url` above
    /// 32 MB): a private scan of a local file.
    pub async fn private_upload_file(
        &self,
        path: impl AsRef<Path>,
        options: &PrivateScanOptions,
    ) -> Result<AnalysisDescriptor, Error> {
        let mut source = UploadSource::inspect(path.as_ref()).await?;
        for (name, value) in options.fields() {
            source = source.with_field(&name, value);
        }
        self.upload(source, &["private", "files"]).await
    }

    /// `POST /private/urls`.
    pub async fn private_submit_url(&self, url: &ioc::Url) -> Result<AnalysisDescriptor, Error> {
        let form = vec![("url".to_owned(), url.as_str().to_owned())];
        self.fetch_data(Call::post(
            self.endpoint(&["private", "urls"]),
            Payload::Form(form),
        ))
        .await
    }

    /// `GET /private/files/{sha256}`.
    pub async fn private_file(&self, sha256: &Sha256) -> Result<Object, Error> {
        let url = self.endpoint(&["private", "files", sha256.as_str()]);
        self.fetch_data(Call::get(url, Vec::new())).await
    }

    /// `GET /private/files/{sha256}/{relationship}`: objects related to a
    /// privately scanned file (this key's own; another key's is not found),
    /// page after page.
    pub fn private_relationship(
        &self,
        sha256: &Sha256,
        relationship: &str,
        page_size: u32,
    ) -> impl Stream<Item = Result<Object, Error>> + Send + 'static {
        let url = self.endpoint(&["private", "files", sha256.as_str(), relationship]);
        self.collection(&url, &[], page_size)
    }

    /// `GET /private/files/{sha256}/relationships/{relationship}`: descriptors only.
    pub fn private_relationship_descriptors(
        &self,
        sha256: &Sha256,
        relationship: &str,
        page_size: u32,
    ) -> impl Stream<Item = Result<Descriptor, Error>> + Send + 'static {
        let url = self.endpoint(&[
            "private",
            "files",
            sha256.as_str(),
            "relationships",
            relationship,
        ]);
        self.collection(&url, &[], page_size)
    }

    /// `GET /private/urls/{id}`: the `private_url` report of a URL this key
    /// submitted with [`Client::private_submit_url`].
    pub async fn private_url(&self, url: &ioc::Url) -> Result<Object, Error> {
        let endpoint = self.endpoint(&["private", "urls", url.id().as_str()]);
        self.fetch_data(Call::get(endpoint, Vec::new())).await
    }

    /// `GET /private/files`, ordered by sha256 (page size at most 40).
    pub fn private_files(
        &self,
        page_size: u32,
    ) -> impl Stream<Item = Result<Object, Error>> + Send + 'static {
        self.collection("/private/files", &[], page_size.min(40))
    }

    /// `DELETE /private/files/{sha256}`; with `only_from_storage` the
    /// reports stay and only the sample goes.
    pub async fn delete_private_file(
        &self,
        sha256: &Sha256,
        only_from_storage: bool,
    ) -> Result<(), Error> {
        let url = self.endpoint(&["private", "files", sha256.as_str()]);
        let query = if only_from_storage {
            vec![("only_from_storage".to_owned(), "true".to_owned())]
        } else {
            Vec::new()
        };
        self.fetch_stream(Call::delete(url, query)).await.map(drop)
    }

    /// `POST /private/files/{sha256}/analyse`.
    pub async fn private_rescan(
        &self,
        sha256: &Sha256,
        options: &PrivateScanOptions,
    ) -> Result<AnalysisDescriptor, Error> {
        let url = self.endpoint(&["private", "files", sha256.as_str(), "analyse"]);
        let mut call = Call::post(url, Payload::Empty);
        call.query = options.fields();
        self.fetch_data(call).await
    }

    /// `GET /private/analyses/{id}`.
    pub async fn private_analysis(&self, id: &AnalysisId) -> Result<AnalysisReport, Error> {
        let url = self.endpoint(&["private", "analyses", id.as_str()]);
        self.fetch(Call::get(url, Vec::new())).await
    }

    /// Polls `GET /private/analyses/{id}` until `completed` or `max_wait`
    /// has passed; returns the last report.
    pub async fn wait_for_private_analysis(
        &self,
        id: &AnalysisId,
        interval: Duration,
        max_wait: Duration,
    ) -> Result<AnalysisReport, Error> {
        self.wait_for_private_analysis_observed(id, interval, max_wait, |_| {})
            .await
    }

    /// Like [`Client::wait_for_private_analysis`], showing `observe` every
    /// report polled.
    pub async fn wait_for_private_analysis_observed(
        &self,
        id: &AnalysisId,
        interval: Duration,
        max_wait: Duration,
        observe: impl Fn(&AnalysisReport),
    ) -> Result<AnalysisReport, Error> {
        poll_until(
            interval,
            max_wait,
            || self.private_analysis(id),
            |report| {
                observe(report);
                is_completed(report)
            },
        )
        .await
    }

    /// `GET /users/{id}/overall_quotas`: allowance and use per quota name
    /// (`api_requests_daily`, ...), as sent.
    pub async fn overall_quotas(&self, user: &UserId) -> Result<JsonMap, Error> {
        let url = self.endpoint(&["users", user.0.as_str(), "overall_quotas"]);
        self.fetch_data(Call::get(url, Vec::new()).with_key(self.key_of(user)))
            .await
    }

    /// `GET /users/{id}/api_usage` between two days (at most 30 apart):
    /// `daily` counters per endpoint family, and their `total`.
    pub async fn api_usage(
        &self,
        user: &UserId,
        start: time::Date,
        end: time::Date,
    ) -> Result<JsonMap, Error> {
        let day =
            |d: time::Date| format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day());
        let url = self.endpoint(&["users", user.0.as_str(), "api_usage"]);
        let query = vec![
            ("start_date".to_owned(), day(start)),
            ("end_date".to_owned(), day(end)),
        ];
        self.fetch_data(Call::get(url, query).with_key(self.key_of(user)))
            .await
    }

    /// The configured key a user id names, if it is one: a user's own
    /// routes answer only that key (another key of the pool gets 404).
    fn key_of(&self, user: &UserId) -> Option<usize> {
        self.inner
            .keys
            .iter()
            .position(|k| k.expose_secret() == user.0)
    }

    fn same_origin(&self, url: &url::Url) -> bool {
        url.origin() == self.inner.base.origin()
    }

    /// A GET to a host that is not the API (a signed download URL): no key,
    /// no quota, no retry.
    async fn fetch_foreign(&self, url: url::Url) -> Result<reqwest::Response, Error> {
        let host = url.host_str().unwrap_or("the download host").to_owned();
        let response = self
            .inner
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| Error::Network {
                message: format!("download from {host} failed: {e}"),
                source: e.without_url(),
            })?;
        let status = response.status();
        if status.is_success() || status.is_redirection() {
            Ok(response)
        } else {
            Err(Error::Api {
                status: status.as_u16(),
                code: crate::ApiCode::Unknown("ServerError".into()),
                message: format!("download from {host} answered {status}"),
            })
        }
    }
}

fn redirect_error(reason: &str) -> Error {
    Error::Decode {
        request: "GET download".into(),
        reason: reason.to_owned(),
        excerpt: String::new(),
        truncated: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widget_token_is_the_last_path_segment() {
        let w = WidgetUrl {
            url: "https://www.virustotal.com/ui/widget/html/abc-DEF_123=".into(),
            detection_ratio: None,
            found: None,
            other: JsonMap::new(),
        };
        assert_eq!(
            w.token().map(|t| t.to_string()).as_deref(),
            Some("abc-DEF_123=")
        );
        assert!(WidgetToken::parse("../etc").is_none());
        assert!(WidgetToken::parse("a/b").is_none());
    }

    #[test]
    fn user_id_debug_shows_no_part_of_it() {
        let key = crate::ApiKey::new("d".repeat(64)).expect("key");
        let shown = format!("{:?}", UserId::of_key(&key));
        assert!(!shown.contains("dd"), "{shown}");
    }

    #[test]
    fn private_scan_options_become_form_fields() {
        let options = PrivateScanOptions {
            password: Some("infected".into()),
            disable_sandbox: Some(true),
            retention_period_days: Some(7),
            ..PrivateScanOptions::default()
        };
        assert_eq!(
            options.fields(),
            [
                ("password".to_owned(), "infected".to_owned()),
                ("disable_sandbox".to_owned(), "true".to_owned()),
                ("retention_period_days".to_owned(), "7".to_owned()),
            ]
        );
    }
}
