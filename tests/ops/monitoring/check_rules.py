#!/usr/bin/env python3
"""Run the alert rules' unit tests (rules_test.yml) with `promtool test rules`.

    check_rules.py PROMTOOL RULES_YML RULES_TEST_YML

Also checks that the test file loads exactly the shipped RULES_YML and that
every alert in it has a case where it fires, so a new alert comes with one.
Exit 0 pass, 1 fail, 77 without promtool (99 under KFLEET_REQUIRE_SERVICES=1).
"""
import os
import subprocess
import sys


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 99
    promtool, rules, tests = sys.argv[1:]
    required = os.environ.get("KFLEET_REQUIRE_SERVICES") == "1"
    try:
        import yaml
    except ImportError:
        print("python3-yaml is not installed", file=sys.stderr)
        return 99 if required else 77
    if not promtool:
        print("promtool not found (Debian's prometheus package)", file=sys.stderr)
        return 99 if required else 77
    with open(tests) as f:
        t = yaml.safe_load(f)
    with open(rules) as f:
        r = yaml.safe_load(f)
    loaded = [os.path.realpath(os.path.join(os.path.dirname(tests), p)) for p in t["rule_files"]]
    if loaded != [os.path.realpath(rules)]:
        print(f"FAIL: {tests} loads {loaded}, not {rules}", file=sys.stderr)
        return 1
    alerts = {x["alert"] for g in r["groups"] for x in g["rules"] if "alert" in x}
    firing = {a["alertname"] for c in t["tests"] for a in c.get("alert_rule_test", [])
              if a.get("exp_alerts")}
    bad = 0
    for a in sorted(alerts - firing):
        print(f"FAIL: alert {a} has no test case where it fires", file=sys.stderr)
        bad = 1
    p = subprocess.run([promtool, "test", "rules", tests], capture_output=True, text=True)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    if p.returncode:
        print(f"FAIL: promtool test rules exited {p.returncode}", file=sys.stderr)
        bad = 1
    if not bad:
        print(f"ok: {len(alerts)} alerts, each fires in rules_test.yml, promtool test rules passes")
    return bad


if __name__ == "__main__":
    sys.exit(main())
