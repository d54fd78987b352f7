#!/usr/bin/env bash
# Plays a project that embeds laminar-kafka: a throwaway crate outside the workspace (generated
# here, never kept in the tree) depends on the protocol, client and connector crates by path,
# with a lockfile of its own resolved fresh at the newest compatible versions and none of the
# workspace's settings. Checks that
#   - it gets the bounded message decoder (laminar-kafka-messages), never upstream kafka-protocol;
#   - it builds with default features, and with no default features plus each feature alone;
#   - a produce/consume round trip works against the harness broker (started if needed).
# Exits non-zero on the first failure. CARGO_TARGET_DIR defaults to target/embedder.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { echo "check-embedder: $*"; }
fail() { echo "check-embedder: FAILED: $*" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
crate="$work/embedder"
mkdir -p "$crate/src"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/embedder}

# Every feature of the three library crates, as `crate/feature`: `--no-default-features
# --features crate/feature` builds exactly that feature of that crate.
features=$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
crates = ["laminar-kafka-protocol", "laminar-kafka-client", "laminar-kafka-connector"]
for p in json.load(sys.stdin)["packages"]:
    if p["name"] in crates:
        for f in sorted(p["features"]):
            if f != "default":
                print(p["name"] + "/" + f)
')

{
    cat <<EOF
[package]
name = "embedder"
version = "0.0.0"
edition = "2021"
publish = false

# A workspace of its own: nothing of laminar-kafka's workspace (no [patch], no lockfile) applies.
[workspace]

[dependencies]
laminar-kafka-protocol = { path = "$ROOT/protocol", default-features = false }
laminar-kafka-client = { path = "$ROOT/client", default-features = false }
laminar-kafka-connector = { path = "$ROOT/connector", default-features = false }
tokio = { version = "1", features = ["rt-multi-thread", "macros"] }

[features]
default = ["laminar-kafka-protocol/default", "laminar-kafka-client/default", "laminar-kafka-connector/default"]
EOF
} >"$crate/Cargo.toml"

cat >"$crate/src/main.rs" <<'EOF'
//! Produces records and reads them back through the published API, as an embedder would.
use std::time::{Duration, Instant};

use laminar_kafka_client::admin::{Admin, NewTopic};
use laminar_kafka_client::config::ClientConfig;
use laminar_kafka_client::consumer::{Consumer, SeekTo};
use laminar_kafka_client::producer::{Producer, ProducerRecord};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP")
        .map_err(|_| "KAFKA_BOOTSTRAP is not set: eval \"$(scripts/kafka.sh env)\"")?;
    let config = || ClientConfig::from_properties([("bootstrap.servers", bootstrap.as_str())]);
    let topic = format!("embedder-{}", std::process::id());
    Admin::new(config()?)?
        .create_topics(&[NewTopic::new(&topic, 1, 1)])
        .await?;
    let producer = Producer::new(config()?)?;
    let mut deliveries = Vec::new();
    for i in 0..1000 {
        deliveries.push(producer.send(ProducerRecord::new(&topic, format!("r-{i}"))).await?);
    }
    for d in deliveries {
        d.await?;
    }
    producer.close().await?;
    let consumer = Consumer::new(config()?)?;
    let tp = (topic.clone(), 0);
    consumer.assign(std::slice::from_ref(&tp))?;
    consumer.seek(&tp, SeekTo::Earliest)?;
    let started = Instant::now();
    let mut next = 0;
    while next < 1000 {
        if started.elapsed() > Duration::from_secs(60) {
            return Err(format!("read {next} of 1000 records in 60 s").into());
        }
        for r in consumer.poll(Duration::from_millis(500)).await?.iter() {
            let r = r?;
            let expected = format!("r-{next}");
            if r.value() != Some(expected.as_bytes()) {
                return Err(format!("record {next}: {:?}", r.value()).into());
            }
            next += 1;
        }
    }
    consumer.close().await;
    println!("round trip: 1000 records produced and read back in order");
    Ok(())
}
EOF

cd "$crate"
# Our crates are path dependencies here, so their warnings show (a registry's are capped): none
# may appear with the newest dependencies either.
export RUSTFLAGS="${RUSTFLAGS:-} -D warnings"
log "resolving a fresh lockfile"
cargo generate-lockfile -q
cargo tree -q -e normal --prefix none --format '{p}' | sort -u >"$work/tree.txt"
messages=$(grep -E '^laminar-kafka-messages ' "$work/tree.txt" | head -1 || true)
[[ -n $messages ]] || fail "the crates do not depend on laminar-kafka-messages"
log "message decoder: $messages"
if grep -qE '^kafka-protocol ' "$work/tree.txt"; then
    fail "upstream kafka-protocol (unbounded decoding) is in the graph: $(grep -E '^kafka-protocol ' "$work/tree.txt")"
fi
for dep in aws-sigv4 rustls tokio arrow-array; do
    log "resolved $(grep -E "^$dep " "$work/tree.txt" | head -1 || echo "$dep: not in the default build")"
done

log "building with default features"
cargo build -q
log "round trip against the broker"
if [[ -z ${KAFKA_BOOTSTRAP:-} ]]; then
    "$ROOT/scripts/kafka.sh" start
    eval "$("$ROOT/scripts/kafka.sh" env)"
fi
"$CARGO_TARGET_DIR/debug/embedder"

log "checking each feature alone"
checked=0
failed=()
for f in "" $features; do
    if cargo check -q --no-default-features ${f:+--features "$f"} 2>"$work/check.log"; then
        echo "ok      ${f:-(no features)}"
    else
        echo "FAILED  ${f:-(no features)}"
        sed 's/^/        /' "$work/check.log" | head -20
        failed+=("${f:-(no features)}")
    fi
    checked=$((checked + 1))
done
((${#failed[@]} == 0)) || fail "${#failed[@]} of $checked feature sets: ${failed[*]}"
log "all $checked feature sets build with a fresh lockfile; the round trip passed"
