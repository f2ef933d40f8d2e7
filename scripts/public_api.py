#!/usr/bin/env python3
"""List the public API of the core crate, one path per line, from rustdoc's JSON output.

Usage:
    RUSTC_BOOTSTRAP=1 cargo rustdoc -p neurovox --lib -- -Z unstable-options --output-format json
    python3 scripts/public_api.py target/doc/neurovox.json [--summary]

Why a script of ours: cargo-public-api does this and more, but it reads rustdoc's JSON, an
unstable format it follows release by release, through a nightly toolchain; this machine has
one stable toolchain (RUSTC_BOOTSTRAP=1 unlocks the JSON output), and walking the JSON from the
crate root and following `pub use` is all a before/after listing needs. It is a tool for the
issue notes, not part of the test command.

The summary counts items once; the listing shows every path. An item counts once per path it is reachable by from the crate root (a type re-exported at the
root and in its layer is two paths: both are API a user can name). Methods and associated
items of public types are listed under their type; trait impls are not listed. Items marked
`#[doc(hidden)]` (the fuzzing module) are left out, as rustdoc leaves them out of the docs.
"""

from __future__ import annotations

import json
import signal
import sys
from collections import Counter


def kind_of(item) -> str:
    inner = item.get("inner", {})
    return next(iter(inner)) if isinstance(inner, dict) and inner else "?"


def main(argv: list[str]) -> int:
    doc = json.load(open(argv[0]))
    index = doc["index"]
    root = index[str(doc["root"])]
    out: set[tuple[str, str]] = set()
    ids: set[str] = set()
    seen: set[tuple[str, str]] = set()

    def hidden(item) -> bool:
        attrs = item.get("attrs") or []
        return any("doc(hidden)" in str(a) or "hidden" == str(a) for a in attrs)

    def visit(item_id, path: str):
        item = index.get(str(item_id))
        if item is None or hidden(item):
            return
        if (str(item_id), path) in seen:
            return
        seen.add((str(item_id), path))
        kind = kind_of(item)
        inner = item["inner"][kind] if kind != "?" else {}
        if kind == "module":
            for child in inner.get("items", []):
                c = index.get(str(child))
                if c is None:
                    continue
                ck = kind_of(c)
                if ck == "use":
                    use = c["inner"]["use"]
                    if c.get("visibility") != "public":
                        continue
                    target = use.get("id")
                    name = use.get("name")
                    if use.get("is_glob"):
                        t = index.get(str(target))
                        if t is not None and kind_of(t) == "module":
                            for g in t["inner"]["module"].get("items", []):
                                gi = index.get(str(g))
                                if gi and gi.get("visibility") == "public" and gi.get("name"):
                                    visit(g, f"{path}::{gi['name']}")
                        continue
                    if target is not None:
                        visit(target, f"{path}::{name}")
                    continue
                if c.get("visibility") != "public" or not c.get("name"):
                    continue
                visit(child, f"{path}::{c['name']}")
            out.add((path, "module"))
            return
        out.add((path, kind))
        ids.add(str(item_id))
        # Inherent methods and associated items of public types.
        for impl_id in inner.get("impls", []) if isinstance(inner, dict) else []:
            impl = index.get(str(impl_id))
            if impl is None:
                continue
            body = impl["inner"].get("impl", {})
            if body.get("trait") is not None or body.get("synthetic") or body.get("blanket_impl"):
                continue
            for m in body.get("items", []):
                mi = index.get(str(m))
                if mi and mi.get("visibility") == "public" and mi.get("name") and not hidden(mi):
                    out.add((f"{path}::{mi['name']}", kind_of(mi)))
                    ids.add(str(m))

    visit(doc["root"], root["name"])
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends the listing quietly
    if "--summary" in argv:
        counts = Counter(k for _, k in out)
        top = Counter(p.split("::")[1] if "::" in p else "(root)" for p, _ in out)
        print(f"{len(ids)} public items (each counted once), reachable by {len(out)} paths")
        print("by kind: " + ", ".join(f"{k} {n}" for k, n in counts.most_common()))
        print("by top-level module: " + ", ".join(f"{k} {n}" for k, n in sorted(top.items())))
    else:
        for path, kind in sorted(out):
            print(f"{kind:10} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
