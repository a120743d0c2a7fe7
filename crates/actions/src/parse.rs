//! What a caller typed, as the typed values the client takes. Every
//! refusal names the field and says its reason once.

use crate::ActionError;
use ioc::{FileHash, Indicator, Sha256};
use vt_api::AnalysisId;

/// Items a listing returns when the input names no `limit`.
pub const DEFAULT_LIMIT: u32 = 20;

/// Largest page the API serves for most collections.
pub const MAX_PAGE_SIZE: u32 = 40;

/// An input as quoted in a message: attacker-controlled, so without
/// control characters and bounded.
pub(crate) fn shown(input: &str) -> String {
    const MAX_CHARS: usize = 100;
    let mut s: String = input
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_CHARS)
        .collect();
    if input.chars().count() > MAX_CHARS {
        s.push('…');
    }
    format!("{s:?}")
}

/// A file hash, URL, domain or IP address (defanged forms accepted).
pub fn indicator(field: &str, input: &str) -> Result<Indicator, ActionError> {
    Indicator::parse(input).map_err(|e| {
        let reason = match e {
            ioc::ParseError::Unrecognised(_) => {
                "is not a file hash, URL, domain or IP address".to_owned()
            }
            ioc::ParseError::InvalidUrl { reason, .. } => format!("is not a valid URL: {reason}"),
            ioc::ParseError::Empty => "is empty".to_owned(),
            other => format!("is not usable: {other}"),
        };
        ActionError::invalid(format!("{field}: {} {reason}", shown(input)))
    })
}

pub(crate) fn file_hash(field: &str, input: &str) -> Result<FileHash, ActionError> {
    FileHash::parse(input.trim()).ok_or_else(|| {
        ActionError::invalid(format!(
            "{field}: {} is not an md5, sha1 or sha256",
            shown(input)
        ))
    })
}

pub(crate) fn sha256(field: &str, input: &str) -> Result<Sha256, ActionError> {
    Sha256::parse(input.trim())
        .ok_or_else(|| ActionError::invalid(format!("{field}: {} is not a sha256", shown(input))))
}

/// A URL to submit. A bare host (`example.com`, `192.0.2.1`) means
/// `http://host/`, as VirusTotal's web interface takes it.
pub(crate) fn url(field: &str, input: &str) -> Result<ioc::Url, ActionError> {
    let not_a_url = || {
        ActionError::invalid(format!(
            "{field}: {} is not a URL or a host name",
            shown(input)
        ))
    };
    match Indicator::parse(input) {
        Ok(Indicator::Url(url)) => Ok(url),
        Ok(Indicator::Domain(domain)) => {
            ioc::Url::parse(&format!("http://{}/", domain.as_str())).map_err(|_| not_a_url())
        }
        Ok(Indicator::Ip(ip)) => {
            let host = match ip {
                std::net::IpAddr::V4(v4) => v4.to_string(),
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            };
            ioc::Url::parse(&format!("http://{host}/")).map_err(|_| not_a_url())
        }
        _ => Err(not_a_url()),
    }
}

pub(crate) fn analysis_id(field: &str, input: &str) -> Result<AnalysisId, ActionError> {
    AnalysisId::parse(input.trim()).ok_or_else(|| {
        ActionError::invalid(format!("{field}: {} is not an analysis id", shown(input)))
    })
}

/// Page size for `limit` items: no bigger than needed, never above the API's cap.
pub(crate) fn page_size(limit: u32, asked: Option<u32>) -> u32 {
    asked.unwrap_or(limit).clamp(1, MAX_PAGE_SIZE)
}

/// A limit of at least one (0 would silently list nothing).
pub(crate) fn limit(field: &str, limit: Option<u32>) -> Result<u32, ActionError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(0) => Err(ActionError::invalid(format!("{field}: must be at least 1"))),
        Some(n) => Ok(n),
    }
}

/// A page size the API accepts.
pub(crate) fn asked_page_size(field: &str, size: Option<u32>) -> Result<Option<u32>, ActionError> {
    match size {
        Some(n) if !(1..=MAX_PAGE_SIZE).contains(&n) => Err(ActionError::invalid(format!(
            "{field}: must be 1 to {MAX_PAGE_SIZE}"
        ))),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_bare_host_is_submitted_as_an_http_url() {
        assert_eq!(
            url("url", "example.com").unwrap().as_str(),
            "http://example.com/"
        );
        assert_eq!(
            url("url", "192.0.2.1").unwrap().as_str(),
            "http://192.0.2.1/"
        );
        assert_eq!(
            url("url", "https://example.com/x").unwrap().as_str(),
            "https://example.com/x"
        );
    }

    #[test]
    fn not_a_url_says_its_reason_once() {
        let err = url("url", "not a url").unwrap_err();
        assert_eq!(
            err.message(),
            r#"url: "not a url" is not a URL or a host name"#
        );
        let err = indicator("id", "not a url").unwrap_err();
        assert_eq!(err.message().matches("not a").count(), 2, "{err}"); // the input, the reason
        assert_eq!(err.message().matches("IP address").count(), 1, "{err}");
    }

    #[test]
    fn a_zero_limit_is_refused() {
        assert!(limit("limit", Some(0)).is_err());
        assert_eq!(limit("limit", None).unwrap(), DEFAULT_LIMIT);
    }
}
