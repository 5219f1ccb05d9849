#!/usr/bin/env python3
"""Check the shipped Grafana dashboard and Prometheus rules against the metrics
a kfleet-worker really exports (issue 8, acceptance 4).

    check_queries.py (--metrics FILE | --metrics-cmd PROGRAM) --dashboard JSON
                     --rules YAML [--promtool PROMTOOL] [--require-series]

The exported metrics come from the worker, never from a list kept here: either
a scrape of a running worker's /metrics (FILE, written by it_monitoring) or
the output of PROGRAM (kt_worker_metrics: the worker's own registry rendered
with a placeholder series per family). From that text this script knows every
series name a Prometheus scraping the worker can see (a histogram's _bucket,
_sum and _count, never its bare name) and each one's label names.

Checked:
- the dashboard is valid JSON, a Grafana dashboard with a ${DS_PROMETHEUS}
  input that every panel and target uses, unique panel ids, and panels for what
  the issue asks (lag per partition and group, requests/s, p50/p99 by version,
  versions across the fleet, swap durations by stage);
- every metric named in a panel target, a legend or a template variable is
  exported by the worker, and every label the query groups by, matches on or
  prints is a label of those metrics (or instance/job, added by Prometheus);
- rules.yml: the same for every rule expression, where kfleet: series recorded
  by earlier rules and Prometheus's own `up` also count; the issue's alerts
  are there, each with a severity and a summary;
- with --promtool: every dashboard expression (Grafana's variables replaced)
  is valid PromQL, and `promtool check rules` accepts rules.yml.

Exit 0 when everything holds, 1 with one line per problem otherwise, 77/99
when a tool it needs is missing (99 under KFLEET_REQUIRE_SERVICES=1).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

PROMQL_KEYWORDS = {
    "and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left",
    "group_right", "offset", "inf", "nan", "atan2",
}
# Labels Prometheus adds to every scraped series (job, instance) or that name
# the series itself.
TARGET_LABELS = {"instance", "job", "__name__"}
GROUPING_RE = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
GRAFANA_VAR_RE = re.compile(r"\$\{?(__\w+|\w+)(?::\w+)?\}?")
IDENT_RE = re.compile(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)")

problems = []


def problem(where, msg):
    problems.append(f"{where}: {msg}")


def missing_tool(msg):
    required = os.environ.get("KFLEET_REQUIRE_SERVICES") == "1"
    print(f"{msg}{' (required: KFLEET_REQUIRE_SERVICES=1)' if required else '; skipping'}",
          file=sys.stderr)
    sys.exit(99 if required else 77)


def parse_exposition(text):
    """{series name: set of label names or None when no sample shows them}."""
    types, labels = {}, {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            types[m.group(1)] = m.group(2)
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s", line)
        if not m:
            raise SystemExit(f"metrics: cannot read the line {line!r}")
        names = set(re.findall(r'([a-zA-Z_]\w*)="', m.group(3) or ""))
        labels.setdefault(m.group(1), set()).update(names)
    exported = {}
    for fam, typ in types.items():
        series = [fam + s for s in ("_bucket", "_sum", "_count")] if typ == "histogram" else [fam]
        for s in series:
            exported[s] = labels.get(s)
    return exported


def promql_parts(expr):
    """(metric names, label names) that a PromQL expression refers to."""
    labels = set()
    s = STRING_RE.sub('""', expr)
    for m in re.finditer(r"\{([^}]*)\}", s):
        labels.update(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", m.group(1)))
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    for m in GROUPING_RE.finditer(s):
        labels.update(re.findall(r"[a-zA-Z_]\w*", m.group(2)))
    s = GROUPING_RE.sub(" ", s)
    s = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", s)
    s = GRAFANA_VAR_RE.sub(" ", s)
    metrics = set()
    for m in IDENT_RE.finditer(s):
        name = m.group(1)
        rest = s[m.end():].lstrip()
        if rest.startswith("(") or name.lower() in PROMQL_KEYWORDS:
            continue  # a function or an operator
        metrics.add(name)
    return metrics, labels


class Checker:
    def __init__(self, exported, require_series):
        self.exported = exported
        self.require_series = require_series
        self.recorded = {}  # kfleet: series from rules.yml -> label names

    def known_labels(self, where, name, extra_ok):
        if name in self.exported:
            if self.exported[name] is None:
                if self.require_series:
                    problem(where, f"the worker exports {name} but the scrape has no series of it")
                return None
            return self.exported[name]
        if name in self.recorded:
            return self.recorded[name]
        if name in extra_ok:
            return set()
        problem(where, f"{name} is not a metric the worker exports")
        return None

    def check_expr(self, where, expr, extra_ok=(), used_labels=()):
        """Names and labels of @expr; returns the labels its metrics carry (None: unknown)."""
        if not expr or not expr.strip():
            problem(where, "empty expression")
            return None
        metrics, labels = promql_parts(expr)
        if not metrics:
            problem(where, f"no metric in {expr!r}")
        available, unknown = set(TARGET_LABELS), False
        for name in metrics:
            got = self.known_labels(where, name, extra_ok)
            if got is None:
                unknown = True
            else:
                available |= got
        if unknown:
            return None
        for label in sorted(set(labels) | set(used_labels)):
            if label not in available:
                problem(where, f"label {label!r} is not on {', '.join(sorted(metrics))}")
        return available


def promql_for_promtool(expr):
    """A dashboard expression with Grafana's variables as plain PromQL."""
    s = re.sub(r"\$\{?__(rate_interval|interval|range)\}?", "5m", expr)
    s = re.sub(r"\$\{?__\w+\}?", "5m", s)
    return GRAFANA_VAR_RE.sub(".*", s)


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def check_dashboard(path, ck):
    try:
        with open(path) as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        problem(path, f"not valid JSON: {e}")
        return []
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        problem(path, "schemaVersion missing or older than 36")
    for key in ("title", "uid", "panels", "templating", "time"):
        if key not in dash:
            problem(path, f"no {key!r}")
    inputs = {i.get("name"): i for i in dash.get("__inputs", [])}
    if inputs.get("DS_PROMETHEUS", {}).get("pluginId") != "prometheus":
        problem(path, "no __inputs entry DS_PROMETHEUS for a prometheus datasource")
    exprs, ids = [], set()
    for p in walk_panels(dash.get("panels", [])):
        where = f"{path}: panel {p.get('id')} {p.get('title')!r}"
        if p.get("id") in ids:
            problem(where, "duplicate panel id")
        ids.add(p.get("id"))
        if "gridPos" not in p:
            problem(where, "no gridPos")
        if p.get("type") == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
            problem(where, "datasource is not ${DS_PROMETHEUS}")
        if not p.get("targets"):
            problem(where, "no targets")
        for t in p.get("targets", []):
            tw = f"{where} target {t.get('refId')}"
            if t.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
                problem(tw, "datasource is not ${DS_PROMETHEUS}")
            legend = re.findall(r"\{\{\s*(\w+)\s*\}\}", t.get("legendFormat", ""))
            ck.check_expr(tw, t.get("expr"), used_labels=legend)
            exprs.append((tw, t.get("expr", ""), p.get("title", "")))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        where = f"{path}: variable {v.get('name')}"
        m = re.fullmatch(r"\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*", q or "")
        if not m:
            problem(where, f"expected label_values(METRIC, LABEL), not {q!r}")
            continue
        ck.check_expr(where, m.group(1), used_labels=[m.group(2)])
        exprs.append((where, m.group(1), ""))

    # What the issue asks the dashboard to show.
    def has(pred):
        return any(pred(e, title) for _, e, title in exprs)

    wants = {
        "lag per partition": lambda e, t: "kfleet_consumer_lag" in e and re.search(
            r"by \([^)]*\bpartition\b", e),
        "lag per group": lambda e, t: "kfleet_consumer_lag" in e and re.search(
            r"sum by \([^)]*\bgroup\b(?![^)]*partition)", e),
        "requests/s": lambda e, t: re.search(r"rate\(kfleet_requests_total", e),
        "p50 by version": lambda e, t: "histogram_quantile(0.5," in e and re.search(
            r"by \([^)]*\bversion\b", e) and "kfleet_request_latency_seconds_bucket" in e,
        "p99 by version": lambda e, t: "histogram_quantile(0.99," in e and re.search(
            r"by \([^)]*\bversion\b", e) and "kfleet_request_latency_seconds_bucket" in e,
        "versions across the fleet": lambda e, t: "kfleet_model_version_info" in e and re.search(
            r"by \([^)]*\bversion\b", e),
        "swap durations by stage": lambda e, t: "kfleet_swap_stage_seconds" in e and re.search(
            r"by \([^)]*\bstage\b", e),
    }
    for what, pred in wants.items():
        if not has(pred):
            problem(path, f"no panel shows {what}")
    return exprs


def check_rules(path, ck):
    try:
        import yaml
    except ImportError:
        missing_tool("python3-yaml is not installed")
    try:
        with open(path) as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        problem(path, f"not valid YAML: {e}")
        return
    alerts = set()
    for g in doc.get("groups", []):
        for r in g.get("rules", []):
            name = r.get("record") or r.get("alert")
            where = f"{path}: {g.get('name')}/{name}"
            used = set()
            for text in r.get("annotations", {}).values():
                used.update(re.findall(r"\$labels\.(\w+)", text))
            got = ck.check_expr(where, r.get("expr"), extra_ok={"up"}, used_labels=used)
            if "record" in r:
                if not name.startswith("kfleet:"):
                    problem(where, "recorded series should be named kfleet:...")
                ck.recorded[name] = got if got is not None else set()
            else:
                alerts.add(name)
                if not r.get("labels", {}).get("severity"):
                    problem(where, "no severity label")
                if not r.get("annotations", {}).get("summary"):
                    problem(where, "no summary annotation")
    for want in ("KfleetConsumerLagGrowing", "KfleetRolloutHalted", "KfleetWorkerNotReady",
                 "KfleetVersionMismatch"):
        if want not in alerts:
            problem(path, f"no alert {want}")


def check_promtool(promtool, rules, dash_exprs):
    r = subprocess.run([promtool, "check", "rules", rules], capture_output=True, text=True)
    if r.returncode:
        problem(rules, f"promtool check rules failed:\n{r.stdout}{r.stderr}")
    with tempfile.TemporaryDirectory() as d:
        # Each dashboard expression as a recording rule: promtool parses it.
        lines = ["groups:", "  - name: dashboard", "    rules:"]
        for i, (_, expr, _) in enumerate(dash_exprs):
            lines.append(f"      - record: kt:dashboard_{i}")
            lines.append(f"        expr: {json.dumps(promql_for_promtool(expr))}")
        p = os.path.join(d, "dashboard_rules.yml")
        with open(p, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = subprocess.run([promtool, "check", "rules", p], capture_output=True, text=True)
        if r.returncode:
            problem("dashboard", f"promtool rejects an expression:\n{r.stdout}{r.stderr}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--metrics", help="a scrape of a worker's /metrics")
    src.add_argument("--metrics-cmd", help="a program that prints the worker's metrics")
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--promtool", default="")
    ap.add_argument("--require-series", action="store_true",
                    help="every metric used must have a series in the scrape")
    a = ap.parse_args()
    if a.metrics:
        with open(a.metrics) as f:
            text = f.read()
    else:
        r = subprocess.run([a.metrics_cmd], capture_output=True, text=True)
        if r.returncode:
            print(f"{a.metrics_cmd} failed ({r.returncode}): {r.stderr}", file=sys.stderr)
            return 99
        text = r.stdout
    exported = parse_exposition(text)
    if not any(n.startswith("kfleet_") for n in exported):
        print("no kfleet_ metric in the worker's output", file=sys.stderr)
        return 99
    print(f"{len(exported)} series names from the worker: {' '.join(sorted(exported))}")
    ck = Checker(exported, a.require_series)
    dash_exprs = check_dashboard(a.dashboard, ck)
    check_rules(a.rules, ck)
    if a.promtool:
        check_promtool(a.promtool, a.rules, dash_exprs)
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    if not problems:
        print(f"ok: {len(dash_exprs)} dashboard queries and the rules in {a.rules} "
              f"name only exported metrics and their labels")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
