//! `cargo run --release -p file-digest --example digest_file -- PATH [--one-thread]`:
//! the digests of PATH, by `digest_file` (two threads from 4 MiB) or, with
//! `--one-thread`, by `digest_reader` on this thread; for docs/BENCHMARKS.md.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: digest_file PATH [--one-thread]")?;
    let digests = if args.next().as_deref() == Some("--one-thread") {
        file_digest::digest_reader(std::fs::File::open(&path)?)?
    } else {
        file_digest::digest_file(path.as_ref())?
    };
    println!(
        "{}  {}  {}  {}",
        digests.md5, digests.sha1, digests.sha256, digests.size
    );
    Ok(())
}
