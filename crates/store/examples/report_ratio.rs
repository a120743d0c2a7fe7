//! How much the store's compact encoding saves on given JSON files, and
//! what packing and unpacking cost: `report_ratio FILE...`
//! (scripts/bench_db_size.sh feeds it reports fetched from the emulator).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a tool fails loudly

use std::time::Instant;
use store::compact::{pack, unpack};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut raw_total, mut packed_total) = (0usize, 0usize);
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path)?;
        let packed = pack(&text);
        assert_eq!(unpack(&packed, "report")?, text);
        const ROUNDS: u32 = 200;
        let t = Instant::now();
        for _ in 0..ROUNDS {
            std::hint::black_box(pack(std::hint::black_box(&text)));
        }
        let pack_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
        let t = Instant::now();
        for _ in 0..ROUNDS {
            std::hint::black_box(unpack(std::hint::black_box(&packed), "report")?);
        }
        let unpack_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
        println!(
            "{:>7} -> {:>6} bytes ({:.1}x), pack {:.0} us, unpack {:.0} us  {}",
            text.len(),
            packed.len(),
            text.len() as f64 / packed.len() as f64,
            pack_us,
            unpack_us,
            std::path::Path::new(&path)
                .file_name()
                .map(|n| n.to_string_lossy().chars().take(24).collect::<String>())
                .unwrap_or_default()
        );
        raw_total += text.len();
        packed_total += packed.len();
    }
    if packed_total > 0 {
        println!(
            "total {raw_total} -> {packed_total} bytes ({:.1}x)",
            raw_total as f64 / packed_total as f64
        );
    }
    Ok(())
}
