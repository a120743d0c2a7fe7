//! Typed identifiers the API hands out, so ids of different kinds cannot be
//! mixed up or passed as bare strings.

use serde::{Deserialize, Serialize};
use std::fmt;
use vt_model::Links;

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Accepts what the API could have sent: 1 to 512 printable,
            /// non-space characters.
            pub fn parse(s: &str) -> Option<Self> {
                let ok = !s.is_empty()
                    && s.len() <= 512
                    && s.chars().all(|c| c.is_ascii_graphic());
                ok.then(|| $name(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                $name::parse(&s).ok_or_else(|| format!("not a valid {}", stringify!($name)))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $name::try_from(s.to_owned())
            }
        }
    };
}

opaque_id!(
    /// The id of an analysis (public or private): base64 of
    /// `<md5>:<timestamp>` for a file, `u-<sha256>-<timestamp>` for a URL.
    AnalysisId
);

opaque_id!(
    /// The id of a comment, e.g. `f-<sha256>-<8 hex>`.
    CommentId
);

/// What the API answers a submission or rescan with: the analysis it queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalysisDescriptor {
    /// `analysis` or `private_analysis`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: AnalysisId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Links>,
}

/// A `{type, id}` pair naming an object, as relationship descriptors and
/// `descriptors_only` searches return them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_attributes: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_ids_accept_api_shapes_and_reject_junk() {
        for good in [
            "NjY0MjRlOTFjMDIyYTkyNWM0NjU2NWQzYWNlMzFmZmI6MTQ3NTA0ODI3Nw==",
            "u-275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f-1700000000",
        ] {
            assert_eq!(
                AnalysisId::parse(good).map(|id| id.to_string()).as_deref(),
                Some(good)
            );
        }
        for bad in ["", "has space", "new\nline", &"x".repeat(513)] {
            assert!(AnalysisId::parse(bad).is_none(), "{bad:?}");
        }
        let json = r#"{"type":"analysis","id":"","links":{}}"#;
        assert!(serde_json::from_str::<AnalysisDescriptor>(json).is_err());
    }
}
