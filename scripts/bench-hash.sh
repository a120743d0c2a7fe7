#!/usr/bin/env bash
# `vtc hash` over a 1 GiB file beside md5sum, sha1sum and sha256sum (issue
# 12, docs/BENCHMARKS.md): wall and CPU time of each, three runs, the page
# cache warm. Usage: scripts/bench-hash.sh [SIZE_MIB] (default 1024).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
cargo build --release -p vtc --quiet
vtc=target/release/vtc
file=${BENCH_FILE:-/tmp/vtc-bench-hash.bin}
if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -ne $((size_mib * 1024 * 1024)) ]; then
    head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$file"
fi
cat "$file" > /dev/null   # warm the page cache
grep -q -w sha_ni /proc/cpuinfo && echo "cpu: SHA extensions (sha_ni)" || echo "cpu: no SHA extensions"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
t() { /usr/bin/time -f "%e %U %S" "$@" 2>&1 >/dev/null | tail -1; }
for run in 1 2 3; do
    md5=$(t md5sum "$file"); sha1=$(t sha1sum "$file"); sha256=$(t sha256sum "$file")
    ours=$(t "$vtc" hash --format jsonl "$file")
    echo "run $run (wall user sys): md5sum $md5 | sha1sum $sha1 | sha256sum $sha256 | vtc hash $ours"
    awk -v a="$md5" -v b="$sha1" -v c="$sha256" -v d="$ours" 'BEGIN {
        split(a, m); split(b, s1); split(c, s2); split(d, v);
        three = m[1] + s1[1] + s2[1];
        printf "  three in a row %.2f s; vtc hash %.2f s: %.2fx faster than the three, %.2fx md5sum alone (%+.0f%%); vtc CPU %.2f s\n",
            three, v[1], three / v[1], v[1] / m[1], (v[1] / m[1] - 1) * 100, v[2] + v[3] }'
done
