//! Domain names.

use std::fmt;

/// A syntactically valid DNS name with at least two labels and an
/// alphabetic (or punycode) top-level label, lower-cased, without the
/// trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

impl Domain {
    pub fn parse(s: &str) -> Option<Domain> {
        let s = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
        if s.is_empty() || s.len() > 253 {
            return None;
        }
        let labels: Vec<&str> = s.split('.').collect();
        if labels.len() < 2 {
            return None;
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !labels.iter().all(|l| label_ok(l)) {
            return None;
        }
        let tld = labels.last().copied().unwrap_or_default();
        let tld_ok = tld.starts_with("xn--")
            || (tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
        tld_ok.then_some(Domain(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
