#!/usr/bin/env bash
# Issue 14's scale-out benchmark (docs/BENCHMARKS.md, "Issue 14"): one job of
# ITEMS unique file hashes submitted with `vtc enrich --distributed` and
# worked by 1, 2 and 4 `vtc worker` processes sharing one PostgreSQL
# (127.0.0.1:5432, database `test`, a schema of its own per run), against
# `vtc emulator --latency-ms 50` with no quota, on 127.0.0.1 only.
#
#   scripts/bench-workers.sh                 # ITEMS=2000, about a minute
#   QUOTA_RUN=1 scripts/bench-workers.sh     # also: 3 workers, one key of
#                                            # 60/min, 500 items (~9 minutes)
#
# Items per second = ITEMS / wall time of the submitter (queueing to the
# last record streamed back). CPU per item = (user + sys) of all workers /
# ITEMS. Database transactions per item = the delta of xact_commit +
# xact_rollback of database `test` (pg_stat_database) / ITEMS: every
# statement outside a transaction counts as one. Needs psql, curl and
# /usr/bin/time. Outputs go to $BENCH_DIR (default target/bench-workers).
set -euo pipefail
cd "$(dirname "$0")/.."

ITEMS=${ITEMS:-2000}
CONCURRENCY=${CONCURRENCY:-8}
DIR=${BENCH_DIR:-$PWD/target/bench-workers}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
VTC=${VTC:-$TARGET/release/vtc}
PORT=${PORT:-18614}
PSQL=(psql -h 127.0.0.1 -U postgres -d test -qtA)
mkdir -p "$DIR"
RESULTS=$DIR/results.txt
: >"$RESULTS"
say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }
[ -x "$VTC" ] || { echo "bench-workers: build first: cargo build --release -p vtc" >&2; exit 2; }
pg_isready -h 127.0.0.1 -p 5432 -q || { echo "bench-workers: PostgreSQL is not on 127.0.0.1:5432" >&2; exit 2; }

"$VTC" emulator --listen "127.0.0.1:$PORT" --latency-ms 50 >"$DIR/emulator.log" 2>&1 &
EMU=$!
WORKERS=()
cleanup() {
    for w in "${WORKERS[@]:-}"; do [ -n "$w" ] && kill $(pgrep -P "$w") "$w" 2>/dev/null || true; done
    kill "$EMU" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/_emulator/stats" >/dev/null && break; sleep 0.1; done
API="http://127.0.0.1:$PORT"

xacts() { "${PSQL[@]}" -c "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'test'"; }

# run N_WORKERS ITEMS EXTRA_FLAGS...
run() {
    local n=$1 items=$2; shift 2
    local schema="bench_w${n}_$$_$RANDOM"
    "${PSQL[@]}" -c "CREATE SCHEMA $schema"
    local db="postgres://postgres@127.0.0.1:5432/test?options=-csearch_path%3D$schema"
    python3 -c "
import random
s = random.getrandbits(64)
print('\n'.join('%016x%048x' % (s, i + 1) for i in range(int('$items'))))" >"$DIR/input.txt"
    # Schema first, so the workers' start is not part of the timing.
    "$VTC" --db "$db" db stats >/dev/null
    WORKERS=()
    for i in $(seq "$n"); do
        /usr/bin/time -f "%U %S" -o "$DIR/worker-$i.time" \
            "$VTC" worker --api-url "$API" --db "$db" --api-key benchkey --quota fixed \
            --concurrency "$CONCURRENCY" "$@" 2>"$DIR/worker-$i.log" &
        WORKERS+=($!)
    done
    sleep 1
    local before after start end
    before=$(xacts)
    start=$(date +%s.%N)
    "$VTC" enrich "$DIR/input.txt" -o "$DIR/out.jsonl" --distributed --format jsonl \
        --api-url "$API" --db "$db" --api-key benchkey --quota fixed 2>"$DIR/submit.log"
    end=$(date +%s.%N)
    after=$(xacts)
    # SIGTERM to the worker itself (the child of /usr/bin/time, which
    # would die without writing its figures if signalled).
    for w in "${WORKERS[@]}"; do kill -TERM $(pgrep -P "$w") 2>/dev/null || true; done
    wait "${WORKERS[@]}" 2>/dev/null || true
    WORKERS=()
    local cpu
    cpu=$(cat "$DIR"/worker-*.time | awk '{u += $1; s += $2} END {print u + s}')
    local lines
    lines=$(wc -l <"$DIR/out.jsonl")
    [ "$lines" = "$items" ] || { say "FAILED: $lines records for $items items"; exit 1; }
    python3 - "$n" "$items" "$start" "$end" "$cpu" "$before" "$after" <<'PY' | tee -a "$RESULTS"
import sys
n, items, start, end, cpu, before, after = sys.argv[1:]
items = int(items); wall = float(end) - float(start)
print(f"{n} worker(s): {items} items in {wall:.2f} s = {items / wall:.0f} items/s; "
      f"worker CPU {float(cpu) * 1000 / items:.2f} ms/item; "
      f"{(int(after) - int(before)) / items:.1f} database transactions/item")
PY
    rm -f "$DIR"/worker-*.time
    "${PSQL[@]}" -c "SET client_min_messages = warning" -c "DROP SCHEMA $schema CASCADE"
}

say "bench-workers: $ITEMS items, emulator --latency-ms 50, unlimited quota, --concurrency $CONCURRENCY per worker"
for n in 1 2 4; do run "$n" "$ITEMS" --quota-minute 0 --quota-day 0 --quota-month 0; done

if [ "${QUOTA_RUN:-0}" = 1 ]; then
    kill "$EMU"; wait "$EMU" 2>/dev/null || true
    "$VTC" emulator --listen "127.0.0.1:$PORT" --quota-minute 60 >"$DIR/emulator.log" 2>&1 &
    EMU=$!
    for _ in $(seq 50); do curl -sf "$API/_emulator/stats" >/dev/null && break; sleep 0.1; done
    say "quota run: 3 workers, one key of 60/min at the emulator, 500 items"
    run 3 500 --quota-minute 60 --quota-day 0
    curl -s "$API/_emulator/stats" | python3 -c "
import json, sys
s = json.load(sys.stdin)
print('emulator: %d requests, by status %s' % (s['requests_total'], s['by_status']))" | tee -a "$RESULTS"
fi
