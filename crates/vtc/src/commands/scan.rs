//! `vtc scan file PATH` and `vtc scan url URL`: submit for scanning; a file
//! VirusTotal already knows is not uploaded again unless `--force`.

use crate::capabilities::{self, WaitSpec};
use crate::cli::{ScanArgs, ScanTarget};
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view;

pub async fn run(args: ScanArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let client = settings.client().await?;
    let answer = match args.target {
        ScanTarget::File(file) => {
            capabilities::scan_file(
                &client,
                &file.path,
                file.force,
                WaitSpec::from_args(&file.wait),
            )
            .await?
        }
        ScanTarget::Url(url) => {
            let target = capabilities::url(&url.url)?;
            capabilities::scan_url(&client, &target, WaitSpec::from_args(&url.wait)).await?
        }
    };
    object_view::print(&answer, settings.format)?;
    Ok(Exit::Success)
}
