//! The API key as a secret: it leaves this type only to become a header.

use crate::Error;
use sha2::{Digest, Sha256};
use std::fmt;

/// What `Debug` and `Display` print instead of a key.
const REDACTION: &str = "[redacted]";

/// A VirusTotal API key.
///
/// `Debug` and `Display` print a redaction, never the key; the key itself is
/// reachable only through [`ApiKey::expose_secret`], which the client calls
/// when it builds the `x-apikey` header. It is deliberately not
/// `Serialize`. Wherever a key must be told apart from others (quota
/// reports, the spend kept in a database) it goes by its [`ApiKey::label`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ApiKey {
    secret: String,
    name: Option<String>,
}

/// Longest name a key may be given.
const MAX_NAME: usize = 64;

impl ApiKey {
    /// Accepts any non-blank key; surrounding whitespace (a stray newline
    /// from a file or an environment variable) is removed.
    pub fn new(key: impl Into<String>) -> Result<ApiKey, Error> {
        let key = key.into();
        let trimmed = key.trim();
        if trimmed.is_empty() {
            return Err(Error::InvalidConfig("the API key is empty".into()));
        }
        if trimmed.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(Error::InvalidConfig(
                "the API key contains whitespace or control characters".into(),
            ));
        }
        Ok(ApiKey {
            secret: trimmed.to_owned(),
            name: None,
        })
    }

    /// The same key, labelled `name` (a config file's `[[keys]] name`):
    /// 1 to 64 letters, digits, `-`, `_` or `.`.
    pub fn named(mut self, name: &str) -> Result<ApiKey, Error> {
        let ok = !name.is_empty()
            && name.len() <= MAX_NAME
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(Error::InvalidConfig(format!(
                "key name {:?} is not 1 to {MAX_NAME} letters, digits, '-', '_' or '.'",
                name.chars().take(MAX_NAME).collect::<String>()
            )));
        }
        self.name = Some(name.to_owned());
        Ok(self)
    }

    /// The key itself. Call it only to put the key on the wire.
    pub fn expose_secret(&self) -> &str {
        &self.secret
    }

    /// What tells this key apart without revealing any of it: its name
    /// when it was given one, else `key-` and 12 hex digits of the key's
    /// sha256 (48 bits: enough to tell a handful of keys apart; a digest
    /// of a 256-bit key, so no help in guessing it). Never a prefix.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => self.fingerprint(),
        }
    }

    /// `key-` and 12 hex digits of the key's sha256, whatever its name.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.secret.as_bytes());
        let mut out = String::from("key-");
        for byte in &digest[..6] {
            out.push_str(&format!("{byte:02x}"));
        }
        out
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({REDACTION})")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTION)
    }
}

impl std::str::FromStr for ApiKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApiKey::new(s)
    }
}

/// Replaces every configured key found in text the server sent back (error
/// messages, body excerpts) so a key echoed by a server cannot reach a log.
pub(crate) fn scrub(text: &str, keys: &[ApiKey]) -> String {
    let mut out = text.to_owned();
    for key in keys {
        out = replace_tokens(&out, key.expose_secret());
    }
    out
}

/// Replaces `secret` where it stands as a whole token (not inside a longer
/// word), so a short test key such as `k` does not mangle "key".
fn replace_tokens(text: &str, secret: &str) -> String {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(secret) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + secret.len()..].chars().next();
        let whole = !before.is_some_and(is_word) && !after.is_some_and(is_word);
        out.push_str(&rest[..at]);
        out.push_str(if whole { REDACTION } else { secret });
        rest = &rest[at + secret.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn api_key_never_appears_in_debug_or_display() {
        let key = ApiKey::new(SECRET).expect("valid key");
        for shown in [
            format!("{key}"),
            format!("{key:?}"),
            format!("{key:#?}"),
            format!("{:?}", Some(&key)),
            format!("{:?}", vec![key.clone()]),
        ] {
            assert!(!shown.contains(SECRET), "leaked in {shown:?}");
            assert!(!shown.contains("01234567"), "prefix leaked in {shown:?}");
            assert!(shown.contains(REDACTION), "{shown:?}");
        }
        assert_eq!(key.expose_secret(), SECRET);
    }

    #[test]
    fn a_label_is_a_name_or_a_fingerprint_never_a_prefix() {
        let key = ApiKey::new(SECRET).expect("valid key");
        let label = key.label();
        assert!(label.starts_with("key-") && label.len() == 16, "{label}");
        assert!(label[4..].chars().all(|c| c.is_ascii_hexdigit()), "{label}");
        for start in 0..=SECRET.len() - 8 {
            assert!(!label.contains(&SECRET[start..start + 8]), "{label}");
        }
        assert_ne!(
            ApiKey::new(format!("{SECRET}0")).expect("key").label(),
            label,
            "another key, another label"
        );
        let named = key.clone().named("team-a").expect("valid name");
        assert_eq!(named.label(), "team-a");
        assert_eq!(named.fingerprint(), label);
        assert_eq!(named.expose_secret(), SECRET);
        for bad in ["", "two words", &"n".repeat(65), "ключ"] {
            assert!(key.clone().named(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn blank_or_garbled_keys_are_rejected_without_echoing_them() {
        for bad in ["", "   ", "\n", "abc def", "abc\u{7}def"] {
            let err = ApiKey::new(bad).expect_err(bad);
            assert!(matches!(err, Error::InvalidConfig(_)), "{bad:?}");
            if !bad.trim().is_empty() {
                assert!(!err.to_string().contains(bad.trim()), "{err}");
            }
        }
        assert_eq!(
            ApiKey::new(format!(" {SECRET}\n"))
                .expect("trimmed")
                .expose_secret(),
            SECRET
        );
    }

    #[test]
    fn scrub_removes_echoed_keys() {
        let key = ApiKey::new(SECRET).expect("valid key");
        let echoed = format!("Wrong API key {SECRET}, try again");
        let clean = scrub(&echoed, &[key]);
        assert!(!clean.contains(SECRET));
        assert_eq!(clean, "Wrong API key [redacted], try again");
        let in_path = scrub(
            &format!("GET /users/{SECRET}/overall_quotas"),
            &[ApiKey::new(SECRET).expect("key")],
        );
        assert_eq!(in_path, "GET /users/[redacted]/overall_quotas");
    }

    #[test]
    fn a_short_key_inside_a_word_is_left_alone() {
        let key = ApiKey::new("k").expect("valid key");
        assert_eq!(
            scrub("Wrong API key k, try again", &[key]),
            "Wrong API key [redacted], try again"
        );
    }
}
