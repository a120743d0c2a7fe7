//! Indicator parsing: refanging, type detection, normalisation and the
//! identifiers VirusTotal gives each indicator.
//!
//! [`Indicator::parse`] is the one way in: it turns a line as an analyst
//! pasted it (`hxxp://evil[.]test/x`, an upper-case hash, a bracketed IPv6)
//! into a typed, normalised [`Indicator`]. Everything downstream takes these
//! newtypes, never bare strings.
//!
//! Pure functions only: this crate does no I/O and knows nothing of HTTP,
//! storage or verdicts.

mod hash;
mod host;
mod refang;
mod url_id;

pub use hash::{FileHash, Md5, Sha1, Sha256};
pub use host::Domain;
pub use refang::refang;
pub use url_id::{url_id, url_sha256, Url};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// Longest input line accepted; anything longer is not an indicator.
pub const MAX_INPUT_LEN: usize = 8192;

/// Why a string is not an indicator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("empty indicator")]
    Empty,
    #[error("indicator longer than {MAX_INPUT_LEN} bytes")]
    TooLong,
    #[error("not a hash, URL, domain or IP address: {0:?}")]
    Unrecognised(String),
    #[error("invalid URL {input:?}: {reason}")]
    InvalidUrl { input: String, reason: String },
}

/// The four kinds of indicator VirusTotal knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorKind {
    File,
    Url,
    Domain,
    Ip,
}

impl IndicatorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::File => "file",
            IndicatorKind::Url => "url",
            IndicatorKind::Domain => "domain",
            IndicatorKind::Ip => "ip",
        }
    }
}

impl fmt::Display for IndicatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed, normalised indicator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Indicator {
    File(FileHash),
    Url(Url),
    Domain(Domain),
    Ip(IpAddr),
}

impl Indicator {
    /// Refangs, detects the type of, and normalises one indicator.
    ///
    /// Order matters: hashes first (a 32-hex string is also a valid domain
    /// label), then IP addresses, then URLs (anything with a scheme or a
    /// path), then domains.
    pub fn parse(input: &str) -> Result<Indicator, ParseError> {
        if input.len() > MAX_INPUT_LEN {
            return Err(ParseError::TooLong);
        }
        // Tabs and line breaks inside are dropped first, as the URL parser
        // drops them: else "(\n.)" passed refang and became "(.)" in the
        // normal form, which refang then changed on the next parse.
        let unbroken: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
            .collect();
        // Any other control character (NUL, SUB, ...) makes it no
        // indicator: the URL parser would drop some of them silently, so
        // that a leading SUB hid `fxp://` from refang (found by the fuzzer).
        if unbroken.chars().any(char::is_control) {
            return Err(ParseError::Unrecognised(bounded(input)));
        }
        let cleaned = refang(&unbroken);
        let s = cleaned.trim();
        if s.is_empty() {
            return Err(ParseError::Empty);
        }
        if let Some(hash) = FileHash::parse(s) {
            return Ok(Indicator::File(hash));
        }
        let unbracketed = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(s);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(Indicator::Ip(ip));
        }
        if s.contains("://") || (s.contains('/') && !s.contains(char::is_whitespace)) {
            let url = Url::parse(s)?;
            // Normalising (IDNA mapping, case) can assemble a notation such
            // as "(dot)" out of characters that were none (fuzzer); such a
            // normal form would refang into another URL on the next parse.
            if refang(url.as_str()) != url.as_str() {
                return Err(ParseError::InvalidUrl {
                    input: bounded(input),
                    reason: "normalising it made a defanging notation appear".into(),
                });
            }
            return Ok(Indicator::Url(url));
        }
        if let Some(domain) = Domain::parse(s) {
            return Ok(Indicator::Domain(domain));
        }
        Err(ParseError::Unrecognised(bounded(input)))
    }

    pub fn kind(&self) -> IndicatorKind {
        match self {
            Indicator::File(_) => IndicatorKind::File,
            Indicator::Url(_) => IndicatorKind::Url,
            Indicator::Domain(_) => IndicatorKind::Domain,
            Indicator::Ip(_) => IndicatorKind::Ip,
        }
    }

    /// The identifier VirusTotal answers with: a file's hash as given (the
    /// API maps md5/sha1 to the sha256), a URL's sha256, the domain, the IP.
    pub fn vt_id(&self) -> String {
        match self {
            Indicator::File(h) => h.as_str().to_owned(),
            Indicator::Url(u) => u.sha256(),
            Indicator::Domain(d) => d.as_str().to_owned(),
            Indicator::Ip(ip) => ip.to_string(),
        }
    }

    /// Link to the object in the VirusTotal web interface.
    pub fn gui_link(&self) -> String {
        let base = "https://www.virustotal.com/gui";
        match self {
            Indicator::File(h) => format!("{base}/file/{}", h.as_str()),
            Indicator::Url(u) => format!("{base}/url/{}", u.sha256()),
            Indicator::Domain(d) => format!("{base}/domain/{}", d.as_str()),
            Indicator::Ip(ip) => format!("{base}/ip-address/{ip}"),
        }
    }
}

impl fmt::Display for Indicator {
    /// The normalised value: what `indicator` holds in a record.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Indicator::File(h) => f.write_str(h.as_str()),
            Indicator::Url(u) => f.write_str(u.as_str()),
            Indicator::Domain(d) => f.write_str(d.as_str()),
            Indicator::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl std::str::FromStr for Indicator {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Indicator::parse(s)
    }
}

/// Input echoed in an error, cut so a hostile line cannot flood a log.
fn bounded(input: &str) -> String {
    const MAX: usize = 120;
    if input.len() <= MAX {
        return input.to_owned();
    }
    let mut end = MAX;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &input[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

    #[test]
    fn detects_and_normalises_each_kind() {
        let cases: &[(&str, IndicatorKind, &str)] = &[
            (
                "44D88612FEA8A8F36DE82E1278ABB02F",
                IndicatorKind::File,
                "44d88612fea8a8f36de82e1278abb02f",
            ),
            (
                "3395856ce81f2b7382dee72602f798b642f14140",
                IndicatorKind::File,
                "3395856ce81f2b7382dee72602f798b642f14140",
            ),
            (EICAR_SHA256, IndicatorKind::File, EICAR_SHA256),
            ("  example.com \n", IndicatorKind::Domain, "example.com"),
            ("Example.COM.", IndicatorKind::Domain, "example.com"),
            ("example[.]com", IndicatorKind::Domain, "example.com"),
            ("sub(.)evil(.)test", IndicatorKind::Domain, "sub.evil.test"),
            ("8.8.8.8", IndicatorKind::Ip, "8.8.8.8"),
            ("8[.]8[.]8[.]8", IndicatorKind::Ip, "8.8.8.8"),
            ("2001:DB8::1", IndicatorKind::Ip, "2001:db8::1"),
            ("[2001:db8::1]", IndicatorKind::Ip, "2001:db8::1"),
            (
                "hxxp://evil[.]test/x",
                IndicatorKind::Url,
                "http://evil.test/x",
            ),
            (
                "hXXps://Evil.Test",
                IndicatorKind::Url,
                "https://evil.test/",
            ),
            (
                "http[:]//evil[.]test/a?b=c",
                IndicatorKind::Url,
                "http://evil.test/a?b=c",
            ),
            (
                "evil.test/path",
                IndicatorKind::Url,
                "http://evil.test/path",
            ),
            (
                "https://example.com/a b",
                IndicatorKind::Url,
                "https://example.com/a%20b",
            ),
        ];
        for (input, kind, normalised) in cases {
            let ind = Indicator::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(ind.kind(), *kind, "{input:?}");
            assert_eq!(ind.to_string(), *normalised, "{input:?}");
        }
    }

    #[test]
    fn rejects_what_is_not_an_indicator() {
        let cases = [
            "",
            "   ",
            "not an indicator",
            "localhost",
            "12345",
            "abc..def",
            "-bad-.com",
            "a.b.c.d.e.123",
            "ftp//",
            "http://",
            "44d88612fea8a8f36de82e1278abb02", // 31 hex digits
        ];
        for input in cases {
            assert!(
                Indicator::parse(input).is_err(),
                "{input:?} should be rejected"
            );
        }
        assert_eq!(
            Indicator::parse(&"a".repeat(MAX_INPUT_LEN + 1)),
            Err(ParseError::TooLong)
        );
    }

    #[test]
    fn url_identifier_matches_the_api() {
        // vt.url_id("http://www.virustotal.com") in vt-py
        assert_eq!(
            url_id("http://www.virustotal.com"),
            "aHR0cDovL3d3dy52aXJ1c3RvdGFsLmNvbQ"
        );
        let u = Url::parse("http://evil.test/x").expect("valid url");
        assert_eq!(u.sha256().len(), 64);
        assert_eq!(u.sha256(), url_sha256("http://evil.test/x"));
    }

    #[test]
    fn gui_links_point_at_the_object() {
        let ip = Indicator::parse("8.8.8.8").expect("ip");
        assert_eq!(
            ip.gui_link(),
            "https://www.virustotal.com/gui/ip-address/8.8.8.8"
        );
        let d = Indicator::parse("example.com").expect("domain");
        assert_eq!(
            d.gui_link(),
            "https://www.virustotal.com/gui/domain/example.com"
        );
    }
}
