#!/usr/bin/env python3
"""Checks the kcat client's answers (kcat.sh): kcat -J envelopes of the responses topic
against the JSON requests kcat produced.

For each request: exactly one answer, whose Kafka key is the request id; the JSON answer
(docs/schema.md §2a) with v, id, model, version, status, outputs or error,
worker; outputs.data (a list of numbers, or base64 when the request's data was base64)
against mlp_ref's forward pass; the provenance headers, kfleet-source-partition/-offset
against where kcat's read-back of the requests topic found the request. Plain Python; nothing
of kfleet's.
"""

import argparse
import base64
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlp_ref  # noqa: E402


def fail(why):
    print("interop kcat: FAIL: %s" % why, file=sys.stderr)
    sys.exit(1)


def envelopes(path):
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
    return out


def main():
    ap = argparse.ArgumentParser()
    for name in ("brokers", "requests", "responses", "model", "version", "worker", "weights",
                 "manifest-sha256", "sent", "sent-at", "answers"):
        ap.add_argument("--" + name, required=True)
    a = ap.parse_args()
    model = mlp_ref.Model(a.weights)

    sent = {}
    with open(a.sent, encoding="utf-8") as f:
        for line in f:
            key, value = line.rstrip("\n").split("\t", 1)
            sent[key] = json.loads(value)
    where = {e["key"]: (e["partition"], e["offset"]) for e in envelopes(a.sent_at)
             if e.get("key") in sent}
    answers = {}
    for e in envelopes(a.answers):
        if e.get("key") not in sent:
            continue
        if e["key"] in answers:
            fail("%s answered twice" % e["key"])
        answers[e["key"]] = e
    for rid, req in sent.items():
        if rid not in where:
            fail("kcat did not read %s back from %s" % (rid, a.requests))
        if rid not in answers:
            fail("no answer for %s on %s" % (rid, a.responses))
        check(a, model, rid, req, answers[rid], where[rid])
    print("interop kcat: %d JSON answers right (checked against mlp_ref), provenance headers "
          "right" % len(answers))


def check(a, model, rid, req, env, at):
    try:
        resp = json.loads(env["payload"])
    except (TypeError, ValueError) as e:
        fail("%s: the answer is not JSON (%s): %r" % (rid, e, env["payload"]))
    h = env.get("headers") or []
    headers = dict(zip(h[0::2], h[1::2]))

    def need(cond, what):
        if not cond:
            fail("%s: %s; answer %s, headers %r" % (rid, what, env["payload"], headers))

    need(resp.get("v") == 1 and resp.get("id") == rid, "v or id wrong")
    need(resp.get("model") == req["model"], "model %r" % resp.get("model"))
    need(resp.get("worker") == a.worker, "worker %r" % resp.get("worker"))
    for k, want in (("kfleet-model", req["model"]), ("kfleet-worker", a.worker),
                    ("kfleet-source-partition", str(at[0])),
                    ("kfleet-source-offset", str(at[1]))):
        need(headers.get(k) == want, "header %s is %r, not %r" % (k, headers.get(k), want))
    if req["model"] != a.model:
        need(resp.get("status") == "error", "status %r, not error" % resp.get("status"))
        need((resp.get("error") or {}).get("code") == "unknown_model", "not unknown_model")
        return
    need(resp.get("status") == "ok", "status %r" % resp.get("status"))
    need(resp.get("version") == a.version, "version %r" % resp.get("version"))
    for k, want in (("kfleet-version", a.version), ("kfleet-manifest-sha256", a.manifest_sha256)):
        need(headers.get(k) == want, "header %s is %r, not %r" % (k, headers.get(k), want))
    rows, cols = req["inputs"]["shape"]
    data = req["inputs"]["data"]
    if isinstance(data, str):
        data = list(struct.unpack("<%df" % (rows * cols), base64.b64decode(data)))
    x = [[mlp_ref.f32(v) for v in data[r * cols:(r + 1) * cols]] for r in range(rows)]
    out = resp.get("outputs") or {}
    need(out.get("dtype") == "f32" and out.get("shape") == [rows, model.output_width],
         "outputs dtype/shape %r %r" % (out.get("dtype"), out.get("shape")))
    flat = out.get("data")
    if isinstance(req["inputs"]["data"], str):
        need(isinstance(flat, str), "base64 data asked, outputs.data is %r" % type(flat))
        flat = mlp_ref.decode(base64.b64decode(flat), "f32")
    need(isinstance(flat, list) and len(flat) == rows * model.output_width,
         "outputs.data is not %d numbers" % (rows * model.output_width))
    W = model.output_width
    got = [flat[r * W:(r + 1) * W] for r in range(rows)]
    bad = model.mismatch(got, model.forward(x))
    need(bad is None, "outputs differ from the reference forward pass: %s" % bad)


if __name__ == "__main__":
    main()
