//! `vtc token create|list|revoke`: the bearer tokens of `vtc serve`, kept
//! in the database by their sha256 (the `server` crate makes and checks them).

use crate::cli::{TokenAction, TokenRole};
use crate::config::Settings;
use crate::exit::{usage, Exit};
use time::format_description::well_known::Rfc3339;

pub async fn run(action: TokenAction, settings: &Settings) -> anyhow::Result<Exit> {
    let store = settings.open_store().await?;
    match action {
        TokenAction::Create { name, role, quota } => {
            let quota = match quota.as_deref().map(str::parse::<server::ClientQuota>) {
                None => None,
                Some(Ok(q)) => Some(q),
                Some(Err(e)) => return Err(usage(e.to_string())),
            };
            let role = match role {
                TokenRole::Reader => server::Role::Reader,
                TokenRole::Analyst => server::Role::Analyst,
                TokenRole::Admin => server::Role::Admin,
                TokenRole::Agent => server::Role::Agent,
            };
            let token =
                match server::create_token_with_quota(store.as_ref(), &name, role, quota).await {
                    Ok(token) => token,
                    Err(
                        e @ (server::TokenError::BadName
                        | server::TokenError::Store(store::StoreError::TokenExists { .. })),
                    ) => return Err(usage(e.to_string())),
                    Err(e) => return Err(e.into()),
                };
            println!("{token}");
            let limit = quota.map_or_else(
                || "no quota of its own".to_owned(),
                |q| format!("quota {q}"),
            );
            eprintln!("vtc: token {name:?} ({role}, {limit}) created; it is shown only this once");
            Ok(Exit::Success)
        }
        TokenAction::List => {
            for t in store.tokens().await? {
                let created = t.created_at.format(&Rfc3339).unwrap_or_default();
                let quota = t.quota.as_deref().unwrap_or("-");
                println!(
                    "{}\t{}\t{created}\t{}",
                    t.name.escape_debug(),
                    t.role,
                    quota.escape_debug()
                );
            }
            Ok(Exit::Success)
        }
        TokenAction::Revoke { name } => {
            if store.revoke_token(&name).await? {
                eprintln!("vtc: token {name:?} revoked");
                Ok(Exit::Success)
            } else {
                Err(usage(format!("no token named {name:?}")))
            }
        }
    }
}
