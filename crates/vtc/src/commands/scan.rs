//! `vtc scan file PATH` and `vtc scan url URL`: submit for scanning; a file
//! VirusTotal already knows is not uploaded again unless `--force`.

use crate::action_context::{self, hint_if_queued};
use crate::cli::{ScanArgs, ScanTarget};
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view::{self, Answer};

pub async fn run(args: ScanArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let ctx = action_context::build(settings, None).await?;
    let output = match args.target {
        ScanTarget::File(file) => {
            let request = actions::ScanFileRequest {
                path: file.path,
                force: file.force,
                wait: file.wait.wait,
                poll_interval_ms: Some(file.wait.poll_interval_ms),
                timeout: Some(file.wait.timeout),
            };
            actions::scan_file(&ctx, request).await?
        }
        ScanTarget::Url(url) => {
            let request = actions::ScanUrlRequest {
                url: url.url,
                wait: url.wait.wait,
                poll_interval_ms: Some(url.wait.poll_interval_ms),
                timeout: Some(url.wait.timeout),
            };
            actions::scan_url(&ctx, request).await?
        }
    };
    hint_if_queued(&output, false);
    object_view::print(&Answer::object(&output)?, settings.format)?;
    Ok(Exit::Success)
}
