#!/usr/bin/env bash
# The whole test suite: formatting, lints, then every test of the workspace (unit tests, the fuzz
# corpora, doctests and the broker tests) against the harness broker of scripts/kafka.sh.
# Installs what is missing, starts the broker if none runs and stops it again at the end.
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }
started_at=$SECONDS

step "tools"
# kcat (from Debian) and the Kafka jars (from Maven Central) are installed by scripts/kafka.sh start.
if ! cargo fmt --version >/dev/null 2>&1; then
    rustup component add rustfmt
fi
if ! cargo clippy --version >/dev/null 2>&1; then
    rustup component add clippy
fi
cargo --version
java -version 2>&1 | head -n 1

step "broker"
we_started_broker=0
if ! scripts/kafka.sh status; then
    we_started_broker=1
fi
stop_broker() {
    if ((we_started_broker)); then
        scripts/kafka.sh stop || true
    fi
}
trap stop_broker EXIT
scripts/kafka.sh start
eval "$(scripts/kafka.sh env)"
kcat -V | head -n 1
echo "Kafka $KAFKA_VERSION at $KAFKA_BOOTSTRAP (SASL_PLAINTEXT $KAFKA_BOOTSTRAP_SASL_PLAINTEXT, SSL $KAFKA_BOOTSTRAP_SSL, SASL_SSL $KAFKA_BOOTSTRAP_SASL_SSL)"

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace"
cargo test --workspace

step "all checks passed in $((SECONDS - started_at))s"
