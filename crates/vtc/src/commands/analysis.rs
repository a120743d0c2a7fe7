//! `vtc analysis ID`: one analysis, as a scan or rescan left it.

use crate::action_context;
use crate::cli::AnalysisArgs;
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view::{self, Answer};

pub async fn run(args: AnalysisArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let ctx = action_context::build(settings, None).await?;
    let output = actions::analysis(&ctx, actions::AnalysisRequest { id: args.id }).await?;
    object_view::print(&Answer::object(&output)?, settings.format)?;
    Ok(Exit::Success)
}
