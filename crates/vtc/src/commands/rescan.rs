//! `vtc rescan ID`: ask for a fresh scan of a known file or URL.

use crate::capabilities::{self, WaitSpec};
use crate::cli::RescanArgs;
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view;

pub async fn run(args: RescanArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let client = settings.client().await?;
    let object = capabilities::indicator(&args.id)?;
    let answer = capabilities::rescan(&client, &object, WaitSpec::from_args(&args.wait)).await?;
    object_view::print(&answer, settings.format)?;
    Ok(Exit::Success)
}
