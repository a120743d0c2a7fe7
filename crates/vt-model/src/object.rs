//! Objects, collections and the typed attributes of the four indicator kinds.

use crate::{AnalysisStats, EngineResult, ErrorBody, JsonMap};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `{"data": T}`: the envelope of every single-object answer.
///
/// `meta` sits beside `data` for analyses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataEnvelope<T, M = JsonMap> {
    pub data: T,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<M>,
}

impl<T> DataEnvelope<T> {
    pub fn new(data: T) -> Self {
        DataEnvelope { data, meta: None }
    }
}

/// The object kinds vtc deals with, with their wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ObjectType {
    File,
    Url,
    Domain,
    IpAddress,
    Analysis,
    PrivateAnalysis,
    PrivateFile,
    Comment,
    Vote,
}

impl ObjectType {
    /// The wire name, e.g. `ip_address`.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::File => "file",
            ObjectType::Url => "url",
            ObjectType::Domain => "domain",
            ObjectType::IpAddress => "ip_address",
            ObjectType::Analysis => "analysis",
            ObjectType::PrivateAnalysis => "private_analysis",
            ObjectType::PrivateFile => "private_file",
            ObjectType::Comment => "comment",
            ObjectType::Vote => "vote",
        }
    }

    /// The collection the API serves objects of this type under, e.g. `ip_addresses`.
    pub fn collection(self) -> &'static str {
        match self {
            ObjectType::File => "files",
            ObjectType::Url => "urls",
            ObjectType::Domain => "domains",
            ObjectType::IpAddress => "ip_addresses",
            ObjectType::Analysis => "analyses",
            ObjectType::PrivateAnalysis => "private/analyses",
            ObjectType::PrivateFile => "private/files",
            ObjectType::Comment => "comments",
            ObjectType::Vote => "votes",
        }
    }
}

/// `links` of an object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_: Option<String>,
}

/// One API object. `A` is its attributes: a typed struct, or the raw map.
///
/// `type` and `id` are always present; an item of a collection that failed
/// on its own carries `error` instead of `attributes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Object<A = JsonMap> {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Links>,
    #[serde(default = "Option::default", skip_serializing_if = "Option::is_none")]
    pub attributes: Option<A>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationships: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_attributes: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl<A> Object<A> {
    pub fn new(kind: impl Into<String>, id: impl Into<String>, attributes: A) -> Self {
        Object {
            kind: kind.into(),
            id: id.into(),
            links: None,
            attributes: Some(attributes),
            relationships: None,
            context_attributes: None,
            error: None,
        }
    }

    /// Sets `links.self`.
    pub fn with_self_link(mut self, link: impl Into<String>) -> Self {
        self.links = Some(Links {
            self_: Some(link.into()),
        });
        self
    }
}

impl Object<JsonMap> {
    /// Reads the raw attributes as a typed struct (fields it does not name
    /// stay in its `other` map).
    pub fn attributes_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        let map = self.attributes.clone().unwrap_or_default();
        serde_json::from_value(serde_json::Value::Object(map))
    }
}

/// `meta` of a collection page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CollectionMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(flatten)]
    pub other: JsonMap,
}

/// `links` of a collection page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionLinks {
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One page of a collection. On the last page `meta.cursor` and `links.next`
/// are absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collection<T> {
    pub data: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<CollectionMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<CollectionLinks>,
}

impl<T> Collection<T> {
    /// The cursor of the next page, if there is one.
    pub fn next_cursor(&self) -> Option<&str> {
        self.meta
            .as_ref()
            .and_then(|m| m.cursor.as_deref())
            .filter(|c| !c.is_empty())
    }
}

/// `total_votes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Votes {
    #[serde(default)]
    pub harmless: u32,
    #[serde(default)]
    pub malicious: u32,
}

macro_rules! analysed_attributes {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            $(
                $(#[$fdoc])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub last_analysis_date: Option<i64>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub last_analysis_stats: Option<AnalysisStats>,
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub last_analysis_results: BTreeMap<String, EngineResult>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub last_modification_date: Option<i64>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub reputation: Option<i64>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub total_votes: Option<Votes>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub tags: Vec<String>,
            /// Every attribute not named above, kept as it came.
            #[serde(flatten)]
            pub other: JsonMap,
        }

        impl crate::Analysed for $name {
            fn last_analysis_stats(&self) -> Option<&AnalysisStats> {
                self.last_analysis_stats.as_ref()
            }
            fn last_analysis_results(&self) -> &BTreeMap<String, EngineResult> {
                &self.last_analysis_results
            }
            fn last_analysis_date(&self) -> Option<i64> {
                self.last_analysis_date
            }
            fn reputation(&self) -> Option<i64> {
                self.reputation
            }
            fn total_votes(&self) -> Option<Votes> {
                self.total_votes
            }
            fn tags(&self) -> &[String] {
                &self.tags
            }
        }

        impl crate::report::Lenient for $name {
            fn lenient(mut map: JsonMap) -> Self {
                use crate::report::lenient_field as field;
                $name {
                    $($field: field(&mut map, stringify!($field)),)*
                    last_analysis_date: field(&mut map, "last_analysis_date"),
                    last_analysis_stats: map
                        .remove("last_analysis_stats")
                        .and_then(|v| crate::report::lenient_stats(&v)),
                    last_analysis_results: map
                        .remove("last_analysis_results")
                        .map(|v| crate::report::lenient_results(v))
                        .unwrap_or_default(),
                    last_modification_date: field(&mut map, "last_modification_date"),
                    reputation: field(&mut map, "reputation"),
                    total_votes: field(&mut map, "total_votes"),
                    tags: field(&mut map, "tags").unwrap_or_default(),
                    other: JsonMap::new(),
                }
            }
        }
    };
}

analysed_attributes!(
    /// Attributes of a `file` object (id: sha256).
    FileAttributes {
        md5: String,
        sha1: String,
        sha256: String,
        size: u64,
        type_description: String,
        type_tag: String,
        meaningful_name: String,
        names: Vec<String>,
        magic: String,
        times_submitted: u64,
        first_submission_date: i64,
        last_submission_date: i64,
        /// The label most engines agree on, and the categories and names
        /// behind it.
        popular_threat_classification: PopularThreatClassification,
    }
);

/// `popular_threat_classification` of a file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PopularThreatClassification {
    /// E.g. `trojan.emotet/zusy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_threat_label: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub popular_threat_category: Vec<ThreatCount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub popular_threat_name: Vec<ThreatCount>,
    /// Every key not named above, kept as it came.
    #[serde(flatten)]
    pub other: JsonMap,
}

/// One `{"count", "value"}` entry of a threat classification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreatCount {
    #[serde(default)]
    pub count: u64,
    #[serde(default)]
    pub value: String,
}

analysed_attributes!(
    /// Attributes of a `url` object (id: sha256 of the canonical URL).
    UrlAttributes {
        url: String,
        last_final_url: String,
        title: String,
        categories: BTreeMap<String, String>,
        last_http_response_code: u16,
        times_submitted: u64,
        first_submission_date: i64,
        last_submission_date: i64,
    }
);

analysed_attributes!(
    /// Attributes of a `domain` object (id: the domain name).
    DomainAttributes {
        categories: BTreeMap<String, String>,
        creation_date: i64,
        registrar: String,
        tld: String,
        whois: String,
    }
);

analysed_attributes!(
    /// Attributes of an `ip_address` object (id: the address).
    IpAddressAttributes {
        asn: u64,
        as_owner: String,
        country: String,
        continent: String,
        network: String,
        regional_internet_registry: String,
        whois: String,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_attributes_survive_a_round_trip() {
        let raw = r#"{"data":{"type":"file","id":"abc","attributes":{
            "md5":"m","size":68,"sandbox_verdicts":{"x":{"category":"malicious"}},
            "last_analysis_stats":{"malicious":3,"harmless":1,"suspicious":0,"undetected":2,"timeout":0}}}}"#;
        let env: DataEnvelope<Object<FileAttributes>> =
            serde_json::from_str(raw).expect("valid fixture");
        let attrs = env.data.attributes.clone().unwrap_or_default();
        assert_eq!(attrs.size, Some(68));
        assert!(attrs.other.contains_key("sandbox_verdicts"));
        let back = serde_json::to_value(&env).unwrap_or_default();
        assert_eq!(
            back["data"]["attributes"]["sandbox_verdicts"]["x"]["category"],
            "malicious"
        );
    }

    #[test]
    fn collection_without_cursor_is_the_last_page() {
        let raw = r#"{"data":[{"type":"domain","id":"a.test"}],"meta":{"count":1}}"#;
        let page: Collection<Object> = serde_json::from_str(raw).expect("valid fixture");
        assert_eq!(page.next_cursor(), None);
        assert!(page.data[0].attributes.is_none());
    }
}
