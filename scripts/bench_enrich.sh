#!/usr/bin/env bash
# The `vtc enrich` benchmarks of docs/BENCHMARKS.md, end to end, against
# local emulators on 127.0.0.1 (never the real VirusTotal).
#
#   scripts/bench_enrich.sh            # everything, about 10 minutes
#   scripts/bench_enrich.sh --no-quota # skip the 6-minute quota scenario
#
# Needs: python3, curl, /usr/bin/time (apt-get install time), vt-py
# (pip install vt-py) for the comparison; hyperfine is used as a cross-check
# when installed. Every command runs under `timeout`; inputs, databases and
# outputs go to $BENCH_DIR (default target/bench), never into the tree.
set -euo pipefail
cd "$(dirname "$0")/.."

QUOTA=1
[ "${1:-}" = "--no-quota" ] && QUOTA=0
RUNS=${RUNS:-3}
DIR=${BENCH_DIR:-$PWD/target/bench}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
VTC=$TARGET/release/vtc
export VT_API_KEY=benchkey
mkdir -p "$DIR"
RESULTS=$DIR/results.txt
: >"$RESULTS"

say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }
need() { command -v "$1" >/dev/null || { echo "bench_enrich: $1 is missing ($2)" >&2; exit 2; }; }
need python3 "install python3"
need curl "apt-get install curl"
[ -x /usr/bin/time ] || { echo "bench_enrich: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

EMULATORS=()
cleanup() { for pid in "${EMULATORS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# start_emulator VAR ARGS...: serves an emulator on a free port; VAR gets its URL.
start_emulator() {
    local var=$1 log
    shift
    log=$(mktemp "$DIR/emulator.XXXX.log")
    "$VTC" emulator --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
    EMULATORS+=("$!")
    for _ in $(seq 100); do
        if grep -q '^listening on ' "$log"; then
            printf -v "$var" '%s' "$(sed -n 's/^listening on //p' "$log" | head -n 1)"
            return
        fi
        sleep 0.1
    done
    echo "bench_enrich: the emulator did not start: $(cat "$log")" >&2
    exit 1
}

reset() { curl -sf -X POST "$1/_emulator/reset" >/dev/null; }
# calls URL: "requests 429s" from the emulator's stats.
calls() {
    curl -sf "$1/_emulator/stats" | python3 -c \
        'import json,sys; s=json.load(sys.stdin); print(s["requests_total"], s["by_status"].get("429", 0))'
}
# measured FILE: "wall_seconds max_rss_kB" from /usr/bin/time -v output.
measured() {
    python3 - "$1" <<'EOF'
import sys
wall = rss = None
for line in open(sys.argv[1]):
    key, _, value = line.strip().rpartition(": ")
    if key.startswith("Elapsed (wall clock)"):
        parts = [float(p) for p in value.split(":")]
        wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    elif key == "Maximum resident set size (kbytes)":
        rss = int(value)
print(f"{wall:.2f} {rss}")
EOF
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

say "== machine"
say "cores: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
say "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' (with local changes)')"

echo "building (release)..." >&2
cargo build --release -p vtc -q
cargo build --release -p vt-emulator --example emulator_load -q

python3 scripts/gen_indicators.py --unique 10000 -o "$DIR/10k.txt"
python3 scripts/gen_indicators.py --unique 20000 --lines 1000000 -o "$DIR/1m.txt"
python3 scripts/gen_indicators.py --unique 1000 --lines 50000 -o "$DIR/repeats.txt"
python3 scripts/gen_indicators.py --unique 1400 --lines 2000 -o "$DIR/quota.txt"

say ""
say "== 1. 10,000 unique indicators, emulator latency 50 ms, --concurrency 64, unlimited quota"
start_emulator SLOW --latency-ms 50
walls=()
for run in $(seq "$RUNS"); do
    rm -f "$DIR"/10k.sqlite*
    reset "$SLOW"
    timeout 120 /usr/bin/time -v -o "$DIR/10k.time" "$VTC" enrich "$DIR/10k.txt" -o "$DIR/10k.out.jsonl" \
        --api-url "$SLOW" --db "$DIR/10k.sqlite" --quota-minute 0 --quota-day 0 --concurrency 64 \
        2>"$DIR/10k.stderr"
    read -r wall rss < <(measured "$DIR/10k.time")
    read -r requests r429 < <(calls "$SLOW")
    walls+=("$wall")
    say "vtc run $run: wall ${wall} s, max RSS ${rss} kB, API calls $requests, 429s $r429, records $(wc -l <"$DIR/10k.out.jsonl")"
done
say "vtc median wall: $(median "${walls[@]}") s"
if command -v hyperfine >/dev/null; then
    timeout 300 hyperfine --runs "$RUNS" --style basic --export-json "$DIR/10k.hyperfine.json" \
        --prepare "rm -f $DIR/10k.sqlite*; curl -sf -X POST $SLOW/_emulator/reset" \
        "$VTC enrich $DIR/10k.txt -o $DIR/10k.out.jsonl --api-url $SLOW --db $DIR/10k.sqlite --quota-minute 0 --quota-day 0 --concurrency 64" \
        >/dev/null 2>&1
    say "hyperfine median wall: $(python3 -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$DIR/10k.hyperfine.json") s"
fi
# The floor: the same 10,000 GETs from a bare reqwest loop, no vtc at all.
say "emulator floor: $(timeout 120 "$TARGET/release/examples/emulator_load" 10000 64 50)"

say ""
say "== 2. vt-py, the same job (scripts/vtpy_enrich.py, asyncio concurrency 64), same emulator"
if python3 -c 'import vt' 2>/dev/null; then
    walls=()
    for run in $(seq "$RUNS"); do
        reset "$SLOW"
        timeout 180 /usr/bin/time -v -o "$DIR/vtpy.time" python3 scripts/vtpy_enrich.py \
            --host "$SLOW" --concurrency 64 "$DIR/10k.txt" "$DIR/vtpy.out.jsonl" 2>"$DIR/vtpy.stderr"
        read -r wall rss < <(measured "$DIR/vtpy.time")
        read -r requests r429 < <(calls "$SLOW")
        walls+=("$wall")
        say "vt-py run $run: wall ${wall} s, max RSS ${rss} kB, API calls $requests, records $(wc -l <"$DIR/vtpy.out.jsonl")"
    done
    say "vt-py median wall: $(median "${walls[@]}") s"
else
    say "vt-py is not installed (pip install vt-py): skipped"
fi

say ""
say "== 3. 1,000,000 lines (20,000 unique, the rest repeats), emulator without latency, --concurrency 64"
start_emulator FAST
rm -f "$DIR"/1m.sqlite*
timeout 300 /usr/bin/time -v -o "$DIR/1m.time" "$VTC" enrich "$DIR/1m.txt" -o "$DIR/1m.out.jsonl" \
    --api-url "$FAST" --db "$DIR/1m.sqlite" --quota-minute 0 --quota-day 0 --concurrency 64 \
    2>"$DIR/1m.stderr"
read -r wall rss < <(measured "$DIR/1m.time")
read -r requests r429 < <(calls "$FAST")
say "vtc: wall ${wall} s, max RSS ${rss} kB, API calls $requests, records $(wc -l <"$DIR/1m.out.jsonl")"
say "summary: $(tail -n 1 "$DIR/1m.stderr")"

say ""
say "== 3b. 50,000 lines (1,000 unique), emulator latency 50 ms, --concurrency 64: repeats must not cost concurrency"
rm -f "$DIR"/repeats.sqlite*
reset "$SLOW"
timeout 120 /usr/bin/time -v -o "$DIR/repeats.time" "$VTC" enrich "$DIR/repeats.txt" -o "$DIR/repeats.out.jsonl" \
    --api-url "$SLOW" --db "$DIR/repeats.sqlite" --quota-minute 0 --quota-day 0 --concurrency 64 \
    2>"$DIR/repeats.stderr"
read -r wall rss < <(measured "$DIR/repeats.time")
read -r requests r429 < <(calls "$SLOW")
say "vtc: wall ${wall} s, max RSS ${rss} kB, API calls $requests, records $(wc -l <"$DIR/repeats.out.jsonl")"

if [ "$QUOTA" = 1 ]; then
    say ""
    say "== 4. quota: emulator 240/minute, vtc --quota-minute 240 --quota-day 0, 2,000 lines (1,400 unique)"
    start_emulator QUOTED --quota-minute 240
    rm -f "$DIR"/quota.sqlite*
    timeout 600 /usr/bin/time -v -o "$DIR/quota.time" "$VTC" enrich "$DIR/quota.txt" -o "$DIR/quota.out.jsonl" \
        --api-url "$QUOTED" --db "$DIR/quota.sqlite" --quota-minute 240 --quota-day 0 2>"$DIR/quota.stderr"
    read -r wall rss < <(measured "$DIR/quota.time")
    read -r requests r429 < <(calls "$QUOTED")
    say "first run: wall ${wall} s, API calls $requests, 429s $r429, records $(wc -l <"$DIR/quota.out.jsonl")"
    say "summary: $(tail -n 1 "$DIR/quota.stderr")"
    # Same database, another output file: a new job, every answer from the cache.
    timeout 120 /usr/bin/time -v -o "$DIR/quota2.time" "$VTC" enrich "$DIR/quota.txt" -o "$DIR/quota2.out.jsonl" \
        --api-url "$QUOTED" --db "$DIR/quota.sqlite" --quota-minute 240 --quota-day 0 2>"$DIR/quota2.stderr"
    read -r wall2 _ < <(measured "$DIR/quota2.time")
    read -r requests2 _ < <(calls "$QUOTED")
    say "second run: wall ${wall2} s, API calls $((requests2 - requests)), records $(wc -l <"$DIR/quota2.out.jsonl")"
    say "summary: $(tail -n 1 "$DIR/quota2.stderr")"
fi

echo >&2
echo "results in $RESULTS" >&2
