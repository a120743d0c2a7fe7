//! The report cache read back as records: what feeds are made of.

use crate::EnrichError;
use ioc::Indicator;
use store::{ReportPage, Store};
use time::OffsetDateTime;
use verdict::{Record, VerdictConfig};
use vt_model::Report;

/// Reports read per page: enough to keep the database busy, few enough
/// that one page of large reports stays small.
const PAGE: usize = 500;

/// Every report cached from `origin`, live at `now` and fetched at or
/// after `since`, as the record a lookup would give now (assessed with
/// `verdict`, `cached` set), with when it was fetched. `visit` gets them
/// one page at a time, so only what it keeps stays in memory. A cached
/// report that no longer reads is skipped with a warning. Answers how many
/// were visited.
pub async fn cached_records(
    store: &dyn Store,
    origin: &str,
    verdict: &VerdictConfig,
    since: Option<OffsetDateTime>,
    now: OffsetDateTime,
    mut visit: impl FnMut(Record, OffsetDateTime),
) -> Result<u64, EnrichError> {
    let mut after = None;
    let mut visited = 0;
    loop {
        let page = ReportPage {
            after,
            fetched_since: since,
            limit: PAGE,
        };
        let reports = store.cached_reports(origin, page, now).await?;
        let Some(last) = reports.last() else {
            return Ok(visited);
        };
        after = Some(last.cursor);
        let full = reports.len() == PAGE;
        for cached in reports {
            let report = match Report::from_cached(&cached.json) {
                Ok(report) => report,
                Err(e) => {
                    tracing::warn!("skipping an unreadable cached report: {e}");
                    continue;
                }
            };
            let Some(indicator) = indicator_of(&cached.kind, &cached.keys) else {
                tracing::warn!(
                    "skipping a cached {} report with no indicator key",
                    cached.kind
                );
                continue;
            };
            let assessment = verdict::assess(&report, verdict, now);
            let input = indicator.to_string();
            let record = Record::from_report(&indicator, &input, &report, &assessment, true);
            visit(record, cached.fetched_at);
            visited += 1;
        }
        if !full {
            return Ok(visited);
        }
    }
}

/// The indicator a cached report is filed under: of its keys, the ones of
/// its kind, the longest (a file's sha256 before its sha1 and md5).
fn indicator_of(kind: &str, keys: &[String]) -> Option<Indicator> {
    keys.iter()
        .filter_map(|k| Indicator::parse(k).ok())
        .filter(|i| i.kind().as_str() == kind)
        .max_by_key(|i| i.to_string().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_filed_under_its_sha256() {
        let keys = [
            "44d88612fea8a8f36de82e1278abb02f".to_owned(),
            "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f".to_owned(),
            "3395856ce81f2b7382dee72602f798b642f14140".to_owned(),
        ];
        let indicator = indicator_of("file", &keys).map(|i| i.to_string());
        assert_eq!(indicator.as_deref(), Some(keys[1].as_str()));
        assert!(indicator_of("url", &keys).is_none());
        let url = indicator_of("url", &["http://evil.test/x".to_owned()]);
        assert_eq!(
            url.map(|i| i.to_string()).as_deref(),
            Some("http://evil.test/x")
        );
    }
}
