#!/usr/bin/env bash
# Builds the static musl `laminar-kafka` binary, checks that it is statically linked, and runs a
# produce/consume round trip with it over SASL_SSL against the harness broker (started if needed).
# Installs the musl target and Debian's musl-tools (the C compiler zstd's bundled C code needs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target=x86_64-unknown-linux-musl

rustup target list --installed | grep -qx "$target" || rustup target add "$target"
if ! command -v musl-gcc >/dev/null; then
    apt-get update -qq && apt-get install -y -qq musl-tools
fi
started=$SECONDS
# What this checks is the linking and the round trip, not speed: optimization level 1 spares CI
# part of the release profile's level-3 build of a DataFusion-sized binary (over 20 minutes on
# a loaded 2-core machine). CHECK_MUSL_OPT_LEVEL changes it; `cargo build --release` is as before.
CARGO_PROFILE_RELEASE_OPT_LEVEL=${CHECK_MUSL_OPT_LEVEL:-1} \
    cargo build --release --target "$target" -p laminar-kafka-cli
bin="target/$target/release/laminar-kafka"
echo "check-musl: built $bin in $((SECONDS - started))s, $(stat -c %s "$bin") bytes"
file "$bin"
file "$bin" | grep -qE 'statically linked|static-pie linked' || { echo "check-musl: $bin is not static" >&2; exit 1; }
ldd_out=$(ldd "$bin" 2>&1 || true)
grep -qE 'statically linked|not a dynamic executable' <<<"$ldd_out" || { echo "check-musl: ldd says: $ldd_out" >&2; exit 1; }

scripts/kafka.sh start
eval "$(scripts/kafka.sh env)"
LAMINAR_KAFKA_SASL_PASSWORD=$KAFKA_SASL_PASSWORD "$bin" \
    -b "$KAFKA_BOOTSTRAP_SASL_SSL" --security-protocol SASL_SSL --sasl-mechanism SCRAM-SHA-512 \
    --sasl-username "$KAFKA_SASL_USERNAME" --ca-file "$KAFKA_CA_FILE" \
    roundtrip -n 20000 -z zstd
echo "check-musl: the static binary completed a SASL_SSL round trip"
