#!/usr/bin/env bash
# Issue 9's CPU benchmark (docs/BENCHMARKS.md, "Issue 9"): 5,000 unique file
# hashes at concurrency 64 against `vtc emulator` on 127.0.0.1 (never the
# real VirusTotal), with vtc and vt-py in the same run, on the same emulator.
#
#   scripts/bench-issue9.sh            # RUNS=3 by default, about 2 minutes
#
# CPU time per lookup = (user + sys) of the process / lookups; the
# emulator's comes from /proc/PID/stat (utime + stime) before and after
# each job, divided by the requests it served. Needs python3, curl,
# /usr/bin/time (apt-get install time) and, for the comparison, vt-py
# (python3 -m pip install vt-py). Inputs, databases and outputs go to
# $BENCH_DIR (default target/bench-issue9).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
LOOKUPS=${LOOKUPS:-5000}
CONCURRENCY=64
DIR=${BENCH_DIR:-$PWD/target/bench-issue9}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
VTC=$TARGET/release/vtc
export VT_API_KEY=benchkey
mkdir -p "$DIR"
RESULTS=$DIR/results.txt
: >"$RESULTS"

say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }
[ -x /usr/bin/time ] || { echo "bench-issue9: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench-issue9: curl is missing" >&2; exit 2; }

EMULATOR_PID=
cleanup() { [ -n "$EMULATOR_PID" ] && kill "$EMULATOR_PID" 2>/dev/null || true; }
trap cleanup EXIT

# start_emulator ARGS...: a separate emulator process on a free port; sets
# EMU (its URL) and EMULATOR_PID.
start_emulator() {
    cleanup
    local log=$DIR/emulator.log
    "$VTC" emulator --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
    EMULATOR_PID=$!
    for _ in $(seq 100); do
        if grep -q '^listening on ' "$log"; then
            EMU=$(sed -n 's/^listening on //p' "$log" | head -n 1)
            return
        fi
        sleep 0.1
    done
    echo "bench-issue9: the emulator did not start: $(cat "$log")" >&2
    exit 1
}

# CPU seconds (user + sys) the emulator has used so far.
emulator_cpu() {
    python3 - "$EMULATOR_PID" <<'EOF'
import os, sys
fields = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
print((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
EOF
}
requests() {
    curl -sf "$EMU/_emulator/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_total"])'
}
reset() { curl -sf -X POST "$EMU/_emulator/reset" >/dev/null; }

# job NAME COMMAND...: runs one job under /usr/bin/time and says its figures.
job() {
    local name=$1
    shift
    reset
    local before after
    before=$(emulator_cpu)
    timeout 300 /usr/bin/time -f '%U %S %e' -o "$DIR/time" "$@" 2>"$DIR/$name.stderr" >/dev/null
    after=$(emulator_cpu)
    local calls
    calls=$(requests)
    read -r user sys wall <"$DIR/time"
    python3 - "$name" "$user" "$sys" "$wall" "$before" "$after" "$calls" "$LOOKUPS" <<'EOF' | tee -a "$RESULTS"
import sys
name, user, sys_, wall, before, after, calls, lookups = sys.argv[1:]
user, sys_, wall, before, after = map(float, (user, sys_, wall, before, after))
calls, lookups = int(calls), int(lookups)
client = (user + sys_) / lookups * 1000
emu = (after - before) / max(calls, 1) * 1000
print(f"{name}: wall {wall:.2f} s, {lookups / wall:.0f} lookups/s; "
      f"client CPU {user + sys_:.2f} s (user {user:.2f}, sys {sys_:.2f}) = {client:.3f} ms/lookup; "
      f"emulator CPU {after - before:.2f} s / {calls} requests = {emu:.3f} ms/request")
EOF
}

say "== machine"
say "cores: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
say "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' (with local changes)')"

echo "building (release)..." >&2
cargo build --release -p vtc -q

# 5,000 distinct sha256 hashes, the same every run.
python3 -c "import hashlib,sys; [print(hashlib.sha256(b'issue9-%d' % i).hexdigest()) for i in range(int(sys.argv[1]))]" \
    "$LOOKUPS" >"$DIR/hashes.txt"

vtc_job() {
    rm -f "$DIR"/enrich.sqlite*
    job "$1" "$VTC" enrich "$DIR/hashes.txt" -o "$DIR/enrich.out.jsonl" --api-url "$EMU" \
        --db "$DIR/enrich.sqlite" --quota-minute 0 --quota-day 0 --concurrency "$CONCURRENCY"
}
vtpy_job() {
    if python3 -c 'import vt' 2>/dev/null; then
        job "$1" python3 scripts/vtpy_enrich.py --host "$EMU" --concurrency "$CONCURRENCY" \
            "$DIR/hashes.txt" "$DIR/vtpy.out.jsonl"
    else
        say "$1: vt-py is not installed (python3 -m pip install vt-py): skipped"
    fi
}

for latency in 0 50; do
    say ""
    say "== $LOOKUPS unique hashes, --concurrency $CONCURRENCY, emulator --latency-ms $latency"
    start_emulator --latency-ms "$latency"
    for run in $(seq "$RUNS"); do
        vtc_job "vtc enrich, run $run"
        vtpy_job "vt-py, run $run"
    done
done

echo >&2
echo "results in $RESULTS" >&2
