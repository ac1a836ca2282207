#!/usr/bin/env bash
# Makes sure the local PostgreSQL (127.0.0.1:5432, trust auth) answers; starts
# the machine's cluster if it has stopped. Machines of this project's kind
# start it before a session, so this is normally a no-op.
set -euo pipefail

HOST="${ROSTER_TEST_PG_HOST:-127.0.0.1}"
PORT="${ROSTER_TEST_PG_PORT:-5432}"

if pg_isready -q -h "$HOST" -p "$PORT"; then
  echo "[postgres] ready on $HOST:$PORT"
  exit 0
fi

echo "[postgres] not answering on $HOST:$PORT; starting the local cluster"
for version in $(ls /etc/postgresql 2>/dev/null); do
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
done
for _ in $(seq 1 30); do
  if pg_isready -q -h "$HOST" -p "$PORT"; then
    echo "[postgres] ready on $HOST:$PORT"
    exit 0
  fi
  sleep 1
done
echo "[postgres] PostgreSQL is not reachable on $HOST:$PORT" >&2
exit 1
