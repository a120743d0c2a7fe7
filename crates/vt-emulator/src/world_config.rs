//! How much of the synthetic world exists: the share of the file hash
//! space that is known (`--known-files RATE`), `--world empty` (only the
//! built-ins, fixtures and uploads), and the built-in objects every world
//! has: the EICAR test file, the empty file, and the example names
//! integrations' documentation uses (`example.com`, ...).
//!
//! [`crate::world::world_class`] stays the pinned rule for the default
//! world; [`Emulator::class_of`] is what the routes ask, with the options
//! applied on top.

use crate::world::{self, WorldClass};
use crate::Emulator;
use ioc::IndicatorKind;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The share of file hashes the default world knows (the 15% unknown of
/// [`crate::world`]'s rule).
pub const DEFAULT_KNOWN_FILES: f64 = 0.85;

/// Which world the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WorldMode {
    /// Every id has a synthetic report (all but the unknown share).
    #[default]
    Synthetic,
    /// Only built-ins, fixtures and what is uploaded or submitted.
    Empty,
}

/// Domains the API documentation and every integration's examples use;
/// known (clean) in every world.
pub const EXAMPLE_DOMAINS: &[&str] = &[
    "example.com",
    "www.example.com",
    "example.org",
    "www.example.org",
    "example.net",
    "www.example.net",
    "example.edu",
    "google.com",
    "www.google.com",
    "virustotal.com",
    "www.virustotal.com",
];

/// IP addresses the documentation uses; known (clean) in every world.
pub const EXAMPLE_IPS: &[&str] = &["8.8.8.8", "8.8.4.4", "1.1.1.1", "9.9.9.9"];

/// The bytes of the empty file (a report VirusTotal has, like EICAR's).
pub const EMPTY_FILE: &[u8] = b"";

/// The hashes of a built-in file: md5, sha1, sha256.
#[derive(Debug, Clone)]
pub struct BuiltinFile {
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub bytes: &'static [u8],
    pub class: WorldClass,
}

/// The built-in files, hashed from their bytes once.
pub fn builtin_files() -> &'static [BuiltinFile] {
    static FILES: OnceLock<Vec<BuiltinFile>> = OnceLock::new();
    FILES.get_or_init(|| {
        [
            (world::EICAR, WorldClass::Malicious),
            (EMPTY_FILE, WorldClass::Clean),
        ]
        .into_iter()
        .map(|(bytes, class)| BuiltinFile {
            md5: hex::encode(Md5::digest(bytes)),
            sha1: hex::encode(Sha1::digest(bytes)),
            sha256: hex::encode(Sha256::digest(bytes)),
            bytes,
            class,
        })
        .collect()
    })
}

/// The built-in file one of whose hashes is `hash`.
pub fn builtin_file(hash: &str) -> Option<&'static BuiltinFile> {
    builtin_files().iter().find(|f| {
        [&f.md5, &f.sha1, &f.sha256]
            .iter()
            .any(|h| h.eq_ignore_ascii_case(hash))
    })
}

/// Whether the empty file is what `sha256` names.
pub fn is_empty_file(sha256: &str) -> bool {
    builtin_file(sha256).is_some_and(|f| f.bytes.is_empty())
}

fn builtin_class(kind: IndicatorKind, id: &str) -> Option<WorldClass> {
    match kind {
        IndicatorKind::File => builtin_file(id).map(|f| f.class),
        IndicatorKind::Domain => EXAMPLE_DOMAINS
            .iter()
            .any(|d| d.eq_ignore_ascii_case(id))
            .then_some(WorldClass::Clean),
        IndicatorKind::Ip => EXAMPLE_IPS.contains(&id).then_some(WorldClass::Clean),
        IndicatorKind::Url => None,
    }
}

/// A uniform draw in 0..1 for an id, independent of its report's seed.
fn share_draw(id: &str) -> f64 {
    let seed = world::seed(IndicatorKind::File, &format!("known-files:{id}"));
    (seed % 1_000_000) as f64 / 1_000_000.0
}

/// The class of a file hash under a known-files rate: at the default the
/// pinned rule; below it, a share of known files become unknown; above
/// it, a share of unknown ones become clean.
pub fn file_class_at(rate: f64, id: &str) -> WorldClass {
    let class = world::world_class(IndicatorKind::File, id);
    let rate = rate.clamp(0.0, 1.0);
    if (rate - DEFAULT_KNOWN_FILES).abs() < f64::EPSILON {
        return class;
    }
    let draw = share_draw(&id.to_ascii_lowercase());
    if rate < DEFAULT_KNOWN_FILES {
        if class != WorldClass::Unknown && draw >= rate / DEFAULT_KNOWN_FILES {
            return WorldClass::Unknown;
        }
    } else if class == WorldClass::Unknown
        && draw < (rate - DEFAULT_KNOWN_FILES) / (1.0 - DEFAULT_KNOWN_FILES)
    {
        return WorldClass::Clean;
    }
    class
}

impl Emulator {
    /// The class of an id in this emulator's world (options applied).
    pub(crate) fn class_of(&self, kind: IndicatorKind, id: &str) -> WorldClass {
        if let Some(class) = builtin_class(kind, id) {
            return class;
        }
        let config = self.config();
        if config.world == WorldMode::Empty {
            return WorldClass::Unknown;
        }
        match kind {
            IndicatorKind::File => file_class_at(config.known_files, id),
            _ => world::world_class(kind, id),
        }
    }

    /// Whether the world draws synthetic related objects at all.
    pub(crate) fn world_is_synthetic(&self) -> bool {
        self.config().world == WorldMode::Synthetic
    }
}

/// The identity of a built-in file named by any of its hashes.
pub fn builtin_identity(hash: &str) -> std::sync::Arc<world::FileIdentity> {
    let identity = match builtin_file(hash) {
        Some(f) => world::FileIdentity::real(f.md5.clone(), f.sha1.clone(), f.sha256.clone()),
        None => world::FileIdentity::eicar(),
    };
    std::sync::Arc::new(identity)
}

/// The empty file's true facts over a synthetic report: size 0, no type,
/// no PE structure, the fuzzy hashes of nothing.
pub fn make_empty_file(attributes: &mut vt_model::FileAttributes) {
    attributes.size = Some(0);
    attributes.type_description = Some("unknown".to_owned());
    attributes.type_tag = None;
    attributes.magic = Some("empty".to_owned());
    attributes.meaningful_name = Some("empty".to_owned());
    attributes.names = Some(vec!["empty".to_owned(), "empty.txt".to_owned()]);
    attributes.tags = vec!["empty".to_owned()];
    let other = &mut attributes.other;
    for key in [
        "pe_info",
        "authentihash",
        "vhash",
        "creation_date",
        "trid",
        "crowdsourced_yara_results",
        "type_extension",
    ] {
        other.remove(key);
    }
    other.insert("type_tags".into(), serde_json::json!([]));
    other.insert("ssdeep".into(), serde_json::json!("3::"));
    other.insert("tlsh".into(), serde_json::json!("TNULL"));
}
