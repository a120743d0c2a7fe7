//! Bearer tokens and roles. The store keeps a token's sha256 only, so
//! neither the database nor a log can be replayed as a credential.

use crate::AppError;
use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use store::Store;

/// What a token may do. `reader < analyst < admin`, each may do what the
/// ones below it may; `agent` stands apart: it may only decide
/// (`POST /v1/decide`), which analysts and admins may do too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// An endpoint agent: application-control decisions, nothing else.
    Agent,
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
            Role::Agent => "agent",
            Role::Reader => "reader",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may do what `needed` names.
    pub fn may(self, needed: Role) -> bool {
        let rank = |r: Role| match r {
            Role::Reader => Some(0),
            Role::Analyst => Some(1),
            Role::Admin => Some(2),
            Role::Agent => None,
        };
        match (rank(self), rank(needed)) {
            (Some(have), Some(need)) => have >= need,
            // Deciding: the agent, and anyone who may spend quota.
            (Some(have), None) => have >= 1,
            (None, None) => true,
            (None, Some(_)) => false,
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
            "agent" => Ok(Role::Agent),
            other => Err(TokenError::UnknownRole(other.chars().take(40).collect())),
        }
    }
}

/// Why a token cannot be made or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("unknown role {0:?} (reader, analyst, agent or admin)")]
    UnknownRole(String),
    #[error("a token name is 1 to 64 printable characters")]
    BadName,
    #[error("cannot draw random bytes for a token: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// The client's own quota, kept with its token.
    pub quota: Option<crate::ClientQuota>,
}

/// Checks requests' tokens against the ones the store keeps (by sha256).
/// A token found is remembered for [`TOKEN_RECHECK`], so a busy client
/// costs the store one lookup a second rather than one a request; a
/// revocation through [`Tokens::revoke`] forgets it at once, one made by
/// another process (`vtc token revoke`) holds within [`TOKEN_RECHECK`].
/// Unknown tokens are never remembered.
#[derive(Clone)]
pub struct Tokens {
    store: Arc<dyn Store>,
    known: Arc<RwLock<HashMap<String, Known>>>,
}

/// How long a token found in the store is taken without asking it again.
pub const TOKEN_RECHECK: Duration = Duration::from_secs(1);

/// Most tokens remembered at once; beyond it the memory is cleared (a
/// deployment has a handful).
const MAX_KNOWN: usize = 10_000;

#[derive(Clone)]
struct Known {
    caller: Caller,
    checked: Instant,
}

impl Tokens {
    pub fn new(store: Arc<dyn Store>) -> Tokens {
        Tokens {
            store,
            known: Arc::default(),
        }
    }

    /// The caller a request's `Authorization: Bearer` token names, if it
    /// has at least `needed`: none or unknown → 401, too low → 403.
    pub async fn authorize(&self, headers: &HeaderMap, needed: Role) -> Result<Caller, AppError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN)
            .ok_or_else(AppError::unauthorized)?;
        let digest = token_digest(token);
        let caller = match self.remembered(&digest) {
            Some(caller) => caller,
            None => self.look_up(digest).await?,
        };
        if !caller.role.may(needed) {
            return Err(AppError::forbidden(format!(
                "this needs the {needed} role; the token has {}",
                caller.role
            )));
        }
        Ok(caller)
    }

    fn remembered(&self, digest: &str) -> Option<Caller> {
        let known = self.known.read().unwrap_or_else(|p| p.into_inner());
        known
            .get(digest)
            .filter(|k| k.checked.elapsed() < TOKEN_RECHECK)
            .map(|k| k.caller.clone())
    }

    async fn look_up(&self, digest: String) -> Result<Caller, AppError> {
        let found = self.store.token_by_sha256(&digest).await?;
        let Some(stored) = found else {
            self.known
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&digest);
            return Err(AppError::unauthorized());
        };
        let role: Role = stored.role.parse().map_err(|e| {
            AppError::internal(format!("token {:?} in the store: {e}", stored.name))
        })?;
        let quota = stored
            .quota
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| {
                AppError::internal(format!("token {:?} in the store: {e}", stored.name))
            })?;
        let caller = Caller {
            name: stored.name,
            role,
            quota,
        };
        let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
        if known.len() >= MAX_KNOWN {
            known.clear();
        }
        known.insert(
            digest,
            Known {
                caller: caller.clone(),
                checked: Instant::now(),
            },
        );
        Ok(caller)
    }

    /// Revokes the token named `name` in the store and forgets it here at
    /// once; `false` if there was none.
    pub async fn revoke(&self, name: &str) -> Result<bool, TokenError> {
        let revoked = self.store.revoke_token(name).await?;
        self.known
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, k| k.caller.name != name);
        Ok(revoked)
    }
}

/// Longer `Authorization` values are not hashed, just refused.
const MAX_TOKEN_LEN: usize = 256;

/// Makes a token for `name` with `role`, keeps its sha256 in `store` and
/// answers the token: the only time it is seen.
pub async fn create_token(store: &dyn Store, name: &str, role: Role) -> Result<String, TokenError> {
    create_token_with_quota(store, name, role, None).await
}

/// [`create_token`] with the client's own quota (`500/day`; see
/// [`crate::ClientQuota`]), kept with the token.
pub async fn create_token_with_quota(
    store: &dyn Store,
    name: &str,
    role: Role,
    quota: Option<crate::ClientQuota>,
) -> Result<String, TokenError> {
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(TokenError::BadName);
    }
    let (token, sha256) = new_token()?;
    store
        .add_token(&store::StoredToken {
            name: name.to_owned(),
            role: role.as_str().to_owned(),
            sha256,
            created_at: time::OffsetDateTime::now_utc(),
            quota: quota.map(|q| q.to_string()),
        })
        .await?;
    Ok(token)
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

    #[tokio::test]
    async fn roles_are_ordered_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = store::open(&dir.path().join("t.sqlite").display().to_string())
            .await
            .unwrap();
        let token = create_token(store.as_ref(), "soar", Role::Analyst)
            .await
            .unwrap();
        let tokens = Tokens::new(store.clone());
        let auth = headers(&format!("Bearer {token}"));
        assert_eq!(
            tokens.authorize(&auth, Role::Reader).await.unwrap().name,
            "soar"
        );
        assert!(tokens.authorize(&auth, Role::Analyst).await.is_ok());
        let err = tokens.authorize(&auth, Role::Admin).await.unwrap_err();
        assert_eq!(err.status(), 403);
        let wrong = headers("Bearer vtc_nope");
        let err = tokens.authorize(&wrong, Role::Reader).await.unwrap_err();
        assert_eq!(err.status(), 401);
        let none = tokens.authorize(&HeaderMap::new(), Role::Reader).await;
        assert_eq!(none.unwrap_err().status(), 401);
        // Kept by digest only.
        let kept = store.tokens().await.unwrap();
        assert_eq!(kept[0].sha256, token_digest(&token));
        assert!(tokens.revoke("soar").await.unwrap());
        let err = tokens.authorize(&auth, Role::Reader).await.unwrap_err();
        assert_eq!(err.status(), 401, "revoked at once");
        assert!(matches!(
            create_token(store.as_ref(), "", Role::Reader).await,
            Err(TokenError::BadName)
        ));
    }

    #[test]
    fn an_agent_may_only_decide() {
        use Role::*;
        for needed in [Reader, Analyst, Admin] {
            assert!(!Agent.may(needed), "{needed}");
        }
        assert!(Agent.may(Agent));
        assert!(
            !Reader.may(Agent),
            "a reader spends no quota, so does not decide"
        );
        assert!(Analyst.may(Agent) && Admin.may(Agent));
        assert!(Admin.may(Analyst) && Analyst.may(Reader) && !Reader.may(Analyst));
        assert_eq!("agent".parse::<Role>().unwrap(), Agent);
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a.0, b.0);
        assert_eq!(a.0.len(), 68);
        assert_eq!(token_digest(&a.0), a.1);
        assert!("root".parse::<Role>().is_err());
    }
}
