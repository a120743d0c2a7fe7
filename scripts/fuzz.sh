#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time each (default 180 s) and
# prints its executions and crashes. Not part of `cargo test`.
#
#   scripts/fuzz.sh            # every target, 180 s each
#   SECONDS_EACH=30 scripts/fuzz.sh indicator
#
# Needs `cargo install cargo-fuzz`; on a stable toolchain the sanitizer
# flags are let through with RUSTC_BOOTSTRAP=1. A crash leaves its input in
# fuzz/artifacts/TARGET/: fix it, then keep that input as a regression test
# in the crate's tests (crates/ioc/tests/fuzz_regressions.rs,
# crates/vt-model/tests/fuzz_regressions.rs).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH=${SECONDS_EACH:-180}
export RUSTC_BOOTSTRAP=1
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
status=0
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  log=$(mktemp)
  if cargo fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    result=ok
  else
    result=CRASH
    status=1
  fi
  # No stats (the target did not build): say so instead of exiting here.
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  echo "fuzz: target=$target seconds=$SECONDS_EACH executions=${execs:-?} result=$result"
  [ "$result" = ok ] || tail -40 "$log"
  rm -f "$log"
done
exit $status
