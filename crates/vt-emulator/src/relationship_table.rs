//! The one table of relationships the emulator serves: every relationship
//! the API v3 reference documents for files, URLs, domains and IP
//! addresses, with what it points at, whether it is premium-only
//! (VirusTotal Enterprise) and whether its descriptors carry
//! `context_attributes`.
//!
//! The router ([`crate::relationships`]), the embedded `relationships`
//! of object GETs, `GET /metadata` and docs/emulator.md all follow it; a
//! test checks that the documentation's table lists exactly these rows.
//! What the API reference says of each row (premium-only or not, and the
//! page it says so on) is in docs/emulator-relationship-sources.md; keep
//! the two in step when a mark changes.
//!
//! Targets the world cannot model (graphs, collections, screenshots, ...)
//! are [`Related::Nothing`]: the relationship exists and pages, with no
//! items, as the real API answers for an object that has none.

/// What kind of object a relationship points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Related {
    File,
    Url,
    Domain,
    /// `<label>.<parent>`.
    Subdomain,
    /// Another name under the parent's parent domain.
    Sibling,
    /// Host names from the parent's DNS records (`ns1.<d>`, `mail.<d>`).
    DnsHost,
    /// The domain one label up (one-to-one; none for a registrable domain).
    ParentDomain,
    /// A URL's host, as a domain or an IP address (one-to-one).
    NetworkLocation,
    Ip,
    Resolution,
    /// The comments posted on this emulator.
    Comment,
    /// The votes cast on this emulator.
    Vote,
    /// Past WHOIS records (`whois` objects).
    Whois,
    /// Past HTTPS certificates (`ssl_cert` objects).
    SslCert,
    /// Sandbox reports (`file_behaviour` objects).
    Behaviour,
    /// The file's Sigma analysis (one-to-one).
    SigmaAnalysis,
    /// Related objects the world holds none of.
    Nothing,
}

/// Who may read a relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// VirusTotal Enterprise only: public keys get 403 `ForbiddenError`.
    Premium,
}

/// The `context_attributes` a relationship's items carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    None,
    /// `{"url": "<the URL as it appeared>"}`, as for `embedded_urls`.
    Url,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Relationship {
    /// `files`, `urls`, `domains` or `ip_addresses`.
    pub collection: &'static str,
    pub name: &'static str,
    pub target: Related,
    pub access: Access,
    pub context: Context,
    /// One-to-one: `data` is one descriptor (or null), never a list.
    pub one_to_one: bool,
}

const fn rel(
    collection: &'static str,
    name: &'static str,
    target: Related,
    access: Access,
) -> Relationship {
    Relationship {
        collection,
        name,
        target,
        access,
        context: Context::None,
        one_to_one: false,
    }
}

const fn with_url(mut r: Relationship) -> Relationship {
    r.context = Context::Url;
    r
}

const fn single(mut r: Relationship) -> Relationship {
    r.one_to_one = true;
    r
}

use Access::{Premium as P, Public as O};
use Related as R;

/// Every relationship served, by collection then name.
pub const RELATIONSHIPS: &[Relationship] = &[
    rel("files", "analyses", R::Nothing, P),
    rel("files", "behaviours", R::Behaviour, O),
    rel("files", "bundled_files", R::File, O),
    rel("files", "carbonblack_children", R::File, P),
    rel("files", "carbonblack_parents", R::File, P),
    rel("files", "ciphered_bundled_files", R::File, P),
    rel("files", "ciphered_parents", R::File, P),
    rel("files", "clues", R::Nothing, P),
    rel("files", "collections", R::Nothing, O),
    rel("files", "comments", R::Comment, O),
    rel("files", "compressed_parents", R::File, P),
    rel("files", "contacted_domains", R::Domain, O),
    rel("files", "contacted_ips", R::Ip, O),
    with_url(rel("files", "contacted_urls", R::Url, O)),
    rel("files", "distributors", R::Nothing, P),
    rel("files", "dropped_files", R::File, O),
    rel("files", "email_attachments", R::File, P),
    rel("files", "email_parents", R::File, P),
    rel("files", "embedded_domains", R::Domain, P),
    rel("files", "embedded_ips", R::Ip, P),
    with_url(rel("files", "embedded_urls", R::Url, P)),
    rel("files", "execution_parents", R::File, O),
    rel("files", "graphs", R::Nothing, O),
    rel("files", "itw_domains", R::Domain, P),
    rel("files", "itw_ips", R::Ip, P),
    with_url(rel("files", "itw_urls", R::Url, P)),
    rel("files", "memory_pattern_domains", R::Domain, P),
    rel("files", "memory_pattern_ips", R::Ip, P),
    with_url(rel("files", "memory_pattern_urls", R::Url, P)),
    rel("files", "overlay_children", R::File, P),
    rel("files", "overlay_parents", R::File, P),
    rel("files", "pcap_children", R::File, P),
    rel("files", "pcap_parents", R::File, P),
    rel("files", "pe_resource_children", R::File, O),
    rel("files", "pe_resource_parents", R::File, O),
    rel("files", "related_references", R::Nothing, P),
    rel("files", "related_threat_actors", R::Nothing, P),
    rel("files", "screenshots", R::Nothing, P),
    single(rel("files", "sigma_analysis", R::SigmaAnalysis, O)),
    rel("files", "similar_files", R::File, P),
    rel("files", "submissions", R::Nothing, P),
    with_url(rel("files", "urls_for_embedded_js", R::Url, P)),
    rel("files", "user_votes", R::Vote, O),
    rel("files", "votes", R::Vote, O),
    rel("urls", "analyses", R::Nothing, P),
    rel("urls", "collections", R::Nothing, O),
    rel("urls", "comments", R::Comment, O),
    rel("urls", "communicating_files", R::File, P),
    rel("urls", "contacted_domains", R::Domain, P),
    rel("urls", "contacted_ips", R::Ip, P),
    rel("urls", "downloaded_files", R::File, P),
    rel("urls", "embedded_js_files", R::File, P),
    rel("urls", "graphs", R::Nothing, O),
    rel("urls", "http_response_contents", R::File, P),
    single(rel("urls", "last_serving_ip_address", R::Ip, O)),
    single(rel("urls", "network_location", R::NetworkLocation, O)),
    rel("urls", "redirecting_urls", R::Url, P),
    rel("urls", "redirects_to", R::Url, P),
    rel("urls", "referrer_files", R::File, P),
    with_url(rel("urls", "referrer_urls", R::Url, P)),
    rel("urls", "related_comments", R::Nothing, O),
    rel("urls", "related_references", R::Nothing, P),
    rel("urls", "related_threat_actors", R::Nothing, P),
    rel("urls", "submissions", R::Nothing, P),
    rel("urls", "urls_related_by_tracker_id", R::Url, P),
    rel("urls", "user_votes", R::Vote, O),
    rel("urls", "votes", R::Vote, O),
    rel("domains", "caa_records", R::Nothing, P),
    rel("domains", "cname_records", R::Nothing, P),
    rel("domains", "collections", R::Nothing, O),
    rel("domains", "comments", R::Comment, O),
    rel("domains", "communicating_files", R::File, O),
    rel("domains", "downloaded_files", R::File, P),
    rel("domains", "graphs", R::Nothing, O),
    rel("domains", "historical_ssl_certificates", R::SslCert, O),
    rel("domains", "historical_whois", R::Whois, O),
    single(rel("domains", "immediate_parent", R::ParentDomain, O)),
    rel("domains", "mx_records", R::DnsHost, P),
    rel("domains", "ns_records", R::DnsHost, P),
    single(rel("domains", "parent", R::ParentDomain, O)),
    rel("domains", "referrer_files", R::File, O),
    rel("domains", "related_comments", R::Nothing, O),
    rel("domains", "related_references", R::Nothing, P),
    rel("domains", "related_threat_actors", R::Nothing, P),
    rel("domains", "resolutions", R::Resolution, O),
    rel("domains", "siblings", R::Sibling, O),
    rel("domains", "soa_records", R::DnsHost, P),
    rel("domains", "subdomains", R::Subdomain, O),
    rel("domains", "urls", R::Url, P),
    rel("domains", "user_votes", R::Vote, O),
    rel("domains", "votes", R::Vote, O),
    rel("ip_addresses", "collections", R::Nothing, O),
    rel("ip_addresses", "comments", R::Comment, O),
    rel("ip_addresses", "communicating_files", R::File, O),
    rel("ip_addresses", "downloaded_files", R::File, P),
    rel("ip_addresses", "graphs", R::Nothing, O),
    rel("ip_addresses", "historical_ssl_certificates", R::SslCert, O),
    rel("ip_addresses", "historical_whois", R::Whois, O),
    rel("ip_addresses", "referrer_files", R::File, O),
    rel("ip_addresses", "related_comments", R::Nothing, O),
    rel("ip_addresses", "related_references", R::Nothing, P),
    rel("ip_addresses", "related_threat_actors", R::Nothing, P),
    rel("ip_addresses", "resolutions", R::Resolution, O),
    rel("ip_addresses", "urls", R::Url, P),
    rel("ip_addresses", "user_votes", R::Vote, O),
    rel("ip_addresses", "votes", R::Vote, O),
];

/// The row for `name` on `collection`, if the API documents it.
pub fn find(collection: &str, name: &str) -> Option<&'static Relationship> {
    RELATIONSHIPS
        .iter()
        .find(|r| r.collection == collection && r.name == name)
}

/// The rows of one collection, in table order.
pub fn of(collection: &str) -> impl Iterator<Item = &'static Relationship> + '_ {
    RELATIONSHIPS
        .iter()
        .filter(move |r| r.collection == collection)
}

impl Related {
    /// The `type` of the objects it points at, as the API names it.
    pub fn type_name(self) -> &'static str {
        match self {
            Related::File => "file",
            Related::Url => "url",
            Related::Domain
            | Related::Subdomain
            | Related::Sibling
            | Related::DnsHost
            | Related::ParentDomain
            | Related::NetworkLocation => "domain",
            Related::Ip => "ip_address",
            Related::Resolution => "resolution",
            Related::Comment => "comment",
            Related::Vote => "vote",
            Related::Whois => "whois",
            Related::SslCert => "ssl_cert",
            Related::Behaviour => "file_behaviour",
            Related::SigmaAnalysis => "sigma_analysis",
            Related::Nothing => "object",
        }
    }
}

/// The documentation's table (docs/emulator.md): one line per row.
pub fn markdown_table() -> String {
    let mut out =
        String::from("| object | relationship | points at | premium only | context_attributes |\n");
    out.push_str("|---|---|---|---|---|\n");
    for r in RELATIONSHIPS {
        let target = match r.target {
            Related::Nothing => "(none in the world)".to_owned(),
            t if r.one_to_one => format!("one {}", t.type_name()),
            t => t.type_name().to_owned(),
        };
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} |\n",
            r.collection,
            r.name,
            target,
            if r.access == Access::Premium {
                "yes"
            } else {
                "no"
            },
            if r.context == Context::Url {
                "`url`"
            } else {
                ""
            },
        ));
    }
    out
}
