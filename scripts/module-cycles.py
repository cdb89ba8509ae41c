#!/usr/bin/env python3
"""Finds import circles between the modules of each crate (run by scripts/test.sh).

A reference from module a::b::x to a::c::y is an edge b -> c among the children of `a` (their
lowest common ancestor); a reference to an item of an ancestor (a `mod.rs` re-export, say) is
no edge. Test modules (`tests.rs`, `tests/` under src) are left out: they may reach anywhere.
Prints every circle found and exits 1 if there is one.
"""
import os
import re
import sys

CRATES = ["src", "crates/core/src", "crates/ledger/src", "loadtest/src"]
USE = re.compile(r"\buse\s+((?:crate|super|self)(?:::[^;]*)?);", re.S)
PATH = re.compile(r"\b((?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def modules(root):
    """Maps module path tuples to their file."""
    found = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), root)
            parts = rel[:-3].split(os.sep)
            if parts[-1] in ("lib", "main") and len(parts) == 1:
                parts = []
            elif parts[-1] == "mod":
                parts = parts[:-1]
            if "tests" in parts or parts[-1:] == ["tests"]:
                continue
            if parts and parts[0] == "bin":
                continue
            found[tuple(parts)] = os.path.join(dirpath, f)
    return found


def expand(use):
    """`crate::a::{b, c::d}` -> ["crate::a::b", "crate::a::c::d"] (one level of braces is enough
    for the module names we need)."""
    use = re.sub(r"\s+", "", use)
    m = re.match(r"^(.*?)::\{(.*)\}$", use)
    if not m:
        return [use]
    head, body = m.groups()
    out, depth, cur = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    result = []
    for item in out:
        for sub in expand(item):
            result.append(head + "::" + sub if sub not in ("self",) else head)
    return result


def resolve(module, path, known):
    parts = path.split("::")
    if parts[0] == "crate":
        base, rest = [], parts[1:]
    else:
        base = list(module)
        rest = parts
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super":
                base = base[:-1]
            rest = rest[1:]
    target = list(base)
    for p in rest:
        if tuple(target + [p]) in known:
            target.append(p)
        else:
            break
    return tuple(target)


def strip_tests(text):
    """Drops `#[cfg(test)] mod tests { ... }` blocks written inline."""
    out = []
    i = 0
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text[i:])
        if not m:
            out.append(text[i:])
            break
        start = i + m.start()
        out.append(text[i:start])
        j = i + m.end()
        depth = 1
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    return "".join(out)


def crate_cycles(root):
    known = modules(root)
    edges = {}
    for module, path in known.items():
        text = strip_tests(open(path, encoding="utf-8").read())
        text = re.sub(r"//[^\n]*", "", text)
        refs = []
        for use in USE.findall(text):
            refs.extend(expand(use))
        refs.extend(PATH.findall(text))
        for ref in refs:
            target = resolve(module, ref, known)
            common = 0
            while (common < len(module) and common < len(target)
                   and module[common] == target[common]):
                common += 1
            if common == len(module) or common == len(target):
                continue  # a descendant or an ancestor: no circle between siblings
            parent = module[:common]
            a, b = module[common], target[common]
            edges.setdefault(parent, {}).setdefault(a, set()).add(b)
    circles = []
    for parent, graph in edges.items():
        for members in find_cycles(graph):
            inside = [f"{a} -> {b}" for a in members for b in sorted(graph.get(a, ()))
                      if b in members]
            where = "::".join(parent) or "crate root"
            circles.append(f"{where}: {{{', '.join(members)}}} via {'; '.join(inside)}")
    return sorted(set(circles))


def find_cycles(graph):
    """Strongly connected components of more than one node, as a member list."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bad = []
    for crate in CRATES:
        root = os.path.join(here, crate)
        for c in crate_cycles(root):
            bad.append(f"{crate}: {c}")
    for line in bad:
        print("import circle:", line)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
