//! The one error type of the client, and which errors are worth a retry.

use crate::quota::QuotaWindow;
use std::fmt;
use std::path::PathBuf;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use vt_model::ErrorCode;

/// The `error.code` of an API answer: one of the 16 documented codes, or
/// the string as sent when the server used another (or sent no JSON:
/// `ClientError` for a 4xx, `ServerError` for anything else, as vt-py does).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ApiCode {
    Known(ErrorCode),
    Unknown(String),
}

impl ApiCode {
    /// Maps a wire code to its typed form.
    pub fn parse(code: &str) -> ApiCode {
        ErrorCode::parse(code).map_or_else(|| ApiCode::Unknown(code.to_owned()), ApiCode::Known)
    }

    /// The code as on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            ApiCode::Known(code) => code.as_str(),
            ApiCode::Unknown(code) => code,
        }
    }

    /// The documented code, if it is one.
    pub fn known(&self) -> Option<ErrorCode> {
        match self {
            ApiCode::Known(code) => Some(*code),
            ApiCode::Unknown(_) => None,
        }
    }
}

impl fmt::Display for ApiCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong talking to VirusTotal.
///
/// No variant ever carries the API key: messages and body excerpts that
/// come from the server are scrubbed of every configured key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error status.
    #[error("virustotal answered {status} {code}: {message}")]
    Api {
        status: u16,
        code: ApiCode,
        message: String,
    },

    /// A 4xx answer without VirusTotal's JSON error envelope: the server
    /// is something else (a web server, a proxy's page), most likely a
    /// wrong `--api-url`. Not retryable.
    #[error(
        "the server at {server} is not a VirusTotal API: it answered {status} with {content_type}, not VirusTotal's JSON error (check the API URL)"
    )]
    NotTheApi {
        /// Scheme, host and port of the server, never credentials.
        server: String,
        status: u16,
        /// The answer's content type, bounded and printable.
        content_type: String,
        /// The first bytes of the body, bounded and scrubbed of keys.
        excerpt: String,
    },

    /// The request did not get an answer: connection refused or reset,
    /// DNS, TLS, timeout.
    #[error("{message}")]
    Network {
        message: String,
        #[source]
        source: reqwest::Error,
    },

    /// The answer came but is not what the API sends: malformed or cut short.
    #[error("cannot decode the answer to {request}: {reason} (body starts {excerpt:?})")]
    Decode {
        /// Method and path, e.g. `GET /files/{id}`.
        request: String,
        reason: String,
        /// The first bytes of the body, bounded and scrubbed of keys.
        excerpt: String,
        /// The body ended early (connection dropped or JSON cut off) or is
        /// not JSON at all: a transport fault, worth another attempt of an
        /// idempotent request. `false` for JSON of the wrong shape.
        truncated: bool,
    },

    /// The local quota governor refused: the daily or monthly budget of
    /// every key is spent, so waiting a minute would not help.
    #[error(
        "the {window} API quota is spent on every key; it resets at {}",
        rfc3339(resets_at)
    )]
    QuotaExhausted {
        window: QuotaWindow,
        resets_at: OffsetDateTime,
    },

    /// The quota ledger shared with other processes ([`crate::SharedBudget`])
    /// could not be asked; no request was sent (it could overspend the key).
    #[error("the shared quota ledger is unavailable: {reason}")]
    SharedQuota { reason: String },
    /// Bulk work (policy enrichment) reached the part of the daily or
    /// monthly budget kept for interactive requests on every key.
    #[error(
        "bulk work stops at the {window} reserve ({percent}% kept for interactive requests); it resets at {}",
        rfc3339(resets_at)
    )]
    BulkReserve {
        window: QuotaWindow,
        percent: u8,
        resets_at: OffsetDateTime,
    },

    /// A local file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Writing a download to its destination failed.
    #[error("cannot write the downloaded file: {source}")]
    Write {
        #[source]
        source: std::io::Error,
    },

    /// A file too large for VirusTotal to accept.
    #[error("{} is {size} bytes, more than the {limit} bytes virustotal accepts", path.display())]
    FileTooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },

    /// The client was configured with something unusable.
    #[error("invalid client configuration: {0}")]
    InvalidConfig(String),
}

impl Error {
    /// Whether sending the same request again may succeed: quota and rate
    /// answers (429), transient server trouble (503, 504, a 5xx without a
    /// JSON body), connection failures and bodies cut short. Answers that
    /// will not change (400, 401, 403, 404, 409, 424) are not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { status, code, .. } => match code {
                ApiCode::Known(ErrorCode::QuotaExceeded | ErrorCode::TooManyRequests) => true,
                ApiCode::Known(ErrorCode::Transient | ErrorCode::DeadlineExceeded) => true,
                ApiCode::Known(_) => false,
                ApiCode::Unknown(_) => *status == 429 || *status >= 500,
            },
            Error::Network { .. } | Error::SharedQuota { .. } => true,
            Error::Decode { truncated, .. } => *truncated,
            Error::QuotaExhausted { .. }
            | Error::BulkReserve { .. }
            | Error::NotTheApi { .. }
            | Error::Io { .. }
            | Error::Write { .. }
            | Error::FileTooLarge { .. }
            | Error::InvalidConfig(_) => false,
        }
    }

    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::NotTheApi { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The API error code, typed when documented.
    pub fn api_code(&self) -> Option<&ApiCode> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The documented API error code, if this is one.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.api_code().and_then(ApiCode::known)
    }

    /// True for a 404 `NotFoundError`: the object is unknown to VirusTotal.
    pub fn is_not_found(&self) -> bool {
        self.error_code() == Some(ErrorCode::NotFound)
    }

    /// True for a 429, whatever its code.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// True when the key is missing, wrong or not allowed (401, 403):
    /// every later request with the same key will fail the same way.
    pub fn is_auth_error(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// True when no connection could be made (refused, DNS, TLS): the
    /// request never reached the server.
    pub fn is_connect_error(&self) -> bool {
        matches!(self, Error::Network { source, .. } if source.is_connect())
    }

    /// A short stable name for the kind of failure, for machine output:
    /// the API's error code when there is one, else the variant.
    pub fn code_name(&self) -> &str {
        match self {
            Error::Api { code, .. } => code.as_str(),
            Error::NotTheApi { .. } => "NotTheApi",
            Error::Network { .. } => "NetworkError",
            Error::Decode { .. } => "DecodeError",
            Error::QuotaExhausted { .. } => "QuotaExhausted",
            Error::SharedQuota { .. } => "SharedQuotaUnavailable",
            Error::BulkReserve { .. } => "BulkReserve",
            Error::Io { .. } => "IoError",
            Error::Write { .. } => "WriteError",
            Error::FileTooLarge { .. } => "FileTooLarge",
            Error::InvalidConfig(_) => "InvalidConfig",
        }
    }
}

fn rfc3339(at: &OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// The first bytes of a body, for an error message: bounded so a hostile or
/// huge answer cannot flood a log, lossy so binary garbage stays printable.
pub(crate) fn excerpt(body: &[u8]) -> String {
    const MAX_BYTES: usize = 200;
    let cut = &body[..body.len().min(MAX_BYTES)];
    let mut text = printable(&String::from_utf8_lossy(cut), MAX_BYTES);
    if body.len() > MAX_BYTES {
        text.push('…');
    }
    text
}

/// Text the server chose, made safe to print: control characters (terminal
/// escapes, newlines that would forge log lines) become spaces, and at most
/// `max` characters are kept.
pub(crate) fn printable(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str) -> Error {
        Error::Api {
            status,
            code: ApiCode::parse(code),
            message: String::new(),
        }
    }

    #[test]
    fn every_documented_code_is_typed_and_classified() {
        for code in ErrorCode::ALL {
            let err = api(code.http_status(), code.as_str());
            assert_eq!(err.error_code(), Some(code));
            let want_retry = matches!(
                code,
                ErrorCode::QuotaExceeded
                    | ErrorCode::TooManyRequests
                    | ErrorCode::Transient
                    | ErrorCode::DeadlineExceeded
            );
            assert_eq!(err.is_retryable(), want_retry, "{code}");
        }
    }

    #[test]
    fn undocumented_codes_retry_only_on_server_trouble() {
        let cases = [
            (500, "ServerError", true),
            (502, "ServerError", true),
            (429, "SomethingNew", true),
            (418, "ClientError", false),
            (400, "ClientError", false),
        ];
        for (status, code, want) in cases {
            let err = api(status, code);
            assert_eq!(err.error_code(), None);
            assert_eq!(err.is_retryable(), want, "{status} {code}");
        }
    }

    #[test]
    fn excerpt_is_bounded_and_printable() {
        let long = vec![b'x'; 10_000];
        let ex = excerpt(&long);
        assert!(ex.chars().count() <= 201, "{}", ex.len());
        assert!(ex.ends_with('…'));
        assert_eq!(excerpt(&[0xff, b'a']), "\u{fffd}a");
    }
}
