#!/usr/bin/env bash
# Soak: `vtc enrich` of LINES indicators against an emulator failing RATE of
# requests in every way it can (503, 500, reset, truncated, malformed JSON,
# slow, hang; 429 too with KINDS=...,429, which pauses the key 60 s each),
# compared with a fault-free run: lost, duplicated and differing records
# must all be 0. Bounded: a few minutes. Not part of `cargo test`.
#
#   scripts/soak.sh                      # 300 lines at 10%
#   LINES=1000 RATE=0.2 SEED=9 scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${LINES:-300}
RATE=${RATE:-0.1}
SEED=${SEED:-16}
KINDS=${KINDS:-503,500,reset,truncated,malformed,slow,hang}
cargo build -q -p vtc
VTC=target/debug/vtc
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

start_emulator() { # name, extra args...
  local name=$1; shift
  "$VTC" emulator --listen 127.0.0.1:0 "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do
    grep -q '^listening on ' "$work/$name.log" 2>/dev/null && break
    sleep 0.1
  done
  sed -n 's/^listening on //p' "$work/$name.log" | head -1
}

python3 scripts/gen_indicators.py --unique "$LINES" --seed "$SEED" -o "$work/in.txt"
printf 'timeout = 2\n' >"$work/config.toml"
clean=$(start_emulator clean)
faulty=$(start_emulator faulty --fault-rate "$RATE" --fault-seed "$SEED" \
  --fault-kinds "$KINDS" --fault-delay-ms 4000)

enrich() { # api, out
  "$VTC" --config "$work/config.toml" --api-url "$1" --db "$work/$(basename "$2").sqlite" \
    --api-key soak-key --quota-minute 0 --quota-day 0 \
    enrich "$work/in.txt" -o "$2" --concurrency 16 2>"$2.stderr" || true
  tail -1 "$2.stderr"
}

start=$(date +%s)
enrich "$clean" "$work/clean.jsonl"
enrich "$faulty" "$work/faulty.jsonl"
elapsed=$(( $(date +%s) - start ))
curl -s "$faulty/_emulator/stats" >"$work/stats.json" 2>/dev/null || echo '{}' >"$work/stats.json"

python3 - "$work" "$LINES" "$RATE" "$KINDS" "$elapsed" <<'PY'
import json, sys, collections
work, lines, rate, kinds, elapsed = sys.argv[1:]
def load(name):
    rows = [json.loads(l) for l in open(f"{work}/{name}.jsonl") if l.strip()]
    return rows
def comparable(r):
    return {k: v for k, v in r.items() if k != "cached" and not k.endswith("_date")}
clean, faulty = load("clean"), load("faulty")
count = collections.Counter(r["indicator"] for r in faulty)
want = {r["indicator"]: comparable(r) for r in clean}
got = {r["indicator"]: comparable(r) for r in faulty}
lost = len(set(want) - set(got))
duplicated = sum(n - 1 for n in count.values() if n > 1)
differing = sum(1 for k in want if k in got and got[k] != want[k])
failed = sum(1 for r in faulty if r.get("error"))
stats = json.load(open(f"{work}/stats.json"))
print(f"soak: lines={lines} fault_rate={rate} kinds={kinds} elapsed_s={elapsed}")
print(f"soak: records clean={len(clean)} faulty={len(faulty)} lost={lost} "
      f"duplicated={duplicated} differing={differing} failed={failed} "
      f"server_answers={stats.get('requests_total')} by_status={stats.get('by_status')}")
sys.exit(1 if lost or duplicated or differing or failed or len(clean) != int(lines) else 0)
PY
