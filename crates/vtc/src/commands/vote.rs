//! `vtc vote ID harmless|malicious` and `vtc votes ID`.

use crate::capabilities;
use crate::cli::{VoteArgs, VoteChoice, VotesArgs};
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view;
use vt_api::VoteVerdict;

pub async fn run(args: VoteArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let client = settings.client().await?;
    let object = capabilities::indicator(&args.id)?;
    let verdict = match args.verdict {
        VoteChoice::Harmless => VoteVerdict::Harmless,
        VoteChoice::Malicious => VoteVerdict::Malicious,
    };
    let answer = capabilities::add_vote(&client, &object, verdict).await?;
    object_view::print(&answer, settings.format)?;
    Ok(Exit::Success)
}

pub async fn list(args: VotesArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let client = settings.client().await?;
    let object = capabilities::indicator(&args.id)?;
    let answer = capabilities::votes(&client, &object, args.limit).await?;
    object_view::print(&answer, settings.format)?;
    Ok(Exit::Success)
}
