//! File hashes: md5, sha1 and sha256, lower-case hex.

use std::fmt;

macro_rules! hex_hash {
    ($name:ident, $len:expr, $doc:expr) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Hex digits in this kind of hash.
            pub const LEN: usize = $len;

            /// Accepts exactly `LEN` hex digits, any case.
            pub fn parse(s: &str) -> Option<Self> {
                (s.len() == $len && s.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| $name(s.to_ascii_lowercase()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

hex_hash!(Md5, 32, "An MD5 digest, 32 lower-case hex digits.");
hex_hash!(Sha1, 40, "A SHA-1 digest, 40 lower-case hex digits.");
hex_hash!(Sha256, 64, "A SHA-256 digest, 64 lower-case hex digits.");

/// Any of the three hashes VirusTotal accepts as a file id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileHash {
    Md5(Md5),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl FileHash {
    pub fn parse(s: &str) -> Option<FileHash> {
        Sha256::parse(s)
            .map(FileHash::Sha256)
            .or_else(|| Sha1::parse(s).map(FileHash::Sha1))
            .or_else(|| Md5::parse(s).map(FileHash::Md5))
    }

    pub fn as_str(&self) -> &str {
        match self {
            FileHash::Md5(h) => h.as_str(),
            FileHash::Sha1(h) => h.as_str(),
            FileHash::Sha256(h) => h.as_str(),
        }
    }

    /// `md5`, `sha1` or `sha256`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            FileHash::Md5(_) => "md5",
            FileHash::Sha1(_) => "sha1",
            FileHash::Sha256(_) => "sha256",
        }
    }
}

impl fmt::Display for FileHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
