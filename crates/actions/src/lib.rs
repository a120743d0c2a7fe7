//! The action library: every capability of vtc beyond bulk enrichment
//! (reports, scans, rescans, analyses, downloads, relationships, search,
//! comments, votes, the widget, private scanning, quota) as a typed request
//! in and a typed response out, each with a JSON Schema derived from its
//! type.
//!
//! [`ACTIONS`] is the one table: name, description, the API call behind it,
//! the input and output schemas, and the handler that takes JSON input and
//! gives JSON output. `vtc action NAME`, `vtc action --list`, the HTTP
//! service's `POST /v1/actions/{name}` and Cortex all run through it; the
//! commands (`vtc scan`, `vtc download`, ...) call the typed functions
//! behind it directly, so the two cannot drift apart.
//!
//! A handler gets a [`Context`]: the client, a [`Progress`] to report to
//! (the CLI draws a spinner; a service records job status), the key whose
//! quota `get_quota` reports, and the [`SampleSink`] downloads are written
//! to (a download never writes to a path named by its input). Every failure
//! is one [`ActionError`] whose [`ErrorKind`] decides the exit code, the
//! HTTP status and the Cortex message.
//!
//! This crate knows nothing of command-line parsing, terminals or HTTP
//! routes, and never prints.

mod community;
mod download;
mod error;
mod objects;
mod parse;
mod private;
mod quota;
mod relationships;
mod reports;
mod samples;
mod scan;
mod table;
mod widget;

pub use community::{
    add_comment, add_vote, comments, votes, AddCommentRequest, AddVoteRequest, CommentsRequest,
    Vote, VotesRequest,
};
pub use download::{
    download, download_url, DownloadOutput, DownloadRequest, DownloadUrlOutput, DownloadUrlRequest,
    SampleFormat, ZIP_PASSWORD,
};
pub use error::{ActionError, ErrorKind};
pub use objects::{ApiErrorBody, DetectionView, ObjectList, ObjectOutput};
pub use parse::{indicator, DEFAULT_LIMIT, MAX_PAGE_SIZE};
pub use private::{
    private_analysis, private_delete, private_file, private_list, private_relationships,
    private_rescan, private_scan_file, private_scan_url, private_url, PrivateAnalysisRequest,
    PrivateDeleteOutput, PrivateDeleteRequest, PrivateFileRequest, PrivateListRequest,
    PrivateRelationshipsRequest, PrivateRescanRequest, PrivateScanFileRequest,
    PrivateScanUrlRequest, PrivateUrlRequest,
};
pub use quota::{quota, QuotaOutput, QuotaRequest, QuotaWindowUse};
pub use relationships::{
    relationship_descriptors, relationship_names, relationships, search, DescriptorsRequest,
    RelationshipsRequest, SearchRequest,
};
pub use reports::{
    domain_report, file_report, ip_report, lookup, report_with_relationships, url_report,
    DomainReportRequest, FileReportRequest, IpReportRequest, LookupRequest, UrlReportRequest,
};
pub use samples::{FileSink, Kept, SampleDraft, SampleSink};
pub use scan::{
    analysis, rescan, scan_file, scan_url, upload_url, AnalysisRequest, RescanRequest,
    ScanFileRequest, ScanUrlRequest, UploadUrlOutput, UploadUrlRequest, WaitOptions,
};
pub use table::{find, manifest, Action, Alias, InputField, ACTIONS, ALIASES};
pub use widget::{
    widget, widget_html, WidgetHtmlOutput, WidgetHtmlRequest, WidgetOutput, WidgetRatio,
    WidgetRequest,
};

use std::sync::Arc;

/// A boxed future a handler returns; `Send`, so a service can run it.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// What a handler runs with.
#[derive(Clone)]
pub struct Context {
    pub client: vt_api::Client,
    pub progress: Arc<dyn Progress>,
    /// The key `get_quota` reports on, with vtc's own minute budget for it.
    pub quota_key: Option<QuotaKey>,
    /// Where downloads go; `None` refuses downloads.
    pub samples: Option<Arc<dyn SampleSink>>,
    /// Whether `scan_file` and `private_scan_file` may read the local file
    /// their input names: yes for the command line (the user's own files),
    /// no for a service, whose callers must not read its disk.
    pub read_local_files: bool,
}

impl Context {
    /// A context that reports no progress, knows no key budget, takes no
    /// downloads and reads no local files.
    pub fn new(client: vt_api::Client) -> Context {
        Context {
            client,
            progress: Arc::new(NoProgress),
            quota_key: None,
            samples: None,
            read_local_files: false,
        }
    }
}

/// A key and the per-minute budget vtc keeps for it (the API reports none).
#[derive(Debug, Clone)]
pub struct QuotaKey {
    pub key: vt_api::ApiKey,
    /// Requests a minute; 0 is unlimited.
    pub minute_budget: u32,
}

/// Hears what a long action is doing. The CLI shows it on stderr with a
/// spinner; a service keeps it as a job's status.
pub trait Progress: Send + Sync {
    /// A step worth telling a person, e.g. "uploading eicar.com (68 bytes)".
    fn note(&self, message: &str);
    /// The analysis being waited for is now `status` (queued, in-progress, completed).
    fn analysis_status(&self, id: &str, status: &str);
    /// The wait for an analysis is over (completed or given up).
    fn wait_finished(&self) {}
    /// `scan_file` found VirusTotal knows the file, so did not upload it.
    fn upload_skipped(&self, path: &std::path::Path, sha256: &str) {
        self.note(&format!(
            "virustotal already knows {} (sha256 {sha256}); not uploading (force uploads anyway)",
            path.display()
        ));
    }
}

/// Progress nobody hears.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn note(&self, _message: &str) {}
    fn analysis_status(&self, _id: &str, _status: &str) {}
}
