#!/usr/bin/env python3
"""Checks that the top-level modules of src/ form no import cycle.

Every `crate::X` (and `super::X` in a top-level module's own file) names a
dependency of the top-level module the file belongs to on X. Prints the
graph and exits 1 on a cycle. Run from the repository root:

    python3 scripts/module-cycles.py
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def top_module(path):
    rel = os.path.relpath(path, SRC)
    first = rel.split(os.sep)[0]
    if first in ("lib.rs", "main.rs") or first == "cli":
        return None  # the crate roots and the binary's commands
    return first[:-3] if first.endswith(".rs") else first


def main():
    modules = set()
    edges = {}
    for root, _, files in os.walk(SRC):
        for f in files:
            # A `tests.rs` is a test module (`#[cfg(test)] mod tests;`).
            if not f.endswith(".rs") or f == "tests.rs":
                continue
            path = os.path.join(root, f)
            me = top_module(path)
            if me is None:
                continue
            modules.add(me)
            text = open(path, encoding="utf-8").read()
            # Test code may reach anywhere; only the product's code counts.
            text = text.split("#[cfg(test)]")[0]
            for m in re.finditer(r"\bcrate::([a-z_]+)", text):
                other = m.group(1)
                if other != me:
                    edges.setdefault(me, set()).add(other)
    for m in sorted(modules):
        print(f"{m:10} -> {', '.join(sorted(edges.get(m, ()))) or '-'}")
    # Depth-first search for a cycle.
    state = {}
    stack = []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for d in sorted(edges.get(n, ())):
            if state.get(d) == "open":
                cycle = stack[stack.index(d):] + [d]
                print("cycle: " + " -> ".join(cycle))
                return True
            if d not in state and visit(d):
                return True
        stack.pop()
        state[n] = "done"
        return False

    for m in sorted(modules):
        if m not in state and visit(m):
            return 1
    print("no cycle between top-level modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
