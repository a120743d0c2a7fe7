//! Fixture objects loaded once at start-up from `--fixtures DIR`.
//!
//! Each `DIR/*.json` holds one object as the API returns it
//! (`{"data": {"type", "id", "attributes", ...}}`) and overrides the
//! synthetic world for that id; files are indexed under their md5, sha1 and
//! sha256. `DIR/content/<sha256>` holds sample bytes for the download routes.

use crate::EmulatorError;
use bytes::Bytes;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// The kind of object a fixture overrides, keyed like the API's `type`.
#[derive(Debug, Default)]
pub struct Fixtures {
    /// `(type, id)` -> the object (the `data` member).
    objects: HashMap<(String, String), Value>,
    /// sha256 -> sample bytes.
    content: HashMap<String, Bytes>,
}

impl Fixtures {
    pub fn load(dir: &Path) -> Result<Fixtures, EmulatorError> {
        let mut fixtures = Fixtures::default();
        let entries = std::fs::read_dir(dir).map_err(|source| EmulatorError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for path in paths {
            fixtures.load_object(&path)?;
        }
        let content_dir = dir.join("content");
        if content_dir.is_dir() {
            let entries = std::fs::read_dir(&content_dir).map_err(|source| EmulatorError::Io {
                path: content_dir.clone(),
                source,
            })?;
            for entry in entries.filter_map(Result::ok) {
                let path = entry.path();
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                let Some(sha256) = ioc::Sha256::parse(name) else {
                    continue;
                };
                let bytes = std::fs::read(&path).map_err(|source| EmulatorError::Io {
                    path: path.clone(),
                    source,
                })?;
                fixtures
                    .content
                    .insert(sha256.as_str().to_owned(), Bytes::from(bytes));
            }
        }
        tracing::info!(
            objects = fixtures.objects.len(),
            samples = fixtures.content.len(),
            "fixtures loaded"
        );
        Ok(fixtures)
    }

    fn load_object(&mut self, path: &Path) -> Result<(), EmulatorError> {
        let bad = |reason: String| EmulatorError::Fixture {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|source| EmulatorError::Io {
            path: path.to_owned(),
            source,
        })?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let Some(data) = doc.get("data").filter(|d| d.is_object()) else {
            return Err(bad("no \"data\" object".into()));
        };
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("\"data.type\" missing or not a string".into()))?
            .to_owned();
        let id = data
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("\"data.id\" missing or not a string".into()))?
            .to_owned();
        if !matches!(kind.as_str(), "file" | "url" | "domain" | "ip_address") {
            return Err(bad(format!(
                "type {kind:?} is not one of file, url, domain, ip_address"
            )));
        }
        let mut ids = vec![normalise(&kind, &id)];
        if kind == "file" {
            let attributes = data.get("attributes");
            for field in ["md5", "sha1", "sha256"] {
                if let Some(h) = attributes
                    .and_then(|a| a.get(field))
                    .and_then(Value::as_str)
                {
                    ids.push(h.to_ascii_lowercase());
                }
            }
        }
        for key in ids {
            self.objects.insert((kind.clone(), key), data.clone());
        }
        Ok(())
    }

    /// The fixture object of `kind` (`file`, `url`, `domain`, `ip_address`) for `id`.
    pub fn object(&self, kind: &str, id: &str) -> Option<&Value> {
        if self.objects.is_empty() {
            return None;
        }
        self.objects.get(&(kind.to_owned(), normalise(kind, id)))
    }

    /// Sample bytes shipped for a sha256.
    pub fn content(&self, sha256: &str) -> Option<&Bytes> {
        self.content.get(sha256)
    }

    /// Every fixture object of a kind, once each (files are indexed thrice).
    pub fn objects_of(&self, kind: &str) -> Vec<&Value> {
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<&Value> = self
            .objects
            .iter()
            .filter(|((k, _), _)| k == kind)
            .map(|(_, v)| v)
            .filter(|v| seen.insert(v.get("id").and_then(Value::as_str).unwrap_or_default()))
            .collect();
        out.sort_by(|a, b| {
            let id = |v: &Value| {
                v.get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            id(a).cmp(&id(b))
        });
        out
    }
}

fn normalise(kind: &str, id: &str) -> String {
    match kind {
        "file" | "domain" | "url" => id.to_ascii_lowercase(),
        _ => id.to_owned(),
    }
}
