#!/usr/bin/env python3
"""The interop suite's Python client: Debian's python3-confluent-kafka and python3-msgpack.

It builds requests from docs/schema.md alone (a msgpack map: v, id, model, inputs {dtype,
shape, data}; optional version, deadline_ms), produces them with the request id as the Kafka
key, reads the answers from the responses topic with isolation.level=read_committed, and
checks each one against its request: the response map (v, id, model, version, status,
outputs or error, worker), the numbers against mlp_ref's forward pass of the weights file,
and the provenance headers (kfleet-model, kfleet-version, kfleet-manifest-sha256,
kfleet-worker, and kfleet-source-partition/-offset against this producer's own delivery
report). Nothing of kfleet's code is used.

  client.py --brokers B --requests T --responses T --model M --version V --worker W
            --weights FILE.safetensors --manifest-sha256 HEX [--timeout S]

Exit 0: every answer right; 1: a wrong answer, a missing header or a missing answer (one
line each on stderr); 77: confluent_kafka or msgpack missing.
"""

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mlp_ref  # noqa: E402

try:
    import confluent_kafka
    import msgpack
except ImportError as e:
    print("interop python: %s (apt-get install python3-confluent-kafka python3-msgpack); "
          "skipping" % e)
    sys.exit(77)


def main():
    ap = argparse.ArgumentParser()
    for name in ("brokers", "requests", "responses", "model", "version", "worker", "weights",
                 "manifest-sha256"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()

    model = mlp_ref.Model(a.weights)
    rnd = random.Random(18)
    run = "py-%d-%d" % (os.getpid(), int(time.time()))

    def rows(n):
        return [[rnd.uniform(-2, 2) for _ in range(model.input_width)] for _ in range(n)]

    # (id, request map, the inputs as the worker sees them or None for an error answer,
    #  the error code expected)
    cases = []

    def request(suffix, inputs, dtype="f32", model_name=a.model, **extra):
        rid = "%s-%s" % (run, suffix)
        req = {"v": 1, "id": rid, "model": model_name,
               "inputs": {"dtype": dtype, "shape": [len(inputs), len(inputs[0])],
                          "data": mlp_ref.encode([v for r in inputs for v in r], dtype)}}
        req.update(extra)
        return rid, req

    for i, n in enumerate((1, 3, 7)):  # one row and small batches
        x = rows(n)
        cases.append(request("f32-%d" % i, x) + (x, None))
    # f16 inputs: the worker widens them to f32, so the reference takes the f16 values
    x = rows(4)
    x16 = [[mlp_ref.round_to(v, "f16") for v in r] for r in x]
    cases.append(request("f16", x, dtype="f16") + (x16, None))
    # the optional fields: a pinned version and a deadline a minute away
    x = rows(2)
    cases.append(request("pinned", x, version=a.version,
                         deadline_ms=int(time.time() * 1000) + 60000) + (x, None))
    # error answers a client must be able to read
    cases.append(request("unknown-model", rows(1), model_name=a.model + "-none")
                 + (None, "unknown_model"))
    cases.append(request("bad-shape", [[0.5] * (model.input_width + 1)]) + (None, "bad_shape"))
    cases.append(request("unknown-version", rows(1), version="no-such-version")
                 + (None, "unknown_version"))

    delivered = {}  # id -> (partition, offset) of the request

    def on_delivery(err, msg):
        if err is not None:
            fail("request %s not delivered: %s" % (msg.key().decode(), err))
        delivered[msg.key().decode()] = (msg.partition(), msg.offset())

    producer = confluent_kafka.Producer({"bootstrap.servers": a.brokers})
    for rid, req, _, _ in cases:
        producer.produce(a.requests, key=rid.encode(),
                         value=msgpack.packb(req, use_bin_type=True), on_delivery=on_delivery)
    if producer.flush(a.timeout) != 0:
        fail("requests still undelivered after %.0f s" % a.timeout)

    consumer = confluent_kafka.Consumer({
        "bootstrap.servers": a.brokers,
        "group.id": run,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        # exactly-once answers are only exactly-once for committed reads (docs/delivery.md);
        # librdkafka's default, said here for readers who copy this.
        "isolation.level": "read_committed",
    })
    consumer.subscribe([a.responses])
    expected = {rid: (req, x, code) for rid, req, x, code in cases}
    answers = {}
    deadline = time.time() + a.timeout
    while len(answers) < len(expected) and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            fail("consumer: %s" % msg.error())
        resp = msgpack.unpackb(msg.value(), raw=False)
        rid = resp.get("id")
        if rid not in expected:
            continue  # another client's answer on a shared topic
        if rid in answers:
            fail("%s answered twice" % rid)
        answers[rid] = True
        check(a, model, rid, expected[rid], resp, msg, delivered[rid])
    consumer.close()
    missing = sorted(set(expected) - set(answers))
    if missing:
        fail("no answer in %.0f s for %s" % (a.timeout, ", ".join(missing)))
    print("interop python: %d answers right (%d ok, checked against mlp_ref; %d errors), "
          "provenance headers right" % (len(answers), sum(1 for c in cases if c[3] is None),
                                        sum(1 for c in cases if c[3] is not None)))


def check(a, model, rid, exp, resp, msg, where):
    req, x, code = exp

    def need(cond, what):
        if not cond:
            fail("%s: %s; answer %r, headers %r" % (rid, what, resp, msg.headers()))

    need(msg.key() == rid.encode(), "Kafka key %r, not the request's" % msg.key())
    need(resp.get("v") == 1, "v is %r" % resp.get("v"))
    need(resp.get("model") == req["model"], "model %r" % resp.get("model"))
    need(resp.get("worker") == a.worker, "worker %r, not %s" % (resp.get("worker"), a.worker))
    headers = {k: v.decode() for k, v in (msg.headers() or [])}
    for k, want in (("kfleet-model", req["model"]), ("kfleet-worker", a.worker),
                    ("kfleet-source-partition", str(where[0])),
                    ("kfleet-source-offset", str(where[1]))):
        need(headers.get(k) == want, "header %s is %r, not %r" % (k, headers.get(k), want))
    if code is not None:
        need(resp.get("status") == "error", "status %r, not error" % resp.get("status"))
        err = resp.get("error") or {}
        need(err.get("code") == code, "error code %r, not %s" % (err.get("code"), code))
        need(isinstance(err.get("message"), str) and err["message"], "no error message")
        need("outputs" not in resp, "an error answer with outputs")
        return
    need(resp.get("status") == "ok", "status %r" % resp.get("status"))
    need(resp.get("version") == a.version, "version %r" % resp.get("version"))
    for k, want in (("kfleet-version", a.version),
                    ("kfleet-manifest-sha256", a.manifest_sha256)):
        need(headers.get(k) == want, "header %s is %r, not %r" % (k, headers.get(k), want))
    out = resp.get("outputs") or {}
    need(out.get("dtype") == "f32", "outputs.dtype %r" % out.get("dtype"))
    need(out.get("shape") == [len(x), model.output_width],
         "outputs.shape %r, not %r" % (out.get("shape"), [len(x), model.output_width]))
    need(isinstance(out.get("data"), bytes), "outputs.data is not bin")
    flat = mlp_ref.decode(out["data"], "f32")
    got = [flat[r * model.output_width:(r + 1) * model.output_width] for r in range(len(x))]
    bad = model.mismatch(got, model.forward(x))
    need(bad is None, "outputs differ from the reference forward pass: %s" % bad)


def fail(why):
    print("interop python: FAIL: %s" % why, file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
