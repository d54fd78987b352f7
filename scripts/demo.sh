#!/usr/bin/env bash
# The SQL demo: the connector reference page's "Event Stream Processing" script, run as written
# by `laminar-kafka run` against the local broker of scripts/kafka.sh (started if none runs).
# Writes a few events to `raw_events`, runs the pipeline for a few seconds, stops it with SIGTERM
# (it commits and exits), and prints `processed_events` as a read_committed consumer sees it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/kafka.sh start
eval "$(scripts/kafka.sh env)"
cargo build -q --release -p laminar-kafka-cli
bin=target/release/laminar-kafka
for topic in raw_events processed_events; do
    "$bin" -b "$KAFKA_BOOTSTRAP" topics create "$topic" -p 3 2>/dev/null || true
done
"$bin" -b "$KAFKA_BOOTSTRAP" produce -t raw_events <<'EVENTS'
{"event_id": 1, "user_id": "ann", "event_type": "purchase_book", "payload": {"score": 4.5}, "timestamp": "2024-05-01T10:00:00Z"}
{"event_id": 2, "user_id": "bob", "event_type": "view_home", "payload": {"score": 1}, "timestamp": "2024-05-01T10:00:01Z"}
{"event_id": 3, "user_id": "cat", "event_type": null, "payload": {}, "timestamp": "2024-05-01T10:00:02Z"}
{"event_id": 4, "user_id": "dan", "event_type": "login", "payload": {"score": "7"}, "timestamp": "2024-05-01T10:00:03Z"}
EVENTS
echo "demo: running examples/sql/event_processing.sql for 5 s"
"$bin" run examples/sql/event_processing.sql --set "bootstrap_servers=$KAFKA_BOOTSTRAP" --progress &
runner=$!
sleep 5
kill -TERM "$runner"
wait "$runner"
echo "demo: processed_events (key, value), read_committed:"
"$bin" -b "$KAFKA_BOOTSTRAP" -X isolation.level=read_committed consume -t processed_events \
    --idle-timeout-ms 2000 -f kv
