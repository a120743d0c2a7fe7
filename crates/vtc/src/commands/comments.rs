//! `vtc comments ID [--add TEXT]`: read or add community comments.

use crate::capabilities;
use crate::cli::CommentsArgs;
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view;

pub async fn run(args: CommentsArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let client = settings.client().await?;
    let object = capabilities::indicator(&args.id)?;
    let answer = match &args.add {
        Some(text) => capabilities::add_comment(&client, &object, text).await?,
        None => capabilities::comments(&client, &object, args.limit).await?,
    };
    object_view::print(&answer, settings.format)?;
    Ok(Exit::Success)
}
