#!/usr/bin/env python3
"""The enrichment job done with the official vt-py client, for comparison.

Reads indicators (one a line), looks each distinct one up with CONCURRENCY
lookups in flight (asyncio), and writes one JSON line per indicator with the
detection counts, or the error. No cache: every distinct line costs a call.

    VT_API_KEY=bench scripts/vtpy_enrich.py --host http://127.0.0.1:8080 \
        --concurrency 64 INPUT OUTPUT
"""

import argparse
import asyncio
import ipaddress
import json
import os
import re
import sys

import vt

SHA256 = re.compile(r"^[0-9a-fA-F]{64}$|^[0-9a-fA-F]{40}$|^[0-9a-fA-F]{32}$")


def api_path(value: str):
    """(type, path) of the object a line names."""
    if SHA256.match(value):
        return "file", f"/files/{value.lower()}"
    if "://" in value:
        return "url", f"/urls/{vt.url_id(value)}"
    try:
        ipaddress.ip_address(value)
        return "ip", f"/ip_addresses/{value}"
    except ValueError:
        return "domain", f"/domains/{value.lower()}"


async def lookup(client: vt.Client, value: str) -> dict:
    kind, path = api_path(value)
    record = {"indicator": value, "type": kind}
    try:
        obj = await client.get_object_async(path)
        stats = obj.get("last_analysis_stats") or {}
        record.update(
            id=obj.id,
            malicious=stats.get("malicious", 0),
            suspicious=stats.get("suspicious", 0),
            total=sum(stats.values()),
            error=None,
        )
    except vt.APIError as e:
        if e.code == "NotFoundError":
            record.update(id=None, malicious=0, suspicious=0, total=0, error=None)
        else:
            record["error"] = {"code": e.code, "message": e.message}
    return record


async def run(args) -> int:
    queue: asyncio.Queue = asyncio.Queue(maxsize=args.concurrency * 4)
    seen = set()
    failed = 0

    async def worker(client, out):
        nonlocal failed
        while True:
            value = await queue.get()
            if value is None:
                return
            record = await lookup(client, value)
            failed += record.get("error") is not None
            out.write(json.dumps(record) + "\n")

    key = os.environ.get("VT_API_KEY", "bench")
    async with vt.Client(key, host=args.host) as client:
        with open(args.output, "w", encoding="utf-8") as out:
            workers = [
                asyncio.create_task(worker(client, out)) for _ in range(args.concurrency)
            ]
            with open(args.input, encoding="utf-8") as lines:
                for line in lines:
                    value = line.strip()
                    if not value or value.startswith("#") or value in seen:
                        continue
                    seen.add(value)
                    await queue.put(value)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
    print(f"looked up {len(seen)} indicators, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="e.g. http://127.0.0.1:8080")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("input")
    parser.add_argument("output")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
