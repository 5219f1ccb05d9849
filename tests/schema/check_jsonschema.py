#!/usr/bin/env python3
"""The golden vectors validate against the JSON Schemas in schema/, and a few
broken documents do not. Exit 77 (skip) where python3-jsonschema is missing.
Usage: check_jsonschema.py SCHEMA_DIR"""
import json
import os
import sys

try:
    import jsonschema
    from jsonschema import Draft202012Validator
except ImportError:
    print("python3-jsonschema is not installed; skipping")
    sys.exit(77)

d = sys.argv[1]
v = os.path.join(d, "vectors")


def load(*p):
    with open(os.path.join(*p), encoding="utf-8") as f:
        return json.load(f)


schemas = {fn: load(d, fn) for fn in os.listdir(d) if fn.endswith(".schema.json")}
for s in schemas.values():
    Draft202012Validator.check_schema(s)


def validator(fn):
    s = schemas[fn]
    try:  # jsonschema >= 4.18: a registry resolves the relative $refs
        from referencing import Registry, Resource
        reg = Registry().with_resources(
            [(x["$id"], Resource.from_contents(x)) for x in schemas.values()])
        return Draft202012Validator(s, registry=reg)
    except ImportError:
        resolver = jsonschema.RefResolver(s["$id"], s, store={x["$id"]: x for x in schemas.values()})
        return Draft202012Validator(s, resolver=resolver)


def check(doc, fn, ok=True, what=""):
    errs = list(validator(fn).iter_errors(doc))
    if ok and errs:
        sys.exit("%s: %s fails %s: %s" % (what, fn, errs[0].json_path, errs[0].message))
    if not ok and not errs:
        sys.exit("%s: %s accepts a broken document" % (what, fn))


n = 0
for fn in sorted(os.listdir(os.path.join(v, "control"))):
    if fn.endswith(".json"):
        doc = load(v, "control", fn)
        check(doc, "ctl.%s.schema.json" % doc["type"], what=fn)
        n += 1
for fn in sorted(os.listdir(os.path.join(v, "fleet"))):
    if fn.endswith(".log"):
        with open(os.path.join(v, "fleet", fn), encoding="utf-8") as f:
            for line in f:
                doc = json.loads(line.split(" ", 2)[2])
                check(doc, "ctl.%s.schema.json" % doc["type"], what=fn)
                n += 1
check(load(v, "manifest", "tiny.json"), "manifest.schema.json", what="tiny.json")
check(load(v, "manifest", "tiny.sig"), "manifest-sig.schema.json", what="tiny.sig")
check(load(v, "manifest", "tiny.arch.json"), "architecture.schema.json", what="tiny.arch.json")

bad = load(v, "control", "rollout.claim.json")
del bad["claim_id"]
check(bad, "ctl.rollout.claim.schema.json", ok=False, what="claim without claim_id")
bad = load(v, "manifest", "tiny.json")
bad["architecture"]["layers"][0]["activation"] = "swish"
check(bad, "manifest.schema.json", ok=False, what="manifest with activation swish")
bad = load(v, "control", "model.published.json")
bad["strategy"]["max_unavailable"] = 0
check(bad, "ctl.model.published.schema.json", ok=False, what="max_unavailable 0")
print("%d control events, manifest, manifest.sig, architecture: valid; broken documents refused" % n)
