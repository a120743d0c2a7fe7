#!/usr/bin/env bash
# POST /v1/decide for cached hashes under load from a separate process on
# loopback (wrk, apt package wrk): decisions/s, latency percentiles, and
# the service's CPU per decision ((user+sys) of the vtc process / count).
#
#   scripts/bench-decide.sh            # 10 s, 2 wrk threads, 32 connections;
#                                      # then 10 s at RATE=10000/s offered (hey)
#   SECONDS_RUN=30 CONNECTIONS=64 scripts/bench-decide.sh
#
# Uses target/release/vtc (cargo build --release -p vtc) and the documented
# example policy; the EICAR test file in a user's Downloads folder is asked
# about (its rating is looked up once, then cached), so every request runs
# the whole engine and is denied, and is written to the decision log.
set -euo pipefail
cd "$(dirname "$0")/.."
VTC=${VTC:-target/release/vtc}
SECONDS_RUN=${SECONDS_RUN:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export XDG_CONFIG_HOME=$work
db=$work/vtc.sqlite

"$VTC" emulator --listen 127.0.0.1:0 >"$work/emu.out" 2>/dev/null &
for _ in $(seq 50); do grep -q listening "$work/emu.out" 2>/dev/null && break; sleep 0.1; done
api=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/emu.out" | head -1)
token=$("$VTC" --db "$db" token create --name bench --role agent 2>/dev/null)
"$VTC" --api-key k --quota-minute 0 --api-url "$api" --db "$db" serve --listen 127.0.0.1:0 \
    --policy docs/policies/privilege-manager.toml >"$work/serve.out" 2>/dev/null &
serve_pid=$!
for _ in $(seq 50); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$work/serve.out" | head -1)

body='{"sha256":"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f","path":"C:\\\\Users\\\\bob\\\\Downloads\\\\eicar.com","user":"CORP\\\\bob","host":"WS-17"}'
# The first decision looks the rating up; every one after it is cached.
curl -s -H "Authorization: Bearer $token" -H 'content-type: application/json' -d "$body" "$base/v1/decide"; echo
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
done = function(summary, latency, requests)
  io.write(string.format("requests %d errors %d\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  for _, p in pairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%g %.3f ms\n", p, latency:percentile(p) / 1000))
  end
end
LUA
ticks() { awk '{print $14 + $15}' "/proc/$serve_pid/stat"; }
hz=$(getconf CLK_TCK)
before=$(ticks)
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_RUN}s" --latency -s "$work/post.lua" "$base/v1/decide" | tee "$work/wrk.out"
after=$(ticks)
requests=$(sed -n 's/^requests \([0-9]*\).*/\1/p' "$work/wrk.out")
awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" -v s="$SECONDS_RUN" 'BEGIN {
  printf "decisions/s %.0f; service CPU %.2f s = %.1f us per decision\n", n / s, t / hz, t / hz / n * 1e6 }'
# Latency at a fixed offered rate (hey, apt package hey): RATE decisions/s
# from 50 workers, the p99 of what a steady stream of agents sees.
RATE=${RATE:-10000}
if command -v hey >/dev/null 2>&1; then
  before_fixed=$(ticks)
  hey -z "${SECONDS_RUN}s" -q $((RATE / 50)) -c 50 -m POST -T application/json \
      -H "Authorization: Bearer $token" -d "$body" "$base/v1/decide" >"$work/hey.out"
  after_fixed=$(ticks)
  fixed=$(awk '/^  Total:/ {next} /Requests\/sec/ {print $2}' "$work/hey.out")
  p99=$(sed -n 's/^ *99%* in \([0-9.]*\) secs.*/\1/p' "$work/hey.out")
  p50=$(sed -n 's/^ *50%* in \([0-9.]*\) secs.*/\1/p' "$work/hey.out")
  answered=$(sed -n 's/^[[:space:]]*\[200\][[:space:]]*\([0-9]*\) responses.*/\1/p' "$work/hey.out")
  awk -v r="$RATE" -v a="$fixed" -v p50="$p50" -v p99="$p99" -v t=$((after_fixed - before_fixed)) -v hz="$hz" -v n="${answered:-0}" 'BEGIN {
    printf "at %d/s offered: %.0f/s answered, p50 %.2f ms, p99 %.2f ms, service CPU %.1f us per decision\n", r, a, p50 * 1000, p99 * 1000, (n > 0 ? t / hz / n * 1e6 : 0) }'
  requests=$((requests + ${answered:-0}))
else
  echo "hey is missing (apt-get install hey): no fixed-rate latency"
fi
# Every decision is kept: shut down cleanly and count the log.
kill -TERM $serve_pid; wait $serve_pid 2>/dev/null || true
kept=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from decisions').fetchone()[0])" "$db")
echo "decisions kept in the log: $kept (wrk and hey counted $requests, plus the warm-up one)"
