//! Feeds from what the store holds: the collector's binaries and the
//! cached reports become feed entries, filtered and written in one format. The CLI's `vtc feed
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
    // The collector's binaries first (`vtc collect`): their sources say
    // where they were seen; a cached report of the same file is the same
    // entry, not a second one.
    let mut collected_sha256 = std::collections::HashSet::new();
    for entry in collected_entries(store).await? {
        if let Some(sha256) = &entry.record.sha256 {
            collected_sha256.insert(sha256.clone());
        }
        if filter.admits(&entry) {
            entries.push(entry);
        }
    }
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
            if record
                .sha256
                .as_ref()
                .is_some_and(|h| collected_sha256.contains(h))
            {
                return;
            }
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

/// The collector's state as feed entries: each binary VirusTotal answered
/// for, with its last record, its sources by kind (`folder`, `hashes`,
/// `stdin`, `carbonblack`: the part of the collector's source name before
/// `:`) and the time of its last look-up.
async fn collected_entries(store: &dyn Store) -> Result<Vec<FeedEntry>, enrich::EnrichError> {
    let mut entries = Vec::new();
    for binary in store.collect_binaries(false).await? {
        let Some(text) = binary.record.as_deref() else {
            continue;
        };
        let record: verdict::Record = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(id = binary.id, "a collected record is unreadable: {e}");
                continue;
            }
        };
        let mut sources: Vec<String> = Vec::new();
        for source in &binary.sources {
            let kind = source.split(':').next().unwrap_or(source).to_owned();
            if !sources.contains(&kind) {
                sources.push(kind);
            }
        }
        entries.push(FeedEntry {
            record,
            sources,
            updated_at: binary.last_query.unwrap_or(binary.last_seen),
        });
    }
    Ok(entries)
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
