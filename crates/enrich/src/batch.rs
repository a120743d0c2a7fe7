//! A whole input through the enricher: dedup, bounded concurrency, the
//! journal that makes a killed run resumable, and the summary.
//!
//! Order of events for every finished item: journal (durable), then emit.
//! An item is never emitted without being journalled; a run killed between
//! the two replays it from the journal on the next start. The output is
//! rebuilt from the journal first, so it ends with each item exactly once.

use crate::enricher::{cache_key, stops_batch, CacheWrite, Outcome};
use crate::{EnrichError, Enricher};
use futures_util::{Stream, StreamExt};
use ioc::Indicator;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use verdict::Record;

/// How a batch runs.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Lookups in flight at once; the client's quota governor still sets the pace.
    pub concurrency: usize,
    /// Identifies the run for resuming (same input and output, same job);
    /// `None` runs without a journal.
    pub job: Option<String>,
}

/// Where a batch stands, for a progress display.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub lines_read: u64,
    /// Records emitted (including replayed and failed ones).
    pub done: u64,
    pub cached: u64,
    pub duplicates: u64,
    pub failed: u64,
    /// Records replayed from the journal of an interrupted run.
    pub replayed: u64,
    pub api_calls: u64,
    pub responses_429: u64,
}

/// Told about progress as the batch goes.
pub trait BatchObserver: Send + Sync {
    fn progress(&self, progress: &Progress);
}

impl BatchObserver for () {
    fn progress(&self, _: &Progress) {}
}

/// What a batch did, for the closing summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub lines: u64,
    pub records: u64,
    pub duplicates: u64,
    pub invalid: u64,
    pub failed: u64,
    pub by_verdict: BTreeMap<String, u64>,
    pub cache_hits: u64,
    pub replayed: u64,
    pub api_calls: u64,
    pub responses_429: u64,
}

/// The error code of a line that is no indicator.
pub(crate) const INVALID_INDICATOR: &str = "InvalidIndicator";

/// Most items journalled together in one transaction.
const JOURNAL_BATCH: usize = 256;

/// Journal entries read at a time when a run resumes.
const REPLAY_PAGE: usize = 1024;

/// One unit of work, decided in input order before any lookup runs.
enum Item {
    Skip,
    Invalid {
        seq: u64,
        // Boxed: a record is several times the size of the other variants.
        record: Box<Record>,
    },
    Lookup {
        seq: u64,
        key: String,
        indicator: Indicator,
        input: String,
    },
}

struct Done {
    seq: u64,
    key: String,
    record: Record,
    /// A failure worth retrying on the next run: emitted, not journalled.
    transient: bool,
}

/// What a finished item is: a record, or the error that stops the batch.
type Finished = Result<Done, Arc<vt_api::Error>>;

/// Counters shared between the input side and the output side.
#[derive(Default)]
struct Counters {
    lines: AtomicU64,
    duplicates: AtomicU64,
}

impl Enricher {
    /// Enriches every line of `lines`, calling `emit` for each record in
    /// input order (first occurrence of each indicator; blank lines and
    /// `#` comments skipped).
    ///
    /// Stops early with [`EnrichError::Stopped`] when the key is rejected
    /// or its day or month budget is spent: going on would only fail, and a
    /// rerun resumes.
    pub async fn run_batch<S, E>(
        &self,
        lines: S,
        options: &BatchOptions,
        emit: E,
        observer: &dyn BatchObserver,
    ) -> Result<Summary, EnrichError>
    where
        S: Stream<Item = std::io::Result<String>> + Unpin,
        E: FnMut(&Record) -> Result<(), EnrichError>,
    {
        let result = self.run_batch_writing(lines, options, emit, observer).await;
        // The cache writes behind the lookups land before the batch ends.
        self.flush_cache_writes().await;
        result
    }

    async fn run_batch_writing<S, E>(
        &self,
        lines: S,
        options: &BatchOptions,
        mut emit: E,
        observer: &dyn BatchObserver,
    ) -> Result<Summary, EnrichError>
    where
        S: Stream<Item = std::io::Result<String>> + Unpin,
        E: FnMut(&Record) -> Result<(), EnrichError>,
    {
        let store = self.store().clone();
        let metrics_before = self.client().metrics();
        let mut summary = Summary::default();
        let mut progress = Progress::default();
        let mut seen: HashSet<[u8; 16]> = HashSet::new();
        let mut journaled: HashSet<u64> = HashSet::new();

        let job = match &options.job {
            // The origin is part of the job: a journal of one API's answers
            // is never replayed as another's.
            Some(fingerprint) => Some(
                store
                    .open_job(&format!("{fingerprint}\norigin={}", self.origin()))
                    .await?,
            ),
            None => None,
        };

        // Replay what an interrupted run already finished, a page at a
        // time: the journal of a huge run must not sit in memory whole.
        if let Some(job) = job {
            let mut after = None;
            loop {
                let page = store.journal_page(job, after, REPLAY_PAGE).await?;
                let full = page.len() == REPLAY_PAGE;
                after = page.last().map(|e| e.seq).or(after);
                for entry in page {
                    let record: Record = match serde_json::from_str(&entry.record) {
                        Ok(r) => r,
                        Err(e) => {
                            tracing::warn!(
                                "journal entry {} is unreadable, redoing it: {e}",
                                entry.seq
                            );
                            continue;
                        }
                    };
                    seen.insert(fingerprint(&entry.key));
                    journaled.insert(entry.seq);
                    tally(&mut summary, &record);
                    summary.replayed += 1;
                    progress.replayed += 1;
                    progress.done += 1;
                    emit(&record)?;
                }
                observer.progress(&progress);
                if !full {
                    break;
                }
            }
        }

        let counters = Arc::new(Counters::default());
        let read_error: Arc<Mutex<Option<std::io::Error>>> = Arc::default();
        let items = {
            let (counters, read_error) = (counters.clone(), read_error.clone());
            lines
                .enumerate()
                .scan((), move |_, (seq, line)| {
                    let next = match line {
                        Ok(line) => Some((seq as u64, line)),
                        Err(e) => {
                            *read_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            None
                        }
                    };
                    futures_util::future::ready(next)
                })
                .map(move |(seq, line)| {
                    counters.lines.fetch_add(1, Ordering::Relaxed);
                    classify(seq, &line, &mut seen, &journaled, &counters)
                })
        };

        let enricher = self.clone();
        let mut finished = items
            // A skipped line must not hold one of the `concurrency` slots:
            // in an input of mostly repeats the window would fill with
            // them behind one slow lookup, and lookups would run nearly
            // one at a time (docs/BENCHMARKS.md).
            .filter(|item| futures_util::future::ready(!matches!(item, Item::Skip)))
            .map(move |item| {
                let enricher = enricher.clone();
                async move { enricher.process(item).await }
            })
            .buffered(options.concurrency.max(1))
            .filter_map(futures_util::future::ready)
            .ready_chunks(JOURNAL_BATCH);

        let mut stopped = None;
        let mut all_journaled = true;
        while let Some(chunk) = finished.next().await {
            let mut done = Vec::with_capacity(chunk.len());
            for item in chunk {
                match item {
                    Ok(d) => done.push(d),
                    Err(e) => {
                        stopped = Some(e);
                        break;
                    }
                }
            }
            all_journaled &= done.iter().all(|d| !d.transient);
            if let Some(job) = job {
                let entries: Vec<store::JournalEntry> = done
                    .iter()
                    .filter(|d| !d.transient)
                    .map(|d| store::JournalEntry {
                        seq: d.seq,
                        key: d.key.clone(),
                        record: serde_json::to_string(&d.record).unwrap_or_default(),
                    })
                    .collect();
                store.journal_records(job, &entries).await?;
            }
            for d in &done {
                tally(&mut summary, &d.record);
                progress.done += 1;
                progress.cached += u64::from(d.record.cached);
                progress.failed += u64::from(d.record.error.is_some() && !is_invalid(&d.record));
                emit(&d.record)?;
            }
            let metrics = self.client().metrics();
            progress.lines_read = counters.lines.load(Ordering::Relaxed);
            progress.duplicates = counters.duplicates.load(Ordering::Relaxed);
            progress.api_calls = metrics.requests_sent - metrics_before.requests_sent;
            progress.responses_429 = metrics.responses_429 - metrics_before.responses_429;
            observer.progress(&progress);
            if stopped.is_some() {
                break;
            }
        }
        drop(finished);

        let metrics = self.client().metrics();
        summary.lines = counters.lines.load(Ordering::Relaxed);
        summary.duplicates = counters.duplicates.load(Ordering::Relaxed);
        summary.api_calls = metrics.requests_sent - metrics_before.requests_sent;
        summary.responses_429 = metrics.responses_429 - metrics_before.responses_429;

        if let Some(err) = read_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(EnrichError::Input(err));
        }
        if let Some(err) = stopped {
            return Err(EnrichError::Stopped {
                done: summary.records,
                source: err,
            });
        }
        if let (Some(job), true) = (job, all_journaled) {
            store.finish_job(job).await?;
        }
        Ok(summary)
    }

    async fn process(&self, item: Item) -> Option<Finished> {
        match item {
            Item::Skip => None,
            Item::Invalid { seq, record } => Some(Ok(Done {
                seq,
                key: format!("invalid:{}", record.input),
                record: *record,
                transient: false,
            })),
            Item::Lookup {
                seq,
                key,
                indicator,
                input,
            } => {
                // A rescan shortens the written entry's life: it must come after the write.
                let write = if self.options().rescan_stale {
                    CacheWrite::Awaited
                } else {
                    CacheWrite::Behind
                };
                let (outcome, cached) = self.outcome_writing(&indicator, write).await;
                let transient = match &outcome {
                    Outcome::Failed(e) if stops_batch(e) => return Some(Err(e.clone())),
                    Outcome::Failed(e) => e.is_retryable(),
                    _ => false,
                };
                let record = self.finish(&indicator, &input, &outcome, cached).await;
                Some(Ok(Done {
                    seq,
                    key,
                    record,
                    transient,
                }))
            }
        }
    }
}

/// Decides, in input order, what to do with one line.
fn classify(
    seq: u64,
    line: &str,
    seen: &mut HashSet<[u8; 16]>,
    journaled: &HashSet<u64>,
    counters: &Counters,
) -> Item {
    let input = line.trim();
    if input.is_empty() || input.starts_with('#') || journaled.contains(&seq) {
        return Item::Skip;
    }
    let parsed = Indicator::parse(input);
    let key = match &parsed {
        Ok(indicator) => cache_key(indicator),
        Err(_) => format!("invalid:{input}"),
    };
    if !seen.insert(fingerprint(&key)) {
        counters.duplicates.fetch_add(1, Ordering::Relaxed);
        return Item::Skip;
    }
    match parsed {
        Ok(indicator) => Item::Lookup {
            seq,
            key,
            indicator,
            input: input.to_owned(),
        },
        Err(e) => Item::Invalid {
            seq,
            record: Box::new(Record::failed(
                input,
                None,
                INVALID_INDICATOR,
                &e.to_string(),
            )),
        },
    }
}

/// Counts each record once: as a verdict, as invalid or as failed, so the
/// three add up to `records` (replayed records included).
pub(crate) fn tally(summary: &mut Summary, record: &Record) {
    summary.records += 1;
    if is_invalid(record) {
        summary.invalid += 1;
        return;
    }
    if record.error.is_some() {
        summary.failed += 1;
        return;
    }
    if record.cached {
        summary.cache_hits += 1;
    }
    *summary
        .by_verdict
        .entry(record.verdict.as_str().to_owned())
        .or_default() += 1;
}

/// A line that is no indicator: its record carries `InvalidIndicator`.
fn is_invalid(record: &Record) -> bool {
    record
        .error
        .as_ref()
        .is_some_and(|e| e.code == INVALID_INDICATOR)
}

/// 128 bits of the key's sha256: enough to tell indicators apart, small
/// enough that a million of them fit in a few tens of megabytes.
fn fingerprint(key: &str) -> [u8; 16] {
    let digest = Sha256::digest(key.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}
