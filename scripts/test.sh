#!/usr/bin/env bash
# The whole test suite: formatting, lints, then every test of the workspace (unit tests, the fuzz
# corpora, doctests and the broker tests) against the harness broker of scripts/kafka.sh.
# Installs what is missing, starts the broker if none runs and stops it again at the end.
# Exits non-zero if any check fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }
started_at=$SECONDS
# A one-off build of the whole workspace gains nothing from incremental caches, which would
# double the size of target/.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

step "tools"
# kcat (from Debian) and the Kafka jars (from Maven Central) are installed by scripts/kafka.sh start.
if ! cargo fmt --version >/dev/null 2>&1; then
    rustup component add rustfmt
fi
if ! cargo clippy --version >/dev/null 2>&1; then
    rustup component add clippy
fi
cargo --version
df -h . | tail -1 | awk '{print "disk: " $4 " free of " $2}'
java -version 2>&1 | sed -n 1p

step "broker"
we_started_broker=0
if ! scripts/kafka.sh status; then
    we_started_broker=1
fi
we_started_registry=0
if ! connector/tests/registry.sh status >/dev/null 2>&1; then
    we_started_registry=1
fi
stop_broker() {
    if ((we_started_registry)); then
        connector/tests/registry.sh stop || true
    fi
    if ((we_started_broker)); then
        scripts/kafka.sh stop || true
    fi
}
trap stop_broker EXIT
scripts/kafka.sh start
eval "$(scripts/kafka.sh env)"
step "schema registry"
connector/tests/registry.sh start
eval "$(connector/tests/registry.sh env)"
kcat -V | sed -n 1p
echo "Kafka $KAFKA_VERSION at $KAFKA_BOOTSTRAP (SASL_PLAINTEXT $KAFKA_BOOTSTRAP_SASL_PLAINTEXT, SSL $KAFKA_BOOTSTRAP_SSL, SASL_SSL $KAFKA_BOOTSTRAP_SASL_SSL)"

# Every check runs even when an earlier one failed, so one run shows all that is wrong.
failed=()
check() {
    step "$*"
    if ! "$@"; then
        failed+=("$*")
    fi
}
check cargo fmt --all -- --check
check cargo clippy --workspace --all-targets -- -D warnings
check cargo test --workspace --no-fail-fast
# The default build's dependency policy, and the static musl binary working against the broker.
check scripts/check-deps.sh
check scripts/check-features.sh
check scripts/check-musl.sh
# The crates as a project that depends on them gets them: a fresh lockfile, each feature alone,
# a round trip; and as they would be published, with their docs.
check scripts/check-embedder.sh
check scripts/check-package.sh
check scripts/check-msrv.sh

# The multi-broker suite (tests/tests/multi_broker.rs): a 3-broker cluster beside the single
# broker, on ports of its own; brokers are killed and restarted under the client. Started here if
# none runs, and stopped again.
multi_broker_suite() (
    local started=0 began=$SECONDS
    if ! scripts/kafka.sh status --brokers 3 >/dev/null; then
        started=1
    fi
    trap 'if ((started)); then scripts/kafka.sh stop --brokers 3 || true; fi' EXIT
    scripts/kafka.sh start --brokers 3 || return 1
    eval "$(scripts/kafka.sh env --brokers 3)" || return 1
    echo "3-broker cluster at $KAFKA_CLUSTER_BOOTSTRAP ($KAFKA_CLUSTER_RACKS)"
    # --workspace with the feature named by package: the same feature set as the builds above,
    # so only the tests crate is built again.
    local only=(--workspace --features laminar-kafka-tests/multi-broker --test multi_broker)
    cargo clippy "${only[@]}" -- -D warnings || return 1
    timeout 600 cargo test "${only[@]}" -- --nocapture || return 1
    echo "multi-broker suite: $((SECONDS - began))s"
)
check multi_broker_suite

# The broker suite again, against the previous Kafka line (3.9.x, KAFKA_PREVIOUS_VERSION): a
# broker of that version on ports of its own (KAFKA_PREVIOUS_PORT and the eight after it; by
# default the default broker's plus 400), beside the default broker and the cluster, which keep
# running. What works on 3.9 passes there too; a test of a Kafka 4 feature asks the broker's
# ApiVersions and asserts the typed refusal instead. `--workspace` and the test targets by name:
# the feature set of the main run, so nothing is compiled again; the build is reused.
previous_line_suite() (
    local started=0 began=$SECONDS base name
    base=${KAFKA_PREVIOUS_PORT:-$((${KAFKA_PLAINTEXT_PORT:-19092} + 400))}
    export KAFKA_VERSION=${KAFKA_PREVIOUS_VERSION:-3.9.2}
    export KAFKA_PLAINTEXT_PORT=$base KAFKA_SASL_PLAINTEXT_PORT=$((base + 1)) \
        KAFKA_SSL_PORT=$((base + 2)) KAFKA_SASL_SSL_PORT=$((base + 3)) \
        KAFKA_CONTROLLER_PORT=$((base + 4)) KAFKA_REAUTH_PORT=$((base + 5)) \
        KAFKA_PROXIED_PORT=$((base + 6)) KAFKA_PROXY_PORT=$((base + 7)) KAFKA_OAUTH_PORT=$((base + 8))
    if ! scripts/kafka.sh status >/dev/null; then
        started=1
    fi
    trap 'if ((started)); then scripts/kafka.sh stop || true; fi' EXIT
    scripts/kafka.sh start || return 1
    eval "$(scripts/kafka.sh env)" || return 1
    echo "Kafka $KAFKA_VERSION at $KAFKA_BOOTSTRAP"
    local -a only=(--workspace)
    for name in tests/tests/*.rs; do
        name=$(basename "$name" .rs)
        [[ $name == multi_broker ]] && continue
        only+=(--test "$name")
    done
    timeout 720 cargo test "${only[@]}" --no-fail-fast || return 1
    echo "Kafka $KAFKA_VERSION suite: $((SECONDS - began))s"
)
check previous_line_suite

echo "target/: $(du -sh target 2>/dev/null | cut -f1)"
if ((${#failed[@]})); then
    step "FAILED after $((SECONDS - started_at))s:"
    printf '    %s\n' "${failed[@]}"
    exit 1
fi
step "all checks passed in $((SECONDS - started_at))s"
