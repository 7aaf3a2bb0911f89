#!/usr/bin/env bash
# Build (if needed) and start an embedded FerretDB (SQLite handler) on loopback.
#
# Usage:
#   eval "$(bash tools/ferretdb/start.sh)"
#   ... run tests using $MONGODB_URI ...
#   bash tools/ferretdb/stop.sh
#
# stdout: only `export VAR=value` lines (MONGODB_URI, FERRETDB_PID, FERRETDB_RUN_DIR, FERRETDB_LOG,
#         FERRETDB_BIN: the launcher binary, to restart it by hand).
# stderr: everything else (build output, progress, logs on failure).
#
# Environment:
#   FERRETDB_PORT      port to listen on (default 27018; 0 = any free port).
#                      If unset and 27018 is busy, a free port is picked automatically.
#   FERRETDB_HOST      loopback address (default 127.0.0.1)
#   FERRETDB_BIN_DIR   where launcher binaries are cached (default ~/.cache/clinic-sms-ferretdb),
#                      one per hash of the launcher's sources (*.go, go.mod, go.sum), so a
#                      clone with other sources never reuses a binary by file timestamps
#   FERRETDB_TIMEOUT   seconds to wait for the server (default 60)
#   FERRETDB_LOG_LEVEL launcher log level: debug|info|warn|error (default info)
#   FERRETDB_SERIALIZE true|false: run one command at a time (default true; see serialize.go)
#   FERRETDB_REBUILD=1 force a rebuild of the launcher
set -euo pipefail

log() { printf 'ferretdb/start.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN_DIR="${FERRETDB_BIN_DIR:-${HOME:-/tmp}/.cache/clinic-sms-ferretdb}"
# The cache key: sha256 over the sources' names and contents, in a fixed order.
sources_hash() {
  (cd "$SRC_DIR" && for f in $(LC_ALL=C ls -- *.go go.mod go.sum); do
    printf '%s\n' "$f"
    sha256sum -- "$f" | cut -d' ' -f1
  done) | sha256sum | cut -c1-16
}
SRC_HASH="$(sources_hash)"
BIN="$BIN_DIR/ferretdb-launcher-$SRC_HASH"
HOST="${FERRETDB_HOST:-127.0.0.1}"
TIMEOUT="${FERRETDB_TIMEOUT:-60}"
LOG_LEVEL="${FERRETDB_LOG_LEVEL:-info}"

# ---- build -------------------------------------------------------------------
needs_build=0
if [[ "${FERRETDB_REBUILD:-0}" == 1 || ! -x "$BIN" ]]; then
  needs_build=1
fi

if [[ $needs_build == 1 ]]; then
  command -v go >/dev/null 2>&1 || die "'go' not found in PATH (needed to build $BIN)"
  mkdir -p "$BIN_DIR"
  log "building launcher into $BIN (first build takes ~40-60s)..."
  tmp_bin="$BIN.tmp.$$"
  start_ts=$SECONDS
  # ferretdb_no_postgresql: we only need the SQLite backend (smaller, faster build).
  if ! (cd "$SRC_DIR" && go build -buildvcs=false -trimpath -tags ferretdb_no_postgresql \
          -ldflags='-s -w' -o "$tmp_bin" .) >&2; then
    rm -f "$tmp_bin"
    die "go build failed"
  fi
  mv -f "$tmp_bin" "$BIN" # atomic replace, safe if two builds race
  log "built in $((SECONDS - start_ts))s"
fi

# ---- pick port ----------------------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

if [[ -n "${FERRETDB_PORT:-}" ]]; then
  PORT="$FERRETDB_PORT"
  if [[ "$PORT" != 0 ]] && port_busy "$PORT"; then
    die "port $HOST:$PORT is already in use (set FERRETDB_PORT to another port, or 0 for any free port)"
  fi
else
  PORT=27018
  if port_busy "$PORT"; then
    log "port $HOST:$PORT is busy, using a random free port instead"
    PORT=0
  fi
fi

# ---- start --------------------------------------------------------------------
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/clinic-sms-ferretdb.XXXXXX")"
DATA_DIR="$RUN_DIR/data"
LOG_FILE="$RUN_DIR/ferretdb.log"
: >"$LOG_FILE"
mkdir -p "$DATA_DIR"

launch=("$BIN" -listen "$HOST:$PORT" -dir "$DATA_DIR" -log-level "$LOG_LEVEL"
        -serialize="${FERRETDB_SERIALIZE:-true}")
# Own session (if setsid exists) so terminal Ctrl-C / job control does not hit it;
# stdout/stderr go to the log so `$(...)` in the caller does not wait for us.
if command -v setsid >/dev/null 2>&1; then
  setsid "${launch[@]}" >"$LOG_FILE" 2>&1 </dev/null &
else
  nohup "${launch[@]}" >"$LOG_FILE" 2>&1 </dev/null &
fi
PID=$!

fail() {
  log "ERROR: $*"
  log "---- $LOG_FILE ----"
  cat "$LOG_FILE" >&2 || true
  log "-------------------"
  kill -TERM "$PID" 2>/dev/null || true
  exit 1
}

# ---- wait until ready -----------------------------------------------------------
deadline=$((SECONDS + TIMEOUT))
URI=""
while :; do
  if ! kill -0 "$PID" 2>/dev/null; then
    fail "launcher (pid $PID) exited before becoming ready"
  fi
  if [[ -z "$URI" ]]; then
    URI="$(sed -n 's/^ready \(mongodb:\/\/.*\)$/\1/p' "$LOG_FILE" | head -n1)"
  fi
  if [[ -n "$URI" ]]; then
    hostport="${URI#mongodb://}"
    hostport="${hostport%%/*}"
    if port_busy "${hostport##*:}"; then
      break
    fi
  fi
  if ((SECONDS >= deadline)); then
    fail "timed out after ${TIMEOUT}s waiting for FerretDB to accept connections"
  fi
  sleep 0.1
done

log "FerretDB ready at $URI (pid $PID, log $LOG_FILE)"

printf 'export MONGODB_URI=%q\n' "$URI"
printf 'export FERRETDB_PID=%q\n' "$PID"
printf 'export FERRETDB_RUN_DIR=%q\n' "$RUN_DIR"
printf 'export FERRETDB_LOG=%q\n' "$LOG_FILE"
printf 'export FERRETDB_BIN=%q\n' "$BIN"
