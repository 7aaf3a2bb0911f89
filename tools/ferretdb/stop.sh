#!/usr/bin/env bash
# Stop a FerretDB launcher started by start.sh and remove its temp run dir.
#
# Usage:
#   bash tools/ferretdb/stop.sh            # uses $FERRETDB_PID and $FERRETDB_RUN_DIR
#   bash tools/ferretdb/stop.sh <pid>      # explicit pid
set -euo pipefail

log() { printf 'ferretdb/stop.sh: %s\n' "$*" >&2; }

# alive: process exists and is not a zombie (the launcher is reparented after
# start.sh exits; if nothing reaps it promptly, kill -0 alone would keep succeeding).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local st
  st="$(ps -o stat= -p "$1" 2>/dev/null || true)"
  [[ "$st" != Z* ]]
}

PID="${1:-${FERRETDB_PID:-}}"
[[ -n "$PID" ]] || { log "no pid given and FERRETDB_PID is not set"; exit 1; }
[[ "$PID" =~ ^[0-9]+$ ]] || { log "invalid pid: $PID"; exit 1; }

if alive "$PID"; then
  # Guard against pid reuse: only signal our launcher (comm is truncated to 15 chars).
  comm="$(ps -o comm= -p "$PID" 2>/dev/null || true)"
  if [[ -n "$comm" && "$comm" != ferretdb-launch* ]]; then
    log "pid $PID is '$comm', not ferretdb-launcher; not killing it"
    exit 1
  fi

  kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 1 100); do # up to ~10s for a clean shutdown
    alive "$PID" || break
    sleep 0.1
  done
  if alive "$PID"; then
    log "pid $PID did not exit after SIGTERM, sending SIGKILL"
    kill -KILL "$PID" 2>/dev/null || true
  fi
  log "stopped FerretDB (pid $PID)"
else
  log "pid $PID is not running"
fi

# Remove the run dir created by start.sh (only if it looks like one of ours).
RUN_DIR="${FERRETDB_RUN_DIR:-}"
if [[ -z "${1:-}" && -n "$RUN_DIR" && -d "$RUN_DIR" && "$(basename "$RUN_DIR")" == clinic-sms-ferretdb.* ]]; then
  if [[ "${FERRETDB_KEEP_DATA:-0}" != 1 ]]; then
    rm -rf -- "$RUN_DIR"
  fi
fi
