#!/usr/bin/env bash
# The main job: a produce and consume round trip with laminar-kafka against the local broker of
# scripts/kafka.sh (started if none runs, and left running). Arguments go to the command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/kafka.sh start
eval "$(scripts/kafka.sh env)"
exec cargo run -p laminar-kafka-cli --release -- roundtrip "$@"
