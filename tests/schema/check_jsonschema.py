#!/usr/bin/env python3
"""The golden vectors validate against the JSON Schemas in schema/, and a few
broken documents do not; every name, id and reason in the schemas has the
limit of schema/names.h, and a name at the limit passes while one byte more
does not. Exit 77 (skip) where python3-jsonschema is missing.
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

# JSON requests and the answers to them (docs/schema.md): the examples there,
# and documents the decoder refuses for a reason the schema can express.
req_list = {"v": 1, "id": "r1", "model": "mnist", "reply_to": "kfleet.replies.me",
            "inputs": {"dtype": "f32", "shape": [2, 3], "data": [1, 2, 3, 4, 5, 6.5]}}
req_b64 = {"v": 1, "id": "r2", "model": "mnist", "version": None,
           "inputs": {"dtype": "f16", "shape": [1, 2], "data": "ADwAwA=="}}
check(req_list, "request.schema.json", what="JSON request with a list")
check(req_b64, "request.schema.json", what="JSON request with base64")
for what, change in (("v 2", lambda d: d.update(v=2)),
                     ("a 3-d shape", lambda d: d["inputs"].update(shape=[1, 2, 3])),
                     ("a string in data", lambda d: d["inputs"].update(data=[1, "2"])),
                     ("a list for f16", lambda d: d["inputs"].update(dtype="f16")),
                     ("no id", lambda d: d.pop("id")),
                     ("a bad reply_to", lambda d: d.update(reply_to="a b"))):
    bad = json.loads(json.dumps(req_list))
    change(bad)
    check(bad, "request.schema.json", ok=False, what="JSON request with " + what)
bad = json.loads(json.dumps(req_b64))
bad["inputs"]["data"] = "ADwAwA="
check(bad, "request.schema.json", ok=False, what="JSON request with unpadded base64")
ans_ok = {"v": 1, "id": "r1", "model": "mnist", "version": "v1", "status": "ok",
          "outputs": {"dtype": "f32", "shape": [2, 3],
                      "data": [0.1, -0.33333334, 9.99995e-41, 3.4028235e+38, None, -0]},
          "worker": "w-1", "timing": {"queue_us": 5, "batch_rows": 2, "compute_us": 7}}
ans_err = {"v": 1, "id": "x", "model": "m", "version": "", "status": "error",
           "error": {"code": "invalid_request", "message": "inputs.data[1]: expected a number"},
           "worker": "w"}
check(ans_ok, "response.schema.json", what="JSON answer ok")
check(ans_err, "response.schema.json", what="JSON error answer")
bad = json.loads(json.dumps(ans_ok))
del bad["outputs"]
check(bad, "response.schema.json", ok=False, what="ok answer without outputs")

# One set of limits: schema/names.h is the source, the schemas follow it.
import re
with open(os.path.join(d, "names.h"), encoding="utf-8") as f:
    limits = dict(re.findall(r"#define (SCHEMA_[A-Z_]+_MAX) (\d+)", f.read()))
want = {"model": int(limits["SCHEMA_NAME_MAX"]), "version": int(limits["SCHEMA_NAME_MAX"]),
        "worker": int(limits["SCHEMA_ID_MAX"]), "claim_id": int(limits["SCHEMA_ID_MAX"]),
        "event_id": int(limits["SCHEMA_ID_MAX"])}
seen = 0


def walk(node, where):
    global seen
    if isinstance(node, dict):
        for key, sub in node.get("properties", {}).items():
            if key in want and isinstance(sub, dict) and "pattern" in sub:
                m = re.search(r"\{1,(\d+)\}\$$", sub["pattern"])
                if not m or int(m.group(1)) != want[key]:
                    sys.exit("%s: %s.%s has pattern %s, names.h says 1..%d" %
                             (where, key, "pattern", sub["pattern"], want[key]))
                seen += 1
            if key == "reason" and isinstance(sub, dict) and \
                    sub.get("maxLength") != int(limits["SCHEMA_REASON_MAX"]):
                sys.exit("%s: reason maxLength %s, names.h says %s" %
                         (where, sub.get("maxLength"), limits["SCHEMA_REASON_MAX"]))
        for sub in node.values():
            walk(sub, where)
    elif isinstance(node, list):
        for sub in node:
            walk(sub, where)


for fn, s in schemas.items():
    walk(s, fn)
if seen < 30:
    sys.exit("only %d name/id patterns found in the schemas" % seen)
for key in ("model", "version", "worker", "claim_id"):
    for extra, ok in ((0, True), (1, False)):
        doc = load(v, "control", "rollout.claim.json")
        doc[key] = "x" * (want[key] + extra)
        check(doc, "ctl.rollout.claim.schema.json", ok=ok,
              what="rollout.claim with a %s of %d bytes" % (key, want[key] + extra))
for key in ("model", "version"):
    for extra, ok in ((0, True), (1, False)):
        doc = load(v, "manifest", "tiny.json")
        doc[key] = "x" * (want[key] + extra)
        check(doc, "manifest.schema.json", ok=ok,
              what="manifest with a %s of %d bytes" % (key, want[key] + extra))
print("%d control events, manifest, manifest.sig, architecture: valid; broken documents refused"
      % n)
print("%d name/id patterns agree with schema/names.h; names at the limit pass, one more fails"
      % seen)
