//! `vtc download HASH [-o FILE] [--raw | --url]`: a sample, by default
//! inside a zip (ZipCrypto, password `infected`) so it cannot run or be
//! quarantined by accident; or only the link to fetch it.

use crate::capabilities::{self, DownloadSpec};
use crate::cli::DownloadArgs;
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view;

pub async fn run(args: DownloadArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let client = settings.client().await?;
    let hash = capabilities::file_hash(&args.hash)?;
    if args.url {
        if let object_view::Answer::One(result) = capabilities::download_url(&client, &hash).await?
        {
            object_view::print_fields(&result, settings.format)?;
        }
        return Ok(Exit::Success);
    }
    let spec = DownloadSpec {
        output: args.output,
        raw: args.raw,
    };
    let answer = capabilities::download(&client, &hash, &spec).await?;
    if args.raw {
        if let object_view::Answer::One(result) = &answer {
            eprintln!(
                "vtc: warning: {} is the live sample, unencrypted; handle it as malware",
                result["path"].as_str().unwrap_or("the output")
            );
        }
    }
    if let object_view::Answer::One(result) = &answer {
        object_view::print_fields(result, settings.format)?;
    }
    Ok(Exit::Success)
}
