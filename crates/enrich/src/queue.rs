//! Distributed enrichment over the store's job queue, the same queue
//! `POST /v1/enrich` fills: [`Enricher::run_distributed`] queues an input
//! as one enrich job ([`store::Store::create_enrich_job`]) and streams the
//! records back in input order ([`store::Store::job_results_page`]); the
//! job workers of every `vtc serve` and `vtc worker` sharing the database
//! do the lookups (`server`'s worker: leases, renewals, completion only by
//! the lease holder, so no item is done twice and none is lost).

use crate::batch::tally;
use crate::enricher::cache_key;
use crate::{BatchObserver, EnrichError, Enricher, Progress, Summary};
use futures_util::{Stream, StreamExt};
use ioc::Indicator;
use std::collections::HashSet;
use std::time::Duration;
use store::{EnrichJobId, ItemState, NewEnrichJob, NewItem, QueuePriority};
use time::OffsetDateTime;
use verdict::Record;

/// Records read back per page.
const RESULT_PAGE: usize = 1000;

/// The owner of the jobs `vtc enrich --distributed` queues (the service
/// shows a job to its owner's token and to admins).
pub const DISTRIBUTED_OWNER: &str = "vtc-enrich";

/// Longest pause between two reads of a job's results.
const MAX_PAUSE: Duration = Duration::from_millis(250);

impl Enricher {
    /// Queues the indicators of `lines` as one interactive enrich job of
    /// the shared queue and emits the records the workers complete, in
    /// input order, one per distinct indicator as [`Enricher::run_batch`]
    /// does (blank and `#` lines skipped). `on_job` learns the job's id
    /// once it is queued. When `stop` resolves first the job is cancelled
    /// (its queued items are never looked up) and
    /// [`EnrichError::Cancelled`] returned; so is a job cancelled by
    /// someone else (`DELETE /v1/jobs/{id}`).
    pub async fn run_distributed<S, E>(
        &self,
        mut lines: S,
        mut emit: E,
        observer: &dyn BatchObserver,
        on_job: impl FnOnce(EnrichJobId),
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<Summary, EnrichError>
    where
        S: Stream<Item = std::io::Result<String>> + Unpin,
        E: FnMut(&Record) -> Result<(), EnrichError>,
    {
        let store = self.store().clone();
        let mut summary = Summary::default();
        let mut progress = Progress::default();
        let mut seen: HashSet<String> = HashSet::new();
        let mut inputs: Vec<String> = Vec::new();
        while let Some(line) = lines.next().await {
            let line = line.map_err(EnrichError::Input)?;
            summary.lines += 1;
            let input = line.trim();
            if input.is_empty() || input.starts_with('#') {
                continue;
            }
            let key = Indicator::parse(input)
                .map(|i| cache_key(&i))
                .unwrap_or_else(|_| format!("invalid:{input}"));
            if !seen.insert(key) {
                summary.duplicates += 1;
                continue;
            }
            inputs.push(input.to_owned());
        }
        drop(seen);
        progress.lines_read = summary.lines;
        progress.duplicates = summary.duplicates;
        observer.progress(&progress);
        if inputs.is_empty() {
            return Ok(summary);
        }
        let items: Vec<NewItem<'_>> = inputs
            .iter()
            .map(|input| NewItem {
                input,
                policy: None,
            })
            .collect();
        let job = store
            .create_enrich_job(
                &NewEnrichJob {
                    owner: DISTRIBUTED_OWNER,
                    priority: QueuePriority::Interactive,
                    items: &items,
                },
                OffsetDateTime::now_utc(),
            )
            .await?;
        drop(items);
        let total = inputs.len() as u64;
        drop(inputs);
        tracing::info!(job = %job, items = total, "queued the input as a job");
        on_job(job);
        tokio::pin!(stop);
        let mut emitted = 0u64;
        let mut after: Option<u64> = None;
        let mut pause = Duration::from_millis(20);
        while emitted < total {
            let page = tokio::select! {
                page = store.job_results_page(job, after, RESULT_PAGE) => page,
                () = &mut stop => return Err(cancel(self, job, emitted).await),
            };
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    // The database restarting: wait for it.
                    tracing::warn!("cannot read the job's records yet: {e}");
                    Vec::new()
                }
            };
            let mut emitted_any = false;
            for item in page {
                match (item.state, item.record) {
                    (ItemState::Done, Some(text)) => {
                        let record: Record = serde_json::from_str(&text).map_err(|e| {
                            EnrichError::Store(store::StoreError::Corrupt {
                                what: "job record",
                                reason: e.to_string(),
                            })
                        })?;
                        after = Some(item.seq);
                        emitted += 1;
                        tally(&mut summary, &record);
                        progress.done += 1;
                        progress.cached += u64::from(record.cached);
                        progress.failed += u64::from(record.error.is_some());
                        emit(&record)?;
                        emitted_any = true;
                    }
                    (ItemState::Cancelled, _) => {
                        return Err(EnrichError::Cancelled {
                            job: job.get(),
                            done: emitted,
                        })
                    }
                    // An earlier item is not done yet: records go out in order.
                    _ => break,
                }
            }
            if emitted_any {
                observer.progress(&progress);
                pause = Duration::from_millis(20);
            } else if emitted < total {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = &mut stop => return Err(cancel(self, job, emitted).await),
                }
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
        Ok(summary)
    }
}

/// Cancels `job` (its queued items are never looked up) after the
/// submitter was stopped.
async fn cancel(enricher: &Enricher, job: EnrichJobId, done: u64) -> EnrichError {
    if let Err(e) = enricher
        .store()
        .cancel_enrich_job(job, OffsetDateTime::now_utc())
        .await
    {
        tracing::warn!(job = %job, "cannot cancel the job: {e}");
    }
    EnrichError::Cancelled {
        job: job.get(),
        done,
    }
}
