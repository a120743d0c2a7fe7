//! Bearer tokens and roles. A token is known by its sha256 only (the
//! config's `[[tokens]]`), so neither the file nor a log can be replayed.

use crate::AppError;
use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;

/// What a token may do; each role may do what the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Cached data and reports: never spends quota.
    Reader,
    /// May spend quota: lookups, scans, comments, votes.
    Analyst,
    /// Everything, including deleting privately scanned files.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = TokenError;
    fn from_str(s: &str) -> Result<Role, TokenError> {
        match s {
            "reader" => Ok(Role::Reader),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            other => Err(TokenError::UnknownRole(other.chars().take(40).collect())),
        }
    }
}

/// Why the configured tokens cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("unknown role {0:?} (reader, analyst or admin)")]
    UnknownRole(String),
    #[error("[[tokens]] {name:?}: sha256 must be 64 hex digits")]
    BadDigest { name: String },
    #[error("[[tokens]] {name:?}: the same sha256 as another token")]
    Duplicate { name: String },
    #[error("cannot draw random bytes for a token: {0}")]
    Random(String),
}

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// The known tokens, by the hex sha256 of each.
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    by_digest: HashMap<String, Caller>,
}

impl Tokens {
    /// The `[[tokens]]` of the config, checked.
    pub fn from_config(configured: &[app::TokenConfig]) -> Result<Tokens, TokenError> {
        let mut tokens = Tokens::default();
        for t in configured {
            let role: Role = t.role.parse()?;
            tokens.insert(&t.name, role, &t.sha256)?;
        }
        Ok(tokens)
    }

    /// Adds a token by its sha256 (64 hex digits).
    pub fn insert(&mut self, name: &str, role: Role, sha256: &str) -> Result<(), TokenError> {
        let digest = sha256.to_ascii_lowercase();
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TokenError::BadDigest { name: name.into() });
        }
        let caller = Caller {
            name: name.into(),
            role,
        };
        if self.by_digest.insert(digest, caller).is_some() {
            return Err(TokenError::Duplicate { name: name.into() });
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }

    /// The caller a request's `Authorization: Bearer` token names, if it
    /// has at least `needed`: none or unknown → 401, too low → 403.
    pub fn authorize(&self, headers: &HeaderMap, needed: Role) -> Result<Caller, AppError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(AppError::unauthorized)?;
        let caller = self
            .by_digest
            .get(&token_digest(token))
            .ok_or_else(AppError::unauthorized)?;
        if caller.role < needed {
            return Err(AppError::forbidden(format!(
                "this needs the {needed} role; the token has {}",
                caller.role
            )));
        }
        Ok(caller.clone())
    }
}

/// The hex sha256 a token is kept as.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new token (`vtc_` and 64 hex digits from the OS generator) and its sha256.
pub fn new_token() -> Result<(String, String), TokenError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    let token = format!("vtc_{}", hex::encode(bytes));
    let digest = token_digest(&token);
    Ok((token, digest))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn roles_are_ordered_and_checked() {
        let (token, digest) = new_token().unwrap();
        let mut tokens = Tokens::default();
        tokens.insert("soar", Role::Analyst, &digest).unwrap();
        let auth = headers(&format!("Bearer {token}"));
        assert_eq!(tokens.authorize(&auth, Role::Reader).unwrap().name, "soar");
        assert!(tokens.authorize(&auth, Role::Analyst).is_ok());
        assert_eq!(
            tokens.authorize(&auth, Role::Admin).unwrap_err().status(),
            403
        );
        let wrong = headers("Bearer vtc_nope");
        assert_eq!(
            tokens.authorize(&wrong, Role::Reader).unwrap_err().status(),
            401
        );
        assert_eq!(
            tokens
                .authorize(&HeaderMap::new(), Role::Reader)
                .unwrap_err()
                .status(),
            401
        );
    }

    #[test]
    fn config_is_checked() {
        let bad = app::TokenConfig {
            name: "x".into(),
            role: "root".into(),
            sha256: "00".repeat(32),
        };
        assert!(Tokens::from_config(&[bad]).is_err());
        let short = app::TokenConfig {
            name: "x".into(),
            role: "reader".into(),
            sha256: "abc".into(),
        };
        assert!(Tokens::from_config(&[short]).is_err());
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a.0, b.0);
        assert_eq!(a.0.len(), 68);
        assert_eq!(token_digest(&a.0), a.1);
    }
}
