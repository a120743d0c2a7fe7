//! `vtc feed export`: a feed of the cached reports, to stdout or a file
//! (the `app` crate makes it, as it does for the service's feed URLs).

use crate::cli::FeedExportArgs;
use crate::config::Settings;
use crate::exit::{usage, Exit};
use anyhow::Context;
use std::io::Write;

pub async fn export(args: FeedExportArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let now = time::OffsetDateTime::now_utc();
    let join = |v: &[String]| (!v.is_empty()).then(|| v.join(","));
    let mut filter = feeds::FeedFilter::from_parts(
        None,
        args.since.as_deref(),
        join(&args.kinds).as_deref(),
        join(&args.sources).as_deref(),
        now,
    )
    .map_err(|e| usage(e.to_string()))?;
    if let Some(min) = args.min_verdict {
        filter.min_verdict = min;
    }
    let origin = settings.api_origin()?;
    let store = settings.open_store().await?;
    let bytes = app::export_feed(
        store.as_ref(),
        &origin,
        &settings.verdict,
        &settings.feeds,
        args.format,
        &filter,
        now,
    )
    .await?;
    match &args.output {
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)?;
            out.write_all(b"\n")?;
            out.flush()?;
        }
        Some(path) => {
            // Beside the target, then moved over it: a subscriber reading
            // the file never sees half a feed.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("cannot write in {}", dir.display()))
                .map_err(|e| usage(format!("{e:#}")))?;
            tmp.write_all(&bytes)?;
            tmp.write_all(b"\n")?;
            tmp.as_file().sync_all()?;
            tmp.persist(path)
                .map_err(|e| usage(format!("cannot write {}: {}", path.display(), e.error)))?;
        }
    }
    Ok(Exit::Success)
}
