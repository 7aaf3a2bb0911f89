#!/usr/bin/env bash
# Build (if needed) and start an embedded FerretDB on loopback, on a throwaway PostgreSQL
# cluster (initdb in a temporary folder; the server runs as an unprivileged user when this
# runs as root). Without PostgreSQL it falls back to FerretDB's SQLite backend behind a
# proxy that runs one command at a time, and says so on stderr.
#
# Usage:
#   eval "$(bash tools/ferretdb/start.sh)"
#   ... run tests using $MONGODB_URI ...
#   bash tools/ferretdb/stop.sh
#
# stdout: only `export VAR=value` lines (MONGODB_URI, FERRETDB_PID, FERRETDB_RUN_DIR, FERRETDB_LOG,
#         FERRETDB_BIN: the launcher binary, to restart it by hand; FERRETDB_BACKEND: postgresql
#         or sqlite).
# stderr: everything else (build output, progress, logs on failure).
#
# Environment:
#   FERRETDB_PORT      port to listen on (default 27018; 0 = any free port).
#                      If unset and 27018 is busy, a free port is picked automatically.
#   FERRETDB_HOST      loopback address (default 127.0.0.1)
#   FERRETDB_BIN_DIR   where launcher binaries are cached (default ~/.cache/clinic-sms-ferretdb),
#                      one per hash of the launcher's sources (*.go, *.patch, go.mod, go.sum), so a
#                      clone with other sources never reuses a binary by file timestamps
#   FERRETDB_TIMEOUT   seconds to wait for the server (default 60)
#   FERRETDB_LOG_LEVEL launcher log level: debug|info|warn|error (default info)
#   FERRETDB_BACKEND   auto|postgresql|sqlite (default auto: postgresql when its programs are
#                      found, else sqlite with a warning). postgresql refuses to fall back.
#   FERRETDB_PG_BIN_DIR folder with initdb and postgres (default: initdb on PATH, else
#                      `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin)
#   FERRETDB_PG_USER   the unprivileged user PostgreSQL runs as when this runs as root
#                      (default postgres, else nobody)
#   FERRETDB_SERIALIZE true|false: run one command at a time (default: true on sqlite, false
#                      on postgresql; see serialize.go)
#   FERRETDB_DATA_DIR  keep the data in this folder (made if missing; reused next time; not
#                      removed by stop.sh); default: $FERRETDB_RUN_DIR/data, removed by stop.sh
#   FERRETDB_REBUILD=1 force a rebuild of the launcher
#   FERRETDB_DEBUG_ADDR loopback host:port for Go's profiles of the server (/debug/pprof/;
#                      `go tool pprof http://ADDR/debug/pprof/profile`); off when unset
set -euo pipefail

log() { printf 'ferretdb/start.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN_DIR="${FERRETDB_BIN_DIR:-${HOME:-/tmp}/.cache/clinic-sms-ferretdb}"
# The cache key: sha256 over the sources' names and contents, in a fixed order.
sources_hash() {
  (cd "$SRC_DIR" && for f in $(LC_ALL=C ls -- *.go *.patch go.mod go.sum); do
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
  # FerretDB 1.24 with ferretdb-1.24.patch applied (atomic single-document updates, and _id
  # lookups from the _id index; see the patch): the module is
  # copied from Go's module cache, patched, and used through a replace in a temporary go.mod.
  build_dir="$(mktemp -d "${TMPDIR:-/tmp}/clinic-sms-ferretdb-build.XXXXXX")"
  trap 'rm -rf -- "$build_dir"' EXIT
  ferret_dir="$(cd "$SRC_DIR" && go mod download -json github.com/FerretDB/FerretDB | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$ferret_dir" ]] || die "go mod download github.com/FerretDB/FerretDB gave no folder"
  cp -r -- "$ferret_dir" "$build_dir/ferretdb"
  chmod -R u+w -- "$build_dir/ferretdb"
  patch -s -p1 -d "$build_dir/ferretdb" <"$SRC_DIR/ferretdb-1.24.patch" >&2 || die "ferretdb-1.24.patch does not apply"
  cp -- "$SRC_DIR/go.mod" "$SRC_DIR/go.sum" "$build_dir/"
  printf '\nreplace github.com/FerretDB/FerretDB => %s\n' "$build_dir/ferretdb" >>"$build_dir/go.mod"
  if ! (cd "$SRC_DIR" && go build -modfile "$build_dir/go.mod" -buildvcs=false -trimpath \
          -ldflags='-s -w' -o "$tmp_bin" .) >&2; then
    rm -f "$tmp_bin"
    die "go build failed"
  fi
  rm -rf -- "$build_dir"
  trap - EXIT
  mv -f "$tmp_bin" "$BIN" # atomic replace, safe if two builds race
  log "built in $((SECONDS - start_ts))s"
fi

# ---- pick the backend -----------------------------------------------------------
find_pg_bin_dir() {
  local d
  if [[ -n "${FERRETDB_PG_BIN_DIR:-}" ]]; then
    printf '%s\n' "$FERRETDB_PG_BIN_DIR"
    return
  fi
  if d="$(command -v initdb 2>/dev/null)"; then
    dirname "$(readlink -f "$d")" # /usr/local/bin/initdb may link into /usr/lib/postgresql/N/bin
    return
  fi
  if d="$(pg_config --bindir 2>/dev/null)" && [[ -x "$d/initdb" ]]; then
    printf '%s\n' "$d"
    return
  fi
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  if [[ -n "$d" && -x "$d/initdb" ]]; then
    printf '%s\n' "$d"
  fi
}

BACKEND="${FERRETDB_BACKEND:-auto}"
PG_BIN_DIR=""
case "$BACKEND" in
  auto | postgresql)
    PG_BIN_DIR="$(find_pg_bin_dir)"
    if [[ -n "$PG_BIN_DIR" && -x "$PG_BIN_DIR/initdb" && -x "$PG_BIN_DIR/postgres" ]]; then
      BACKEND=postgresql
    elif [[ "$BACKEND" == postgresql ]]; then
      die "FERRETDB_BACKEND=postgresql but PostgreSQL's initdb/postgres were not found (install Debian's postgresql package, or set FERRETDB_PG_BIN_DIR)"
    else
      BACKEND=sqlite
      log "WARNING: PostgreSQL not found (no initdb on PATH, from pg_config or in /usr/lib/postgresql/*/bin):"
      log "WARNING: falling back to FerretDB's SQLite backend, ONE COMMAND AT A TIME (slow; no concurrency)."
      log "WARNING: install Debian's postgresql package (apt-get install -y postgresql) for the real test database."
    fi
    ;;
  sqlite) ;;
  *) die "FERRETDB_BACKEND must be auto, postgresql or sqlite (got '$BACKEND')" ;;
esac
if [[ "$BACKEND" == sqlite ]]; then
  SERIALIZE="${FERRETDB_SERIALIZE:-true}"
else
  SERIALIZE="${FERRETDB_SERIALIZE:-false}"
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
DATA_DIR="${FERRETDB_DATA_DIR:-$RUN_DIR/data}"
LOG_FILE="$RUN_DIR/ferretdb.log"
: >"$LOG_FILE"
mkdir -p "$DATA_DIR"
# PostgreSQL runs as an unprivileged user when we are root: it must reach $DATA_DIR
# (traverse, not list) inside this mktemp folder (0700).
chmod 0711 "$RUN_DIR"

launch=("$BIN" -listen "$HOST:$PORT" -dir "$DATA_DIR" -log-level "$LOG_LEVEL"
        -backend "$BACKEND" -serialize="$SERIALIZE" -start-timeout "${TIMEOUT}s")
[[ -n "${FERRETDB_DEBUG_ADDR:-}" ]] && launch+=(-debug-addr "$FERRETDB_DEBUG_ADDR")
if [[ "$BACKEND" == postgresql ]]; then
  launch+=(-pg-bin-dir "$PG_BIN_DIR")
  [[ -n "${FERRETDB_PG_USER:-}" ]] && launch+=(-pg-user "$FERRETDB_PG_USER")
fi
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

log "FerretDB ready at $URI (backend $BACKEND, pid $PID, log $LOG_FILE)"

printf 'export MONGODB_URI=%q\n' "$URI"
printf 'export FERRETDB_PID=%q\n' "$PID"
printf 'export FERRETDB_RUN_DIR=%q\n' "$RUN_DIR"
printf 'export FERRETDB_LOG=%q\n' "$LOG_FILE"
printf 'export FERRETDB_BIN=%q\n' "$BIN"
printf 'export FERRETDB_BACKEND=%q\n' "$BACKEND"
