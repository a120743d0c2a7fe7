//! How the emulator names a key where others can read it (the stats, error
//! messages): a fingerprint, never the key nor a part of it.

use sha2::{Digest, Sha256};

/// `key-` and the first 12 hex digits of the key's sha256: enough to tell
/// keys apart, and no characters of the key itself. `/_emulator/stats`
/// needs no key, so a prefix there would hand part of a secret to anyone.
pub fn key_fingerprint(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("key-{}", &hex::encode(digest)[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_holds_no_part_of_its_key() {
        let key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let fp = key_fingerprint(key);
        assert_eq!(fp.len(), 16);
        assert!(fp.starts_with("key-"));
        assert_eq!(fp, key_fingerprint(key), "stable");
        assert_ne!(fp, key_fingerprint("another key"));
        for window in key.as_bytes().windows(6) {
            let part = std::str::from_utf8(window).unwrap_or_default();
            assert!(!fp.contains(part), "{fp} holds {part}");
        }
    }
}
