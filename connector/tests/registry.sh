#!/usr/bin/env bash
# The schema registry the connector's registry tests run against, on 127.0.0.1 only.
#
#   connector/tests/registry.sh start    fetch it (Maven) if needed, start it (reuses a running
#                                        one); waits until it is ready
#   connector/tests/registry.sh stop     stop the one this checkout started
#   connector/tests/registry.sh status   "running"/"stopped"; exit code 0 when running, 3 when stopped
#   connector/tests/registry.sh env      exports for the tests: eval "$(connector/tests/registry.sh env)"
#
# It is Apicurio Registry 3.3.2, a real registry, through its Confluent-compatible API
# (/apis/ccompat/v7): the prebuilt distribution Apicurio publishes on Maven Central
# (io.apicurio:apicurio-registry-app:3.3.2:tar.gz:all), fetched by Maven with
# tests/registry/pom.xml into target/registry-app/ and unpacked there once. It needs Java 21 or
# newer: $LAMINAR_REGISTRY_JAVA, else /usr/lib/jvm/temurin-2[1-9]*/bin/java, else any
# /usr/lib/jvm/*/bin/java of version 21 or newer. Storage is Apicurio's default, an in-memory H2
# database: every start begins empty. It takes 20-40 s to start.
#
# Basic authentication is on, with test credentials (not secrets), in Apicurio itself: its own
# "basic" mechanism is switched on by quarkus.http.auth.basic=true (Apicurio reads the property
# at run time; Quarkus logs that the property is fixed at build time, which concerns only
# Quarkus's own mechanism) and checks the user against Quarkus's embedded user list
# (quarkus.security.users.embedded.*, built into the distribution). Wrong or missing credentials
# get HTTP 401. The default compatibility level is BACKWARD, Confluent's default (Apicurio's own
# is NONE).
#
# Environment (inputs): LAMINAR_REGISTRY_PORT (default 18081), LAMINAR_REGISTRY_MANAGEMENT_PORT
# (health endpoints; default LAMINAR_REGISTRY_PORT + 10), LAMINAR_REGISTRY_JAVA (a java binary),
# LAMINAR_REGISTRY_START_TIMEOUT (seconds, 180), LAMINAR_REGISTRY_HEAP (-Xmx512m).
# Layout: the app in target/registry-app/apicurio-registry-<version>/, pid and log
# (registry.log) in target/registry-run/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/connector/tests"
POM="$HERE/registry/pom.xml"
PORT=${LAMINAR_REGISTRY_PORT:-18081}
MANAGEMENT_PORT=${LAMINAR_REGISTRY_MANAGEMENT_PORT:-$((PORT + 10))}
START_TIMEOUT=${LAMINAR_REGISTRY_START_TIMEOUT:-180}
HEAP=${LAMINAR_REGISTRY_HEAP:--Xmx512m}
APP_ROOT="$ROOT/target/registry-app"
RUN_DIR="$ROOT/target/registry-run"
PID_FILE="$RUN_DIR/registry.pid"
LOG="$RUN_DIR/registry.log"
USER_NAME=laminar-key
USER_SECRET=laminar-registry-secret
URL="http://127.0.0.1:$PORT/apis/ccompat/v7"
READY_URL="http://127.0.0.1:$MANAGEMENT_PORT/health/ready"

log() { echo "registry.sh: $*" >&2; }
die() {
    log "$*"
    exit 1
}

need_curl() {
    command -v curl >/dev/null || die "curl is needed (apt-get install -y curl)"
}

# Whether the registry answers an authenticated request.
answers() {
    curl -sf -o /dev/null --max-time 2 -u "$USER_NAME:$USER_SECRET" "$URL/subjects" 2>/dev/null
}

running() {
    [[ -f $PID_FILE ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null && answers
}

# The major version of a java binary (8 for 1.8), or nothing.
java_major() {
    "$1" -version 2>&1 | sed -n 's/.*version "\(1\.\)\{0,1\}\([0-9]*\).*/\2/p' | head -1
}

# A java binary of version 21 or newer.
find_java() {
    local candidates=() j major
    if [[ -n ${LAMINAR_REGISTRY_JAVA:-} ]]; then
        major=$(java_major "$LAMINAR_REGISTRY_JAVA" || true)
        if [[ -n $major ]] && ((major >= 21)); then
            echo "$LAMINAR_REGISTRY_JAVA"
            return 0
        fi
        die "LAMINAR_REGISTRY_JAVA=$LAMINAR_REGISTRY_JAVA is not a Java 21 or newer (version: ${major:-unknown})"
    fi
    shopt -s nullglob
    candidates=(/usr/lib/jvm/temurin-2[1-9]*/bin/java /usr/lib/jvm/*/bin/java)
    shopt -u nullglob
    for j in "${candidates[@]}"; do
        [[ -x $j ]] || continue
        major=$(java_major "$j" || true)
        if [[ -n $major ]] && ((major >= 21)); then
            echo "$j"
            return 0
        fi
    done
    die "Apicurio Registry needs Java 21 or newer, and none is in /usr/lib/jvm. Install one \
(Eclipse Temurin: apt-get install temurin-21-jdk from https://packages.adoptium.net/artifactory/deb, \
or openjdk-21-jdk-headless where the distribution has it), or set LAMINAR_REGISTRY_JAVA to its bin/java"
}

apicurio_version() {
    sed -n 's:.*<apicurio.version>\(.*\)</apicurio.version>.*:\1:p' "$POM" | head -1
}

# Fetches and unpacks the distribution unless it already is; prints its directory.
fetch_app() {
    local version app archive
    version=$(apicurio_version)
    [[ -n $version ]] || die "no <apicurio.version> in $POM"
    app="$APP_ROOT/apicurio-registry-$version"
    if [[ -f $app/.complete ]]; then
        echo "$app"
        return 0
    fi
    mkdir -p "$APP_ROOT"
    exec 8>"$APP_ROOT/.lock"
    flock 8
    if [[ ! -f $app/.complete ]]; then
        command -v mvn >/dev/null || die "Maven is needed to fetch Apicurio Registry (apt-get install -y maven)"
        command -v tar >/dev/null || die "tar is needed"
        archive="$APP_ROOT/apicurio-registry-app-$version-all.tar.gz"
        log "fetching Apicurio Registry $version from Maven Central into $app"
        if ! mvn -B -q -f "$POM" -Dregistry.app.dir="$APP_ROOT" package >"$APP_ROOT/mvn.log" 2>&1; then
            tail -n 40 "$APP_ROOT/mvn.log" >&2
            die "Maven could not fetch Apicurio Registry $version (full log: $APP_ROOT/mvn.log)"
        fi
        rm -rf "$app.tmp" "$app"
        mkdir -p "$app.tmp"
        tar xzf "$archive" -C "$app.tmp" || die "could not unpack $archive"
        [[ -f $app.tmp/quarkus-run.jar ]] || die "$archive has no quarkus-run.jar"
        mv "$app.tmp" "$app"
        rm -f "$archive"
        touch "$app/.complete"
    fi
    exec 8>&-
    echo "$app"
}

case "${1:-}" in
start)
    need_curl
    if running || answers; then
        echo "registry.sh: running at $URL"
        exit 0
    fi
    java=$(find_java)
    app=$(fetch_app)
    read -ra heap <<<"$HEAP"
    mkdir -p "$RUN_DIR"
    started=$(date +%s)
    (
        cd "$app"
        exec nohup "$java" "${heap[@]}" \
            -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$PORT" \
            -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$MANAGEMENT_PORT" \
            -Dquarkus.http.auth.basic=true \
            -Dquarkus.security.users.embedded.plain-text=true \
            -Dquarkus.security.users.embedded.users."$USER_NAME"="$USER_SECRET" \
            -Dapicurio.rules.global.compatibility=BACKWARD \
            -jar quarkus-run.jar
    ) >"$LOG" 2>&1 &
    echo $! >"$PID_FILE"
    pid=$(cat "$PID_FILE")
    while (($(date +%s) - started < START_TIMEOUT)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            log "Apicurio Registry exited while starting; log ($LOG):"
            tail -n 40 "$LOG" >&2 || true
            exit 1
        fi
        if curl -sf -o /dev/null --max-time 2 "$READY_URL" 2>/dev/null && answers; then
            echo "registry.sh: Apicurio Registry $(apicurio_version) started at $URL in $(($(date +%s) - started)) s (pid $pid, $java)"
            exit 0
        fi
        sleep 1
    done
    log "Apicurio Registry was not ready at $READY_URL within $START_TIMEOUT s; log ($LOG):"
    tail -n 40 "$LOG" >&2 || true
    exit 1
    ;;
stop)
    if [[ -f $PID_FILE ]]; then
        pid=$(cat "$PID_FILE")
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 1 60); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.5
            done
            if kill -0 "$pid" 2>/dev/null; then
                kill -9 "$pid" 2>/dev/null || true
            fi
            echo "registry.sh: stopped (pid $pid)"
        fi
        rm -f "$PID_FILE"
    else
        echo "registry.sh: not started by this checkout"
    fi
    ;;
status)
    need_curl
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
