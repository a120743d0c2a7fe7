//! `vtc comments ID [--add TEXT]`: read or add community comments.

use crate::action_context;
use crate::cli::CommentsArgs;
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view::{self, Answer};

pub async fn run(args: CommentsArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let ctx = action_context::build(settings, None).await?;
    let answer = match args.add {
        Some(text) => {
            let request = actions::AddCommentRequest { id: args.id, text };
            Answer::object(&actions::add_comment(&ctx, request).await?)?
        }
        None => {
            let request = actions::CommentsRequest {
                id: args.id,
                limit: Some(args.limit),
            };
            Answer::list(&actions::comments(&ctx, request).await?)?
        }
    };
    object_view::print(&answer, settings.format)?;
    Ok(Exit::Success)
}
