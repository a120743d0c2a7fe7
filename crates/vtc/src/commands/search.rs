//! `vtc search QUERY`: VirusTotal search, or VT Intelligence with `--intelligence`.

use crate::action_context;
use crate::cli::SearchArgs;
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view::{self, Answer};

pub async fn run(args: SearchArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let ctx = action_context::build(settings, None).await?;
    let request = actions::SearchRequest {
        query: args.query,
        limit: Some(args.limit),
        page_size: args.page_size,
        intelligence: args.intelligence,
    };
    let output = actions::search(&ctx, request).await?;
    object_view::print(&Answer::list(&output)?, settings.format)?;
    Ok(Exit::Success)
}
