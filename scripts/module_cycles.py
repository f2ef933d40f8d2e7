#!/usr/bin/env python3
"""Check that the modules of each crate import each other without cycles.

Usage: ``python3 scripts/module_cycles.py [--graph] [CRATE_SRC_DIR ...]``
(default: every ``crates/*/src``). Exit status 1, and the cycles printed, when any
module depends, directly or through others, on a module that depends on it; in the
core crate, also when a module uses a layer built on top of its own (``LAYERS``).

Why a script of ours: cargo-modules' ``dependencies --acyclic`` does this from
rust-analyzer's name resolution, but installing it builds rust-analyzer's crates
(``ra_ap_*``) on every fresh CI machine, a large build on two cores for a check that takes
this script under a second. The crates here are rustfmt-formatted, which makes a textual
resolution reliable enough: this script follows ``use`` trees and inline
``crate::``/``super::``/``self::`` paths to the module that *defines* the item, following
``pub use`` re-exports, so a parent module that only re-exports its children is not a
dependency of them.

What counts as a dependency of module M on module N: code of M (outside its
``#[cfg(test)]`` and doc-only ``#[cfg(doc)]`` items, ``$crate::`` paths and comments) names
an item defined in N, or N itself. Declaring ``mod n;`` is not a dependency. What it cannot
see: a method call (``img.to_filename(..)``) names no module, so an ``impl`` block in another
file is a dependency of that file only. The rule it enforces is docs/architecture.md's: a
layer uses only the layers it is built on, and inside a layer no two files need each other.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ITEM_RE = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?(?:const\s+)?(?:async\s+)?"
    r"(?:fn|struct|enum|trait|type|const|static|union|mod)\s+([A-Za-z_][A-Za-z0-9_]*)",
    re.M,
)
MACRO_RE = re.compile(r"macro_rules!\s*([A-Za-z_][A-Za-z0-9_]*)")
DEBUG = False
# `$crate::` paths (in macro bodies) are not matched: they resolve where the macro expands,
# so they are dependencies of its callers, not of the module that defines it.
PATH_RE = re.compile(r"(?<!\$)\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def strip_code(text: str) -> str:
    """Remove comments, string and char literals, and ``#[cfg(test)]``/``#[cfg(doc)]`` items."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + len(m.group(0)))
            i = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'":
            m = re.match(r"'(?:\\.|\\u\{[0-9a-fA-F]+\}|[^\\'])'", text[i:])
            if m:
                i += len(m.group(0))
                out.append("' '")
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    code = "".join(out)
    return drop_cfg_test_items(code)



def drop_cfg_test_items(code: str) -> str:
    result = []
    pos = 0
    for m in re.finditer(r"#\[cfg\((?:test|doc)\)\]", code):
        if m.start() < pos:
            continue
        # The item that follows: up to its matching closing brace, or its semicolon.
        j = m.end()
        depth = 0
        while j < len(code):
            ch = code[j]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    j += 1
                    break
            elif ch == ";" and depth == 0:
                j += 1
                break
            j += 1
        result.append(code[pos:m.start()])
        pos = j
    result.append(code[pos:])
    return "".join(result)


def split_inline_modules(module, code):
    """``mod name { ... }`` inside a file is a module of its own."""
    out = {}
    rest = []
    pos = 0
    for m in re.finditer(r"\bmod\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{", code):
        if m.start() < pos:
            continue
        depth, j = 0, m.end() - 1
        while j < len(code):
            depth += code[j] == "{"
            depth -= code[j] == "}"
            j += 1
            if depth == 0:
                break
        rest.append(code[pos:m.start()])
        out.update(split_inline_modules(module + (m.group(1),), code[m.end():j - 1]))
        pos = j
    rest.append(code[pos:])
    out[module] = "".join(rest)
    return out


def expand_use_tree(tree: str) -> list[str]:
    """``a::{b, c::{d as x, e}}`` -> ``[a::b, a::c::d@x, a::c::e]`` (``@`` marks an alias)."""
    tree = re.sub(r"\s+as\s+", "@", tree)
    tree = re.sub(r"\s+", "", tree)
    if "{" not in tree:
        return [tree]
    prefix, rest = tree.split("{", 1)
    body = rest[: rest.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    paths = []
    for p in parts:
        if not p:
            continue
        if p == "self":
            paths.append(prefix.rstrip(":"))
        else:
            paths.extend(prefix + q for q in expand_use_tree(p))
    return paths


class Crate:
    def __init__(self, src: Path):
        self.src = src
        self.files: dict[tuple[str, ...], Path] = {}
        for f in sorted(src.rglob("*.rs")):
            rel = f.relative_to(src).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] in ("lib", "main") and len(parts) == 1:
                parts = []
            elif parts[-1] == "mod":
                parts = parts[:-1]
            self.files[tuple(parts)] = f
        self.code: dict[tuple[str, ...], str] = {}
        for m, f in list(self.files.items()):
            for sub, code in split_inline_modules(m, strip_code(f.read_text())).items():
                self.code[sub] = code
                self.files.setdefault(sub, f)
        self.defined: dict[tuple[str, ...], set[str]] = {}
        self.reexports: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {}
        self.globs: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        self.macros: dict[str, tuple[str, ...]] = {}
        for m, code in self.code.items():
            self.defined[m] = set(ITEM_RE.findall(code))
            for name in MACRO_RE.findall(code):
                self.macros[name] = m
                self.defined[m].add(name)
        self.imports: dict[tuple[str, ...], dict[str, tuple[str, ...] | None]] = {}
        for m, code in self.code.items():
            self.imports[m] = {}
            for um in re.finditer(r"(?<![A-Za-z_)])\s*\buse\s+([^;]+);", code):
                for p in expand_use_tree(um.group(1)):
                    p, _, alias = p.partition("@")
                    segs = [x for x in p.split("::") if x]
                    if segs and segs[-1] != "*":
                        self.imports[m][alias or segs[-1]] = segs
        for m, code in self.code.items():
            self.reexports[m] = {}
            self.globs[m] = []
            for um in re.finditer(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", code):
                for p in expand_use_tree(um.group(1)):
                    p, _, alias = p.partition("@")
                    segs = p.split("::")
                    if segs[-1] == "*":
                        target = self.module_of(m, segs[:-1])
                        if target is not None:
                            self.globs[m].append(target)
                        continue
                    name = alias or segs[-1]  # `pub use a::B as C` re-exports B as C
                    target = self.resolve(m, segs, follow=False)
                    if target is not None and target != m:
                        self.reexports[m][name] = target

    def module_of(self, here: tuple[str, ...], segs: list[str]) -> tuple[str, ...] | None:
        cur = self.start(here, segs[0])
        if cur is None:
            return None
        for s in segs[1:]:
            if cur + (s,) in self.files:
                cur = cur + (s,)
            else:
                return None
        return cur

    def start(self, here: tuple[str, ...], first: str) -> tuple[str, ...] | None:
        if first == "crate":
            return ()
        if first == "self":
            return here
        if first == "super":
            return here[:-1]
        if here + (first,) in self.files:  # a child module named without self::
            return here + (first,)
        if (first,) in self.files and first not in ("std", "core", "alloc"):
            return (first,)  # 2018 paths from the crate root only resolve like this in lib.rs
        return None

    def resolve(self, here: tuple[str, ...], segs: list[str], follow: bool = True, seen=None):
        """The module that defines what ``segs`` names, or None for outside paths."""
        cur = self.start(here, segs[0])
        if cur is None:
            return None
        i = 1
        while i < len(segs) and segs[i] == "super":
            cur, i = cur[:-1], i + 1
        while i < len(segs) and cur + (segs[i],) in self.files:
            cur, i = cur + (segs[i],), i + 1
        if i == len(segs):
            return cur  # the path names a module
        return self.owner(cur, segs[i], set() if seen is None else seen)

    def owner(self, module: tuple[str, ...], name: str, seen: set) -> tuple[str, ...]:
        if (module, name) in seen:
            return module
        seen.add((module, name))
        if name in self.defined.get(module, ()):
            return module
        if name in self.reexports.get(module, {}):
            target = self.reexports[module][name]
            return self.owner(target, name, seen) if target in self.files else target
        for g in self.globs.get(module, []):
            o = self.owner(g, name, seen)
            if name in self.defined.get(o, ()):
                return o
        if module == () and name in self.macros:
            return self.macros[name]
        if name in self.imports.get(module, {}):  # `super::File` after the parent's `use std::fs::File`
            return self.resolve(module, self.imports[module][name], seen=seen)
        return module

    def edges(self) -> dict[tuple[str, ...], set[tuple[str, ...]]]:
        graph: dict[tuple[str, ...], set[tuple[str, ...]]] = {m: set() for m in self.files}
        for m, code in self.code.items():
            paths: list[list[str]] = []
            for um in re.finditer(r"(\bpub(?:\([^)]*\))?\s+)?\buse\s+([^;]+);", code):
                if um.group(1):
                    continue  # a re-export: resolved through, not a dependency of its own
                for p in expand_use_tree(um.group(2)):
                    segs = [s for s in p.partition("@")[0].split("::") if s]
                    if segs and segs[-1] == "*":
                        segs = segs[:-1]
                    if segs:
                        paths.append(segs)
            for pm in PATH_RE.finditer(code):
                paths.append([pm.group(1)] + [s for s in pm.group(2).split("::") if s])
            for segs in paths:
                target = self.resolve(m, segs)
                if DEBUG and target is not None and target != m and target in (m[:k] for k in range(len(m))):
                    print("DEBUG", m, "->", target, segs)
                if target is not None and target != m:
                    graph[m].add(target)
        return graph


def cycles(graph):
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
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

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            strong(v)
    return out


# The core crate's layers, lowest first (docs/architecture.md): a module may use its own
# layer and the layers before it in this list, never one after it.
LAYERS = {"neurovox": ["error", "limits", "dtype", "format", "io", "array", "numpy", "image", "fuzzing"]}


def layer_violations(crate_name, graph):
    order = LAYERS.get(crate_name)
    if not order:
        return []
    rank = {layer: i for i, layer in enumerate(order)}
    out = []
    for m, targets in graph.items():
        if not m or m[0] not in rank:
            continue
        for t in targets:
            if t and t[0] in rank and rank[t[0]] > rank[m[0]]:
                out.append((m, t))
    return sorted(out)


def name(m, crate_name):
    return "::".join((crate_name,) + m)


def main(argv):
    show_graph = "--graph" in argv
    dirs = [Path(a) for a in argv if not a.startswith("--")]
    if not dirs:
        root = Path(__file__).resolve().parent.parent
        dirs = sorted(root.glob("crates/*/src"))
    failed = False
    for d in dirs:
        crate = Crate(d)
        crate_name = d.parent.name.replace("-", "_")
        graph = crate.edges()
        if show_graph:
            for m in sorted(graph):
                deps = ", ".join(name(t, crate_name) for t in sorted(graph[m]))
                print(f"{name(m, crate_name)} -> {deps}")
        found = cycles(graph)
        for comp in found:
            failed = True
            members = set(comp)
            print(f"cycle in {crate_name}: " + ", ".join(name(m, crate_name) for m in comp))
            for m in comp:
                for t in sorted(graph[m] & members):
                    print(f"    {name(m, crate_name)} uses {name(t, crate_name)}")
        for m, t in layer_violations(crate_name, graph):
            failed = True
            print(f"layer order in {crate_name}: {name(m, crate_name)} uses {name(t, crate_name)}, a layer built on top of its own")
        if not found:
            print(f"{crate_name}: {len(graph)} modules, no import cycle")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
