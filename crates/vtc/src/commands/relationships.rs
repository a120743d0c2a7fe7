//! `vtc relationships ID REL`: objects related to a file, URL, domain or IP.

use crate::action_context;
use crate::cli::RelationshipsArgs;
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view::{self, Answer};

pub async fn run(args: RelationshipsArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let ctx = action_context::build(settings, None).await?;
    let request = actions::RelationshipsRequest {
        id: args.id,
        relationship: args.relationship,
        limit: Some(args.limit),
        page_size: args.page_size,
        descriptors: args.descriptors,
    };
    let output = actions::relationships(&ctx, request).await?;
    object_view::print(&Answer::list(&output)?, settings.format)?;
    Ok(Exit::Success)
}
