//! `vtc rescan ID`: ask for a fresh scan of a known file or URL.

use crate::action_context::{self, hint_if_queued};
use crate::cli::RescanArgs;
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view::{self, Answer};

pub async fn run(args: RescanArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let ctx = action_context::build(settings, None).await?;
    let request = actions::RescanRequest {
        id: args.id,
        wait: args.wait.wait,
        poll_interval_ms: Some(args.wait.poll_interval_ms),
        timeout: Some(args.wait.timeout),
    };
    let output = actions::rescan(&ctx, request).await?;
    hint_if_queued(&output, false);
    object_view::print(&Answer::object(&output)?, settings.format)?;
    Ok(Exit::Success)
}
