//! `vtc vote ID harmless|malicious` and `vtc votes ID`.

use crate::action_context;
use crate::cli::{VoteArgs, VoteChoice, VotesArgs};
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view::{self, Answer};

pub async fn run(args: VoteArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let ctx = action_context::build(settings, None).await?;
    let verdict = match args.verdict {
        VoteChoice::Harmless => actions::Vote::Harmless,
        VoteChoice::Malicious => actions::Vote::Malicious,
    };
    let request = actions::AddVoteRequest {
        id: args.id,
        verdict,
    };
    let output = actions::add_vote(&ctx, request).await?;
    object_view::print(&Answer::object(&output)?, settings.format)?;
    Ok(Exit::Success)
}

pub async fn list(args: VotesArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let ctx = action_context::build(settings, None).await?;
    let request = actions::VotesRequest {
        id: args.id,
        limit: Some(args.limit),
    };
    let output = actions::votes(&ctx, request).await?;
    object_view::print(&Answer::list(&output)?, settings.format)?;
    Ok(Exit::Success)
}
