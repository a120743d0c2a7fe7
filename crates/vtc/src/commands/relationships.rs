//! `vtc relationships ID REL`: objects related to a file, URL, domain or IP.

use crate::capabilities;
use crate::cli::RelationshipsArgs;
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view;

pub async fn run(args: RelationshipsArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let client = settings.client().await?;
    let object = capabilities::indicator(&args.id)?;
    let page = capabilities::page_size(args.limit, args.page_size.map(|n| n as usize));
    let answer = capabilities::relationships(
        &client,
        &object,
        &args.relationship,
        args.limit,
        page,
        args.descriptors,
    )
    .await?;
    object_view::print(&answer, settings.format)?;
    Ok(Exit::Success)
}
