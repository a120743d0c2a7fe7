//! URLs and the two identifiers VirusTotal accepts for them.

use crate::ParseError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt;

/// A URL in canonical form: scheme and host lower-cased, an empty path made
/// `/`, unsafe characters percent-encoded; `http://` added when the input
/// had no scheme.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Url(String);

impl Url {
    pub fn parse(s: &str) -> Result<Url, ParseError> {
        let invalid = |reason: String| ParseError::InvalidUrl {
            input: crate::bounded(s),
            reason,
        };
        let with_scheme = if s.contains("://") {
            s.to_owned()
        } else {
            // Without a scheme only a real host makes it a URL: "ftp//" is not one.
            let authority = s.split(['/', '?', '#']).next().unwrap_or_default();
            let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
            if crate::Domain::parse(host).is_none() && host.parse::<std::net::IpAddr>().is_err() {
                return Err(invalid("no scheme and no host".into()));
            }
            format!("http://{s}")
        };
        let parsed = url::Url::parse(&with_scheme).map_err(|e| invalid(e.to_string()))?;
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host".into()));
        }
        let normal: String = parsed.into();
        // Percent-encoding can triple a URL; one whose normal form is too
        // long to parse again is refused here (fuzzer), so every accepted
        // indicator reads back from its normal form.
        if normal.len() > crate::MAX_INPUT_LEN {
            return Err(invalid(format!(
                "longer than {} bytes once encoded",
                crate::MAX_INPUT_LEN
            )));
        }
        Ok(Url(normal))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id VirusTotal answers with: sha256 of the canonical URL.
    pub fn sha256(&self) -> String {
        url_sha256(&self.0)
    }

    /// The id clients may put in a path: unpadded base64url of the URL.
    pub fn id(&self) -> String {
        url_id(&self.0)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Unpadded base64url of a URL, as `vt.url_id` computes it.
pub fn url_id(url: &str) -> String {
    URL_SAFE_NO_PAD.encode(url.as_bytes())
}

/// Hex sha256 of a URL, the id VirusTotal gives a URL object.
pub fn url_sha256(url: &str) -> String {
    let digest = Sha256::digest(url.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
