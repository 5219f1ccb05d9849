#!/usr/bin/env python3
"""Check the shipped deployment files against the real kfleet-worker binary
(issue 8, acceptance 5), without kubectl or a running systemd.

    check_deploy.py --worker KFLEET_WORKER --ops OPS_DIR

ops/k8s/*.yaml: every file parses as YAML (yaml.safe_load_all) into objects
with apiVersion and kind; the workers' StatefulSet or Deployment has a
readiness probe on /readyz and a liveness probe on /healthz at the container
port that is the worker's http.port (its default, from `kfleet-worker
--config-reference`, unless the ConfigMap sets another), the HTTP endpoints
bound beyond loopback, the worker.conf of its ConfigMap mounted where -c reads
it, trusted_keys inside a mounted Secret, a GPU request, a grace period long
enough to drain, KFLEET_* variables that name real properties, and a Service
for /metrics with prometheus.io annotations on that port. The container's
command line and its ConfigMap are run through the real binary (with
--config-reference, which parses everything and exits), so an unknown flag,
property or value fails here.

ops/systemd/: the unit's ExecStart (with the example config and environment)
goes through the binary the same way, and `systemd-analyze verify` accepts the
unit (with the built binary at ExecStart's path in a scratch root); that part
is skipped, saying so, where systemd-analyze is missing.

Exit 0 pass, 1 fail, 77 without python3-yaml (99 under KFLEET_REQUIRE_SERVICES=1).
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

problems = []


def problem(where, msg):
    problems.append(f"{where}: {msg}")


def worker_properties(worker):
    """{property: default} from the worker's own property table."""
    r = subprocess.run([worker, "--config-reference"], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{worker} --config-reference failed: {r.stderr}")
    props = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\| `([^`*]+)` \| [^|]+ \| ([^|]*) \|", line)
        if m:
            props[m.group(1)] = m.group(2).strip()
    if "http.port" not in props:
        raise SystemExit("no http.port in the worker's --config-reference")
    return props


def env_name(prop):
    return "KFLEET_" + re.sub(r"[.-]", "_", prop).upper()


def parse_conf(text):
    """name = value lines, '#' comments: what kf_conf_load_file reads."""
    conf = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, value = line.partition("=")
            conf[name.strip()] = value.strip()
    return conf


def effective(props, conf, env):
    """Defaults, then the file, then KFLEET_ variables (the worker's order)."""
    eff = dict(props)
    eff.update(conf)
    for p in props:
        if env_name(p) in env:
            eff[p] = env[env_name(p)]
    return eff


def run_worker(where, worker, args, env):
    """The worker parses @args (and @env) and exits at --config-reference."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("KFLEET_")}
    e.update(env)
    r = subprocess.run([worker] + args + ["--config-reference"], capture_output=True, text=True,
                       env=e)
    if r.returncode:
        problem(where, f"kfleet-worker {' '.join(args)} refuses it (exit {r.returncode}): "
                       f"{r.stderr.strip()}")


def check_env_names(where, names, props):
    known = {env_name(p) for p in props}
    for n in names:
        if n.startswith("KFLEET_") and n not in known:
            problem(where, f"{n} names no worker property")


def resolve_port(where, port, ports):
    """A probe's or Service's port (name or number) -> the container port number."""
    for p in ports:
        if port in (p.get("name"), p.get("containerPort")):
            return p.get("containerPort")
    problem(where, f"port {port!r} is not a port of the container")
    return None


def check_k8s(ops, worker, props, yaml, scratch):
    docs = []
    files = sorted(glob.glob(os.path.join(ops, "k8s", "*.yaml")))
    if not files:
        problem(ops, "no k8s/*.yaml")
    for f in files:
        try:
            with open(f) as fh:
                for d in yaml.safe_load_all(fh):
                    if d is None:
                        continue
                    if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind"):
                        problem(f, "a document without apiVersion and kind")
                        continue
                    docs.append((f, d))
        except yaml.YAMLError as e:
            problem(f, f"not valid YAML: {e}")
    print(f"{len(files)} manifests, {len(docs)} objects parse")
    for f, d in docs:
        if d["kind"] == "Kustomization":
            for res in d.get("resources", []):
                if not os.path.exists(os.path.join(os.path.dirname(f), res)):
                    problem(f, f"resource {res} does not exist")
    by_kind = {}
    for f, d in docs:
        by_kind.setdefault(d["kind"], []).append((f, d))
    workloads = [(f, d) for f, d in by_kind.get("StatefulSet", []) + by_kind.get("Deployment", [])
                 for c in d["spec"]["template"]["spec"]["containers"]
                 if "kfleet-worker" in " ".join(c.get("command", []) + c.get("args", []))]
    if len(workloads) != 1:
        problem("k8s", f"expected one StatefulSet/Deployment running kfleet-worker, "
                       f"found {len(workloads)}")
        return
    f, wl = workloads[0]
    where = f"{os.path.basename(f)} {wl['kind']}/{wl['metadata']['name']}"
    pod = wl["spec"]["template"]
    spec = pod["spec"]
    c = next(c for c in spec["containers"]
             if "kfleet-worker" in " ".join(c.get("command", []) + c.get("args", [])))
    argv = c.get("command", [])[1:] + c.get("args", [])
    ports = c.get("ports", [])
    mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}

    # The ConfigMap mounted where -c reads.
    conf_text, conf_path = "", None
    if "-c" in argv and argv.index("-c") + 1 < len(argv):
        conf_path = argv[argv.index("-c") + 1]
    else:
        problem(where, "the worker is not given -c FILE")
    for name, m in mounts.items():
        v = volumes.get(name, {})
        if conf_path and "configMap" in v and conf_path.startswith(m["mountPath"].rstrip("/") + "/"):
            key = m.get("subPath") or os.path.relpath(conf_path, m["mountPath"])
            for cf, cm in by_kind.get("ConfigMap", []):
                if cm["metadata"]["name"] == v["configMap"]["name"]:
                    conf_text = cm.get("data", {}).get(key, "")
    if not conf_text:
        problem(where, f"{conf_path} is not a key of a mounted ConfigMap")
    conf = parse_conf(conf_text)

    env = {}
    for e in c.get("env", []):
        env[e["name"]] = str(e["value"]) if "value" in e else "from-k8s"
        if "valueFrom" in e and not any(k in e["valueFrom"] for k in ("secretKeyRef", "fieldRef",
                                                                       "configMapKeyRef")):
            problem(where, f"env {e['name']}: unexpected valueFrom")
    check_env_names(where, env, props)
    conf_file = os.path.join(scratch, "k8s-worker.conf")
    with open(conf_file, "w") as fh:
        fh.write(conf_text)
    run_worker(where, worker,
               [conf_file if conf_path and a == conf_path else a for a in argv], env)
    eff = effective(props, conf, env)
    http_port = int(eff["http.port"])
    if http_port != int(props["http.port"]):
        print(f"note: the ConfigMap moves http.port from the default {props['http.port']} "
              f"to {http_port}")
    if eff["http.bind"] in ("127.0.0.1", "localhost", "::1"):
        problem(where, f"http.bind={eff['http.bind']}: the kubelet's probes cannot reach it")

    # Probes and ports.
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        p = c.get(probe, {}).get("httpGet", {})
        if p.get("path") != path:
            problem(where, f"{probe} is not an httpGet of {path} (got {p.get('path')!r})")
        elif resolve_port(f"{where} {probe}", p.get("port"), ports) != http_port:
            problem(where, f"{probe} does not probe the worker's http.port {http_port}")
        else:
            print(f"{probe}: GET {path} on port {p.get('port')!r} = {http_port}")
    if "startupProbe" in c:
        p = c["startupProbe"].get("httpGet", {})
        if p.get("path") not in ("/healthz", "/readyz") or \
                resolve_port(f"{where} startupProbe", p.get("port"), ports) != http_port:
            problem(where, "startupProbe is not /healthz or /readyz on http.port")
    if not any(p.get("containerPort") == http_port for p in ports):
        problem(where, f"no containerPort {http_port} (http.port)")

    # Trusted keys from a Secret, mounted read-only as a file.
    keys = eff.get("trusted_keys") or ""
    secret_ok = False
    for name, m in mounts.items():
        v = volumes.get(name, {})
        if "secret" in v and keys.startswith(m["mountPath"].rstrip("/") + "/"):
            secret_ok = m.get("readOnly", False)
            key = os.path.relpath(keys, m["mountPath"])
            for sf, s in by_kind.get("Secret", []):
                if s["metadata"]["name"] == v["secret"]["secretName"] and \
                        key not in {**s.get("stringData", {}), **s.get("data", {})}:
                    problem(sf, f"Secret {s['metadata']['name']} has no key {key}")
    if not secret_ok:
        problem(where, f"trusted_keys={keys!r} is not in a read-only Secret volume")

    grace = spec.get("terminationGracePeriodSeconds", 30)
    if grace < 60:
        problem(where, f"terminationGracePeriodSeconds={grace}: too short to drain")
    res = c.get("resources", {})
    if "nvidia.com/gpu" not in res.get("limits", {}) or "nvidia.com/gpu" not in res.get(
            "requests", res.get("limits", {})):
        problem(where, "no nvidia.com/gpu resource")

    ann = pod.get("metadata", {}).get("annotations", {})
    if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/port") != str(http_port):
        problem(where, f"pod annotations do not ask Prometheus to scrape port {http_port}")
    labels = pod.get("metadata", {}).get("labels", {})
    services = [(sf, s) for sf, s in by_kind.get("Service", [])
                if s["spec"].get("selector") and
                all(labels.get(k) == v for k, v in s["spec"]["selector"].items())]
    if not services:
        problem(where, "no Service selects the workers")
    for sf, s in services:
        sw = f"{os.path.basename(sf)} Service/{s['metadata']['name']}"
        a = s["metadata"].get("annotations", {})
        if a.get("prometheus.io/scrape") != "true" or a.get("prometheus.io/port") != str(http_port):
            problem(sw, f"annotations do not ask Prometheus to scrape port {http_port}")
        if a.get("prometheus.io/path", "/metrics") != "/metrics":
            problem(sw, "prometheus.io/path is not /metrics")
        if not any(resolve_port(sw, p.get("targetPort", p.get("port")), ports) == http_port
                   for p in s["spec"].get("ports", [])):
            problem(sw, f"no port leads to the worker's http.port {http_port}")
        else:
            print(f"{sw}: metrics on port {http_port}")


def parse_unit(path):
    unit, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            k, _, v = line.partition("=")
            unit.setdefault((section, k.strip()), []).append(v.strip())
    return unit


def check_systemd(ops, worker, props, scratch):
    path = os.path.join(ops, "systemd", "kfleet-worker@.service")
    where = os.path.basename(path)
    if not os.path.exists(path):
        problem(path, "missing")
        return
    unit = parse_unit(path)
    execstart = unit.get(("Service", "ExecStart"), [""])[0].split()
    if not execstart or os.path.basename(execstart[0]) != "kfleet-worker":
        problem(where, f"ExecStart does not run kfleet-worker: {execstart}")
        return
    conf_example = os.path.join(ops, "systemd", "worker.conf.example")
    env_example = os.path.join(ops, "systemd", "worker.env.example")
    env = {}
    with open(env_example) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                k, _, v = line.partition("=")
                env[k] = v
    check_env_names(env_example, env, props)
    for e in unit.get(("Service", "Environment"), []):
        env[e.partition("=")[0]] = "/var/lib/kfleet/0/cache"
    check_env_names(where, env, props)
    args = []
    for a in execstart[1:]:
        a = a.replace("%H", "host").replace("%i", "0")
        args.append(conf_example if a == "/etc/kfleet/worker.conf" else a)
    if conf_example not in args:
        problem(where, "ExecStart does not read /etc/kfleet/worker.conf with -c")
    run_worker(where, worker, args, env)
    with open(conf_example) as f:
        eff = effective(props, parse_conf(f.read()), env)
    if not eff.get("trusted_keys"):
        problem(conf_example, "no trusted_keys: the worker would refuse to start")
    if unit.get(("Service", "KillSignal"), ["SIGTERM"])[0] != "SIGTERM":
        problem(where, "KillSignal is not SIGTERM (the signal that drains)")
    stop = unit.get(("Service", "TimeoutStopSec"), ["90"])[0]
    if not stop.isdigit() or int(stop) < 60:
        problem(where, f"TimeoutStopSec={stop}: too short to drain")

    sa = shutil.which("systemd-analyze")
    if not sa:
        print("systemd-analyze not installed: `systemd-analyze verify` skipped")
        return
    # A scratch root with the unit, systemd's own units and the built binary
    # where ExecStart looks for it: verify checks the executable exists.
    root = os.path.join(scratch, "root")
    shutil.copytree("/usr/lib/systemd/system", os.path.join(root, "usr/lib/systemd/system"),
                    symlinks=True)
    os.makedirs(os.path.join(root, "etc/systemd/system"))
    shutil.copy(path, os.path.join(root, "etc/systemd/system"))
    exe = os.path.join(root, execstart[0].lstrip("/"))
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    shutil.copy(worker, exe)
    r = subprocess.run([sa, f"--root={root}", "verify", "kfleet-worker@0.service"],
                       capture_output=True, text=True)
    # verify exits 0 on unknown keys and bad values ("ignoring"): any word
    # about our unit is a failure.
    noise = [l for l in (r.stdout + r.stderr).splitlines() if "kfleet-worker" in l]
    if r.returncode or noise:
        problem(where, f"systemd-analyze verify (exit {r.returncode}):\n" + "\n".join(
            noise or [r.stderr]))
    else:
        print("systemd-analyze verify kfleet-worker@0.service: clean")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", required=True)
    ap.add_argument("--ops", required=True)
    a = ap.parse_args()
    try:
        import yaml
    except ImportError:
        required = os.environ.get("KFLEET_REQUIRE_SERVICES") == "1"
        print("python3-yaml is not installed", file=sys.stderr)
        return 99 if required else 77
    props = worker_properties(a.worker)
    print(f"the worker's default http.port: {props['http.port']}")
    with tempfile.TemporaryDirectory() as scratch:
        check_k8s(a.ops, a.worker, props, yaml, scratch)
        check_systemd(a.ops, a.worker, props, scratch)
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    if not problems:
        print("ok: k8s manifests and the systemd unit agree with kfleet-worker")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
