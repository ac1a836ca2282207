#!/usr/bin/env python3
"""Fail on an import in app/src that runs up a layer.

The layers are scripts/layers.toml, lowest first. Every `use crate::…`,
`use super::…` and `crate::…` / `$crate::…` path in a source file (outside
comments) is resolved to the file that defines what it names, following
`pub use` re-exports (a service importing `super::Thing` reaches the
`types.rs` that defines `Thing`, not the `mod.rs` that re-exports it). A path
into a higher layer than the file's own is printed as

    app/src/FILE:LINE: LAYER file uses TARGET (HIGHER LAYER): PATH

and the script exits 1. Usage: scripts/check-layers.py [ROOT] (default: the
repository holding this script).
"""

import fnmatch
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
SRC = ROOT / "app" / "src"
TABLE = Path(__file__).resolve().parent / "layers.toml"

ITEM = re.compile(
    r"^\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+|const\s+|unsafe\s+)*"
    r"(?:fn|struct|enum|const|static|type|trait|mod|union)\s+(\w+)"
)
MACRO = re.compile(r"macro_rules!\s*(\w+)")
PATH = re.compile(r"(?<![\w:])(?<!\(in )\$?(crate|super)((?:::(?:\w+|\*))+)(!?)")


def strip_comment(line: str) -> str:
    """The line without a trailing `//` comment (a `//` inside a string is kept)."""
    out, quoted, i = [], False, 0
    while i < len(line):
        c = line[i]
        if c == '"' and (i == 0 or line[i - 1] != "\\"):
            quoted = not quoted
        if not quoted and line.startswith("//", i):
            break
        out.append(c)
        i += 1
    return "".join(out)


def module_of(rel: Path) -> tuple[str, ...]:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts.pop()
    return tuple(parts)


class Crate:
    def __init__(self, src: Path):
        self.files: dict[tuple[str, ...], Path] = {}
        self.text: dict[Path, list[str]] = {}
        self.macros: dict[str, Path] = {}
        for f in sorted(src.rglob("*.rs")):
            rel = f.relative_to(src)
            self.files[module_of(rel)] = rel
            lines = f.read_text().splitlines()
            self.text[rel] = lines
            for line in lines:
                m = MACRO.search(strip_comment(line))
                if m:
                    self.macros[m.group(1)] = rel
        self.defs = {rel: self._defs(lines) for rel, lines in self.text.items()}
        self.reexports = {rel: self._reexports(rel) for rel in self.text}

    @staticmethod
    def _defs(lines: list[str]) -> set[str]:
        names = set()
        for line in lines:
            m = ITEM.match(strip_comment(line))
            if m and not re.match(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*;", line):
                names.add(m.group(1))
        return names

    def _reexports(self, rel: Path) -> list[tuple[str, tuple[str, ...]]]:
        """(exported name or '*', absolute path) for each `pub use` of the file."""
        out = []
        for _, stmt in use_statements(self.text[rel], public_only=True):
            for path, alias in expand_use(stmt):
                absolute = self.absolute(rel, path)
                if absolute is None:
                    continue
                out.append((alias if alias else path[-1], absolute))
        return out

    def absolute(self, rel: Path, path: list[str], inline: bool = False) -> tuple[str, ...] | None:
        """`path` (as written in `rel`) from the crate root, or None for another crate's."""
        here = list(module_of(rel))
        if path[0] in ("crate", "$crate"):
            return tuple(path[1:])
        if path[0] == "self":
            return tuple(here + path[1:])
        if path[0] == "super":
            base = list(here)
            rest = list(path)
            # Inside an inline module (`mod tests { use super::*; }`), the first
            # `super` is the file's own module.
            if inline:
                rest = rest[1:]
            while rest and rest[0] == "super":
                base = base[:-1]
                rest = rest[1:]
            return tuple(base + rest)
        if tuple(here + [path[0]]) in self.files:  # a child module: `pub use types::*`
            return tuple(here + path)
        return None

    def target(self, path: tuple[str, ...], macro: bool = False, seen=None) -> Path:
        """The file that defines what `path` (from the crate root) names."""
        if macro and path and path[-1] in self.macros:
            return self.macros[path[-1]]
        seen = seen or set()
        module: tuple[str, ...] = ()
        i = 0
        while i < len(path) and module + (path[i],) in self.files:
            module = module + (path[i],)
            i += 1
        rel = self.files[module]
        if i == len(path) or path[i] in ("*", "self"):
            return rel
        name = path[i]
        if name in self.defs[rel] or (rel, name) in seen:
            return rel
        seen.add((rel, name))
        for exported, absolute in self.reexports[rel]:
            if exported == name:
                return self.target(absolute + tuple(path[i + 1 :]), seen=seen)
        for exported, absolute in self.reexports[rel]:
            if exported == "*":
                inner = self.target(absolute + (name,), seen=seen)
                if name in self.defs[inner] or any(e == name for e, _ in self.reexports[inner]):
                    return inner
        return rel


def use_statements(lines: list[str], public_only: bool = False):
    """(first line number, text) of each `use` statement, joined across lines."""
    i = 0
    while i < len(lines):
        line = strip_comment(lines[i])
        m = re.match(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+", line)
        if m and (m.group(1) or not public_only):
            start, text = i + 1, line[m.end() :]
            while ";" not in text and i + 1 < len(lines):
                i += 1
                text += " " + strip_comment(lines[i])
            yield start, text.split(";")[0].strip()
        i += 1


def expand_use(tree: str) -> list[tuple[list[str], str | None]]:
    """`a::{b, c::{d as e}}` as ([a, b], None), ([a, c, d], 'e')."""
    tree = re.sub(r"\s+as\s+", "@", tree)
    tree = re.sub(r"\s+", "", tree).lstrip(":")

    def split_top(s: str) -> list[str]:
        parts, depth, cur = [], 0, ""
        for c in s:
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            if c == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += c
        if cur:
            parts.append(cur)
        return parts

    def walk(prefix: list[str], s: str):
        if not s:
            return
        if "{" in s:
            head, _, body = s.partition("{")
            head_parts = [p for p in head.split("::") if p]
            for part in split_top(body[:-1] if body.endswith("}") else body):
                yield from walk(prefix + head_parts, part)
            return
        s, _, alias = s.partition("@")
        parts = [p for p in s.split("::") if p]
        if parts == ["self"]:
            yield prefix, alias or None
        else:
            yield prefix + parts, alias or None

    return list(walk([], tree))


def layers_of(table: dict, crate: Crate) -> tuple[dict[Path, int], list[str], list[str]]:
    names = [layer["name"] for layer in table["layer"]]
    where, problems = {}, []
    for rel in crate.text:
        exact = [n for n, layer in enumerate(table["layer"]) if str(rel) in layer["files"]]
        if len(exact) == 1:
            where[rel] = exact[0]
            continue
        scored = []
        for n, layer in enumerate(table["layer"]):
            for pattern in layer["files"]:
                if "*" in pattern and len(Path(pattern).parts) == len(rel.parts) and fnmatch.fnmatch(str(rel), pattern):
                    scored.append((len(pattern.replace("*", "")), n))
        scored.sort(reverse=True)
        if not scored or (len(scored) > 1 and scored[0][0] == scored[1][0] and scored[0][1] != scored[1][1]):
            problems.append(f"app/src/{rel}: in {'no' if not scored else 'more than one'} layer of {TABLE.name}")
            continue
        where[rel] = scored[0][1]
    return where, names, problems


def inline_module_lines(lines: list[str]) -> set[int]:
    """Line numbers (1-based) inside an inline `mod name { … }` (tests, mostly)."""
    inside, depth, opened = set(), 0, False
    for n, raw in enumerate(lines, 1):
        line = strip_comment(raw)
        line = re.sub(r'"(?:\\.|[^"\\])*"', '""', line)
        line = re.sub(r"'(?:\\.|[^'\\])'", "''", line)
        if not opened and re.match(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", line):
            opened, depth = True, 0
        if opened:
            inside.add(n)
            depth += line.count("{") - line.count("}")
            if depth <= 0:
                opened = False
    return inside


def main() -> int:
    table = tomllib.loads(TABLE.read_text())
    crate = Crate(SRC)
    where, names, problems = layers_of(table, crate)
    found = 0
    for rel, lines in sorted(crate.text.items()):
        if rel not in where:
            continue
        inline = inline_module_lines(lines)
        mine = where[rel]
        seen = set()
        uses = {start: text for start, text in use_statements(lines)}
        for n, raw in enumerate(lines, 1):
            line = strip_comment(raw)
            if re.match(r"^\s*//", raw):
                continue
            paths: list[tuple[list[str], bool, str]] = []
            if n in uses and re.match(r"^(\$?crate|super)\b", uses[n]):
                for path, _ in expand_use(uses[n]):
                    paths.append((path, False, "::".join(path)))
            elif not re.match(r"^\s*(pub(\([^)]*\))?\s+)?use\s", line):
                for m in PATH.finditer(line):
                    segs = [m.group(1)] + [s for s in m.group(2).split("::") if s]
                    paths.append((segs, bool(m.group(3)), m.group(0)))
            for path, macro, shown in paths:
                absolute = crate.absolute(rel, path, inline=n in inline)
                if absolute is None:
                    continue
                target = crate.target(absolute, macro=macro)
                if target == rel or target not in where:
                    continue
                if where[target] > mine and (n, str(target)) not in seen:
                    seen.add((n, str(target)))
                    found += 1
                    print(
                        f"app/src/{rel}:{n}: {names[mine]} file uses app/src/{target} "
                        f"({names[where[target]]}): {shown}"
                    )
    for p in problems:
        print(p)
    if found or problems:
        print(f"{found} imports run up a layer (layers: scripts/layers.toml)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
