//! The run: sources write sightings to the store; the query loop takes the
//! binaries due (never looked up, or aged past the rescan window), asks
//! VirusTotal through the enricher (cache, dedup, quota), rescans or
//! uploads when the configuration says so, and writes each result back at
//! once.

use crate::config::{CollectConfig, RescanWindow};
use crate::sources::carbonblack::CarbonBlack;
use crate::sources::folder::FolderScanner;
use crate::sources::hash_list::HashFile;
use crate::CollectError;
use futures_util::StreamExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::{CollectedBinary, Due, QueryResult, Store};
use time::OffsetDateTime;
use tokio::sync::{watch, Notify, Semaphore};
use verdict::{Record, Verdict};

/// Binaries taken from the store per turn of the query loop.
const DUE_BATCH: usize = 64;
/// How often an idle daemon looks for binaries that aged past the window.
const AGE_CHECK: Duration = Duration::from_secs(30);
/// How often a followed hash file is read for new lines.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);
/// An analysis (after a rescan or an upload) is awaited this long at most.
const ANALYSIS_WAIT: Duration = Duration::from_secs(600);
const ANALYSIS_POLL: Duration = Duration::from_secs(5);
/// How long look-ups under way may take to finish after a stop signal.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Which sources a run reads.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub folders: Vec<PathBuf>,
    /// A hash list file; `-` is stdin.
    pub hashes: Option<PathBuf>,
    pub carbonblack: bool,
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunSummary {
    pub sightings: u64,
    pub queried: u64,
    pub rescanned: u64,
    pub uploaded: u64,
    pub failed: u64,
    pub in_feed: u64,
}

/// The binaries the feeds publish (those VirusTotal calls bad), with their
/// hashes, verdicts and last records: what `vtc feed export` and the
/// `/feeds/*` routes build their entries from.
pub async fn feed_binaries(store: &dyn Store) -> Result<Vec<CollectedBinary>, CollectError> {
    Ok(store.collect_binaries(true).await?)
}

/// The same binaries as their last enrichment records (the shape every
/// output shares, `verdict::Record`), for formats built from records.
pub async fn feed_records(store: &dyn Store) -> Result<Vec<Record>, CollectError> {
    let mut records = Vec::new();
    for b in store.collect_binaries(true).await? {
        match b.record.as_deref().map(serde_json::from_str::<Record>) {
            Some(Ok(record)) => records.push(record),
            // Written by this crate; one unreadable is skipped, not fatal.
            Some(Err(e)) => tracing::warn!(id = b.id, "a collected record is unreadable: {e}"),
            None => {}
        }
    }
    Ok(records)
}

/// A configured collector.
pub struct Collector {
    enricher: enrich::Enricher,
    /// The same, asking VirusTotal even when the cache has an answer: the
    /// look-up after a rescan or an upload.
    refresher: enrich::Enricher,
    store: Arc<dyn Store>,
    config: CollectConfig,
    rescan: RescanWindow,
    carbonblack: Option<CarbonBlack>,
    uploads: Arc<Semaphore>,
}

impl Collector {
    /// `enricher` and `refresher` come from the same settings, the second
    /// with `refresh` on.
    pub fn new(
        enricher: enrich::Enricher,
        refresher: enrich::Enricher,
        store: Arc<dyn Store>,
        config: CollectConfig,
    ) -> Result<Collector, CollectError> {
        config.validate()?;
        let rescan = config.rescan()?;
        let carbonblack = match (
            &config.carbonblack_server_url,
            &config.carbonblack_server_token,
        ) {
            (Some(url), Some(token)) => Some(CarbonBlack::new(
                url,
                token,
                config.binary_filter_query.as_deref(),
                config.carbonblack_page_rows,
                config.carbonblack_sslverify,
            )?),
            _ => None,
        };
        if config.submit_full_binaries {
            tracing::warn!(
                "submit_full_binaries is on: whole binaries VirusTotal does not know will be uploaded to VirusTotal (they leave this machine), up to {} bytes each, {} at a time",
                config.max_upload_bytes,
                config.deep_scan_threads
            );
            if config.deep_scan_threads == 0 {
                tracing::warn!("deep_scan_threads is 0: no binary will be uploaded");
            }
        }
        Ok(Collector {
            uploads: Arc::new(Semaphore::new(config.deep_scan_threads)),
            enricher,
            refresher,
            store,
            config,
            rescan,
            carbonblack,
        })
    }

    pub fn config(&self) -> &CollectConfig {
        &self.config
    }

    /// One pass: each source read once (folders scanned, the hash list to
    /// its end, one Carbon Black poll), then every binary due looked up.
    pub async fn run_once(&self, sources: &Sources) -> Result<RunSummary, CollectError> {
        let wake = Notify::new();
        let mut summary = RunSummary::default();
        for folder in &sources.folders {
            let scanner = FolderScanner::new(folder)?;
            let (_, n) = crate::sources::folder::scan_once(scanner, &self.store, &wake).await?;
            summary.sightings += n;
        }
        match sources.hashes.as_deref() {
            Some(p) if p.as_os_str() == "-" => {
                summary.sightings += crate::sources::hash_list::read_stdin(&self.store, &wake)
                    .await?
                    .sightings;
            }
            Some(p) => {
                summary.sightings += HashFile::new(p)
                    .read_new(&self.store, &wake, true)
                    .await?
                    .sightings;
            }
            None => {}
        }
        if sources.carbonblack {
            let cb = self.carbonblack()?;
            summary.sightings += cb.poll(&self.store, &wake).await?.binaries;
        }
        let (_stop_tx, stop) = watch::channel(false);
        self.drain(&mut summary, &stop).await?;
        Ok(summary)
    }

    fn carbonblack(&self) -> Result<&CarbonBlack, CollectError> {
        self.carbonblack.as_ref().ok_or_else(|| {
            CollectError::Config(
                "no carbon black server: set carbonblack_server_url and carbonblack_server_token in [collect]".into(),
            )
        })
    }

    /// The daemon: sources run until `shutdown` resolves (watching folders,
    /// following the hash file, polling Carbon Black); the query loop looks
    /// up what they find and what ages past the window. On shutdown the
    /// look-ups under way finish and are written; the sources' checkpoints
    /// are already in the store.
    pub async fn run(
        &self,
        sources: &Sources,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<RunSummary, CollectError> {
        if sources.carbonblack {
            self.carbonblack()?;
        }
        tracing::info!(
            folders = sources.folders.len(),
            hashes = sources.hashes.is_some(),
            carbonblack = sources.carbonblack,
            rescan_window = %self.config.rescan_window,
            "collecting until SIGTERM or Ctrl-C"
        );
        let wake = Arc::new(Notify::new());
        let (stop_tx, stop) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        for folder in &sources.folders {
            let scanner = FolderScanner::new(folder)?;
            let debounce = Duration::from_millis(self.config.debounce_ms);
            tasks.spawn(crate::sources::folder::watch(
                scanner,
                debounce,
                self.store.clone(),
                wake.clone(),
                stop.clone(),
            ));
        }
        match sources.hashes.clone() {
            Some(p) if p.as_os_str() == "-" => {
                let (store, wake) = (self.store.clone(), wake.clone());
                tasks.spawn(async move {
                    crate::sources::hash_list::read_stdin(&store, &wake)
                        .await
                        .map(|_| ())
                });
            }
            Some(p) => {
                let (store, wake, mut stop) = (self.store.clone(), wake.clone(), stop.clone());
                tasks.spawn(async move {
                    let mut file = HashFile::new(&p);
                    loop {
                        file.read_new(&store, &wake, false).await?;
                        tokio::select! {
                            _ = stop.changed() => return Ok(()),
                            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
                        }
                    }
                });
            }
            None => {}
        }
        if sources.carbonblack {
            let cb = self.carbonblack()?.clone();
            let (store, wake, mut stop) = (self.store.clone(), wake.clone(), stop.clone());
            let every = Duration::from_secs(self.config.carbonblack_poll_seconds.max(1));
            tasks.spawn(async move {
                loop {
                    match cb.poll(&store, &wake).await {
                        Ok(s) => tracing::info!(
                            binaries = s.binaries,
                            new = s.new_binaries,
                            pages = s.pages,
                            "carbon black polled"
                        ),
                        // A rejected token will not heal: stop the run.
                        Err(e @ CollectError::CarbonBlackToken(_)) => return Err(e),
                        // The server away: what was kept stays; next poll resumes.
                        Err(e) => tracing::error!("{e}; retrying in {}s", every.as_secs()),
                    }
                    tokio::select! {
                        _ = stop.changed() => return Ok(()),
                        _ = tokio::time::sleep(every) => {}
                    }
                }
            });
        }
        let mut summary = RunSummary::default();
        tokio::pin!(shutdown);
        let mut stopping = false;
        let outcome = loop {
            {
                let drain = self.drain(&mut summary, &stop);
                tokio::pin!(drain);
                let drained = tokio::select! {
                    r = &mut drain => r,
                    _ = &mut shutdown => {
                        // No new look-up starts; those under way get a
                        // moment to finish and be written.
                        stopping = true;
                        let _ = stop_tx.send(true);
                        tokio::time::timeout(STOP_GRACE, drain).await.unwrap_or(Ok(()))
                    }
                };
                if let Err(e) = drained {
                    break Err(e);
                }
            }
            if stopping {
                break Ok(());
            }
            tokio::select! {
                _ = &mut shutdown => break Ok(()),
                _ = wake.notified() => {}
                _ = tokio::time::sleep(AGE_CHECK) => {}
                Some(done) = tasks.join_next() => match done {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => break Err(e),
                    Err(e) => break Err(CollectError::Internal(format!("a source stopped: {e}"))),
                },
            }
        };
        let _ = stop_tx.send(true);
        while let Some(done) = tasks.join_next().await {
            if let Ok(Err(e)) = done {
                tracing::warn!("a source ended with: {e}");
            }
        }
        self.enricher.flush_cache_writes().await;
        self.refresher.flush_cache_writes().await;
        tracing::info!(
            queried = summary.queried,
            "stopped; every source's checkpoint is in the database"
        );
        outcome.map(|()| summary)
    }

    /// Looks up every binary due until none is left (or a turn makes no
    /// progress, or `stop` fires). Each result is written as it comes.
    async fn drain(
        &self,
        summary: &mut RunSummary,
        stop: &watch::Receiver<bool>,
    ) -> Result<(), CollectError> {
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let cutoff = self.rescan.cutoff(OffsetDateTime::now_utc());
            let due = self.store.collect_due(cutoff, DUE_BATCH).await?;
            if due.is_empty() {
                return Ok(());
            }
            // After a stop signal no new look-up starts.
            let mut results = futures_util::stream::iter(due)
                .take_while(|_| std::future::ready(!*stop.borrow()))
                .map(|b| self.query_one(b))
                .buffer_unordered(self.config.quick_scan_threads);
            let mut progress = false;
            while let Some(outcome) = results.next().await {
                match outcome? {
                    Some(result) => {
                        self.store
                            .collect_results(std::slice::from_ref(&result))
                            .await?;
                        progress = true;
                        summary.queried += 1;
                        summary.rescanned += u64::from(result.rescanned);
                        summary.uploaded += u64::from(result.uploaded);
                        summary.in_feed += u64::from(result.in_feed);
                    }
                    None => summary.failed += 1,
                }
            }
            if !progress {
                // Every look-up failed (VirusTotal or the network away):
                // the binaries stay due for the next turn.
                return Ok(());
            }
        }
    }

    /// One binary: `Ok(None)` when the look-up failed for now.
    async fn query_one(&self, b: CollectedBinary) -> Result<Option<QueryResult>, CollectError> {
        let Some(hash) = b.best_hash().map(str::to_owned) else {
            return Ok(None);
        };
        let (record, rescanned, uploaded) = match b.due {
            Some(Due::Rescan) => match self.rescan_one(&hash).await? {
                Some(record) => (record, true, false),
                None => return Ok(None),
            },
            _ => {
                let record = self.enricher.try_enrich_line(&hash).await?;
                if record.error.is_none() && record.id.is_none() && self.may_upload(&b) {
                    match self.upload_one(&b, &hash).await {
                        Ok(Some(fresh)) => (fresh, false, true),
                        Ok(None) => (record, false, false),
                        Err(e) => {
                            tracing::warn!(hash = %hash, "deep scan skipped: {e}");
                            (record, false, false)
                        }
                    }
                } else {
                    (record, false, false)
                }
            }
        };
        if let Some(e) = &record.error {
            tracing::warn!(hash = %hash, code = %e.code, "look-up failed: {}", e.message);
            return Ok(None);
        }
        Ok(Some(result_of(&b, &record, rescanned, uploaded)))
    }

    /// POST analyse, wait for the analysis, look up again.
    async fn rescan_one(&self, hash: &str) -> Result<Option<Record>, CollectError> {
        let Some(file_hash) = ioc::FileHash::parse(hash) else {
            return Ok(None);
        };
        let client = self.enricher.client();
        match client.rescan_file(&file_hash).await {
            Ok(analysis) => {
                tracing::info!(hash = %hash, "rescan window passed: rescanning");
                if let Err(e) = client
                    .wait_for_analysis(&analysis.id, ANALYSIS_POLL, ANALYSIS_WAIT)
                    .await
                {
                    tracing::warn!(hash = %hash, "the rescan's analysis did not finish: {e}");
                }
            }
            Err(e) => {
                tracing::warn!(hash = %hash, "rescan failed: {e}");
                return Ok(None);
            }
        }
        Ok(Some(self.refresher.try_enrich_line(hash).await?))
    }

    fn may_upload(&self, b: &CollectedBinary) -> bool {
        self.config.submit_full_binaries
            && self.config.deep_scan_threads > 0
            && (b.path.is_some() || (self.carbonblack.is_some() && b.md5.is_some()))
    }

    /// Uploads a binary VirusTotal does not know (one of at most
    /// `deep_scan_threads` at once), waits for its analysis, looks it up
    /// again. `Ok(None)` when there is nothing to upload.
    async fn upload_one(
        &self,
        b: &CollectedBinary,
        hash: &str,
    ) -> Result<Option<Record>, CollectError> {
        let cap = self.config.max_upload_bytes.min(crate::MAX_UPLOAD);
        if b.size.is_some_and(|s| s > cap) {
            tracing::info!(hash = %hash, size = b.size, cap, "not uploaded: larger than max_upload_bytes");
            return Ok(None);
        }
        let _slot = self
            .uploads
            .acquire()
            .await
            .map_err(|_| CollectError::Internal("the upload pool closed".into()))?;
        // The bytes: the local file (checked to be the same binary still),
        // else a download from Carbon Black.
        let mut downloaded = None;
        let path = match (&b.path, &self.carbonblack, &b.md5) {
            (Some(p), _, _) => PathBuf::from(p),
            (None, Some(cb), Some(md5)) => {
                let tmp = cb.download(md5, &std::env::temp_dir(), cap).await?;
                let p = tmp.path().to_owned();
                downloaded = Some(tmp);
                p
            }
            _ => return Ok(None),
        };
        let check = path.clone();
        let digests = tokio::task::spawn_blocking(move || file_digest::digest_file(&check))
            .await
            .map_err(|e| CollectError::Internal(format!("hashing: {e}")))?
            .map_err(|e| CollectError::Internal(e.to_string()))?;
        if !digests.matches(hash) {
            tracing::info!(hash = %hash, "not uploaded: the file changed since it was seen");
            return Ok(None);
        }
        if digests.size > cap {
            return Err(CollectError::TooLarge(cap));
        }
        let client = self.enricher.client();
        let analysis = match client.upload_file(&path).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(hash = %hash, "upload failed: {e}");
                return Ok(None);
            }
        };
        drop(downloaded);
        tracing::info!(hash = %hash, size = digests.size, "uploaded to virustotal");
        if let Err(e) = client
            .wait_for_analysis(&analysis.id, ANALYSIS_POLL, ANALYSIS_WAIT)
            .await
        {
            tracing::warn!(hash = %hash, "the upload's analysis did not finish: {e}");
        }
        Ok(Some(self.refresher.try_enrich_line(hash).await?))
    }
}

fn result_of(b: &CollectedBinary, r: &Record, rescanned: bool, uploaded: bool) -> QueryResult {
    QueryResult {
        binary: b.id,
        at: OffsetDateTime::now_utc(),
        md5: r.md5.clone(),
        sha1: r.sha1.clone(),
        sha256: r.sha256.clone(),
        size: r.size,
        verdict: r.verdict.as_str().to_owned(),
        malicious: r.malicious,
        total: r.total,
        last_analysis: r.last_analysis_time(),
        in_feed: r.verdict == Verdict::Bad,
        rescanned,
        uploaded,
        record: serde_json::to_string(r).ok(),
    }
}
