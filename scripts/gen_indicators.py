#!/usr/bin/env python3
"""Deterministic indicator lists for the enrichment benchmarks.

Writes LINES lines holding UNIQUE distinct indicators, a quarter each of
sha256 hashes, domains, IPv4 addresses and URLs, interleaved. When LINES is
larger than UNIQUE, the extra lines repeat indicators already written (drawn
at random), so the file has exactly UNIQUE distinct values after vtc's
normalisation. The same --seed always gives the same file.

    scripts/gen_indicators.py --unique 10000 -o /tmp/vtc-bench/10k.txt
    scripts/gen_indicators.py --unique 1400 --lines 2000 -o /tmp/quota.txt
"""

import argparse
import random
import sys


def indicator(rng: random.Random, n: int) -> str:
    """The n-th unique indicator; n makes it distinct whatever rng draws."""
    kind = n % 4
    if kind == 0:
        # 64 hex digits: 56 random, 8 from n, so no two collide.
        return f"{rng.getrandbits(224):056x}{n:08x}"
    if kind == 1:
        return f"h{n}-{rng.getrandbits(32):08x}.example{rng.randrange(10)}.com"
    if kind == 2:
        # n fixes the address (up to 16.7M unique); the first octet stays public.
        return f"{11 + (n >> 24) % 200}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
    return f"http://site{n}.example.org/p/{rng.getrandbits(48):012x}?q={n}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unique", type=int, required=True, help="distinct indicators")
    parser.add_argument("--lines", type=int, help="total lines (default: --unique)")
    parser.add_argument("--seed", type=int, default=5, help="random seed (default 5)")
    parser.add_argument("-o", "--output", help="output file (default: stdout)")
    args = parser.parse_args()
    lines = args.lines if args.lines is not None else args.unique
    if args.unique < 1 or lines < args.unique:
        parser.error("need --unique >= 1 and --lines >= --unique")

    rng = random.Random(args.seed)
    written = []
    # Spread the repeats over the whole file: each line is new with the
    # probability that keeps the remaining new ones on schedule.
    new_left, lines_left = args.unique, lines
    out = open(args.output, "w", encoding="ascii") if args.output else sys.stdout
    with out:
        buf = []
        while lines_left:
            if written and rng.random() >= new_left / lines_left:
                buf.append(rng.choice(written))
            else:
                value = indicator(rng, len(written))
                written.append(value)
                buf.append(value)
                new_left -= 1
            lines_left -= 1
            if len(buf) >= 65536:
                out.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            out.write("\n".join(buf) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
