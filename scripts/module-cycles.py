#!/usr/bin/env python3
"""Import circles in a crate's source tree.

Reads every `.rs` file under SRC (default `gateway/src`), takes the paths it
names (`crate::a::b`, `super::c`, grouped `use crate::{a, b::c}` included,
test code left out: `tests.rs`, `testutil.rs`, `#[cfg(test)]` items), and
builds two graphs:

- top-level modules (`crate::store` is `store/` or `store.rs`), and
- the files of each folder (`super::sql` from `store/writer.rs` is
  `store/sql.rs`; `super::Name` is the file that `mod.rs` re-exports
  `Name` from).

Prints every circle (strongly connected component with more than one
member) and exits 1 if there is one. `--graph` prints the module graph;
`--modules-only` reports circles among files without failing on them.
"""

import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_comments(src):
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    src = re.sub(r"//[^\n]*", "", src)
    # String literals may hold `crate::` in prose or format strings.
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', src)


def block_end(src, start):
    """Index just past the balanced `{...}` block opening at or after `start`."""
    i = src.find("{", start)
    semi = src.find(";", start)
    if i < 0 or (0 <= semi < i):
        return semi + 1 if semi >= 0 else len(src)
    depth = 0
    for j in range(i, len(src)):
        if src[j] == "{":
            depth += 1
        elif src[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(src)


def strip_tests(src):
    """Removes items marked `#[cfg(test)]` (a `mod tests { ... }`, a `use`)."""
    out, pos = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]", src):
        if m.start() < pos:
            continue
        out.append(src[pos : m.start()])
        pos = block_end(src, m.end())
    out.append(src[pos:])
    return "".join(out)


def group_heads(body):
    """Top-level items of a `{a::b, c, d::{e, f}}` group body."""
    heads, depth, cur = [], 0, ""
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if depth == 0 and ch == ",":
            heads.append(cur)
            cur = ""
        else:
            cur += ch
    heads.append(cur)
    out = []
    for h in heads:
        m = re.match(r"\s*(" + IDENT + r")(\s*::\s*(" + IDENT + r"))?", h)
        if m:
            out.append((m.group(1), m.group(3)))
    return out


def references(src, root):
    """(first, second) path segments after `root::` (`crate` or `super`)."""
    refs = []
    for m in re.finditer(r"\b" + root + r"::\s*\{", src):
        end = block_end(src, m.end() - 1)
        refs.extend(group_heads(src[m.end() : end - 1]))
    pattern = r"\b" + root + r"::(" + IDENT + r")(?:::(" + IDENT + r"))?"
    for m in re.finditer(pattern, src):
        refs.append((m.group(1), m.group(2)))
    return refs


def sccs(graph):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
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

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def load(src_dir):
    files = {}
    for dirpath, _, names in os.walk(src_dir):
        for name in names:
            if not name.endswith(".rs") or name in ("tests.rs", "testutil.rs"):
                continue
            if name.endswith("_tests.rs"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, src_dir)
            with open(path, encoding="utf-8") as f:
                files[rel] = strip_tests(strip_comments(f.read()))
    return files


def top_module(rel):
    return rel.split(os.sep)[0].removesuffix(".rs")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    src_dir = args[0] if args else "gateway/src"
    files = load(src_dir)
    modules = {top_module(r) for r in files} - {"lib", "main"}

    graph = {m: set() for m in modules}
    for rel, src in files.items():
        me = top_module(rel)
        if me not in modules:
            continue
        for first, _ in references(src, "crate"):
            if first in modules and first != me:
                graph[me].add(first)

    # Files of each folder, through `super::`.
    file_graph = {}
    for rel, src in files.items():
        folder = os.path.dirname(rel)
        if not folder or os.path.basename(rel) == "mod.rs":
            continue
        siblings = {
            os.path.basename(r).removesuffix(".rs")
            for r in files
            if os.path.dirname(r) == folder and os.path.basename(r) != "mod.rs"
        }
        mod_src = files.get(os.path.join(folder, "mod.rs"), "")
        exported = {}
        for m in re.finditer(r"pub(?:\([a-z]+\))?\s+use\s+(" + IDENT + r")::", mod_src):
            end = block_end(mod_src, m.end())
            for name in re.findall(IDENT, mod_src[m.end() : end]):
                exported.setdefault(name, m.group(1))
        me = os.path.basename(rel).removesuffix(".rs")
        node = os.path.join(folder, me)
        file_graph.setdefault(node, set())
        for first, _ in references(src, "super"):
            target = first if first in siblings else exported.get(first)
            if target and target != me and target in siblings:
                file_graph[node].add(os.path.join(folder, target))

    if "--graph" in sys.argv:
        for m in sorted(graph):
            print(f"{m} -> {' '.join(sorted(graph[m]))}")

    circles = [("modules", c) for c in sccs(graph)]
    circles += [("files", c) for c in sccs(file_graph)]
    fatal = [c for c in circles if c[0] == "modules" or "--modules-only" not in sys.argv]
    for kind, c in circles:
        note = "" if (kind, c) in fatal else " (not fatal with --modules-only)"
        print(f"import circle among {kind}: {', '.join(c)}{note}")
    if fatal:
        sys.exit(1)
    what = "modules" if circles else "modules or files"
    print(f"{src_dir}: no import circle among {what} ({len(modules)} modules, {len(files)} files)")


if __name__ == "__main__":
    main()
