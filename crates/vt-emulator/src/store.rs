//! What the emulator learns while it runs: hash aliases, URLs seen spelled
//! out, uploads, analyses. A reset keeps all of it.

use crate::world::FileIdentity;
use bytes::Bytes;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest upload accepted (the API's documented 650 MB).
pub const MAX_UPLOAD_BYTES: u64 = 650 * 1024 * 1024;

/// Sample bytes kept in memory for downloads, over all uploads; past this,
/// uploads keep only their hashes.
pub const MAX_KEPT_BYTES: usize = 1024 * 1024 * 1024;

/// A file received through an upload.
#[derive(Debug, Clone)]
pub struct Upload {
    pub identity: Arc<FileIdentity>,
    pub size: u64,
    pub name: Option<String>,
    pub bytes: Option<Bytes>,
}

/// What an analysis looks at.
#[derive(Debug, Clone)]
pub enum Target {
    File {
        identity: Arc<FileIdentity>,
        size: u64,
    },
    Url {
        sha256: String,
        url: String,
    },
}

impl Target {
    /// The key of the analysed object in [`Store::completions`].
    pub fn object_key(&self) -> String {
        match self {
            Target::File { identity, .. } => format!("file:{}", identity.sha256),
            Target::Url { sha256, .. } => format!("url:{sha256}"),
        }
    }
}

/// One analysis (scan) of a file or URL.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub target: Target,
    /// Epoch seconds it was created.
    pub date: i64,
    pub started: Instant,
    pub delay: Duration,
    /// The key that made it, for private analyses.
    pub private_owner: Option<String>,
}

/// Where an analysis is in its life, as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Queued,
    InProgress,
    Completed,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Queued => "queued",
            Stage::InProgress => "in-progress",
            Stage::Completed => "completed",
        }
    }
}

impl Analysis {
    pub fn stage(&self, now: Instant) -> Stage {
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed >= self.delay {
            Stage::Completed
        } else if elapsed >= self.delay / 2 {
            Stage::InProgress
        } else {
            Stage::Queued
        }
    }
}

/// When an analysis of an object completes (or completed).
#[derive(Debug, Clone, Copy)]
pub struct Completion {
    pub at: Instant,
    pub epoch: i64,
}

#[derive(Debug, Default)]
pub struct Store {
    /// md5 / sha1 / sha256 -> the file it names.
    pub file_aliases: HashMap<String, Arc<FileIdentity>>,
    /// URL sha256 -> canonical URL, for URLs seen spelled out.
    pub url_strings: HashMap<String, String>,
    /// sha256 -> upload.
    pub uploads: HashMap<String, Upload>,
    pub kept_bytes: usize,
    /// analysis id -> analysis.
    pub analyses: HashMap<String, Analysis>,
    /// `file:<sha256>` / `url:<sha256>` -> its analyses' completions.
    pub completions: HashMap<String, Vec<Completion>>,
    /// Upload URL tokens handed out and not yet used.
    pub upload_tokens: HashSet<String>,
    /// Download URL token -> sha256 of the file it serves.
    pub download_tokens: HashMap<String, String>,
    /// `<collection>/<id>` -> comments on the object, oldest first.
    pub comments: HashMap<String, Vec<Value>>,
    /// `<collection>/<id>` -> votes on the object, oldest first.
    pub votes: HashMap<String, Vec<VoteRecord>>,
    /// (API key, sha256) -> a privately scanned file.
    pub private_files: BTreeMap<(String, String), PrivateFile>,
    /// ZIP file id -> a ZIP of samples asked for.
    pub zip_files: HashMap<String, crate::object_routes::ZipFile>,
    /// Signed links of ZIP files (`download_url`), to the ZIP file's id.
    pub zip_tokens: HashMap<String, String>,
}

/// One vote and who cast it.
#[derive(Debug, Clone)]
pub struct VoteRecord {
    pub key: String,
    pub verdict: String,
    pub object: Value,
}

/// A file uploaded for private scanning: visible only to the key that sent it.
#[derive(Debug, Clone)]
pub struct PrivateFile {
    pub identity: Arc<FileIdentity>,
    pub size: u64,
    pub name: Option<String>,
    pub date: i64,
}

impl Store {
    /// The latest completed analysis of an object, in epoch seconds.
    pub fn last_completion(&self, object_key: &str, now: Instant) -> Option<i64> {
        self.completions
            .get(object_key)?
            .iter()
            .filter(|c| c.at <= now)
            .map(|c| c.epoch)
            .max()
    }

    /// Records an upload, keeping its bytes while the memory budget allows.
    pub fn add_upload(&mut self, mut upload: Upload) {
        if let Some(bytes) = &upload.bytes {
            if self.kept_bytes + bytes.len() > MAX_KEPT_BYTES {
                upload.bytes = None;
            }
        }
        let identity = upload.identity.clone();
        if let Some(previous) = self.uploads.get(&identity.sha256) {
            if previous.bytes.is_some() && upload.bytes.is_none() {
                upload.bytes = previous.bytes.clone();
            } else if let Some(bytes) = &previous.bytes {
                self.kept_bytes -= bytes.len();
            }
        }
        self.kept_bytes += upload.bytes.as_ref().map_or(0, Bytes::len);
        for hash in [&identity.md5, &identity.sha1, &identity.sha256] {
            self.file_aliases.insert(hash.clone(), identity.clone());
        }
        self.uploads.insert(identity.sha256.clone(), upload);
    }

    /// Registers an analysis and when it will complete.
    pub fn add_analysis(&mut self, id: String, analysis: Analysis) {
        let completion = Completion {
            at: analysis.started + analysis.delay,
            epoch: analysis.date + analysis.delay.as_secs() as i64,
        };
        let key = match &analysis.private_owner {
            None => analysis.target.object_key(),
            Some(owner) => format!("private:{owner}:{}", analysis.target.object_key()),
        };
        self.completions.entry(key).or_default().push(completion);
        self.analyses.insert(id, analysis);
    }
}
