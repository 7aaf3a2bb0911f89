#!/usr/bin/env bash
# `npm run db`: the database for a local production trial, in the foreground until Ctrl-C.
# FerretDB (MongoDB wire protocol) on a throwaway PostgreSQL cluster, started by start.sh
# (the same database CI and the tests use), on 127.0.0.1:27018 unless FERRETDB_PORT says
# otherwise (any free port when 27018 is taken: the URI printed is the one to use). Ctrl-C (or SIGTERM) stops it and deletes its data, unless FERRETDB_DATA_DIR
# names a folder to keep the data in between runs (the unprivileged PostgreSQL user must be
# able to reach it, e.g. under /var/tmp).
#
# stdout: the URI to give the service; stderr: start.sh's progress.
set -euo pipefail
SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exports="$(bash "$SRC_DIR/start.sh")" || exit 1
eval "$exports"
stopped=0
stop() {
  ((stopped)) && return
  stopped=1
  bash "$SRC_DIR/stop.sh" || true
}
trap stop EXIT
trap 'exit 0' INT TERM

db_uri="${MONGODB_URI%/}/clinic_sms"
cat <<MSG
Database ready: FerretDB (backend ${FERRETDB_BACKEND}) at ${MONGODB_URI}
Its log: ${FERRETDB_LOG}

In another terminal, run the service on it:
  MONGODB_URI=${db_uri} npm start

Ctrl-C here stops the database$( [[ -n "${FERRETDB_DATA_DIR:-}" ]] && printf ' (its data stays in %s)' "$FERRETDB_DATA_DIR" || printf ' and deletes its data')
MSG

# Wait for Ctrl-C, or for the launcher to end on its own.
while kill -0 "$FERRETDB_PID" 2>/dev/null && [[ "$(ps -o stat= -p "$FERRETDB_PID" 2>/dev/null)" != Z* ]]; do
  sleep 1 &
  wait $! || true
done
echo "the database stopped on its own; its log: ${FERRETDB_LOG}" >&2
exit 1
