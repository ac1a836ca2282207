#!/usr/bin/env bash
# Runs the Playwright suite once per backend named on the command line
# (default: sqlite postgres). Each run starts its own server on a fresh
# database (end2end/global-setup.ts). All backends run even if one fails;
# the script fails if any did, and ends with one summary line.
#
# Needs a debug build first: `cargo leptos build` (target/debug/server and
# target/site). Extra Playwright arguments go in PLAYWRIGHT_ARGS.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/end2end"

export CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium || echo /usr/bin/chromium)}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

backends=("$@")
[ ${#backends[@]} -eq 0 ] && backends=(sqlite postgres)

total_passed=0
total_failed=0
total_skipped=0
summary=()
status=0

for backend in "${backends[@]}"; do
  echo
  echo "=================================================================="
  echo " Playwright end-to-end tests, backend: $backend"
  echo "=================================================================="
  if [ "$backend" = postgres ]; then
    "$ROOT/scripts/ensure-postgres.sh" || { status=1; summary+=("$backend: PostgreSQL unavailable"); total_failed=$((total_failed + 1)); continue; }
  fi
  report="$PWD/test-results/results-$backend.json"
  mkdir -p test-results
  rm -f "$report"
  start=$(date +%s)
  ROSTER_TEST_BACKEND="$backend" PLAYWRIGHT_JSON_OUTPUT_NAME="$report" \
    npx playwright test --reporter=list,json ${PLAYWRIGHT_ARGS:-}
  rc=$?
  secs=$(( $(date +%s) - start ))
  if [ -s "$report" ]; then
    read -r passed failed skipped < <(node -e '
      const s = require(process.argv[1]).stats || {};
      console.log((s.expected||0) + (s.flaky||0), (s.unexpected||0), s.skipped||0);
    ' "$report")
  else
    passed=0; failed=1; skipped=0
  fi
  [ $rc -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
  [ $rc -ne 0 ] && status=1
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  total_skipped=$((total_skipped + skipped))
  summary+=("$backend: $passed passed, $failed failed, $skipped skipped (${secs}s, exit $rc; server log end2end/test-results/server-$backend/server.log)")
done

echo
echo "Playwright results by backend:"
for line in "${summary[@]}"; do echo "  $line"; done
echo "playwright: $total_passed passed, $total_failed failed, $total_skipped skipped"
exit $status
