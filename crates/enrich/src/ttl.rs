//! How long a cached report stays fresh, per indicator type.

use ioc::IndicatorKind;
use serde::Deserialize;
use std::time::Duration;

/// The `[cache]` table of the config file. File reports change slowly;
/// URLs, domains and addresses change faster; a NotFound is remembered
/// briefly so a burst of the same unknown hash costs one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheTtls {
    /// Hours a file report stays fresh (default 168, a week).
    pub file_hours: u64,
    /// Hours a URL report stays fresh (default 24).
    pub url_hours: u64,
    /// Hours a domain report stays fresh (default 24).
    pub domain_hours: u64,
    /// Hours an IP address report stays fresh (default 24).
    pub ip_hours: u64,
    /// Hours a NotFound answer is remembered (default 1).
    pub not_found_hours: u64,
}

impl Default for CacheTtls {
    fn default() -> Self {
        CacheTtls {
            file_hours: 168,
            url_hours: 24,
            domain_hours: 24,
            ip_hours: 24,
            not_found_hours: 1,
        }
    }
}

impl CacheTtls {
    pub fn for_kind(&self, kind: IndicatorKind) -> Duration {
        let hours = match kind {
            IndicatorKind::File => self.file_hours,
            IndicatorKind::Url => self.url_hours,
            IndicatorKind::Domain => self.domain_hours,
            IndicatorKind::Ip => self.ip_hours,
        };
        Duration::from_secs(hours * 3600)
    }

    pub fn not_found(&self) -> Duration {
        Duration::from_secs(self.not_found_hours * 3600)
    }
}
