#!/usr/bin/env python3
"""Fails when the crate's module graph has a cycle.

Each file under src/ is a module. A module depends on another when its code names it through a
`crate::`, `super::` or `self::` path (test modules excluded); a path is resolved to the deepest
module file it reaches. Prints each cycle's modules and edges and exits 1; exits 0 when there is
none. Run by .ci/run; usage: python3 scripts/module-cycles.py [src-dir]
"""
import collections
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")


def module_of(path):
    parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    return tuple(parts[:-1]) if parts[-1] in ("mod", "lib", "main") else tuple(parts)


modules = {}
for folder, _, names in os.walk(ROOT):
    for name in names:
        if name.endswith(".rs"):
            path = os.path.join(folder, name)
            modules.setdefault(module_of(path), path)


def deepest(parts):
    for n in range(len(parts), 0, -1):
        if tuple(parts[:n]) in modules:
            return tuple(parts[:n])
    return None


PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_0-9]+)+)")
edges = collections.defaultdict(set)
for module, path in modules.items():
    text = open(path, encoding="utf-8").read()
    cut = text.find("#[cfg(test)]\nmod tests")
    if cut >= 0:
        text = text[:cut]
    for m in PATH.finditer(text):
        base, parts = m.group(1), m.group(2).strip(":").split("::")
        if base == "crate":
            full = parts
        elif base == "self":
            full = list(module) + parts
        else:
            here = list(module)
            while parts and parts[0] == "super":
                parts, here = parts[1:], here[:-1]
            full = here[:-1] + parts
        target = deepest(full)
        if target is not None and target != module:
            edges[module].add(target)

# Tarjan's strongly connected components, iteratively.
index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]
for start in sorted(modules):
    if start in index:
        continue
    work = [(start, iter(sorted(edges[start])))]
    index[start] = low[start] = counter[0]; counter[0] += 1
    stack.append(start); on_stack.add(start)
    while work:
        node, successors = work[-1]
        advanced = False
        for nxt in successors:
            if nxt not in index:
                index[nxt] = low[nxt] = counter[0]; counter[0] += 1
                stack.append(nxt); on_stack.add(nxt)
                work.append((nxt, iter(sorted(edges[nxt]))))
                advanced = True
                break
            if nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if advanced:
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[node])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop(); on_stack.discard(member); component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(component)

name = lambda m: "::".join(m) or "crate"
for component in cycles:
    print("cycle:", ", ".join(sorted(name(m) for m in component)))
    for a in sorted(component):
        for b in sorted(edges[a] & set(component)):
            print(f"    {name(a)} -> {name(b)}")
print(f"{len(modules)} modules, {sum(len(v) for v in edges.values())} dependencies, {len(cycles)} cycles")
sys.exit(1 if cycles else 0)
