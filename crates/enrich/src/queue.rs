//! Distributed enrichment over the store's job queue: a submitter queues
//! its input as a job's items and streams the records back in input order
//! ([`Enricher::run_distributed`]); any number of workers, in any number
//! of processes and machines sharing the database, lease items, enrich
//! them and complete them with their records ([`Enricher::run_worker`]).
//!
//! A worker that dies holding items leaves them leased until the lease
//! runs out, then another worker takes them ([`store::Store::claim_items`]);
//! a completion by a worker that lost its lease is refused, so no item is
//! completed twice and none is lost. The records travel through the job's
//! journal, so a submitter that is interrupted and run again resumes the
//! same job.

use crate::batch::{tally, INVALID_INDICATOR};
use crate::enricher::{cache_key, stops_batch, CacheWrite, Outcome};
use crate::{BatchObserver, EnrichError, Enricher, Progress, Summary};
use futures_util::stream::FuturesUnordered;
use futures_util::{Stream, StreamExt};
use ioc::Indicator;
use std::collections::{HashSet, VecDeque};
use std::time::Duration;
use store::{ClaimedItem, QueueItem};
use time::OffsetDateTime;
use verdict::Record;

/// Items queued in one transaction.
const ENQUEUE_BATCH: usize = 500;

/// Records read back per page.
const RESULT_PAGE: usize = 1000;

/// How a worker works.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Its name on leases: unique among the workers (see [`worker_name`]).
    pub name: String,
    /// Items it works on at once.
    pub concurrency: usize,
    /// How long it holds an item before another worker may take it over:
    /// longer than an item takes, quota waits included.
    pub lease: Duration,
    /// How long it sleeps when the queue is empty.
    pub poll: Duration,
    /// Stop after the queue has been empty this long (`None`: never).
    pub idle_exit: Option<Duration>,
    /// Stop after completing this many items (`None`: never; for tests
    /// and draining).
    pub max_items: Option<u64>,
}

/// A default lease: a minute of quota waits, with room.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            name: worker_name(),
            concurrency: 8,
            lease: DEFAULT_LEASE,
            poll: Duration::from_millis(200),
            idle_exit: None,
            max_items: None,
        }
    }
}

/// A name for this process' worker: host, process id and a random part.
pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().chars().take(64).collect::<String>())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}-{}-{:08x}", std::process::id(), fastrand::u32(..))
}

/// What a worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerSummary {
    /// Items it completed.
    pub completed: u64,
    /// Items it finished after another worker had taken them over (its
    /// record was not kept).
    pub taken_over: u64,
    /// Lookups tried again after a transient failure.
    pub retried: u64,
}

/// Attempts of an item whose lookup failed in a way worth retrying,
/// before its error record is what it completes with.
const ITEM_ATTEMPTS: u32 = 3;

/// What the submitter waits for: the next `seq` to emit, in input order.
struct Expected {
    seqs: VecDeque<u64>,
    last_emitted: Option<u64>,
}

impl Enricher {
    /// Works the shared queue until `stop` resolves (or the options' idle
    /// or item limit is reached): leases items, enriches them, completes
    /// them with their records. An error every further item would share
    /// (a rejected key, a spent budget, an unreachable API) stops it with
    /// [`EnrichError::Stopped`]; the items it held go to other workers when
    /// their lease runs out.
    pub async fn run_worker(
        &self,
        options: &WorkerOptions,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<WorkerSummary, EnrichError> {
        let mut summary = WorkerSummary::default();
        let mut running = FuturesUnordered::new();
        let mut idle_since: Option<tokio::time::Instant> = None;
        let concurrency = options.concurrency.max(1);
        tokio::pin!(stop);
        loop {
            let room = concurrency - running.len();
            let claim_more = room > 0
                && options
                    .max_items
                    .is_none_or(|max| summary.completed + (running.len() as u64) < max);
            if claim_more {
                let mut n = room;
                if let Some(max) = options.max_items {
                    let left = max.saturating_sub(summary.completed + running.len() as u64);
                    n = n.min(usize::try_from(left).unwrap_or(usize::MAX));
                }
                let now = OffsetDateTime::now_utc();
                match self
                    .store()
                    .claim_items(&options.name, n, options.lease, now)
                    .await
                {
                    Ok(items) => {
                        if !items.is_empty() {
                            idle_since = None;
                        }
                        for item in items {
                            let enricher = self.clone();
                            let name = options.name.clone();
                            running.push(async move { enricher.work_item(&name, item).await });
                        }
                    }
                    // The database restarting: try again after a pause.
                    Err(e) => tracing::warn!("cannot claim queue items: {e}"),
                }
            }
            if running.is_empty() {
                if options
                    .max_items
                    .is_some_and(|max| summary.completed >= max)
                {
                    return Ok(summary);
                }
                let since = *idle_since.get_or_insert_with(tokio::time::Instant::now);
                if options.idle_exit.is_some_and(|d| since.elapsed() >= d) {
                    return Ok(summary);
                }
                tokio::select! {
                    () = &mut stop => return Ok(summary),
                    () = tokio::time::sleep(options.poll) => continue,
                }
            }
            // Wait for one item (or the stop); then claim again. A short
            // pause bounds how long a free slot waits for new items.
            tokio::select! {
                () = &mut stop => {
                    // Finish what is held: its records are almost there.
                    while let Some(done) = running.next().await {
                        add(&mut summary, done?);
                    }
                    return Ok(summary);
                }
                done = running.next() => {
                    if let Some(done) = done {
                        add(&mut summary, done?);
                    }
                }
                () = tokio::time::sleep(options.poll), if room > 0 && claim_more => {}
            }
        }
    }

    /// Enriches one leased item and completes it.
    async fn work_item(&self, worker: &str, item: ClaimedItem) -> Result<ItemDone, EnrichError> {
        let input = item.input.trim().to_owned();
        let mut retried = 0;
        let (key, record) = match Indicator::parse(&input) {
            Err(e) => (
                format!("invalid:{input}"),
                Record::failed(&input, None, INVALID_INDICATOR, &e.to_string()),
            ),
            Ok(indicator) => {
                let mut attempt = 1;
                loop {
                    let (outcome, cached) =
                        self.outcome_writing(&indicator, CacheWrite::Awaited).await;
                    match &outcome {
                        Outcome::Failed(e) if stops_batch(e) => {
                            return Err(EnrichError::Stopped {
                                done: 0,
                                source: e.clone(),
                            })
                        }
                        Outcome::Failed(e) if e.is_retryable() && attempt < ITEM_ATTEMPTS => {
                            tracing::info!(seq = item.seq, "lookup failed, trying again: {e}");
                            attempt += 1;
                            retried += 1;
                            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt)))
                                .await;
                            continue;
                        }
                        _ => {}
                    }
                    let record = self.finish(&indicator, &input, &outcome, cached).await;
                    break (cache_key(&indicator), record);
                }
            }
        };
        let json = serde_json::to_string(&record).unwrap_or_default();
        let kept = self
            .store()
            .complete_item(item.job, item.seq, worker, &key, &json)
            .await?;
        if !kept {
            tracing::info!(
                job = %item.job,
                seq = item.seq,
                "another worker took this item over after the lease ran out"
            );
        }
        Ok(ItemDone { kept, retried })
    }

    /// Submits `lines` as a job of the shared queue (`fingerprint`: the
    /// same input, output and options resume the same job; `None`: a new
    /// job) and emits the records workers complete, in input order, one
    /// per distinct indicator as [`Enricher::run_batch`] does. Blank and
    /// `#` lines are skipped. Returns when every item is done.
    pub async fn run_distributed<S, E>(
        &self,
        mut lines: S,
        fingerprint: Option<&str>,
        mut emit: E,
        observer: &dyn BatchObserver,
    ) -> Result<Summary, EnrichError>
    where
        S: Stream<Item = std::io::Result<String>> + Unpin,
        E: FnMut(&Record) -> Result<(), EnrichError>,
    {
        let store = self.store().clone();
        let fingerprint = match fingerprint {
            Some(fp) => format!("distributed\n{fp}\norigin={}", self.origin()),
            // Standard input: nothing to resume by.
            None => format!(
                "distributed\nunique={}-{:016x}\norigin={}",
                OffsetDateTime::now_utc().unix_timestamp_nanos(),
                fastrand::u64(..),
                self.origin()
            ),
        };
        let job = store.open_job(&fingerprint).await?;
        let mut summary = Summary::default();
        let mut progress = Progress::default();
        let mut seen: HashSet<String> = HashSet::new();
        let mut expected = Expected {
            seqs: VecDeque::new(),
            last_emitted: None,
        };
        let mut batch = Vec::with_capacity(ENQUEUE_BATCH);
        let mut seq = 0u64;
        while let Some(line) = lines.next().await {
            let line = line.map_err(EnrichError::Input)?;
            summary.lines += 1;
            let this = seq;
            seq += 1;
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
            expected.seqs.push_back(this);
            batch.push(QueueItem {
                seq: this,
                input: input.to_owned(),
            });
            if batch.len() >= ENQUEUE_BATCH {
                store.enqueue_items(job, &batch).await?;
                batch.clear();
                progress.lines_read = summary.lines;
                observer.progress(&progress);
            }
        }
        if !batch.is_empty() {
            store.enqueue_items(job, &batch).await?;
        }
        progress.lines_read = summary.lines;
        progress.duplicates = summary.duplicates;
        observer.progress(&progress);
        drop(seen);

        let mut pause = Duration::from_millis(20);
        while !expected.seqs.is_empty() {
            let page = match store
                .journal_page(job, expected.last_emitted, RESULT_PAGE)
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    // The database restarting: wait for it.
                    tracing::warn!("cannot read the job's records yet: {e}");
                    Vec::new()
                }
            };
            let mut emitted_any = false;
            for entry in page {
                if expected.seqs.front() != Some(&entry.seq) {
                    // A gap: an earlier item is not done yet.
                    break;
                }
                let record: Record = serde_json::from_str(&entry.record).map_err(|e| {
                    EnrichError::Store(store::StoreError::Corrupt {
                        what: "queued record",
                        reason: e.to_string(),
                    })
                })?;
                expected.seqs.pop_front();
                expected.last_emitted = Some(entry.seq);
                tally(&mut summary, &record);
                progress.done += 1;
                progress.cached += u64::from(record.cached);
                progress.failed += u64::from(record.error.is_some());
                emit(&record)?;
                emitted_any = true;
            }
            if emitted_any {
                observer.progress(&progress);
                pause = Duration::from_millis(20);
            } else if !expected.seqs.is_empty() {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(250));
            }
        }
        store.finish_job(job).await?;
        Ok(summary)
    }
}

struct ItemDone {
    kept: bool,
    retried: u64,
}

fn add(summary: &mut WorkerSummary, done: ItemDone) {
    if done.kept {
        summary.completed += 1;
    } else {
        summary.taken_over += 1;
    }
    summary.retried += done.retried;
}
