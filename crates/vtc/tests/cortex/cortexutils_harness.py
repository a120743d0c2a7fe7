"""Reads vtc's report of a Cortex job back through cortexutils (PyPI), the
library every Cortex analyzer is built on, and checks it has the shape
cortexutils itself writes.

Usage: python3 cortexutils_harness.py JOBDIR

cortexutils parses JOBDIR/input/input.json as Cortex wrote it (and applies
its TLP/PAP checks); the document vtc wrote in JOBDIR/output/output.json is
then compared with the one cortexutils' Analyzer.report() / error() would
write for the same content: the same top-level keys, every taxonomy
unchanged by build_taxonomy (so its level is one of Cortex's four), every
artifact equal to build_artifact's, file artifacts present in output/.
Prints "ok" and exits 0, or names the mismatch and exits 1.
"""
import json
import os
import sys

from cortexutils.analyzer import Analyzer
from cortexutils.worker import Worker

job = sys.argv[1]
with open(os.path.join(job, "output", "output.json")) as f:
    ours = json.load(f)

captured = []
Worker._Worker__write_output = lambda self, data, ensure_ascii=False: captured.append(data)


def fail(message):
    print("mismatch: " + message)
    sys.exit(1)


try:
    analyzer = Analyzer(job_directory=job)
except SystemExit:
    analyzer = None  # cortexutils refused the job itself (TLP / PAP)

if ours.get("success") is not True:
    if analyzer is not None:
        try:
            analyzer.error(ours.get("errorMessage"))
        except SystemExit:
            pass
    theirs = captured[-1]
    if set(theirs) != set(ours):
        fail("failure keys %s, cortexutils writes %s" % (sorted(ours), sorted(theirs)))
    if not isinstance(ours["errorMessage"], str) or not ours["errorMessage"]:
        fail("errorMessage is not a message")
    if analyzer is None and ours["errorMessage"] != theirs["errorMessage"]:
        fail("cortexutils refuses with %r, vtc with %r" % (theirs["errorMessage"], ours["errorMessage"]))
    config = (ours.get("input") or {}).get("config") or {}
    if "key" in config and config["key"] != "REMOVED":
        fail("the key is not removed from the failure's input")
    print("ok")
    sys.exit(0)

if analyzer is None:
    fail("cortexutils refused a job vtc answered: %s" % captured[-1])

analyzer.summary = lambda raw: ours["summary"]
analyzer.artifacts = lambda raw: ours["artifacts"]
analyzer.report(ours["full"])
theirs = captured[-1]
if set(theirs) != set(ours):
    fail("report keys %s, cortexutils writes %s" % (sorted(ours), sorted(theirs)))
for taxonomy in ours["summary"]["taxonomies"]:
    rebuilt = analyzer.build_taxonomy(
        taxonomy["level"], taxonomy["namespace"], taxonomy["predicate"], taxonomy["value"]
    )
    if rebuilt != taxonomy:
        fail("taxonomy %s becomes %s" % (taxonomy, rebuilt))
for artifact in ours["artifacts"]:
    extra = {k: v for k, v in artifact.items() if k not in ("dataType", "data", "file", "filename")}
    if artifact["dataType"] == "file":
        path = os.path.join(job, "output", artifact["file"])
        if not os.path.isfile(path) or os.path.dirname(os.path.realpath(path)) != os.path.realpath(os.path.join(job, "output")):
            fail("file artifact %s is not in output/" % artifact)
        continue
    rebuilt = analyzer.build_artifact(artifact["dataType"], artifact["data"], **extra)
    if rebuilt != artifact:
        fail("artifact %s becomes %s" % (artifact, rebuilt))
print("ok")
