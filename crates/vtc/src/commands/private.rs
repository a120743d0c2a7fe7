//! `vtc private …`: private scanning (premium): files and URLs only the
//! uploading key can see.

use crate::capabilities::{self, WaitSpec};
use crate::cli::{PrivateArgs, PrivateCommand};
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view;
use vt_api::PrivateScanOptions;

pub async fn run(args: PrivateArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let client = settings.client().await?;
    let answer = match args.command {
        PrivateCommand::ScanFile(a) => {
            let options = PrivateScanOptions {
                password: a.password,
                retention_period_days: a.retention_days,
                ..PrivateScanOptions::default()
            };
            capabilities::private_scan_file(
                &client,
                &a.path,
                &options,
                WaitSpec::from_args(&a.wait),
            )
            .await?
        }
        PrivateCommand::ScanUrl(a) => {
            let url = capabilities::url(&a.url)?;
            capabilities::private_scan_url(&client, &url, WaitSpec::from_args(&a.wait)).await?
        }
        PrivateCommand::File(a) => {
            capabilities::private_file(&client, &capabilities::sha256(&a.sha256)?).await?
        }
        PrivateCommand::List(a) => capabilities::private_list(&client, a.limit).await?,
        PrivateCommand::Delete(a) => {
            let sha256 = capabilities::sha256(&a.sha256)?;
            let answer =
                capabilities::private_delete(&client, &sha256, a.only_from_storage).await?;
            if let object_view::Answer::One(v) = &answer {
                object_view::print_fields(v, settings.format)?;
            }
            return Ok(Exit::Success);
        }
        PrivateCommand::Rescan(a) => {
            let sha256 = capabilities::sha256(&a.sha256)?;
            capabilities::private_rescan(&client, &sha256, WaitSpec::from_args(&a.wait)).await?
        }
        PrivateCommand::Analysis(a) => {
            let id = capabilities::analysis_id(&a.id)?;
            capabilities::analysis(&client, &id, true).await?
        }
        PrivateCommand::Relationships(a) => {
            let sha256 = capabilities::sha256(&a.sha256)?;
            let page = capabilities::page_size(a.limit, a.page_size.map(|n| n as usize));
            capabilities::private_relationships(
                &client,
                &sha256,
                &a.relationship,
                a.limit,
                page,
                a.descriptors,
            )
            .await?
        }
        PrivateCommand::Url(a) => {
            capabilities::private_url(&client, &capabilities::url(&a.url)?).await?
        }
    };
    object_view::print(&answer, settings.format)?;
    Ok(Exit::Success)
}
