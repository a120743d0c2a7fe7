#!/usr/bin/env bash
# Benchmarks `vtc serve` (docs/BENCHMARKS.md): a cached
# `GET /v1/observables/{hash}` with a token, against a minimal axum handler
# that answers the same bytes (crates/server/examples/minimal.rs), both in
# release, load from separate processes on loopback:
#   1. saturation: wrk -t1 -c32 -d10s on each, one after the other;
#   2. a fixed offered rate: hey -q 100 -c 50 (5,000 requests/s) for 10 s,
#      p99 latency;
#   3. CPU per request: the service's user+sys (from /proc) over the
#      requests it answered.
#
#   scripts/bench-serve.sh [DURATION_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${1:-10}"
for tool in wrk hey curl; do
    command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install wrk hey curl)" >&2; exit 2; }
done
cargo build -q --release -p vtc --bin vtc
cargo build -q --release -p server --example minimal
vtc="$PWD/target/release/vtc"
minimal="$PWD/target/release/examples/minimal"
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

first_line_addr() {
    local file="$1" i
    for i in $(seq 1 100); do
        if [ -s "$file" ]; then sed -n '1s/^listening on //p' "$file"; return 0; fi
        sleep 0.1
    done
    echo "no 'listening on' line in $file" >&2; return 1
}

# CPU seconds (user + sys) a process has used so far.
cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}

env -u VTC_CONFIG "$vtc" emulator --listen 127.0.0.1:0 >"$work/emu.out" 2>/dev/null &
pids+=($!)
emulator="$(first_line_addr "$work/emu.out")"
export VT_API_KEY=bench-key VTC_API_URL="$emulator" VTC_DB="$work/vtc.sqlite"
export VTC_QUOTA_MINUTE=0 VTC_QUOTA_DAY=0 VTC_QUOTA_MONTH=0
unset VTC_CONFIG
token="$("$vtc" token create --name bench --role analyst 2>/dev/null)"
"$vtc" serve --listen 127.0.0.1:0 >"$work/serve.out" 2>/dev/null &
serve_pid=$!
pids+=($serve_pid)
service="$(first_line_addr "$work/serve.out")"

hash=275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f
path="/v1/observables/$hash"
# The first lookup fills the cache; the second is the cached answer.
curl -sf -H "Authorization: Bearer $token" "$service$path" >/dev/null
curl -sf -H "Authorization: Bearer $token" "$service$path" >"$work/body.json"
grep -q '"cached":true' "$work/body.json" || { echo "the answer is not cached" >&2; exit 1; }
"$minimal" 127.0.0.1:0 "$work/body.json" >"$work/minimal.out" &
minimal_pid=$!
pids+=($minimal_pid)
baseline="$(first_line_addr "$work/minimal.out")"
cmp <(curl -sf "$baseline$path") "$work/body.json" || { echo "the baseline answers other bytes" >&2; exit 1; }
echo "answer: $(wc -c <"$work/body.json") bytes; nproc: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"

# A Lua script so wrk sends the token.
cat >"$work/auth.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
LUA

rps() { sed -n 's/^Requests\/sec: *//p' "$1"; }

echo
echo "== saturation: wrk -t1 -c32 -d${duration}s"
mbefore="$(cpu_seconds "$minimal_pid")"
wrk -t1 -c32 -d"${duration}s" --latency "$baseline$path" >"$work/wrk-minimal.txt"
mafter="$(cpu_seconds "$minimal_pid")"
minimal_requests="$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/wrk-minimal.txt")"
before="$(cpu_seconds "$serve_pid")"
wrk -t1 -c32 -d"${duration}s" --latency -s "$work/auth.lua" "$service$path" >"$work/wrk-serve.txt"
after="$(cpu_seconds "$serve_pid")"
serve_requests="$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/wrk-serve.txt")"
grep -q "Non-2xx" "$work/wrk-serve.txt" && { echo "non-2xx answers:" >&2; cat "$work/wrk-serve.txt" >&2; exit 1; }
minimal_rps="$(rps "$work/wrk-minimal.txt")"
serve_rps="$(rps "$work/wrk-serve.txt")"
echo "minimal axum handler: $minimal_rps requests/s"
echo "vtc serve (token, cache, record): $serve_rps requests/s"
awk -v s="$serve_rps" -v m="$minimal_rps" 'BEGIN {printf "ratio: %.1f%% (goal >= 70%%)\n", 100 * s / m}'
awk -v a="$after" -v b="$before" -v n="$serve_requests" \
    'BEGIN {printf "vtc serve CPU: %.2f s user+sys for %d requests = %.1f us per request\n", a - b, n, 1e6 * (a - b) / n}'
awk -v a="$mafter" -v b="$mbefore" -v n="$minimal_requests" \
    'BEGIN {printf "minimal CPU: %.2f s user+sys for %d requests = %.1f us per request\n", a - b, n, 1e6 * (a - b) / n}'
sed -n '/Latency Distribution/,/99%/p' "$work/wrk-serve.txt"

echo
echo "== fixed rate: hey -z ${duration}s -q 100 -c 50 (5,000 requests/s offered)"
for name in minimal serve; do
    if [ "$name" = minimal ]; then url="$baseline$path"; auth=(); pid="$minimal_pid"; else url="$service$path"; auth=(-H "Authorization: Bearer $token"); pid="$serve_pid"; fi
    before="$(cpu_seconds "$pid")"
    hey -z "${duration}s" -q 100 -c 50 "${auth[@]}" "$url" >"$work/hey-$name.txt"
    after="$(cpu_seconds "$pid")"
    achieved="$(sed -n 's/^ *Requests\/sec: *//p' "$work/hey-$name.txt")"
    p99="$(sed -n 's/^ *99%* in \([0-9.]*\) secs.*/\1/p' "$work/hey-$name.txt")"
    codes="$(sed -n '/Status code distribution/,$p' "$work/hey-$name.txt" | tr -s ' \n' ' ')"
    awk -v n="$name" -v r="$achieved" -v p="$p99" -v c="$codes" \
        'BEGIN {printf "%s: %s requests/s achieved, p99 %.2f ms (goal < 2 ms); %s\n", n, r, 1000 * p, c}'
    count="$(awk -v r="$achieved" -v d="$duration" 'BEGIN {printf "%d", r * d}')"
    awk -v n="$name" -v a="$after" -v b="$before" -v c="$count" \
        'BEGIN {printf "%s CPU at the fixed rate: %.1f us per request\n", n, 1e6 * (a - b) / c}'
done
