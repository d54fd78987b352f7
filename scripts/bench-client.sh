#!/usr/bin/env bash
# Producer/consumer benchmark of laminar-kafka-client against librdkafka (the `rdkafka` crate with
# the newest librdkafka, built from the sources it bundles) and the Java client (Kafka's
# ProducerPerformance/ConsumerPerformance), on the harness broker.
#
#   scripts/bench-client.sh [HARNESS OPTIONS...]
#
# Starts the broker if needed (scripts/kafka.sh start), installs cmake from Debian when it is
# missing, builds the harness in release mode with the `rival-librdkafka` feature and runs
#   laminar-kafka-client-bench run [HARNESS OPTIONS...]
# Defaults: 2,000,000 records of 100 bytes, 6 partitions, acks=all, lz4 and none, 3 repetitions;
# see `--help` of the harness for the options (e.g. --records 200000 --repetitions 1 for a quick
# look, --clients ours,java, --codecs lz4). The table goes to stdout, per-run lines to stderr, the
# results to target/bench-client.json (--json PATH to change).
#
# Environment: NO_LIBRDKAFKA=1 builds without librdkafka (ours and Java only); KAFKA_* as for
# scripts/kafka.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { echo "bench-client.sh: $*" >&2; }

features=()
if [[ ${NO_LIBRDKAFKA:-0} != 1 ]]; then
    # The rdkafka crate builds its bundled librdkafka (the newest release) with cmake; that
    # build wants libcurl's headers.
    if ! command -v cmake >/dev/null || ! command -v cc >/dev/null || ! pkg-config --exists libcurl 2>/dev/null; then
        log "installing cmake, a C compiler and libcurl's headers from Debian"
        if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq cmake build-essential pkg-config libcurl4-openssl-dev >&2
    fi
    features=(--features rival-librdkafka)
fi

if ! scripts/kafka.sh status >/dev/null 2>&1; then
    log "starting the broker"
    scripts/kafka.sh start >&2
fi
eval "$(scripts/kafka.sh env)"

log "building the harness (release)"
cargo build --release -p laminar-kafka-client-bench "${features[@]}" >&2

exec "${CARGO_TARGET_DIR:-$ROOT/target}/release/laminar-kafka-client-bench" run "$@"
