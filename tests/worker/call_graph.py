#!/usr/bin/env python3
"""The worker's parts call each other in one direction only (issue 13).

Reads the symbol tables of the objects in libkfworker.a (nm) and builds the
file-level call graph: file A -> file B when A uses a function B defines.
Fails when any two files reach each other (a cycle of any length), printing
the cycle, and prints the layers (each file after everything it calls) so
the dependency direction is visible.

    call_graph.py path/to/libkfworker.a
"""
import subprocess
import sys


def symbols(lib):
    out = subprocess.run(["nm", "-A", lib], check=True, capture_output=True, text=True).stdout
    defined, used = {}, {}
    for line in out.splitlines():
        # libkfworker.a:agent.c.o:                 U control_emit
        head, _, rest = line.rpartition(":")
        obj = head.split(":")[-1]
        parts = rest.split()
        if len(parts) < 2:
            continue
        kind, name = parts[-2], parts[-1]
        src = obj.split("/")[-1].replace(".c.o", ".c")
        if kind in ("T", "D", "B", "R"):
            defined[name] = src
        elif kind == "U":
            used.setdefault(src, set()).add(name)
    return defined, used


def main():
    defined, used = symbols(sys.argv[1])
    files = set(defined.values()) | set(used)
    edges = {f: set() for f in files}
    for f, names in used.items():
        for n in names:
            g = defined.get(n)
            if g and g != f:
                edges[f].add(g)
    # Tarjan-free: repeatedly peel files that call nothing left.
    layers, left = [], set(files)
    while left:
        layer = sorted(f for f in left if not (edges[f] & left))
        if not layer:
            break
        layers.append(layer)
        left -= set(layer)
    if left:
        # find one cycle to show
        start = sorted(left)[0]
        path, seen = [start], {start}
        while True:
            nxt = sorted(edges[path[-1]] & left)[0]
            if nxt in seen:
                cyc = path[path.index(nxt):] + [nxt]
                print("cycle: " + " -> ".join(cyc))
                break
            path.append(nxt)
            seen.add(nxt)
        print(f"{len(left)} files in call cycles: {' '.join(sorted(left))}")
        return 1
    for i, layer in enumerate(layers):
        print(f"layer {i}: {' '.join(layer)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
