//! The antivirus and URL-reputation engines of the synthetic world, with the
//! shape of the labels each kind of engine gives.

/// File engines, as they appear as keys of a file's `last_analysis_results`.
pub const FILE_ENGINES: &[&str] = &[
    "Bkav",
    "Lionic",
    "Elastic",
    "MicroWorld-eScan",
    "CAT-QuickHeal",
    "Skyhigh",
    "McAfee",
    "Malwarebytes",
    "Zillya",
    "Sangfor",
    "K7AntiVirus",
    "K7GW",
    "Alibaba",
    "Arcabit",
    "BitDefenderTheta",
    "VirIT",
    "Symantec",
    "tehtris",
    "ESET-NOD32",
    "TrendMicro-HouseCall",
    "Avast",
    "ClamAV",
    "Kaspersky",
    "BitDefender",
    "NANO-Antivirus",
    "SUPERAntiSpyware",
    "Tencent",
    "Emsisoft",
    "F-Secure",
    "DrWeb",
    "VIPRE",
    "TrendMicro",
    "SentinelOne",
    "Trapmine",
    "CMC",
    "Sophos",
    "Ikarus",
    "GData",
    "Jiangmin",
    "Webroot",
    "Varist",
    "Avira",
    "Antiy-AVL",
    "Kingsoft",
    "Gridinsoft",
    "Xcitium",
    "Microsoft",
    "ViRobot",
    "ZoneAlarm",
    "Google",
    "AhnLab-V3",
    "Acronis",
    "VBA32",
    "ALYac",
    "MAX",
    "DeepInstinct",
    "Cylance",
    "Zoner",
    "Rising",
    "Yandex",
    "Fortinet",
    "AVG",
    "Panda",
    "CrowdStrike",
    "Cynet",
    "Paloalto",
    "Baidu",
    "MaxSecure",
    "Trustlook",
    "huorong",
];

/// URL, domain and IP reputation engines.
pub const URL_ENGINES: &[&str] = &[
    "Acronis",
    "0xSI_f33d",
    "Abusix",
    "ADMINUSLabs",
    "Lionic",
    "Criminal IP",
    "AILabs (MONITORAPP)",
    "AlienVault",
    "alphaMountain.ai",
    "AlphaSOC",
    "Antiy-AVL",
    "ArcSight Threat Intelligence",
    "AutoShun",
    "Bfore.Ai PreCrime",
    "BitDefender",
    "Bkav",
    "Blueliv",
    "Certego",
    "Chong Lua Dao",
    "CINS Army",
    "Cluster25",
    "CRDF",
    "CSIS Security Group",
    "Snort IP sample list",
    "CyRadar",
    "Cyble",
    "desenmascara.me",
    "DNS8",
    "Dr.Web",
    "Emsisoft",
    "ESET",
    "EmergingThreats",
    "Forcepoint ThreatSeeker",
    "Fortinet",
    "G-Data",
    "Google Safebrowsing",
    "GreenSnow",
    "Heimdal Security",
    "IPsum",
    "Juniper Networks",
    "Kaspersky",
    "Lumu",
    "Malwared",
    "MalwarePatrol",
    "MalwareURL",
    "Netcraft",
    "OpenPhish",
    "Phishing Database",
    "PhishFort",
    "PhishLabs",
    "Phishtank",
    "PREBYTES",
    "PrecisionSec",
    "Quick Heal",
    "Quttera",
    "SafeToOpen",
    "Sansec eComscan",
    "Scantitan",
    "SCUMWARE.org",
    "Seclookup",
    "SOCRadar",
    "Sophos",
    "Spam404",
    "StopForumSpam",
    "Sucuri SiteCheck",
    "ThreatHive",
    "Threatsourcing",
    "Trustwave",
    "Underworld",
    "URLhaus",
    "URLQuery",
    "Viettel Threat Intelligence",
    "VIPRE",
    "ViriBack",
    "Webroot",
    "Xcitium Verdict Cloud",
    "Yandex Safebrowsing",
    "ZeroCERT",
    "Artists Against 419",
    "benkow.cc",
    "CMC Threat Intelligence",
    "Comodo Valkyrie Verdict",
    "ESTsecurity",
    "Ermes",
    "Feodo Tracker",
    "Gridinsoft",
    "Hunt.io Intelligence",
    "malwares.com URL checker",
    "Segasec",
    "securolytics",
    "VX Vault",
];

/// Malware family names the synthetic detections are built from.
pub const FAMILIES: &[&str] = &[
    "Emotet",
    "Qakbot",
    "AgentTesla",
    "Formbook",
    "Lokibot",
    "Remcos",
    "NjRAT",
    "AsyncRAT",
    "RedLine",
    "Raccoon",
    "Vidar",
    "IcedID",
    "Dridex",
    "TrickBot",
    "Ursnif",
    "Zbot",
    "Mirai",
    "Gafgyt",
    "CoinMiner",
    "Wannacry",
    "Ramnit",
    "Sality",
    "Virut",
    "Expiro",
    "Glupteba",
    "SmokeLoader",
    "Amadey",
    "Stealc",
    "Lumma",
    "DarkGate",
];

/// Threat categories, paired loosely with the families.
pub const CATEGORIES: &[&str] = &[
    "trojan",
    "downloader",
    "ransomware",
    "worm",
    "adware",
    "pua",
    "virus",
    "dropper",
    "miner",
    "spyware",
];

/// A file engine's label for a detection, in that engine's house style.
pub fn file_signature(engine_index: usize, family: &str, category: &str, variant: u32) -> String {
    let cap = capitalise(category);
    match engine_index % 9 {
        0 => format!("{cap}.GenericKD.{}", 40_000_000 + variant % 10_000_000),
        1 => format!("HEUR:{cap}.Win32.{family}.gen"),
        2 => format!("{cap}:Win32/{family}.{}!ml", letters(variant)),
        3 => format!("Win32/{family}.{}", letters(variant).to_ascii_uppercase()),
        4 => format!("Mal/{family}-{}", letters(variant).to_ascii_uppercase()),
        5 => format!("W32.{family}!tr"),
        6 => format!("Gen:Variant.{family}.{}", variant % 100_000),
        7 => format!("{cap}.{family}/{}", variant % 1000),
        _ => format!("{family}.{cap}.{variant:x}"),
    }
}

/// Labels engines give the EICAR test file, one per engine in turn.
pub const EICAR_SIGNATURES: &[&str] = &[
    "EICAR-Test-File (not a virus)",
    "Eicar-Test-Signature",
    "EICAR_Test_File",
    "EICAR Test-NOT virus!!!",
    "Virus:DOS/EICAR_Test_File",
    "Win.Test.EICAR_HDB-1",
    "EICAR-Test-File",
    "Trojan.EICAR",
];

/// A synthetic engine version and update day for a file engine: stable per
/// engine, so every report of a run shows the same engine build.
pub fn file_engine_version(engine_index: usize) -> String {
    let i = engine_index as u32;
    format!(
        "{}.{}.{}.{}",
        1 + i % 23,
        (i * 7) % 10,
        (i * 13) % 100,
        1000 + (i * 97) % 9000
    )
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn letters(mut n: u32) -> String {
    let mut out = String::new();
    for _ in 0..3 {
        out.push(char::from(b'a' + (n % 26) as u8));
        n /= 26;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_lists_have_realistic_sizes_and_no_duplicates() {
        for (list, min, max) in [(FILE_ENGINES, 65, 75), (URL_ENGINES, 85, 95)] {
            assert!(list.len() >= min && list.len() <= max, "{}", list.len());
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len());
        }
    }
}
