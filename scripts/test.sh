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

echo "target/: $(du -sh target 2>/dev/null | cut -f1)"
if ((${#failed[@]})); then
    step "FAILED after $((SECONDS - started_at))s:"
    printf '    %s\n' "${failed[@]}"
    exit 1
fi
step "all checks passed in $((SECONDS - started_at))s"
