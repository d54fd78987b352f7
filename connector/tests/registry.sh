#!/usr/bin/env bash
# The schema registry the connector's registry tests run against, on 127.0.0.1 only.
#
#   connector/tests/registry.sh start    start it (reuses a running one); waits until it answers
#   connector/tests/registry.sh stop     stop the one this checkout started
#   connector/tests/registry.sh status   "running"/"stopped"; exit code 0 when running, 3 when stopped
#   connector/tests/registry.sh env      exports for the tests: eval "$(connector/tests/registry.sh env)"
#
# It is tests/registry/registry.py: a Confluent-compatible registry (the API's endpoints, status
# codes and error codes; schemas in memory) on the Python standard library, so it needs only
# python3. Real registries were tried first and cannot be installed from the package registries
# this project reaches: Karapace has no distribution on PyPI, and Apicurio Registry's app jar on
# Maven Central is a Quarkus application without its runner, whose rebuild needs artifacts
# Central does not serve (3.3.3 and 2.6.13: apicurio-registry-schema-util-provider; 2.4.2:
# org.everit.json.schema, then apicurio-common-app-components-config-index-deployment).
#
# Basic authentication is on, with test credentials (not secrets).
# Environment (inputs): LAMINAR_REGISTRY_PORT (default 18081).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/connector/tests"
PORT=${LAMINAR_REGISTRY_PORT:-18081}
RUN_DIR="$ROOT/target/registry-run"
PID_FILE="$RUN_DIR/registry.pid"
LOG="$RUN_DIR/registry.log"
USER_NAME=laminar-key
USER_SECRET=laminar-registry-secret
URL="http://127.0.0.1:$PORT"

answers() {
    python3 - "$URL" "$USER_NAME" "$USER_SECRET" <<'PY' >/dev/null 2>&1
import base64, sys, urllib.request
url, user, secret = sys.argv[1:]
req = urllib.request.Request(url + "/subjects")
req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode())
urllib.request.urlopen(req, timeout=2).read()
PY
}

running() {
    [[ -f $PID_FILE ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null && answers
}

case "${1:-}" in
start)
    if running || answers; then
        echo "registry.sh: running at $URL"
        exit 0
    fi
    command -v python3 >/dev/null || { echo "registry.sh: python3 is needed" >&2; exit 1; }
    mkdir -p "$RUN_DIR"
    REGISTRY_USER=$USER_NAME REGISTRY_PASSWORD=$USER_SECRET \
        nohup python3 "$HERE/registry/registry.py" "$PORT" >"$LOG" 2>&1 &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 50); do
        if answers; then
            echo "registry.sh: started at $URL (pid $(cat "$PID_FILE"))"
            exit 0
        fi
        sleep 0.2
    done
    echo "registry.sh: did not answer at $URL within 10 s; log:" >&2
    tail -20 "$LOG" >&2 || true
    exit 1
    ;;
stop)
    if [[ -f $PID_FILE ]]; then
        pid=$(cat "$PID_FILE")
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            echo "registry.sh: stopped (pid $pid)"
        fi
        rm -f "$PID_FILE"
    else
        echo "registry.sh: not started by this checkout"
    fi
    ;;
status)
    if answers; then echo running; else echo stopped; exit 3; fi
    ;;
env)
    echo "export LAMINAR_SCHEMA_REGISTRY_URL=$URL"
    echo "export LAMINAR_SCHEMA_REGISTRY_KEY=$USER_NAME"
    echo "export LAMINAR_SCHEMA_REGISTRY_SECRET=$USER_SECRET"
    ;;
*)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
