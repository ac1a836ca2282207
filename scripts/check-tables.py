#!/usr/bin/env python3
"""Fail on SQL that names a table outside that table's one home.

scripts/tables.toml gives every table of migrations/ one home file (its
repository module); a few reads that join a table into another aggregate's
query are allowed in the files listed under `joined_in`, each with its reason.
The script reads every `.rs` file under app/src and server/src (outside
comments), finds the tables a statement names (`FROM t`, `JOIN t`,
`UPDATE t`, `INTO t`), and prints

    FILE:LINE: TABLE is written here (its home is HOME)
    FILE:LINE: TABLE is read here (its home is HOME)

for each one outside its home (a write is allowed only in the home; a read in
the home or a `joined_in` file), then exits 1. A table of the migrations
missing from tables.toml, or a home that does not exist, is an error too.

Usage: scripts/check-tables.py [ROOT] (default: the repository holding this
script).
"""

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
MAP = tomllib.loads((Path(__file__).resolve().parent / "tables.toml").read_text())["table"]

WRITE = re.compile(r"\b(?:UPDATE|INSERT\s+INTO|DELETE\s+FROM|REPLACE\s+INTO)\s+(\w+)")
READ = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)")
CREATE = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", re.I)


def code_lines(path: Path):
    """(line number, text) of the file, without `//` comments (doc comments included)."""
    for n, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.lstrip()
        if stripped.startswith("//"):
            continue
        yield n, line


def main() -> int:
    errors = []
    tables = set()
    for sql in (ROOT / "migrations").rglob("*.sql"):
        tables |= {t.lower() for t in CREATE.findall(sql.read_text())}
    # Tables a later migration replaced (renamed into place) are not tables any more.
    tables -= {t for t in tables if t.endswith("_new")}
    for t in sorted(tables - MAP.keys()):
        errors.append(f"scripts/tables.toml: table {t} (in migrations/) has no home")
    for t, entry in MAP.items():
        if not (ROOT / entry["home"]).is_file():
            errors.append(f"scripts/tables.toml: the home of {t}, {entry['home']}, does not exist")
    files = sorted([*(ROOT / "app" / "src").rglob("*.rs"), *(ROOT / "server" / "src").rglob("*.rs")])
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        for n, line in code_lines(path):
            written = {m.group(1) for m in WRITE.finditer(line)}
            for kind, names in (("written", written), ("read", {m.group(1) for m in READ.finditer(line)} - written)):
                for t in names:
                    entry = MAP.get(t)
                    if entry is None or rel == entry["home"]:
                        continue
                    if kind == "read" and rel in entry.get("joined_in", {}):
                        continue
                    errors.append(f"{rel}:{n}: {t} is {kind} here (its home is {entry['home']})")
    for e in errors:
        print(e)
    if errors:
        print(f"\n{len(errors)} statement(s) outside their table's home (scripts/tables.toml)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
