"""Drives the MISP `virustotal` and `virustotal_public` expansion modules
(misp-modules, unmodified) against a running vt-emulator.

Usage: misp_check.py BASE_URL PREMIUM_KEY PUBLIC_KEY CASES_JSON
CASES_JSON: {"md5": .., "sha1": .., "sha256": .., "domain": .., "hostname": ..,
             "ip-src": .., "ip-dst|port": .., "url": .., "unknown_sha256": ..}
Only the API host is redirected (vt-py's default host, in this harness);
the modules build their own vt.Client. Exits 0 when every check passes.
"""

import json
import sys
import uuid

import vt
import vt.client

from misp_modules.modules.expansion import virustotal, virustotal_public


def call(module, request):
    # misp-modules 3 calls dict_handler where a module has one, else handler(json).
    if hasattr(module, "dict_handler"):
        return module.dict_handler(request)
    return module.handler(json.dumps(request))


def request(key, kind, value):
    return {
        "config": {"apikey": key, "event_limit": 5},
        "attribute": {"type": kind, "value": value, "uuid": str(uuid.uuid4())},
    }


def main() -> None:
    base_url, premium_key, public_key, cases = sys.argv[1:5]
    cases = json.loads(cases)
    vt.client._API_HOST = base_url  # the one change: the API host
    modules = [
        ("virustotal", virustotal, premium_key,
         ["md5", "sha1", "sha256", "domain", "hostname", "ip-src", "ip-dst|port", "url"]),
        ("virustotal_public", virustotal_public, public_key,
         ["md5", "sha1", "sha256", "domain", "hostname", "ip-src", "url"]),
    ]
    for name, module, key, kinds in modules:
        for kind in kinds:
            result = call(module, request(key, kind, cases[kind]))
            assert "error" not in result, f"{name} {kind} {cases[kind]}: {result}"
            results = result.get("results", {})
            objects = results.get("Object", [])
            assert objects, f"{name} {kind}: no objects in {result}"
            names = sorted({o["name"] for o in objects})
            assert "virustotal-report" in names, f"{name} {kind}: {names}"
            print(f"{name} {kind}: {len(objects)} objects ({', '.join(names)})")
        unknown = cases["unknown_sha256"]
        result = call(module, request(key, "sha256", unknown))
        expected = f'File "{unknown}" not found'
        assert result.get("error") == expected, f"{name} unknown hash: {result}"
        print(f"{name} unknown sha256: {result['error']}")
    print("misp-modules check passed")


if __name__ == "__main__":
    main()
