#!/usr/bin/env python3
"""Where a WebAssembly file's code goes: function body sizes from the code
section, named from the `name` section, grouped by crate.

usage: bench/wasm_top.py FILE.wasm [TOP]

Build a WASM that keeps its names first (cargo-leptos strips them):
  CARGO_PROFILE_WASM_RELEASE_STRIP=none cargo build -p frontend --lib \
    --target wasm32-unknown-unknown --profile wasm-release
"""
import re
import sys
from collections import Counter


def leb(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def sections(b):
    i = 8
    while i < len(b):
        sid = b[i]
        size, j = leb(b, i + 1)
        yield sid, b[j:j + size]
        i = j + size


def parse(b):
    imports = 0
    bodies = []
    names = {}
    for sid, body in sections(b):
        if sid == 2:  # imports: count function imports
            n, i = leb(body, 0)
            for _ in range(n):
                for _ in range(2):
                    ln, i = leb(body, i)
                    i += ln
                kind = body[i]
                i += 1
                if kind == 0:
                    imports += 1
                    _, i = leb(body, i)
                elif kind == 1:
                    i += 1
                    flags, i = leb(body, i)
                    _, i = leb(body, i)
                    if flags & 1:
                        _, i = leb(body, i)
                elif kind == 2:
                    flags, i = leb(body, i)
                    _, i = leb(body, i)
                    if flags & 1:
                        _, i = leb(body, i)
                elif kind == 3:
                    i += 2
                else:
                    raise ValueError(f"import kind {kind}")
        elif sid == 10:
            n, i = leb(body, 0)
            for _ in range(n):
                size, j = leb(body, i)
                bodies.append(size + (j - i))
                i = j + size
        elif sid == 0:
            ln, i = leb(body, 0)
            if body[i:i + ln] != b"name":
                continue
            i += ln
            while i < len(body):
                sub = body[i]
                size, j = leb(body, i + 1)
                if sub == 1:
                    n, k = leb(body, j)
                    for _ in range(n):
                        idx, k = leb(body, k)
                        ln, k = leb(body, k)
                        names[idx] = body[k:k + ln].decode("utf-8", "replace")
                        k += ln
                i = j + size
    return imports, bodies, names


def crate_of(name):
    # Demangled Rust names: `<a::B as c::D>::f`, `a::b::c`, or `_ZN..` legacy.
    m = re.match(r"_ZN(\d+)", name)
    if m:
        return name[3 + len(m.group(1)):3 + len(m.group(1)) + int(m.group(1))]
    n = name.lstrip("<&*")
    n = re.sub(r"^(mut |dyn |impl )", "", n)
    return n.split("::", 1)[0] if "::" in n else "(other)"


def main():
    b = open(sys.argv[1], "rb").read()
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    imports, bodies, names = parse(b)
    total = sum(bodies)
    print(f"file {len(b)} bytes, code {total} bytes in {len(bodies)} functions")
    by_crate = Counter()
    funcs = []
    for k, size in enumerate(bodies):
        name = names.get(imports + k, f"func{imports + k}")
        by_crate[crate_of(name)] += size
        funcs.append((size, name))
    print("\nby crate:")
    for c, size in by_crate.most_common(top):
        print(f"{size:>9} {100 * size / total:5.1f} %  {c}")
    print("\nlargest functions:")
    for size, name in sorted(funcs, reverse=True)[:top]:
        print(f"{size:>9}  {name[:160]}")


if __name__ == "__main__":
    main()
