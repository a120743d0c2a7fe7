//! `vtc token create --name N --role R`: a new bearer token for `vtc
//! serve`. The token is printed once; the config file keeps its sha256.

use crate::cli::{TokenAction, TokenArgs, TokenRole};
use crate::exit::Exit;

pub fn run(args: TokenArgs) -> anyhow::Result<Exit> {
    match args.action {
        TokenAction::Create { name, role } => {
            let role = match role {
                TokenRole::Reader => server::Role::Reader,
                TokenRole::Analyst => server::Role::Analyst,
                TokenRole::Admin => server::Role::Admin,
            };
            let (token, sha256) = server::new_token()?;
            println!("{token}");
            eprintln!(
                "Add this to the config file (the token is not kept anywhere; it is shown once):\n\n\
                 [[tokens]]\nname = {}\nrole = \"{role}\"\nsha256 = \"{sha256}\"",
                toml_string(&name)
            );
            Ok(Exit::Success)
        }
    }
}

/// `name` as a TOML basic string.
fn toml_string(name: &str) -> String {
    serde_json::to_string(name).unwrap_or_else(|_| "\"\"".into())
}
