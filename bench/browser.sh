#!/usr/bin/env bash
# "In the browser": start the release server (target/release/server, copied
# alone into an empty directory: it carries the site `cargo leptos build
# --release --precompress` built) on the given database, drive Debian's Chromium against it (bench/browser.cjs),
# and print the measurements as JSON on stdout.
#
#   bench/browser.sh DATABASE_URL [EMAIL PASSWORD]
#
# The database must hold a Global administrator with that email and password
# (the scale bench's: admin@example.com). Needs end2end/node_modules
# (Playwright) and /usr/bin/chromium: `make tools` installs both.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
url="${1:?usage: bench/browser.sh DATABASE_URL [EMAIL PASSWORD]}"
email="${2:-admin@example.com}"
password="${3:-correct horse battery staple}"
target="${CARGO_TARGET_DIR:-$PWD/target}"

# The server's log: kept where the caller says (bench/run.sh counts its panics).
log="${ROSTER_BENCH_SERVER_LOG:-$(mktemp)}"
# The binary alone, copied into an empty directory and run there without
# site_root, as it ships: it serves the site it carries (server/src/site.rs).
alone=$(mktemp -d)
cp "${ROSTER_SERVER_BIN:-$target/release/server}" "$alone/server"
# PostgreSQL needs an encryption key (SQLite makes its own file): the fixed
# test key the scale bench seeded with (TEST_KEY in server/tests/api/helpers.rs).
key_env=()
case "$url" in postgres*) key_env=(ROSTER_ENCRYPTION_KEY="${ROSTER_ENCRYPTION_KEY:-dGVzdCBrZXkgZm9yIHJvc3RlcidzIHRlc3RzIG9ubHk=}") ;; esac
(cd "$alone" && exec env "${key_env[@]}" ROSTER_DATABASE_URL="$url" ROSTER_LISTEN=127.0.0.1:0 ROSTER_LOG=warn \
  ./server >"$log" 2>&1) &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$alone"; [ -n "${ROSTER_BENCH_SERVER_LOG:-}" ] || rm -f "$log"' EXIT
base=""
for _ in $(seq 1 600); do
  base=$(sed -n 's/^Roster listening on //p' "$log" | head -n1)
  [ -n "$base" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$base" ] || { echo "the server did not start" >&2; cat "$log" >&2; exit 1; }
echo "[browser] release server on $base ($url)" >&2
node bench/browser.cjs "$base" "$email" "$password"
