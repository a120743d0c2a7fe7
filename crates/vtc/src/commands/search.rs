//! `vtc search QUERY`: VirusTotal search, or VT Intelligence with `--intelligence`.

use crate::capabilities;
use crate::cli::SearchArgs;
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view;

pub async fn run(args: SearchArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let client = settings.client().await?;
    let page = capabilities::page_size(args.limit, args.page_size.map(|n| n as usize));
    let answer =
        capabilities::search(&client, &args.query, args.limit, page, args.intelligence).await?;
    object_view::print(&answer, settings.format)?;
    Ok(Exit::Success)
}
