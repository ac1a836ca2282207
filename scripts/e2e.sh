#!/usr/bin/env bash
# Runs the Playwright suite once per backend named on the command line
# (default: sqlite postgres). Each run starts its own server on a fresh
# database (end2end/global-setup.ts). The backends run side by side (their
# lines prefixed with the backend's name; E2E_SERIAL=1 runs them one after
# the other). All backends run even if one fails; the script fails if any
# did, or if a server logged a panic, and ends with one summary line.
#
# Needs target/debug/server (from `cargo test` or `cargo leptos build`) and
# the site in target/site (`cargo leptos build --split --frontend-only`).
# Extra Playwright arguments go in PLAYWRIGHT_ARGS.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/end2end"

export CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium || echo /usr/bin/chromium)}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

backends=("$@")
[ ${#backends[@]} -eq 0 ] && backends=(sqlite postgres)

mkdir -p test-results

# One backend's run; writes "passed failed skipped panics secs rc" to
# test-results/summary-<backend>.txt.
run_backend() {
  local backend=$1
  local summary_file="$PWD/test-results/summary-$backend.txt"
  local report="$PWD/test-results/results-$backend.json"
  rm -f "$report" "$summary_file"
  if [ "$backend" = postgres ] && ! "$ROOT/scripts/ensure-postgres.sh"; then
    echo "0 1 0 0 0 1" >"$summary_file"
    return
  fi
  local start rc secs passed failed skipped panics
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
  # A panic inside a request is a bug even when every answer was right.
  local server_log="$PWD/test-results/server-$backend/server.log"
  panics=$(grep -c "panicked at" "$server_log" 2>/dev/null)
  panics=${panics:-0}
  if [ "$panics" -gt 0 ]; then
    echo "The server panicked $panics time(s) during the $backend run:"
    grep -A3 "panicked at" "$server_log" | head -40
    failed=$((failed + 1))
    rc=1
  fi
  echo "$passed $failed $skipped $panics $secs $rc" >"$summary_file"
}

if [ "${E2E_SERIAL:-}" = 1 ] || [ ${#backends[@]} -eq 1 ]; then
  for backend in "${backends[@]}"; do
    echo
    echo "=================================================================="
    echo " Playwright end-to-end tests, backend: $backend"
    echo "=================================================================="
    run_backend "$backend"
  done
else
  echo "Playwright end-to-end tests, side by side: ${backends[*]}"
  pids=()
  for backend in "${backends[@]}"; do
    ( run_backend "$backend" 2>&1 | sed -u "s/^/[$backend] /" ) &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
fi

status=0
total_passed=0
total_failed=0
total_skipped=0
echo
echo "Playwright results by backend:"
for backend in "${backends[@]}"; do
  if [ -s "test-results/summary-$backend.txt" ]; then
    read -r passed failed skipped panics secs rc <"test-results/summary-$backend.txt"
  else
    passed=0; failed=1; skipped=0; panics=0; secs=0; rc=1
  fi
  [ "$rc" -ne 0 ] && status=1
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  total_skipped=$((total_skipped + skipped))
  echo "  $backend: $passed passed, $failed failed, $skipped skipped, $panics server panics (${secs}s, exit $rc; server log end2end/test-results/server-$backend/server.log)"
done
echo "playwright: $total_passed passed, $total_failed failed, $total_skipped skipped"
exit $status
