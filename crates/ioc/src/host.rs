//! Domain names.

use std::fmt;

/// A syntactically valid DNS name with at least two labels and an
/// alphabetic (or punycode) top-level label, lower-cased, without the
/// trailing dot. An internationalised name (`пример.рф`) is kept in its
/// punycode form (`xn--e1afmkfd.xn--p1ai`), the one DNS and VirusTotal use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

impl Domain {
    pub fn parse(s: &str) -> Option<Domain> {
        let s = s.strip_suffix('.').unwrap_or(s);
        let s = if s.is_ascii() {
            s.to_ascii_lowercase()
        } else {
            // UTS 46 mapping: case folding, then punycode per label.
            idna::domain_to_ascii(s).ok()?
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internationalised_names_become_punycode() {
        let d = Domain::parse("пример.рф").expect("an IDN is a domain");
        assert_eq!(d.as_str(), "xn--e1afmkfd.xn--p1ai");
        assert_eq!(Domain::parse("ПРИМЕР.РФ."), Some(d));
        assert_eq!(
            Domain::parse("bücher.example").map(|d| d.to_string()),
            Some("xn--bcher-kva.example".to_owned())
        );
    }

    #[test]
    fn names_idna_rejects_are_not_domains() {
        assert_eq!(Domain::parse("exa mple.рф"), None);
        assert_eq!(Domain::parse("рф"), None);
    }
}
