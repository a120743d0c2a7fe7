#!/usr/bin/env bash
# The database-size benchmark of docs/BENCHMARKS.md (issue 9): a
# 1,000,000-line enrich of 20,000 unique indicators against a local
# emulator (no latency, unlimited quota), then the database's size, its
# rows per table, the CPU time per lookup, and the deflate ratio of
# typical reports. Never the real VirusTotal.
#
#   scripts/bench_db_size.sh          # about a minute after the build
#
# Needs: python3, curl, /usr/bin/time (apt-get install time). Inputs,
# databases and outputs go to $BENCH_DIR (default target/bench-db).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${BENCH_DIR:-$PWD/target/bench-db}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
VTC=$TARGET/release/vtc
export VT_API_KEY=benchkey
mkdir -p "$DIR"
RESULTS=$DIR/results.txt
: >"$RESULTS"
say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }
[ -x /usr/bin/time ] || { echo "bench_db_size: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

EMULATOR=
cleanup() { [ -n "$EMULATOR" ] && kill "$EMULATOR" 2>/dev/null || true; }
trap cleanup EXIT

echo "building (release)..." >&2
cargo build --release -p vtc -q
cargo build --release -p store --example report_ratio -q

python3 scripts/gen_indicators.py --unique 20000 --lines 1000000 -o "$DIR/1m.txt"

log=$DIR/emulator.log
"$VTC" emulator --listen 127.0.0.1:0 >"$log" 2>&1 &
EMULATOR=$!
EMU=
for _ in $(seq 100); do
    EMU=$(sed -n 's/^listening on //p' "$log" | head -n 1)
    [ -n "$EMU" ] && break
    sleep 0.1
done
[ -n "$EMU" ] || { echo "bench_db_size: the emulator did not start: $(cat "$log")" >&2; exit 1; }

say "== machine"
say "cores: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
say "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' (with local changes)')"

DB=$DIR/1m.sqlite
rm -f "$DB" "$DB-wal" "$DB-shm"
say "== vtc enrich 1m.txt (1,000,000 lines, 20,000 unique), latency 0, unlimited quota"
timeout 600 /usr/bin/time -v -o "$DIR/time.txt" \
    "$VTC" --api-url "$EMU" --db "$DB" --quota-minute 0 --quota-day 0 \
    enrich "$DIR/1m.txt" -o "$DIR/out.jsonl" --concurrency 64 2>"$DIR/enrich.err"
lookups=$(curl -sf "$EMU/_emulator/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_total"])')
python3 - "$DIR/time.txt" "$lookups" <<'PY' | tee -a "$RESULTS"
import sys
fields = {}
for line in open(sys.argv[1]):
    key, _, value = line.strip().rpartition(": ")
    fields[key] = value
parts = [float(p) for p in fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")]
wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
user, sys_ = float(fields["User time (seconds)"]), float(fields["System time (seconds)"])
lookups = int(sys.argv[2])
print(f"wall {wall:.2f} s; user {user:.2f} s, sys {sys_:.2f} s; {lookups} lookups; "
      f"CPU {(user + sys_) / lookups * 1000:.3f} ms per lookup; "
      f"peak RSS {int(fields['Maximum resident set size (kbytes)']) // 1024} MB")
PY
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
say "database after the run: $(size "$DB") bytes (+ WAL $(size "$DB-wal") bytes)"
"$VTC" --db "$DB" --format table db stats | tee -a "$RESULTS"

say "== deflate ratio of typical reports (what the store keeps)"
for path in files/275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f \
    files/$(printf '%064x' 12345) domains/example.com ip_addresses/8.8.8.8 \
    urls/$(printf 'http://example.com/' | python3 -c 'import base64,sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).decode().rstrip("="))'); do
    curl -sf -H "x-apikey: $VT_API_KEY" "$EMU/api/v3/$path" -o "$DIR/$(basename "$path").json" ||
        say "(no report at $path)"
done
"$TARGET/release/examples/report_ratio" "$DIR"/*.json | tee -a "$RESULTS"
