//! `vtc private …`: private scanning (premium): files and URLs only the
//! uploading key can see.

use crate::action_context::{self, hint_if_queued};
use crate::cli::{PrivateArgs, PrivateCommand};
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view::{self, Answer};

pub async fn run(args: PrivateArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let ctx = action_context::build(settings, None).await?;
    let answer = match args.command {
        PrivateCommand::ScanFile(a) => {
            let request = actions::PrivateScanFileRequest {
                path: a.path,
                password: a.password,
                retention_days: a.retention_days,
                wait: a.wait.wait,
                poll_interval_ms: Some(a.wait.poll_interval_ms),
                timeout: Some(a.wait.timeout),
            };
            let output = actions::private_scan_file(&ctx, request).await?;
            hint_if_queued(&output, true);
            Answer::object(&output)?
        }
        PrivateCommand::ScanUrl(a) => {
            let request = actions::PrivateScanUrlRequest {
                url: a.url,
                wait: a.wait.wait,
                poll_interval_ms: Some(a.wait.poll_interval_ms),
                timeout: Some(a.wait.timeout),
            };
            let output = actions::private_scan_url(&ctx, request).await?;
            hint_if_queued(&output, true);
            Answer::object(&output)?
        }
        PrivateCommand::File(a) => {
            let request = actions::PrivateFileRequest { sha256: a.sha256 };
            Answer::object(&actions::private_file(&ctx, request).await?)?
        }
        PrivateCommand::List(a) => {
            let request = actions::PrivateListRequest {
                limit: Some(a.limit),
            };
            Answer::list(&actions::private_list(&ctx, request).await?)?
        }
        PrivateCommand::Delete(a) => {
            let request = actions::PrivateDeleteRequest {
                sha256: a.sha256,
                only_from_storage: a.only_from_storage,
            };
            let output = actions::private_delete(&ctx, request).await?;
            object_view::print_fields(&serde_json::to_value(output)?, settings.format)?;
            return Ok(Exit::Success);
        }
        PrivateCommand::Rescan(a) => {
            let request = actions::PrivateRescanRequest {
                sha256: a.sha256,
                wait: a.wait.wait,
                poll_interval_ms: Some(a.wait.poll_interval_ms),
                timeout: Some(a.wait.timeout),
            };
            let output = actions::private_rescan(&ctx, request).await?;
            hint_if_queued(&output, true);
            Answer::object(&output)?
        }
        PrivateCommand::Analysis(a) => {
            let request = actions::PrivateAnalysisRequest { id: a.id };
            Answer::object(&actions::private_analysis(&ctx, request).await?)?
        }
        PrivateCommand::Relationships(a) => {
            let request = actions::PrivateRelationshipsRequest {
                sha256: a.sha256,
                relationship: a.relationship,
                limit: Some(a.limit),
                page_size: a.page_size,
                descriptors: a.descriptors,
            };
            Answer::list(&actions::private_relationships(&ctx, request).await?)?
        }
        PrivateCommand::Url(a) => {
            let request = actions::PrivateUrlRequest { url: a.url };
            Answer::object(&actions::private_url(&ctx, request).await?)?
        }
    };
    object_view::print(&answer, settings.format)?;
    Ok(Exit::Success)
}
