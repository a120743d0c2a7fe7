//! Feeds from what the store holds: the cached reports become feed
//! entries, filtered and written in one format. The CLI's `vtc feed
//! export` and the service's `/feeds/*.json` both call [`export_feed`],
//! so a file and a URL of the same feed agree.

use feeds::intel::{render, FeedConfig, FeedEntry, FeedFilter, FeedFormat, SOURCE_ENRICH};
use store::Store;
use time::OffsetDateTime;
use verdict::VerdictConfig;

/// The feed of the reports cached from `origin` that `filter` admits, as
/// `format`, assessed by `verdict` at `now`. Only entries the filter keeps
/// are held in memory.
pub async fn export_feed(
    store: &dyn Store,
    origin: &str,
    verdict: &VerdictConfig,
    config: &FeedConfig,
    format: FeedFormat,
    filter: &FeedFilter,
    now: OffsetDateTime,
) -> Result<Vec<u8>, enrich::EnrichError> {
    let mut entries = Vec::new();
    // The cache knows one source; a filter on others leaves nothing to read.
    if !filter.sources.is_empty() && !filter.sources.iter().any(|s| s == SOURCE_ENRICH) {
        return render_entries(format, config, &entries, filter, now);
    }
    enrich::cached_records(
        store,
        origin,
        verdict,
        filter.since,
        now,
        |record, fetched| {
            let entry = FeedEntry {
                record,
                sources: vec![SOURCE_ENRICH.to_owned()],
                updated_at: fetched,
            };
            if filter.admits(&entry) {
                entries.push(entry);
            }
        },
    )
    .await?;
    render_entries(format, config, &entries, filter, now)
}

fn render_entries(
    format: FeedFormat,
    config: &FeedConfig,
    entries: &[FeedEntry],
    filter: &FeedFilter,
    now: OffsetDateTime,
) -> Result<Vec<u8>, enrich::EnrichError> {
    render(format, config, entries, filter, now)
        .map_err(|e| enrich::EnrichError::Output(Box::new(e)))
}
