//! Objects of the world beyond the four indicator reports: resolutions,
//! sandbox behaviours, Sigma analyses, crowdsourced YARA rulesets, WHOIS
//! and certificate history. Each is a pure function of its ids (seeded as
//! [`crate::world`] seeds reports), so a relationship item and the route
//! its `links.self` names build the same object.

use crate::api_error::BaseUrl;
use crate::world::{self, WorldClass};
use ioc::IndicatorKind;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn rng_for(label: &str, id: &str) -> fastrand::Rng {
    fastrand::Rng::with_seed(world::seed(IndicatorKind::File, &format!("{label}:{id}")))
}

fn hex_of(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A DNS resolution of `host` to `ip`; its id is `<ip><host>`, as the API's.
pub fn resolution_object(id: &str, ip: &str, host: &str, base: &BaseUrl) -> Value {
    let mut rng = fastrand::Rng::with_seed(world::seed(IndicatorKind::Domain, id));
    json!({
        "type": "resolution",
        "id": id,
        "links": {"self": base.api(&format!("/resolutions/{id}"))},
        "attributes": {
            "date": world::world_epoch() - rng.i64(0..365 * 86_400),
            "host_name": host,
            "ip_address": ip,
            "resolver": "VirusTotal",
        },
    })
}

/// Splits a resolution id into (IP address, host name): the shortest
/// prefix that is an IP address and leaves a domain name.
pub fn split_resolution_id(id: &str) -> Option<(String, String)> {
    (1..id.len())
        .filter(|i| id.is_char_boundary(*i))
        .find_map(|i| {
            let (ip, host) = id.split_at(i);
            let ip: std::net::IpAddr = ip.parse().ok()?;
            let host = ioc::Domain::parse(host)?;
            Some((ip.to_string(), host.as_str().to_owned()))
        })
}

/// Past WHOIS record number `n` of a domain or IP address.
pub fn whois_object(parent: &str, n: usize) -> Value {
    let mut rng = rng_for("whois", &format!("{parent}/{n}"));
    let last_updated = world::world_epoch() - (n as i64 + 1) * rng.i64(30 * 86_400..200 * 86_400);
    let registrar = ["MarkMonitor Inc.", "GoDaddy.com, LLC", "NameCheap, Inc."][rng.usize(..3)];
    let text =
        format!("Domain Name: {parent}\nRegistrar: {registrar}\nUpdated Date: {last_updated}");
    json!({
        "type": "whois",
        "id": hex_of(&text),
        "attributes": {
            "first_seen_date": last_updated - 86_400,
            "last_updated": last_updated,
            "registrar_name": registrar,
            "whois_map": {"Domain Name": parent, "Registrar": registrar},
        },
    })
}

/// Past HTTPS certificate number `n` seen for a domain or IP address.
pub fn ssl_cert_object(parent: &str, n: usize) -> Value {
    let mut rng = rng_for("ssl", &format!("{parent}/{n}"));
    let not_before = world::world_epoch() - (n as i64 + 1) * 90 * 86_400 - rng.i64(0..86_400);
    let thumbprint = hex_of(&format!("cert:{parent}:{n}"));
    json!({
        "type": "ssl_cert",
        "id": thumbprint,
        "attributes": {
            "subject": {"CN": parent},
            "issuer": {"C": "US", "O": "Let's Encrypt", "CN": "R3"},
            "validity": {"not_before": not_before, "not_after": not_before + 90 * 86_400},
            "thumbprint_sha256": thumbprint,
            "serial_number": thumbprint[..32].to_owned(),
            "first_seen_date": not_before,
        },
    })
}

/// Sandboxes whose reports a file has.
pub const SANDBOXES: &[&str] = &[
    "VirusTotal Jujubox",
    "Zenbox",
    "C2AE",
    "VirusTotal Observer",
    "Dr.Web vxCube",
];

/// The sandboxes that ran a file: none for most clean files.
pub fn sandboxes_of(sha256: &str, class: WorldClass) -> Vec<&'static str> {
    let mut rng = rng_for("sandboxes", sha256);
    let n = match class {
        WorldClass::Malicious => rng.usize(2..=4),
        WorldClass::Suspicious => rng.usize(1..=2),
        WorldClass::Clean | WorldClass::Unknown => usize::from(rng.u8(..4) == 0),
    };
    SANDBOXES.iter().take(n).copied().collect()
}

/// The sandbox report id: `<sha256>_<sandbox name>`, as the API's.
pub fn behaviour_id(sha256: &str, sandbox: &str) -> String {
    format!("{sha256}_{sandbox}")
}

fn behaviour_attributes(sha256: &str, sandbox: &str, class: WorldClass) -> Value {
    let mut rng = rng_for("behaviour", &behaviour_id(sha256, sandbox));
    let bad = class == WorldClass::Malicious;
    let mut rng_domain = fastrand::Rng::with_seed(rng.u64(..));
    let domain = world::synthetic_domain(&mut rng_domain);
    let ip = world::synthetic_ipv4(&mut rng_domain);
    let verdict = match class {
        WorldClass::Malicious => "MALWARE",
        WorldClass::Suspicious => "GREYWARE",
        _ => "CLEAN",
    };
    json!({
        "sandbox_name": sandbox,
        "analysis_date": world::world_epoch() - rng.i64(86_400..30 * 86_400),
        "behash": hex_of(&format!("behash:{sha256}:{sandbox}"))[..32].to_owned(),
        "verdicts": [verdict],
        "has_pcap": bad,
        "has_html_report": false,
        "tags": if bad { json!(["DETECT_DEBUG_ENVIRONMENT", "PERSISTENCE"]) } else { json!([]) },
        "processes_created": [format!("%SAMPLEPATH%\\{}.exe", &sha256[..8])],
        "files_written": if bad { json!(["%APPDATA%\\Microsoft\\svchost.exe"]) } else { json!([]) },
        "registry_keys_set": if bad {
            json!([{"key": "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\updater",
                    "value": "%APPDATA%\\Microsoft\\svchost.exe"}])
        } else { json!([]) },
        "dns_lookups": [{"hostname": domain, "resolved_ips": [ip]}],
        "ip_traffic": [{"destination_ip": ip, "destination_port": 443, "transport_layer_protocol": "TCP"}],
        "mitre_attack_techniques": if bad {
            json!([{"id": "T1547.001", "signature_description": "Registry Run Keys / Startup Folder", "severity": "IMPACT_SEVERITY_HIGH"}])
        } else { json!([]) },
    })
}

/// One sandbox report (`file_behaviour`) of a file.
pub fn behaviour_object(sha256: &str, sandbox: &str, class: WorldClass, base: &BaseUrl) -> Value {
    let id = behaviour_id(sha256, sandbox);
    json!({
        "type": "file_behaviour",
        "id": id,
        "links": {"self": base.api(&format!("/file_behaviours/{id}"))},
        "attributes": behaviour_attributes(sha256, sandbox, class),
    })
}

/// `GET /files/{id}/behaviour_summary`: every sandbox's report merged.
pub fn behaviour_summary(sha256: &str, class: WorldClass) -> Value {
    let mut merged = serde_json::Map::new();
    for sandbox in sandboxes_of(sha256, class) {
        let Value::Object(attributes) = behaviour_attributes(sha256, sandbox, class) else {
            continue;
        };
        for (key, value) in attributes {
            if matches!(
                key.as_str(),
                "sandbox_name" | "analysis_date" | "behash" | "has_pcap" | "has_html_report"
            ) {
                continue;
            }
            let slot = merged.entry(key).or_insert_with(|| json!([]));
            if let (Some(list), Value::Array(items)) = (slot.as_array_mut(), value) {
                for item in items {
                    if !list.contains(&item) {
                        list.push(item);
                    }
                }
            }
        }
    }
    Value::Object(merged)
}

/// Sigma rule matches of a file, by severity.
pub fn sigma_stats(sha256: &str, class: WorldClass) -> Value {
    let mut rng = rng_for("sigma", sha256);
    let (critical, high, medium, low) = match class {
        WorldClass::Malicious => (rng.u32(0..2), rng.u32(1..4), rng.u32(0..5), rng.u32(0..6)),
        WorldClass::Suspicious => (0, 0, rng.u32(0..3), rng.u32(0..4)),
        _ => (0, 0, 0, rng.u32(0..2)),
    };
    json!({"critical": critical, "high": high, "medium": medium, "low": low})
}

/// The Sigma analysis of a file (id = its sha256).
pub fn sigma_analysis_object(sha256: &str, class: WorldClass, base: &BaseUrl) -> Value {
    let stats = sigma_stats(sha256, class);
    let mut matches = Vec::new();
    for (level, count) in ["critical", "high", "medium", "low"]
        .iter()
        .map(|l| (*l, stats[*l].as_u64().unwrap_or(0)))
    {
        for n in 0..count {
            let rule_id = hex_of(&format!("sigma:{level}:{n}"));
            matches.push(json!({
                "rule_id": rule_id,
                "rule_title": format!("Suspicious {level} activity {n}"),
                "rule_level": level,
                "rule_source": "Sigma Integrated Rule Set (GitHub)",
                "rule_author": "Florian Roth",
                "rule_description": "Detects a behaviour seen in malware",
                "match_context": [{"values": {"EventID": "1", "Image": "C:\\Windows\\System32\\cmd.exe"}}],
            }));
        }
    }
    json!({
        "type": "sigma_analysis",
        "id": sha256,
        "links": {"self": base.api(&format!("/sigma_analyses/{sha256}"))},
        "attributes": {
            "last_modification_date": world::world_epoch() - 86_400,
            "stats": stats,
            "rule_matches": matches,
        },
    })
}

/// One crowdsourced YARA ruleset of the world's catalogue.
#[derive(Debug, Clone, Copy)]
pub struct YaraRuleset {
    pub id: &'static str,
    pub name: &'static str,
    pub author: &'static str,
    pub source: &'static str,
    pub rules: &'static [&'static str],
}

/// The rulesets files' `crowdsourced_yara_results` name; each resolves at
/// `GET /yara_rulesets/{id}`.
pub const YARA_RULESETS: &[YaraRuleset] = &[
    YaraRuleset {
        id: "0015a2b2f3",
        name: "gen_suspicious_strings",
        author: "Florian Roth",
        source: "https://github.com/Neo23x0/signature-base",
        rules: &["SUSP_PE_Packed_UPX", "SUSP_Base64_Encoded_Exe"],
    },
    YaraRuleset {
        id: "00a1c9d8e7",
        name: "malware_families",
        author: "ReversingLabs",
        source: "https://github.com/reversinglabs/reversinglabs-yara-rules",
        rules: &["Win32_Trojan_Emotet", "Win32_Trojan_Qakbot"],
    },
    YaraRuleset {
        id: "0122bae1e9",
        name: "capabilities",
        author: "Elastic Security",
        source: "https://github.com/elastic/protections-artifacts",
        rules: &[
            "Windows_Generic_Threat_Persistence",
            "Windows_Generic_Threat_Injector",
        ],
    },
    YaraRuleset {
        id: "01c1e2a3f4",
        name: "test_files",
        author: "InQuest Labs",
        source: "https://github.com/InQuest/yara-rules-vt",
        rules: &["EICAR_Test_File"],
    },
];

/// The ruleset with this id.
pub fn yara_ruleset(id: &str) -> Option<&'static YaraRuleset> {
    YARA_RULESETS.iter().find(|r| r.id == id)
}

/// `GET /yara_rulesets/{id}`: `name` and `rules` (the text), as Cortex reads them.
pub fn yara_ruleset_object(ruleset: &YaraRuleset, base: &BaseUrl) -> Value {
    let rules: String = ruleset
        .rules
        .iter()
        .map(|rule| {
            format!(
                "rule {rule} {{\n  meta:\n    author = \"{}\"\n  strings:\n    $a = \"{}\"\n  condition:\n    $a\n}}\n",
                ruleset.author,
                rule.to_ascii_lowercase()
            )
        })
        .collect();
    json!({
        "type": "yara_ruleset",
        "id": ruleset.id,
        "links": {"self": base.api(&format!("/yara_rulesets/{}", ruleset.id))},
        "attributes": {
            "name": ruleset.name,
            "author": ruleset.author,
            "source": ruleset.source,
            "rules": rules,
            "rule_names": ruleset.rules,
            "number_of_rules": ruleset.rules.len(),
            "last_modification_date": world::world_epoch() - 7 * 86_400,
        },
    })
}
