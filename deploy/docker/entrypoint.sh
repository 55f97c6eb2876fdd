#!/bin/sh
# The image's entrypoint. First argument:
#   serve [ARGS]     the HTTP API on $CODEHOOK_HOST:$CODEHOOK_PORT with $WEB_CONCURRENCY uvicorn
#                    processes (default 1: scale with replicas); runs pending migrations first
#   worker [ARGS]    an RQ worker: `codehook worker ARGS`
#   migrate          bring the database schema to the newest migration, then exit
#   healthcheck      exit 0 when this container's main process is healthy
#   anything else    passed to `codehook` (token create ..., secrets rotate-key, run ...)
# tests/deploy/test_image_venv.py runs this script against a virtualenv built like the image's.
set -eu

command=${1:-serve}
[ "$#" -gt 0 ] && shift

case "$command" in
serve)
    exec codehook serve --host "${CODEHOOK_HOST:-0.0.0.0}" --port "${CODEHOOK_PORT:-8000}" \
        --workers "${WEB_CONCURRENCY:-1}" "$@"
    ;;
worker)
    exec codehook worker "$@"
    ;;
migrate)
    # The same upgrade `codehook serve` runs at start, under the same PostgreSQL advisory lock.
    exec codehook migrate
    ;;
healthcheck)
    # PID 1 is `codehook serve` or `codehook worker` (exec above). A worker has no HTTP port: it
    # is healthy while it runs (RQ's heartbeat in Redis tells whether it is working).
    if tr '\0' ' ' </proc/1/cmdline | grep -q ' serve'; then
        exec python -c '
import os, urllib.request
port = os.environ.get("CODEHOOK_PORT", "8000")
urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=4).read()
'
    fi
    exit 0
    ;;
*)
    exec codehook "$command" "$@"
    ;;
esac
