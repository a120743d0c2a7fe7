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

/// The ways a resolution id splits into (IP address, host name), the
/// longest IP address first (`1.2.3.45a.com` may be `1.2.3.45` + `a.com`
/// or `1.2.3.4` + `5a.com`; the caller keeps the one the world knows).
pub fn split_resolution_id(id: &str) -> Vec<(String, String)> {
    (1..id.len())
        .rev()
        .filter(|i| id.is_char_boundary(*i))
        .filter_map(|i| {
            let (ip, host) = id.split_at(i);
            let ip: std::net::IpAddr = ip.parse().ok()?;
            let host = ioc::Domain::parse(host)?;
            Some((ip.to_string(), host.as_str().to_owned()))
        })
        .collect()
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
        // Sandbox names hold spaces: the link carries them percent-encoded.
        "links": {"self": base.api(&format!("/file_behaviours/{}", id.replace(' ', "%20")))},
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

/// The rich, deterministic extras of a file report (`ssdeep`, `tlsh`,
/// `vhash`, `authentihash`, `pe_info`, crowdsourced YARA and IDS results,
/// `sandbox_verdicts`, `sigma_analysis_stats`), added to its attributes.
/// Drawn from their own seed, so the rest of the report is unchanged.
pub fn add_rich_file_attributes(
    other: &mut serde_json::Map<String, Value>,
    sha256: &str,
    type_tag: &str,
    class: WorldClass,
    family: &str,
) {
    let mut rng = rng_for("rich", sha256);
    let digest = |label: &str| hex_of(&format!("{label}:{sha256}"));
    let b64 = |label: &str, n: usize| -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        Sha256::digest(format!("{label}:{sha256}").as_bytes())
            .iter()
            .cycle()
            .take(n)
            .map(|b| char::from(ALPHABET[usize::from(*b) % 64]))
            .collect()
    };
    let block = [3usize, 12, 48, 96, 192, 384, 768, 1536, 3072, 6144][rng.usize(..10)];
    other.insert(
        "ssdeep".into(),
        json!(format!(
            "{block}:{}:{}",
            b64("ssdeep1", 40 + rng.usize(..20)),
            b64("ssdeep2", 20 + rng.usize(..20))
        )),
    );
    let tlsh = format!("T1{}{}", digest("tlsh"), &digest("tlsh2")[..6]).to_ascii_uppercase();
    other.insert("tlsh".into(), json!(tlsh));
    let pe = matches!(type_tag, "peexe" | "pedll");
    if pe || type_tag == "elf" || type_tag == "android" {
        other.insert("vhash".into(), json!(digest("vhash")[..32].to_owned()));
    }
    if pe {
        other.insert("authentihash".into(), json!(digest("authentihash")));
        let sections: Vec<Value> = [".text", ".rdata", ".data", ".rsrc"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let size = 4096 * rng.u64(1..64);
                json!({
                    "name": name,
                    "virtual_address": 4096 + 65_536 * i as u64,
                    "virtual_size": size - rng.u64(0..2048),
                    "raw_size": size,
                    "entropy": f64::from(rng.u32(300..790)) / 100.0,
                    "md5": digest(&format!("section{i}"))[..32].to_owned(),
                    "chi2": f64::from(rng.u32(1000..900_000)) / 10.0,
                    "flags": if i == 0 { "rx" } else { "rw" },
                })
            })
            .collect();
        other.insert(
            "pe_info".into(),
            json!({
                "imphash": digest("imphash")[..32].to_owned(),
                "machine_type": 332,
                "entry_point": 4096 + rng.u64(0..8192),
                "timestamp": world::world_epoch() - rng.i64(30 * 86_400..900 * 86_400),
                "sections": sections,
                "import_list": [
                    {"library_name": "KERNEL32.dll",
                     "imported_functions": ["CreateFileW", "VirtualAlloc", "GetProcAddress", "LoadLibraryA"]},
                    {"library_name": "ADVAPI32.dll",
                     "imported_functions": ["RegSetValueExW", "RegOpenKeyExW"]},
                ],
            }),
        );
    }
    let yara_count = match class {
        WorldClass::Malicious => rng.usize(1..=3),
        WorldClass::Suspicious => rng.usize(0..=1),
        _ => 0,
    };
    let families: Vec<&YaraRuleset> = YARA_RULESETS
        .iter()
        .filter(|r| r.name != "test_files")
        .collect();
    let yara: Vec<Value> = (0..yara_count)
        .map(|n| {
            let ruleset = families[(rng.usize(..families.len()) + n) % families.len()];
            let rule = ruleset.rules[rng.usize(..ruleset.rules.len())];
            yara_result(ruleset, rule, &format!("Detects {family}-like content"))
        })
        .collect();
    if !yara.is_empty() {
        other.insert("crowdsourced_yara_results".into(), json!(yara));
    }
    if class == WorldClass::Malicious {
        let mut rng_net = fastrand::Rng::with_seed(rng.u64(..));
        let ip = world::synthetic_ipv4(&mut rng_net);
        let host = world::synthetic_domain(&mut rng_net);
        let rule_msg = format!("ET MALWARE {family} CnC Checkin");
        let sid = 2_030_000 + rng.u32(..9_999);
        other.insert(
            "crowdsourced_ids_results".into(),
            json!([{
                "alert_context": [{"dest_ip": ip, "dest_port": 443, "hostname": host,
                                   "protocol": "TCP", "src_ip": "192.168.0.10", "src_port": 49_712,
                                   "url": format!("http://{host}/gate.php")}],
                "alert_severity": "high",
                "rule_category": "A Network Trojan was detected",
                "rule_id": format!("1:{sid}"),
                "rule_msg": rule_msg,
                "rule_source": "Proofpoint Emerging Threats Open",
                "rule_raw": format!("alert http $HOME_NET any -> $EXTERNAL_NET any (msg:\"{rule_msg}\"; flow:established,to_server; content:\"/gate.php\"; http_uri; sid:{sid}; rev:1;)"),
            }]),
        );
        other.insert(
            "crowdsourced_ids_stats".into(),
            json!({"high": 1, "medium": 0, "low": 0, "info": 0}),
        );
    }
    let verdicts: serde_json::Map<String, Value> = sandboxes_of(sha256, class)
        .into_iter()
        .map(|sandbox| {
            let (category, confidence) = match class {
                WorldClass::Malicious => ("malicious", rng.u32(70..=100)),
                WorldClass::Suspicious => ("suspicious", rng.u32(40..80)),
                _ => ("harmless", rng.u32(50..90)),
            };
            let names = if class == WorldClass::Malicious {
                json!([family])
            } else {
                json!([])
            };
            let classes = match class {
                WorldClass::Malicious => json!(["MALWARE", "TROJAN"]),
                WorldClass::Suspicious => json!(["GREYWARE"]),
                _ => json!(["CLEAN"]),
            };
            (
                sandbox.to_owned(),
                json!({"category": category, "confidence": confidence, "sandbox_name": sandbox,
                       "malware_classification": classes, "malware_names": names}),
            )
        })
        .collect();
    if !verdicts.is_empty() {
        other.insert("sandbox_verdicts".into(), Value::Object(verdicts));
    }
    other.insert("sigma_analysis_stats".into(), sigma_stats(sha256, class));
}

fn yara_result(ruleset: &YaraRuleset, rule: &str, description: &str) -> Value {
    json!({
        "author": ruleset.author,
        "description": description,
        "match_in_subfile": false,
        "rule_name": rule,
        "ruleset_id": ruleset.id,
        "ruleset_name": ruleset.name,
        "source": ruleset.source,
    })
}

/// The EICAR test file's extras: the test-file YARA rule, as on the real service.
pub fn add_eicar_extras(other: &mut serde_json::Map<String, Value>, sha256: &str) {
    // Malicious, as its detections make it: the sandboxes and Sigma
    // analysis the routes build for it agree with these attributes.
    add_rich_file_attributes(other, sha256, "text", WorldClass::Malicious, "EICAR");
    // A test file contacts nothing.
    other.remove("crowdsourced_ids_results");
    other.remove("crowdsourced_ids_stats");
    if let Some(ruleset) = yara_ruleset("01c1e2a3f4") {
        other.insert(
            "crowdsourced_yara_results".into(),
            json!([yara_result(
                ruleset,
                "EICAR_Test_File",
                "The EICAR anti-virus test file"
            )]),
        );
    }
}

/// A domain's or IP address's `last_https_certificate` (the newest of its
/// `historical_ssl_certificates`) and its date.
pub fn add_https_certificate(other: &mut serde_json::Map<String, Value>, host: &str) {
    let cert = ssl_cert_object(host, 0);
    let date = cert["attributes"]["first_seen_date"].clone();
    let mut attributes = cert["attributes"].clone();
    if let Some(map) = attributes.as_object_mut() {
        map.remove("first_seen_date");
        map.insert("version".into(), json!("V3"));
        map.insert(
            "extensions".into(),
            json!({"subject_alternative_name": [host, format!("www.{host}")]}),
        );
    }
    other.insert("last_https_certificate".into(), attributes);
    other.insert("last_https_certificate_date".into(), date);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_ids_split_longest_address_first() {
        let splits = split_resolution_id("203.70.27.75probe17.example");
        assert_eq!(
            splits.first(),
            Some(&("203.70.27.75".to_owned(), "probe17.example".to_owned())),
            "{splits:?}"
        );
    }
}
