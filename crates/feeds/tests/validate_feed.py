"""Validates a vtc feed document with the consuming platform's own code.

    python3 validate_feed.py cb|stix|misp FILE

cb:   Carbon Black's feed library (cbfeeds-fork on PyPI, the packaged
      cbfeeds). Its feed.py is Python 2; it is loaded under Python 3 after
      mechanical syntax fixes only (``except X, e:`` -> ``except X as e:``,
      ``unicode``/``basestring`` -> ``str``, implicit relative imports made
      explicit), then ``CbFeed.validate(serialized_data=...)`` runs its rules.
stix: stix2-validator, strict about errors (warnings are printed).
misp: pymisp's MISPEvent().load(), then the objects, attributes and tags
      are read back.

Prints "<kind> feed valid" and a summary on success; exits 1 otherwise.
"""

import importlib.util
import json
import re
import sys
import types


def load_cbfeeds():
    spec = importlib.util.find_spec("cbfeeds")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("cbfeeds is not installed (pip install cbfeeds-fork)")
    folder = spec.submodule_search_locations[0]

    def py3(source):
        source = re.sub(r"except\s+([\w.]+)\s*,\s*(\w+)\s*:", r"except \1 as \2:", source)
        source = re.sub(r"\bbasestring\b", "str", source)
        source = re.sub(r"\bunicode\b", "str", source)
        source = re.sub(r"^from feed import", "from cbfeeds.feed import", source, flags=re.M)
        return source

    package = types.ModuleType("cbfeeds")
    package.__path__ = [folder]
    sys.modules["cbfeeds"] = package
    init = open(folder + "/__init__.py").read()
    # The exception classes first; the feed module imports them from the package.
    head = init.split("from feed import")[0]
    exec(compile(py3(head), folder + "/__init__.py", "exec"), package.__dict__)
    feed = types.ModuleType("cbfeeds.feed")
    feed.__file__ = folder + "/feed.py"
    sys.modules["cbfeeds.feed"] = feed
    source = py3(open(folder + "/feed.py").read())
    exec(compile(source, folder + "/feed.py", "exec"), feed.__dict__)
    return feed


def validate_cb(text):
    feed_module = load_cbfeeds()
    data = json.loads(text)
    feed = feed_module.CbFeed(data["feedinfo"], data["reports"])
    feed.validate(serialized_data=text)
    print("cb feed valid: %d reports" % len(data["reports"]))
    for report in data["reports"]:
        print("report", report["id"], report["score"], ",".join(report["iocs"]["md5"]))


def validate_stix(text):
    from stix2validator import ValidationOptions, validate_string

    results = validate_string(text, ValidationOptions(version="2.1"))
    # One result per object given (a bundle is one), or a list of them.
    objects = getattr(results, "object_results", None) or [results]
    for obj in objects:
        for w in obj.warnings or []:
            print("warning:", obj.object_id, getattr(w, "message", w))
    if not results.is_valid:
        for obj in objects:
            for e in obj.errors or []:
                print("error:", obj.object_id, getattr(e, "message", e))
        sys.exit("stix bundle invalid")
    kinds = {}
    for obj in json.loads(text)["objects"]:
        kinds[obj["type"]] = kinds.get(obj["type"], 0) + 1
    print("stix feed valid:", json.dumps(kinds, sort_keys=True))


def validate_misp(text):
    from pymisp import MISPEvent

    event = MISPEvent()
    event.load(text)
    print("misp feed valid:", event.info)
    print("event tags", sorted(t.name for t in event.tags))
    for obj in event.objects:
        relations = sorted(
            "%s=%s" % (a.object_relation, a.value) for a in obj.attributes
        )
        tags = sorted({t.name for a in obj.attributes for t in a.tags})
        print("object", obj.name, obj.template_uuid, ";".join(relations), "|", ";".join(tags))
    for attribute in event.attributes:
        print("attribute", attribute.type, attribute.value)


def main():
    kind, path = sys.argv[1], sys.argv[2]
    text = open(path, encoding="utf-8").read()
    {"cb": validate_cb, "stix": validate_stix, "misp": validate_misp}[kind](text)


if __name__ == "__main__":
    main()
