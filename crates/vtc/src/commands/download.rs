//! `vtc download HASH [-o FILE|DIR] [--raw | --url] [--force]`: a sample,
//! by default inside a zip (ZipCrypto, password `infected`) so it cannot
//! run or be quarantined by accident; or only the link to fetch it.

use crate::action_context;
use crate::cli::DownloadArgs;
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view;

pub async fn run(args: DownloadArgs, settings: &Settings) -> anyhow::Result<Exit> {
    if args.url {
        let ctx = action_context::build(settings, None).await?;
        let request = actions::DownloadUrlRequest { hash: args.hash };
        let output = actions::download_url(&ctx, request).await?;
        object_view::print_fields(&serde_json::to_value(output)?, settings.format)?;
        return Ok(Exit::Success);
    }
    let sink = actions::FileSink::new(args.output, args.force);
    let ctx = action_context::build(settings, Some(sink)).await?;
    let request = actions::DownloadRequest {
        hash: args.hash,
        raw: args.raw,
    };
    let output = actions::download(&ctx, request).await?;
    if args.raw {
        eprintln!(
            "vtc: warning: {} is the live sample, unencrypted; handle it as malware",
            object_view::cell(&output.path, 4096)
        );
    }
    object_view::print_fields(&serde_json::to_value(output)?, settings.format)?;
    Ok(Exit::Success)
}
