//! `vtc analysis ID`: one analysis, as a scan or rescan left it.

use crate::capabilities;
use crate::cli::AnalysisArgs;
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view;

pub async fn run(args: AnalysisArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let client = settings.client().await?;
    let id = capabilities::analysis_id(&args.id)?;
    let answer = capabilities::analysis(&client, &id, false).await?;
    object_view::print(&answer, settings.format)?;
    Ok(Exit::Success)
}
