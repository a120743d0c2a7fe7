//! What an endpoint asks about: the file, where it is, who runs it where.
//!
//! Paths are the endpoint's, not this machine's: a Windows path sent to a
//! Linux server is split on backslashes and compared without case, so
//! `std::path` (which follows the host) is never used for them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest path or file name kept, in characters: they come from the
/// endpoint, i.e. possibly from whoever named the file.
pub const MAX_PATH_CHARS: usize = 4096;
/// Longest user, group, host or publisher name kept.
pub const MAX_NAME_CHARS: usize = 256;
/// Most groups a request may name.
pub const MAX_GROUPS: usize = 64;

/// The endpoint's operating system: how its paths are split and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Windows,
    Macos,
    Linux,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Windows, Platform::Macos, Platform::Linux];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Windows => "windows",
            Platform::Macos => "macos",
            Platform::Linux => "linux",
        }
    }

    /// `windows`, `macos` or `linux` (case-insensitive; `mac` and `darwin`
    /// too, as agents say).
    pub fn parse(s: &str) -> Option<Platform> {
        match s.trim().to_ascii_lowercase().as_str() {
            "windows" | "win" => Some(Platform::Windows),
            "macos" | "mac" | "darwin" | "osx" => Some(Platform::Macos),
            "linux" => Some(Platform::Linux),
            _ => None,
        }
    }

    /// Windows and (by default) macOS compare names without case.
    pub fn folds_case(self) -> bool {
        matches!(self, Platform::Windows | Platform::Macos)
    }

    pub fn separator(self) -> char {
        match self {
            Platform::Windows => '\\',
            Platform::Macos | Platform::Linux => '/',
        }
    }

    /// The platform a path's shape shows: a drive letter or a UNC prefix is
    /// Windows, `/Users/` macOS, any other absolute path Linux.
    pub fn infer(path: &str) -> Option<Platform> {
        let b = path.as_bytes();
        if (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':') || path.starts_with("\\\\")
        {
            Some(Platform::Windows)
        } else if path.starts_with("/Users/") || path.starts_with("/private/") {
            Some(Platform::Macos)
        } else if path.starts_with('/') {
            Some(Platform::Linux)
        } else {
            None
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A path as the endpoint means it, normalised for its platform: one
/// separator kind, no empty, `.` or `..` segments (so `Downloads\..\x.exe`
/// cannot slip past a folder filter), no `\\?\` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointPath {
    normal: String,
    name_start: usize,
}

impl EndpointPath {
    pub fn new(raw: &str, platform: Platform) -> EndpointPath {
        let sep = platform.separator();
        let raw: String = raw.chars().take(MAX_PATH_CHARS).collect();
        let (prefix, rest) = match platform {
            Platform::Windows => {
                let unified = raw.replace('/', "\\");
                let unified = unified
                    .strip_prefix("\\\\?\\UNC\\")
                    .map(|r| format!("\\\\{r}"))
                    .or_else(|| unified.strip_prefix("\\\\?\\").map(str::to_owned))
                    .unwrap_or(unified);
                if let Some(unc) = unified.strip_prefix("\\\\") {
                    ("\\\\".to_owned(), unc.to_owned())
                } else if unified.as_bytes().get(1) == Some(&b':') {
                    let (drive, rest) = unified.split_at(2);
                    (format!("{drive}\\"), rest.to_owned())
                } else {
                    (String::new(), unified)
                }
            }
            Platform::Macos | Platform::Linux => {
                if let Some(rest) = raw.strip_prefix('/') {
                    ("/".to_owned(), rest.to_owned())
                } else {
                    (String::new(), raw)
                }
            }
        };
        let mut parts: Vec<&str> = Vec::new();
        for part in rest.split(sep) {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        let mut normal = prefix;
        let mut name_start = normal.len();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                normal.push(sep);
            }
            name_start = normal.len();
            normal.push_str(part);
        }
        EndpointPath { normal, name_start }
    }

    /// The whole normalised path.
    pub fn as_str(&self) -> &str {
        &self.normal
    }

    /// The last segment: the file name.
    pub fn file_name(&self) -> &str {
        &self.normal[self.name_start..]
    }
}

/// One question from an endpoint: may this file run?
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRequest {
    /// Lower-case hex; at least one hash is needed to ask VirusTotal.
    pub sha256: Option<String>,
    pub sha1: Option<String>,
    pub md5: Option<String>,
    /// The full path on the endpoint.
    pub path: Option<String>,
    /// The file name; taken from the path when not given.
    pub name: Option<String>,
    pub user: Option<String>,
    pub groups: Vec<String>,
    pub host: Option<String>,
    /// Inferred from the path when not given.
    pub platform: Option<Platform>,
    /// The signer, when the agent reads it.
    pub publisher: Option<String>,
    /// Whether the file carries a valid signature, when the agent checks.
    pub signed: Option<bool>,
}

/// Why a request cannot be decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    #[error("a request needs a sha256, sha1 or md5 of the file")]
    NoHash,
    #[error("{field} is not a {kind} hash (hex digits of the right length)")]
    BadHash {
        field: &'static str,
        kind: &'static str,
    },
    #[error("at most {MAX_GROUPS} groups per request")]
    TooManyGroups,
}

impl FileRequest {
    /// Checks the hashes and lower-cases them, and bounds every string.
    pub fn normalised(mut self) -> Result<FileRequest, RequestError> {
        for (field, kind, len, value) in [
            ("sha256", "sha256", 64, &mut self.sha256),
            ("sha1", "sha1", 40, &mut self.sha1),
            ("md5", "md5", 32, &mut self.md5),
        ] {
            if let Some(v) = value.as_mut() {
                let t = v.trim();
                if t.len() != len || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(RequestError::BadHash { field, kind });
                }
                *v = t.to_ascii_lowercase();
            }
        }
        if self.sha256.is_none() && self.sha1.is_none() && self.md5.is_none() {
            return Err(RequestError::NoHash);
        }
        if self.groups.len() > MAX_GROUPS {
            return Err(RequestError::TooManyGroups);
        }
        for v in [&mut self.path, &mut self.name].into_iter().flatten() {
            bound(v, MAX_PATH_CHARS);
        }
        for v in [&mut self.user, &mut self.host, &mut self.publisher]
            .into_iter()
            .flatten()
        {
            bound(v, MAX_NAME_CHARS);
        }
        for g in &mut self.groups {
            bound(g, MAX_NAME_CHARS);
        }
        if self.platform.is_none() {
            self.platform = self.path.as_deref().and_then(Platform::infer);
        }
        Ok(self)
    }

    /// The hash VirusTotal is asked with: sha256 first.
    pub fn best_hash(&self) -> Option<&str> {
        self.sha256
            .as_deref()
            .or(self.sha1.as_deref())
            .or(self.md5.as_deref())
    }

    /// The path normalised for the request's platform (Linux rules when
    /// none is known).
    pub fn endpoint_path(&self) -> Option<EndpointPath> {
        let platform = self.platform.unwrap_or(Platform::Linux);
        self.path.as_deref().map(|p| EndpointPath::new(p, platform))
    }

    /// The file name given, else the path's last segment.
    pub fn file_name(&self) -> Option<String> {
        self.name
            .clone()
            .or_else(|| self.endpoint_path().map(|p| p.file_name().to_owned()))
            .filter(|n| !n.is_empty())
    }
}

fn bound(s: &mut String, max: usize) {
    if let Some((at, _)) = s.char_indices().nth(max) {
        s.truncate(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_paths_are_windows_paths_on_any_host() {
        let p = EndpointPath::new(
            "C:/Users/bob//Downloads/./x/../setup.EXE",
            Platform::Windows,
        );
        assert_eq!(p.as_str(), "C:\\Users\\bob\\Downloads\\setup.EXE");
        assert_eq!(p.file_name(), "setup.EXE");
        let unc = EndpointPath::new("\\\\?\\UNC\\srv\\share\\a.exe", Platform::Windows);
        assert_eq!(unc.as_str(), "\\\\srv\\share\\a.exe");
        let long = EndpointPath::new("\\\\?\\D:\\a\\b.exe", Platform::Windows);
        assert_eq!(long.as_str(), "D:\\a\\b.exe");
        let up = EndpointPath::new(
            "C:\\Users\\bob\\Downloads\\..\\..\\..\\..\\x.exe",
            Platform::Windows,
        );
        assert_eq!(
            up.as_str(),
            "C:\\x.exe",
            "`..` never climbs above the drive"
        );
    }

    #[test]
    fn unix_paths_keep_backslashes_as_name_characters() {
        let p = EndpointPath::new("/home/bob/Downloads/a\\b", Platform::Linux);
        assert_eq!(p.file_name(), "a\\b");
        assert_eq!(Platform::infer("C:\\x"), Some(Platform::Windows));
        assert_eq!(Platform::infer("/Users/ann/x"), Some(Platform::Macos));
        assert_eq!(Platform::infer("/home/ann/x"), Some(Platform::Linux));
        assert_eq!(Platform::infer("x.exe"), None);
    }

    #[test]
    fn a_request_needs_a_well_formed_hash() {
        let r = FileRequest {
            md5: Some("44D88612FEA8A8F36DE82E1278ABB02F".into()),
            path: Some("C:\\Users\\bob\\Downloads\\e.com".into()),
            ..FileRequest::default()
        }
        .normalised()
        .unwrap();
        assert_eq!(r.best_hash(), Some("44d88612fea8a8f36de82e1278abb02f"));
        assert_eq!(r.platform, Some(Platform::Windows));
        assert_eq!(r.file_name().as_deref(), Some("e.com"));
        assert_eq!(
            FileRequest::default().normalised(),
            Err(RequestError::NoHash)
        );
        let bad = FileRequest {
            sha256: Some("zz".into()),
            ..FileRequest::default()
        };
        assert!(matches!(
            bad.normalised(),
            Err(RequestError::BadHash { .. })
        ));
    }
}
