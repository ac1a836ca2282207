#!/usr/bin/env python3
"""The "In the browser" tables of BENCHMARKS.md from bench/browser.cjs's JSON.

    python3 bench/browser_md.py browser.json USERS [--glance]

--glance prints only the rows for "Targets at a glance".
"""
import json
import sys

data = json.load(open(sys.argv[1]))
users = int(sys.argv[2])
glance = "--glance" in sys.argv
by = {r["profile"]: r for r in data["results"]}
slow, fast = by["slow"], by["unthrottled"]


def kb(n):
    return f"{n / 1000:.1f} KB"


def ms(x):
    return f"{x / 1000:.2f} s" if x >= 1000 else f"{x:.0f} ms"


def at_most(value, limit, show):
    if value <= limit:
        return f"met ({show(value)}, {100 * value / limit:.0f} % of the limit)"
    return f"**missed** by {show(value - limit)} ({show(value)} against {show(limit)})"


first_s, first_f = slow["signInFirst"], fast["signInFirst"]
rep_s, rep_f = slow["signInRepeat"], fast["signInRepeat"]
users_s, users_f = slow["usersAfterSignIn"], fast["usersAfterSignIn"]
hydrated = slow["signInSubmit"]["viaFunction"] and fast["signInSubmit"]["viaFunction"]
no_post = not (slow["signInSubmit"]["pagePost"] or fast["signInSubmit"]["pagePost"])

rows = [
    ("Sign-in page, empty cache, slow link: interactive (hydrated)", "≤ 2.5 s",
     at_most(first_s["interactive"], 2500, ms)),
    ("Sign-in page, empty cache, unthrottled: interactive (hydrated)", "≤ 300 ms",
     at_most(first_f["interactive"], 300, ms)),
    ("Sign-in page, repeat visit: JS + WASM + CSS on the wire", "≤ 10 KB",
     at_most(max(rep_s["assetBytes"], rep_f["assetBytes"]), 10000, kb)),
    ("Sign-in page, empty cache: JS + WASM + CSS on the wire (brotli)", "≤ 150 KB (issue part 4)",
     at_most(first_f["assetBytes"], 150000, kb)),
    ("Sign-in form after hydration: sent by the server function, no page post", "yes",
     "met" if hydrated and no_post else "**missed**"),
]
if glance:
    for figure, target, verdict in rows:
        print(f"| {figure} | {target} | {verdict} |")
    sys.exit(0)

print(f"Command: `bench/browser.sh sqlite://…/roster-{users}.db` (run by `make bench` on the scale bench's SQLite "
      f"database of {users:,} users; `bench/browser.cjs`). The release server (`cargo leptos build --release "
      f"--precompress`) on 127.0.0.1; {data['chromium']} (Debian's Chromium, headless) driven through the DevTools "
      f"Protocol by Playwright's CDP session. Each profile runs {data['runs']} times, each time in a fresh browser "
      "context with its cache cleared; the figures are the medians. The network is emulated with "
      "`Network.emulateNetworkConditions`: the slow link is 1.6 Mbps down, 750 kbps up and 150 ms of latency on "
      "every request; unthrottled is the loopback as it is. Bytes are `encodedDataLength` summed over the page "
      "load (compressed bodies and headers, as received). Visible is the first contentful paint (the pages are "
      "server-rendered, so the form or the table is what paints); interactive is the moment the WebAssembly has "
      "hydrated the page: its submit listener is on the sign-in `<form>`, its input handler on the Users search box. The "
      "repeat visit is a new tab in the same browser after the first visit. The Users page is opened by address "
      "right after signing in on the sign-in page (so its JS, WASM and CSS are cached).")
print()
print("| figure | slow link | unthrottled | target | verdict |")
print("|---|---:|---:|---|---|")


def line(figure, key, a, b, target="reported", verdict=""):
    fmt = kb if "ytes" in key else ms
    print(f"| {figure} | {fmt(a[key])} | {fmt(b[key])} | {target} | {verdict} |")


line("Sign-in page, empty cache: all bytes on the wire", "bytes", first_s, first_f)
line("Sign-in page, empty cache: JS + WASM + CSS on the wire", "assetBytes", first_s, first_f,
     "≤ 150 KB (issue part 4)", rows[3][2])
line("Sign-in page, empty cache: visible (first contentful paint)", "visible", first_s, first_f)
line("Sign-in page, empty cache: interactive (hydrated)", "interactive", first_s, first_f,
     "≤ 2.5 s slow, ≤ 300 ms unthrottled", f"slow: {rows[0][2]}; unthrottled: {rows[1][2]}")
line("Sign-in page, repeat visit: all bytes on the wire", "bytes", rep_s, rep_f)
line("Sign-in page, repeat visit: JS + WASM + CSS on the wire", "assetBytes", rep_s, rep_f, "≤ 10 KB", rows[2][2])
line("Sign-in page, repeat visit: visible", "visible", rep_s, rep_f)
line("Sign-in page, repeat visit: interactive", "interactive", rep_s, rep_f)
line(f"Users page right after sign-in ({users:,} users): all bytes on the wire", "bytes", users_s, users_f)
line(f"Users page right after sign-in ({users:,} users): JS + WASM + CSS on the wire", "assetBytes", users_s, users_f)
line(f"Users page right after sign-in ({users:,} users): visible", "visible", users_s, users_f)
line(f"Users page right after sign-in ({users:,} users): interactive", "interactive", users_s, users_f)
print(f"| Sign-in form after hydration: sent by the server function, no page post | "
      f"{'yes' if slow['signInSubmit']['viaFunction'] and not slow['signInSubmit']['pagePost'] else 'no'} | "
      f"{'yes' if fast['signInSubmit']['viaFunction'] and not fast['signInSubmit']['pagePost'] else 'no'} | yes | {rows[4][2]} |")
