//! The synthetic world: every file, URL, domain and IP address has a report
//! computed from a hash of its id, so the same id always gets the same report.
//!
//! The rule (pinned by tests, relied on by other crates' tests):
//!
//! * `seed = u64::from_le_bytes(sha256("<kind>:<id>")[0..8])` where `<kind>`
//!   is `file`, `url`, `domain` or `ip` and `<id>` is the lower-case hash as
//!   first asked for, the sha256 of the canonical URL, the lower-case domain,
//!   or the IP address as Rust prints it.
//! * `bucket = (seed >> 40) % 100` picks the [`WorldClass`]:
//!
//!   | kind | Unknown | Malicious | Suspicious | Clean |
//!   |---|---|---|---|---|
//!   | file | 0..15 | 15..25 | 25..40 | 40..100 |
//!   | url | 0..10 | 10..20 | 20..35 | 35..100 |
//!   | domain, ip | 0..3 | 3..13 | 13..28 | 28..100 |
//!
//! * Everything else (engine verdicts, names, sizes, dates) is drawn from a
//!   `fastrand::Rng` seeded with `seed`. Dates are relative to
//!   [`world_epoch`], the start of the current UTC day, so reports look as
//!   fresh as real ones and stay the same all day: nine objects in ten were
//!   last analysed in the past 20 days, the rest 45 to 400 days ago (stale
//!   under a 30-day rule, for clients that rescan).
//!
//! Use [`world_class`] to find ids of a class instead of hard-coding them.

use crate::engines::{
    file_engine_version, file_signature, CATEGORIES, EICAR_SIGNATURES, FAMILIES, FILE_ENGINES,
    URL_ENGINES,
};
use ioc::IndicatorKind;
use md5::Md5;
use serde_json::json;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::IpAddr;
use vt_model::{
    AnalysisStats, DomainAttributes, EngineResult, FileAttributes, IpAddressAttributes,
    UrlAttributes, Votes,
};

/// The instant the synthetic world's dates are relative to: the start of
/// the current UTC day (unix seconds).
pub fn world_epoch() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(now - now % 86_400).unwrap_or(i64::MAX)
}

/// The EICAR test file, built into the world with its real bytes.
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
pub const EICAR_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";
pub const EICAR_SHA1: &str = "3395856ce81f2b7382dee72602f798b642f14140";
pub const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

/// What the synthetic world says about an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorldClass {
    /// The API answers 404 NotFoundError.
    Unknown,
    /// No engine detects it.
    Clean,
    /// One to four engines flag it as malicious.
    Suspicious,
    /// Many engines detect it.
    Malicious,
}

/// The class the world gives an id of a kind (see the module docs for the rule).
///
/// `id` is normalised the way the API normalises it: hashes and domains are
/// lower-cased; a URL id must be the sha256 of the canonical URL.
pub fn world_class(kind: IndicatorKind, id: &str) -> WorldClass {
    if kind == IndicatorKind::File && is_eicar(id) {
        return WorldClass::Malicious;
    }
    let bucket = (seed(kind, &id.to_ascii_lowercase()) >> 40) % 100;
    let (unknown, malicious, suspicious) = match kind {
        IndicatorKind::File => (15, 25, 40),
        IndicatorKind::Url => (10, 20, 35),
        IndicatorKind::Domain | IndicatorKind::Ip => (3, 13, 28),
    };
    match bucket {
        b if b < unknown => WorldClass::Unknown,
        b if b < malicious => WorldClass::Malicious,
        b if b < suspicious => WorldClass::Suspicious,
        _ => WorldClass::Clean,
    }
}

/// Whether a hash (any of the three) names the EICAR test file.
pub fn is_eicar(hash: &str) -> bool {
    [EICAR_MD5, EICAR_SHA1, EICAR_SHA256]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(hash))
}

/// The seed of an id: the first eight bytes of `sha256("<kind>:<id>")`.
pub fn seed(kind: IndicatorKind, id: &str) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_str().as_bytes());
    hasher.update(b":");
    hasher.update(id.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

fn rng_for(kind: IndicatorKind, id: &str) -> fastrand::Rng {
    fastrand::Rng::with_seed(seed(kind, id))
}

/// The three hashes of one file, and the hash its report is seeded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileIdentity {
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    /// The hash the world first met this file by; seeds its report.
    pub root: String,
}

impl FileIdentity {
    /// A synthetic file first asked for by `hash`: the other two hashes are
    /// derived from it (`<algo>("vt-emulator:<algo>:<hash>")`).
    pub fn derive(hash: &ioc::FileHash) -> FileIdentity {
        let root = hash.as_str().to_owned();
        let derived = |algo: &str| format!("vt-emulator:{algo}:{root}");
        let md5 = match hash {
            ioc::FileHash::Md5(h) => h.as_str().to_owned(),
            _ => hex::encode(Md5::digest(derived("md5").as_bytes())),
        };
        let sha1 = match hash {
            ioc::FileHash::Sha1(h) => h.as_str().to_owned(),
            _ => hex::encode(Sha1::digest(derived("sha1").as_bytes())),
        };
        let sha256 = match hash {
            ioc::FileHash::Sha256(h) => h.as_str().to_owned(),
            _ => hex::encode(Sha256::digest(derived("sha256").as_bytes())),
        };
        FileIdentity {
            md5,
            sha1,
            sha256,
            root,
        }
    }

    /// A file whose bytes the emulator has seen: its real hashes, seeded by sha256.
    pub fn real(md5: String, sha1: String, sha256: String) -> FileIdentity {
        FileIdentity {
            root: sha256.clone(),
            md5,
            sha1,
            sha256,
        }
    }

    pub fn eicar() -> FileIdentity {
        FileIdentity::real(EICAR_MD5.into(), EICAR_SHA1.into(), EICAR_SHA256.into())
    }
}

struct FileType {
    description: &'static str,
    tag: &'static str,
    extension: &'static str,
    magic: &'static str,
    tags: &'static [&'static str],
}

const FILE_TYPES: &[FileType] = &[
    FileType {
        description: "Win32 EXE",
        tag: "peexe",
        extension: "exe",
        magic: "PE32 executable (GUI) Intel 80386, for MS Windows",
        tags: &["peexe", "overlay"],
    },
    FileType {
        description: "Win32 DLL",
        tag: "pedll",
        extension: "dll",
        magic: "PE32 executable (DLL) (GUI) Intel 80386, for MS Windows",
        tags: &["pedll"],
    },
    FileType {
        description: "PDF",
        tag: "pdf",
        extension: "pdf",
        magic: "PDF document, version 1.7",
        tags: &["pdf", "js-embedded"],
    },
    FileType {
        description: "ZIP",
        tag: "zip",
        extension: "zip",
        magic: "Zip archive data, at least v2.0 to extract",
        tags: &["zip", "contains-pe"],
    },
    FileType {
        description: "MS Word Document",
        tag: "doc",
        extension: "doc",
        magic: "Composite Document File V2 Document",
        tags: &["doc", "macros"],
    },
    FileType {
        description: "JavaScript",
        tag: "javascript",
        extension: "js",
        magic: "ASCII text, with very long lines",
        tags: &["javascript", "obfuscated"],
    },
    FileType {
        description: "ELF",
        tag: "elf",
        extension: "elf",
        magic: "ELF 32-bit LSB executable, ARM, EABI5 version 1 (SYSV)",
        tags: &["elf", "upx"],
    },
    FileType {
        description: "Android",
        tag: "android",
        extension: "apk",
        magic: "Zip archive data, at least v2.0 to extract",
        tags: &["apk", "android"],
    },
    FileType {
        description: "Powershell",
        tag: "powershell",
        extension: "ps1",
        magic: "ASCII text",
        tags: &["powershell"],
    },
    FileType {
        description: "Text",
        tag: "text",
        extension: "txt",
        magic: "ASCII text",
        tags: &["text"],
    },
];

const WORDS: &[&str] = &[
    "invoice",
    "setup",
    "update",
    "report",
    "scan",
    "document",
    "payment",
    "order",
    "client",
    "service",
    "driver",
    "helper",
    "patch",
    "install",
    "photo",
    "resume",
    "statement",
    "agent",
    "launcher",
    "tool",
    "backup",
    "sync",
    "notice",
    "receipt",
];

const SYLLABLES: &[&str] = &[
    "nor", "vel", "tar", "qui", "zen", "lum", "bra", "cor", "dex", "fin", "gal", "hex", "ion",
    "kas", "lor", "mir", "nex", "pol", "ros", "sol", "tri", "ula", "ver", "xan",
];

const TLDS: &[&str] = &[
    "com", "net", "org", "info", "io", "ru", "cn", "xyz", "top", "de", "co", "biz",
];

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

fn word_name(rng: &mut fastrand::Rng, syllables: usize) -> String {
    (0..syllables).map(|_| *pick(rng, SYLLABLES)).collect()
}

/// A synthetic domain name drawn from `rng`.
pub(crate) fn synthetic_domain(rng: &mut fastrand::Rng) -> String {
    let syllables = rng.usize(2..=3);
    format!("{}.{}", word_name(rng, syllables), pick(rng, TLDS))
}

/// A synthetic URL (not yet canonical) drawn from `rng`.
pub(crate) fn synthetic_url_text(rng: &mut fastrand::Rng) -> String {
    let host = synthetic_domain(rng);
    let first = *pick(rng, WORDS);
    let second = *pick(rng, WORDS);
    format!("http://{host}/{first}/{second}.html")
}

/// A synthetic host label drawn from `rng`, e.g. for subdomains.
pub(crate) fn synthetic_label(rng: &mut fastrand::Rng) -> String {
    (*pick(rng, WORDS)).to_owned()
}

/// Dates shared by every analysed object: first seen, last analysed, modified.
struct Dates {
    first_submission: i64,
    last_submission: i64,
    last_analysis: i64,
    last_modification: i64,
}

fn dates(rng: &mut fastrand::Rng) -> Dates {
    let age = if rng.u8(0..10) == 0 {
        rng.i64(45 * 86_400..400 * 86_400)
    } else {
        rng.i64(3600..20 * 86_400)
    };
    let last_analysis = world_epoch() - age;
    let first_submission = last_analysis - rng.i64(0..3 * 365 * 86_400);
    let last_submission = rng.i64(first_submission..=last_analysis);
    Dates {
        first_submission,
        last_submission,
        last_analysis,
        last_modification: last_analysis + rng.i64(0..86_400),
    }
}

fn votes(rng: &mut fastrand::Rng, class: WorldClass) -> (i64, Votes) {
    match class {
        WorldClass::Malicious => {
            let malicious = rng.u32(1..40);
            let harmless = rng.u32(0..3);
            (
                -(i64::from(malicious) * 3) - rng.i64(0..50),
                Votes {
                    harmless,
                    malicious,
                },
            )
        }
        WorldClass::Suspicious => (
            rng.i64(-10..=0),
            Votes {
                harmless: rng.u32(0..3),
                malicious: rng.u32(0..4),
            },
        ),
        WorldClass::Clean | WorldClass::Unknown => (
            rng.i64(0..=20),
            Votes {
                harmless: rng.u32(0..6),
                malicious: 0,
            },
        ),
    }
}

/// Per-engine verdicts on a file and their tally.
fn file_results(
    rng: &mut fastrand::Rng,
    class: WorldClass,
    family: &str,
    category: &str,
) -> (BTreeMap<String, EngineResult>, AnalysisStats) {
    let n = FILE_ENGINES.len();
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    let (unsupported, malicious) = match class {
        WorldClass::Malicious => (rng.usize(0..4), rng.usize(25..=60)),
        WorldClass::Suspicious => (rng.usize(2..9), rng.usize(1..=4)),
        WorldClass::Clean | WorldClass::Unknown => (rng.usize(2..9), 0),
    };
    let oddity = rng.usize(0..10);
    let variant = rng.u32(..);
    let update = day_stamp(world_epoch() - 86_400);
    let mut categories = vec!["undetected"; n];
    for (rank, &engine) in order.iter().enumerate() {
        categories[engine] = if rank < unsupported {
            "type-unsupported"
        } else if rank < unsupported + malicious {
            "malicious"
        } else if rank == unsupported + malicious && oddity < 3 {
            ["timeout", "failure", "confirmed-timeout"][oddity]
        } else {
            "undetected"
        };
    }
    let mut stats = file_stats();
    let mut results = BTreeMap::new();
    for (index, (&engine, category_of_engine)) in FILE_ENGINES.iter().zip(categories).enumerate() {
        stats.count(category_of_engine);
        let result = (category_of_engine == "malicious")
            .then(|| file_signature(index, family, category, variant));
        results.insert(
            engine.to_owned(),
            EngineResult {
                category: category_of_engine.to_owned(),
                engine_name: engine.to_owned(),
                engine_version: Some(file_engine_version(index)),
                engine_update: Some(update.clone()),
                method: Some("blacklist".to_owned()),
                result,
            },
        );
    }
    (results, stats)
}

/// Stats of a file: the file-only keys are present even when zero.
fn file_stats() -> AnalysisStats {
    AnalysisStats {
        type_unsupported: Some(0),
        failure: Some(0),
        confirmed_timeout: Some(0),
        ..AnalysisStats::default()
    }
}

/// Per-engine verdicts on a URL, domain or IP, and their tally.
fn reputation_results(
    rng: &mut fastrand::Rng,
    class: WorldClass,
) -> (BTreeMap<String, EngineResult>, AnalysisStats) {
    let n = URL_ENGINES.len();
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    let (malicious, suspicious) = match class {
        WorldClass::Malicious => (rng.usize(6..=20), rng.usize(0..=2)),
        WorldClass::Suspicious => (rng.usize(1..=4), rng.usize(0..=1)),
        WorldClass::Clean | WorldClass::Unknown => (0, 0),
    };
    let undetected = rng.usize(20..=30);
    let labels = ["malicious", "phishing", "malware"];
    let mut verdicts = vec![("harmless", "clean"); n];
    for (rank, &engine) in order.iter().enumerate() {
        verdicts[engine] = if rank < malicious {
            ("malicious", *pick(rng, &labels))
        } else if rank < malicious + suspicious {
            ("suspicious", "suspicious")
        } else if rank < malicious + suspicious + undetected {
            ("undetected", "unrated")
        } else {
            ("harmless", "clean")
        };
    }
    let mut stats = AnalysisStats::default();
    let mut results = BTreeMap::new();
    for (&engine, (category, label)) in URL_ENGINES.iter().zip(verdicts) {
        stats.count(category);
        results.insert(
            engine.to_owned(),
            EngineResult {
                category: category.to_owned(),
                engine_name: engine.to_owned(),
                engine_version: None,
                engine_update: None,
                method: Some("blacklist".to_owned()),
                result: Some(label.to_owned()),
            },
        );
    }
    (results, stats)
}

fn day_stamp(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .map(|t| format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_else(|_| "20261031".to_owned())
}

/// The report of a synthetic (or uploaded) file.
///
/// `class` should be the world's class of `identity.root`; `Unknown` is
/// treated as clean (an uploaded file the world did not know).
pub(crate) fn file_attributes(identity: &FileIdentity, class: WorldClass) -> FileAttributes {
    let mut rng = rng_for(IndicatorKind::File, &identity.root);
    let file_type = pick(&mut rng, FILE_TYPES);
    let family = *pick(&mut rng, FAMILIES);
    let category = *pick(&mut rng, CATEGORIES);
    let (results, stats) = file_results(&mut rng, class, family, category);
    let (reputation, total_votes) = votes(&mut rng, class);
    let d = dates(&mut rng);
    let size = match file_type.tag {
        "javascript" | "powershell" | "text" => rng.u64(200..60_000),
        _ => rng.u64(8_000..4_000_000),
    };
    let first_word = *pick(&mut rng, WORDS);
    let second_word = *pick(&mut rng, WORDS);
    let meaningful_name = format!("{first_word}_{second_word}.{}", file_type.extension);
    let mut names = vec![meaningful_name.clone()];
    for _ in 0..rng.usize(0..4) {
        names.push(format!(
            "{}{}.{}",
            pick(&mut rng, WORDS),
            rng.u32(1..999),
            file_type.extension
        ));
    }
    names.push(format!("{}.{}", identity.sha256, file_type.extension));
    let mut tags: Vec<String> = file_type.tags.iter().map(|t| (*t).to_owned()).collect();
    let times_submitted = rng.u64(1..200);
    let mut other = serde_json::Map::new();
    other.insert("type_extension".into(), json!(file_type.extension));
    other.insert("type_tags".into(), json!(file_type.tags));
    other.insert("unique_sources".into(), json!(rng.u64(1..=times_submitted)));
    other.insert(
        "trid".into(),
        json!([{"file_type": file_type.description, "probability": 100.0 - f64::from(rng.u32(0..40))}]),
    );
    if matches!(file_type.tag, "peexe" | "pedll") {
        other.insert(
            "creation_date".into(),
            json!(d.first_submission - rng.i64(0..90 * 86_400)),
        );
    }
    crate::world_extras::add_rich_file_attributes(
        &mut other,
        &identity.sha256,
        file_type.tag,
        class,
        family,
    );
    if class == WorldClass::Malicious {
        tags.push("detect-debug-environment".into());
        other.insert(
            "popular_threat_classification".into(),
            json!({
                "suggested_threat_label": format!("{category}.{}", family.to_ascii_lowercase()),
                "popular_threat_category": [{"count": stats.malicious / 2 + 1, "value": category}],
                "popular_threat_name": [{"count": stats.malicious / 3 + 1, "value": family.to_ascii_lowercase()}],
            }),
        );
    }
    FileAttributes {
        md5: Some(identity.md5.clone()),
        sha1: Some(identity.sha1.clone()),
        sha256: Some(identity.sha256.clone()),
        size: Some(size),
        type_description: Some(file_type.description.to_owned()),
        type_tag: Some(file_type.tag.to_owned()),
        meaningful_name: Some(meaningful_name),
        names: Some(names),
        magic: Some(file_type.magic.to_owned()),
        times_submitted: Some(times_submitted),
        first_submission_date: Some(d.first_submission),
        last_submission_date: Some(d.last_submission),
        popular_threat_classification: None,
        last_analysis_date: Some(d.last_analysis),
        last_analysis_stats: Some(stats),
        last_analysis_results: results,
        last_modification_date: Some(d.last_modification),
        reputation: Some(reputation),
        total_votes: Some(total_votes),
        tags,
        other,
    }
}

/// The report of the EICAR test file: detected by nearly every engine.
pub(crate) fn eicar_attributes() -> FileAttributes {
    let mut rng = rng_for(IndicatorKind::File, EICAR_SHA256);
    let mut order: Vec<usize> = (0..FILE_ENGINES.len()).collect();
    rng.shuffle(&mut order);
    let mut stats = file_stats();
    let mut results = BTreeMap::new();
    let update = day_stamp(world_epoch() - 86_400);
    for (index, engine) in FILE_ENGINES.iter().enumerate() {
        let rank = order.iter().position(|&i| i == index).unwrap_or(0);
        let category = match rank {
            0..=1 => "type-unsupported",
            2..=7 => "undetected",
            _ => "malicious",
        };
        stats.count(category);
        results.insert(
            (*engine).to_owned(),
            EngineResult {
                category: category.to_owned(),
                engine_name: (*engine).to_owned(),
                engine_version: Some(file_engine_version(index)),
                engine_update: Some(update.clone()),
                method: Some("blacklist".to_owned()),
                result: (category == "malicious")
                    .then(|| EICAR_SIGNATURES[index % EICAR_SIGNATURES.len()].to_owned()),
            },
        );
    }
    let d = dates(&mut rng);
    let mut other = serde_json::Map::new();
    other.insert("type_extension".into(), json!("com"));
    other.insert("type_tags".into(), json!(["text"]));
    other.insert("unique_sources".into(), json!(14_000));
    crate::world_extras::add_eicar_extras(&mut other, EICAR_SHA256);
    other.insert(
        "popular_threat_classification".into(),
        json!({
            "suggested_threat_label": "virus.eicar/test",
            "popular_threat_category": [{"count": 20, "value": "virus"}],
            "popular_threat_name": [{"count": 30, "value": "eicar"}, {"count": 12, "value": "test"}],
        }),
    );
    FileAttributes {
        md5: Some(EICAR_MD5.to_owned()),
        sha1: Some(EICAR_SHA1.to_owned()),
        sha256: Some(EICAR_SHA256.to_owned()),
        size: Some(EICAR.len() as u64),
        type_description: Some("Text".to_owned()),
        type_tag: Some("text".to_owned()),
        meaningful_name: Some("eicar.com".to_owned()),
        names: Some(vec![
            "eicar.com".to_owned(),
            "eicar.com.txt".to_owned(),
            "eicar_test_file".to_owned(),
        ]),
        magic: Some("EICAR virus test files".to_owned()),
        times_submitted: Some(250_000),
        first_submission_date: Some(1_148_301_722),
        last_submission_date: Some(d.last_submission.max(1_148_301_722)),
        // In `other`, as the world builds it with the rest of the extras.
        popular_threat_classification: None,
        last_analysis_date: Some(d.last_analysis),
        last_analysis_stats: Some(stats),
        last_analysis_results: results,
        last_modification_date: Some(d.last_modification),
        reputation: Some(3_500),
        total_votes: Some(Votes {
            harmless: 800,
            malicious: 600,
        }),
        tags: vec!["text".to_owned(), "known-distributor".to_owned()],
        other,
    }
}

const URL_CATEGORIES_CLEAN: &[&str] = &[
    "information technology",
    "business",
    "news",
    "education",
    "shopping",
    "search engines",
];
const URL_CATEGORIES_BAD: &[&str] = &["phishing", "malicious sites", "malware", "spam"];

fn categories(rng: &mut fastrand::Rng, class: WorldClass) -> BTreeMap<String, String> {
    let vendors = [
        "Forcepoint ThreatSeeker",
        "Sophos",
        "BitDefender",
        "alphaMountain.ai",
    ];
    let list = if class == WorldClass::Malicious {
        URL_CATEGORIES_BAD
    } else {
        URL_CATEGORIES_CLEAN
    };
    vendors
        .iter()
        .take(rng.usize(1..=vendors.len()))
        .map(|v| ((*v).to_owned(), (*pick(rng, list)).to_owned()))
        .collect()
}

/// The report of a URL (`sha256` is its id, `url` its canonical text).
pub(crate) fn url_attributes(sha256: &str, url: &str, class: WorldClass) -> UrlAttributes {
    let mut rng = rng_for(IndicatorKind::Url, sha256);
    let (results, stats) = reputation_results(&mut rng, class);
    let (reputation, total_votes) = votes(&mut rng, class);
    let d = dates(&mut rng);
    let title = format!(
        "{} {} - {}",
        capitalised(pick::<&str>(&mut rng, WORDS)),
        capitalised(pick::<&str>(&mut rng, WORDS)),
        capitalised(&word_name(&mut rng, 2))
    );
    let content_length = rng.u64(500..200_000);
    let mut other = serde_json::Map::new();
    other.insert(
        "last_http_response_content_length".into(),
        json!(content_length),
    );
    other.insert(
        "last_http_response_content_sha256".into(),
        json!(hex::encode(Sha256::digest(
            format!("{sha256}:body").as_bytes()
        ))),
    );
    other.insert(
        "last_http_response_headers".into(),
        json!({"content-type": "text/html; charset=UTF-8", "server": "nginx"}),
    );
    let tags = match class {
        WorldClass::Malicious => vec!["phishing".to_owned()],
        _ => Vec::new(),
    };
    UrlAttributes {
        url: Some(url.to_owned()),
        last_final_url: Some(url.to_owned()),
        title: Some(title),
        categories: Some(categories(&mut rng, class)),
        last_http_response_code: Some(200),
        times_submitted: Some(rng.u64(1..50)),
        first_submission_date: Some(d.first_submission),
        last_submission_date: Some(d.last_submission),
        last_analysis_date: Some(d.last_analysis),
        last_analysis_stats: Some(stats),
        last_analysis_results: results,
        last_modification_date: Some(d.last_modification),
        reputation: Some(reputation),
        total_votes: Some(total_votes),
        tags,
        other,
    }
}

const REGISTRARS: &[&str] = &[
    "MarkMonitor Inc.",
    "GoDaddy.com, LLC",
    "NameCheap, Inc.",
    "Tucows Domains Inc.",
    "Gandi SAS",
    "Key-Systems GmbH",
    "PDR Ltd. d/b/a PublicDomainRegistry.com",
    "Alibaba Cloud Computing (Beijing) Co., Ltd.",
];

/// The report of a domain.
pub(crate) fn domain_attributes(domain: &str, class: WorldClass) -> DomainAttributes {
    let mut rng = rng_for(IndicatorKind::Domain, domain);
    let (results, stats) = reputation_results(&mut rng, class);
    let (reputation, total_votes) = votes(&mut rng, class);
    let d = dates(&mut rng);
    let registrar = *pick(&mut rng, REGISTRARS);
    let created = match class {
        WorldClass::Malicious => d.last_analysis - rng.i64(86_400..120 * 86_400),
        _ => d.last_analysis - rng.i64(365 * 86_400..20 * 365 * 86_400),
    };
    let expires = created + 86_400 * 365 * rng.i64(1..=10);
    let tld = domain.rsplit('.').next().unwrap_or(domain).to_owned();
    let ip = synthetic_ipv4(&mut rng);
    let whois = format!(
        "Domain Name: {}\nRegistrar: {registrar}\nCreation Date: {}\nRegistry Expiry Date: {}\nName Server: ns1.{}\nName Server: ns2.{}",
        domain.to_ascii_uppercase(),
        iso_date(created),
        iso_date(expires),
        domain,
        domain
    );
    let mut other = serde_json::Map::new();
    other.insert("expiration_date".into(), json!(expires));
    other.insert("last_update_date".into(), json!(d.last_submission));
    other.insert(
        "last_dns_records".into(),
        json!([
            {"type": "A", "value": ip, "ttl": 300},
            {"type": "NS", "value": format!("ns1.{domain}"), "ttl": 86_400},
            {"type": "MX", "value": format!("mail.{domain}"), "ttl": 3_600, "priority": 10},
        ]),
    );
    other.insert("last_dns_records_date".into(), json!(d.last_analysis));
    crate::world_extras::add_https_certificate(&mut other, domain);
    other.insert("whois_date".into(), json!(d.last_submission));
    other.insert(
        "jarm".into(),
        json!(hex::encode(Sha256::digest(domain.as_bytes()))[..62].to_owned()),
    );
    if class != WorldClass::Malicious && rng.u8(..) < 80 {
        other.insert(
            "popularity_ranks".into(),
            json!({"Tranco": {"rank": rng.u32(1..1_000_000), "timestamp": d.last_analysis}}),
        );
    }
    let tags = if class == WorldClass::Malicious {
        vec!["dga".to_owned()]
    } else {
        Vec::new()
    };
    DomainAttributes {
        categories: Some(categories(&mut rng, class)),
        creation_date: Some(created),
        registrar: Some(registrar.to_owned()),
        tld: Some(tld),
        whois: Some(whois),
        last_analysis_date: Some(d.last_analysis),
        last_analysis_stats: Some(stats),
        last_analysis_results: results,
        last_modification_date: Some(d.last_modification),
        reputation: Some(reputation),
        total_votes: Some(total_votes),
        tags,
        other,
    }
}

const AS_OWNERS: &[(u64, &str, &str, &str, &str)] = &[
    (15169, "GOOGLE", "US", "NA", "ARIN"),
    (16509, "AMAZON-02", "US", "NA", "ARIN"),
    (13335, "CLOUDFLARENET", "US", "NA", "ARIN"),
    (14061, "DIGITALOCEAN-ASN", "US", "NA", "ARIN"),
    (24940, "Hetzner Online GmbH", "DE", "EU", "RIPE NCC"),
    (16276, "OVH SAS", "FR", "EU", "RIPE NCC"),
    (4134, "Chinanet", "CN", "AS", "APNIC"),
    (9009, "M247 Europe SRL", "RO", "EU", "RIPE NCC"),
    (
        197695,
        "Domain names registrar REG.RU, Ltd",
        "RU",
        "EU",
        "RIPE NCC",
    ),
    (8075, "MICROSOFT-CORP-MSN-AS-BLOCK", "US", "NA", "ARIN"),
    (
        28573,
        "Claro NXT Telecomunicacoes Ltda",
        "BR",
        "SA",
        "LACNIC",
    ),
];

/// The report of an IP address.
pub(crate) fn ip_attributes(ip: IpAddr, class: WorldClass) -> IpAddressAttributes {
    let id = ip.to_string();
    let mut rng = rng_for(IndicatorKind::Ip, &id);
    let (results, stats) = reputation_results(&mut rng, class);
    let (reputation, total_votes) = votes(&mut rng, class);
    let d = dates(&mut rng);
    let (asn, owner, country, continent, rir) = *pick(&mut rng, AS_OWNERS);
    let network = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    };
    let whois = format!(
        "NetRange: {network}\nOrganization: {owner}\nOriginAS: AS{asn}\nCountry: {country}\nRegistry: {rir}"
    );
    let mut other = serde_json::Map::new();
    other.insert("whois_date".into(), json!(d.last_submission));
    crate::world_extras::add_https_certificate(&mut other, &id);
    let tags = if class == WorldClass::Malicious {
        vec!["scanner".to_owned()]
    } else {
        Vec::new()
    };
    IpAddressAttributes {
        asn: Some(asn),
        as_owner: Some(owner.to_owned()),
        country: Some(country.to_owned()),
        continent: Some(continent.to_owned()),
        network: Some(network),
        regional_internet_registry: Some(rir.to_owned()),
        whois: Some(whois),
        last_analysis_date: Some(d.last_analysis),
        last_analysis_stats: Some(stats),
        last_analysis_results: results,
        last_modification_date: Some(d.last_modification),
        reputation: Some(reputation),
        total_votes: Some(total_votes),
        tags,
        other,
    }
}

/// A public-looking IPv4 address drawn from `rng`.
pub(crate) fn synthetic_ipv4(rng: &mut fastrand::Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        pick(
            rng,
            &[23u8, 31, 45, 62, 77, 91, 103, 141, 172, 185, 194, 203]
        ),
        rng.u8(..),
        rng.u8(..),
        rng.u8(1..255)
    )
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn iso_date(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_of(i: usize) -> String {
        hex::encode(Sha256::digest(format!("sample {i}").as_bytes()))
    }

    #[test]
    fn class_shares_follow_the_documented_rule() {
        let n = 4000;
        let mut counts = [0usize; 4];
        for i in 0..n {
            let class = world_class(IndicatorKind::File, &hash_of(i));
            counts[class as usize] += 1;
        }
        let share = |c: usize| c as f64 / n as f64;
        assert!((share(counts[0]) - 0.15).abs() < 0.03, "{counts:?}");
        assert!((share(counts[1]) - 0.60).abs() < 0.03, "{counts:?}");
        assert!((share(counts[2]) - 0.15).abs() < 0.03, "{counts:?}");
        assert!((share(counts[3]) - 0.10).abs() < 0.03, "{counts:?}");
    }

    #[test]
    fn file_detections_match_the_class() {
        for i in 0..300 {
            let hash = hash_of(i);
            let class = world_class(IndicatorKind::File, &hash);
            let Some(parsed) = ioc::FileHash::parse(&hash) else {
                panic!("test hash must parse");
            };
            let attrs = file_attributes(&FileIdentity::derive(&parsed), class);
            let stats = attrs.last_analysis_stats.unwrap_or_default();
            match class {
                WorldClass::Clean | WorldClass::Unknown => assert_eq!(stats.malicious, 0),
                WorldClass::Suspicious => assert!((1..=4).contains(&stats.malicious)),
                WorldClass::Malicious => assert!(stats.malicious >= 25),
            }
            assert_eq!(stats.total() as usize, FILE_ENGINES.len());
        }
    }

    #[test]
    fn eicar_is_detected_by_most_engines() {
        let stats = eicar_attributes().last_analysis_stats.unwrap_or_default();
        assert!(stats.malicious >= 55, "{stats:?}");
        let digest = hex::encode(Sha256::digest(EICAR));
        assert_eq!(digest, EICAR_SHA256);
        assert_eq!(hex::encode(Md5::digest(EICAR)), EICAR_MD5);
    }
}
