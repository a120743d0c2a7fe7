//! Stored JSON, compactly: a report of about 12 KB is mostly the same
//! seventy engine entries, and deflate at its fastest level shrinks it
//! about five times (docs/BENCHMARKS.md). Deflate, not a faster codec,
//! because flate2 with its pure-Rust backend is already in the tree (zip
//! archives) and its ratio keeps a million-line run's database small.
//!
//! The first byte says how the rest is stored, so short values stay
//! readable as they are and a later codec can be added beside deflate.

use crate::StoreError;
use flate2::write::{DeflateDecoder, DeflateEncoder};
use flate2::Compression;
use std::io::Write;

/// The rest is the text itself.
const PLAIN: u8 = 0;
/// The rest is a raw deflate stream of the text.
const DEFLATE: u8 = 1;

/// Below this, compressing saves too little to be worth a pass.
const COMPRESS_FROM: usize = 256;

/// Decoded values larger than this are refused: no stored report is near
/// it, and a corrupt or hostile row must not exhaust memory.
pub const MAX_DECODED: usize = 64 * 1024 * 1024;

/// Encodes `text` for storage: deflated when that makes it smaller.
pub fn pack(text: &str) -> Vec<u8> {
    if text.len() >= COMPRESS_FROM {
        let mut encoder =
            DeflateEncoder::new(Vec::with_capacity(text.len() / 4 + 16), Compression::fast());
        encoder.get_mut().push(DEFLATE);
        // Writing to a Vec cannot fail; if the codec does, store it plain.
        if encoder.write_all(text.as_bytes()).is_ok() {
            if let Ok(packed) = encoder.finish() {
                if packed.len() < text.len() {
                    return packed;
                }
            }
        }
    }
    let mut plain = Vec::with_capacity(text.len() + 1);
    plain.push(PLAIN);
    plain.extend_from_slice(text.as_bytes());
    plain
}

/// Decodes what [`pack`] wrote. `what` names the value in errors.
pub fn unpack(bytes: &[u8], what: &'static str) -> Result<String, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { what, reason };
    let (tag, body) = bytes
        .split_first()
        .ok_or_else(|| corrupt("it is empty".into()))?;
    let raw = match *tag {
        PLAIN => body.to_vec(),
        DEFLATE => {
            let mut decoder = DeflateDecoder::new(Bounded(Vec::with_capacity(body.len() * 6)));
            decoder
                .write_all(body)
                .and_then(|()| decoder.try_finish())
                .map_err(|e| corrupt(e.to_string()))?;
            decoder.finish().map_err(|e| corrupt(e.to_string()))?.0
        }
        other => return Err(corrupt(format!("unknown encoding {other}"))),
    };
    String::from_utf8(raw).map_err(|e| corrupt(e.to_string()))
}

/// A Vec that refuses to grow past [`MAX_DECODED`].
struct Bounded(Vec<u8>);

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_DECODED {
            return Err(std::io::Error::other("it decodes to more than 64 MiB"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_compressed_when_worth_it() {
        let short = r#"{"id":"k"}"#;
        assert_eq!(pack(short)[0], PLAIN);
        assert_eq!(unpack(&pack(short), "report").unwrap(), short);

        let engines: String = (0..70)
            .map(|i| {
                format!(
                    r#""Engine{i}":{{"category":"undetected","result":null,"method":"blacklist"}},"#
                )
            })
            .collect();
        let report = format!(r#"{{"data":{{"attributes":{{"results":{{{engines}}}}}}}}}"#);
        let packed = pack(&report);
        assert_eq!(packed[0], DEFLATE);
        assert!(
            packed.len() * 5 < report.len(),
            "{} of {}",
            packed.len(),
            report.len()
        );
        assert_eq!(unpack(&packed, "report").unwrap(), report);
        assert_eq!(unpack(&pack(""), "report").unwrap(), "");
    }

    #[test]
    fn damaged_values_are_errors_not_panics() {
        for bad in [
            &b""[..],
            &[9, 1, 2][..],
            &[DEFLATE, 0xff, 0xfe][..],
            &[PLAIN, 0xff][..],
        ] {
            let err = unpack(bad, "report").expect_err("refused");
            assert!(
                matches!(err, StoreError::Corrupt { what: "report", .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn a_decompression_bomb_is_refused() {
        let zeros = "0".repeat(MAX_DECODED + 1);
        let packed = pack(&zeros);
        assert!(packed.len() < 1024 * 1024);
        let err = unpack(&packed, "report").expect_err("too large");
        assert!(err.to_string().contains("64 MiB"), "{err}");
    }
}
