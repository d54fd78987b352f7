#!/usr/bin/env bash
# Every benchmark, one after the other, each against its rival in the same run:
#
#   scripts/bench.sh            all of them (about an hour on a 2-core machine)
#   scripts/bench.sh --quick    shorter runs of each, for a first look (about 15 minutes)
#   scripts/bench.sh codec client   only the named ones
#
#   codec      record-batch decode and encode against kafka-protocol, bare CRC-32C and bare
#              decompression (criterion; `RECORD_BATCH_INTERLEAVED=N` for loaded machines)
#   client     our producer and consumer against librdkafka and the Java client on the broker
#              (scripts/bench-client.sh; NO_LIBRDKAFKA=1 leaves librdkafka out)
#   formats    the connector's decoders against arrow-json and apache-avro, in memory
#   operators  the source and sink operators against the bare consumer and arrow-json (broker)
#   pipeline   the reference page's SQL pipeline against Kafka Streams (scripts/bench-pipeline.sh)
#
# Starts the test broker where one is needed (scripts/kafka.sh start) and leaves it running.
# Each part prints its own table; the README's benchmark section shows the last figures.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

quick=0
parts=()
for arg in "$@"; do
    case $arg in
        --quick) quick=1 ;;
        codec | client | formats | operators | pipeline) parts+=("$arg") ;;
        -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench.sh: unknown argument \`$arg\` (codec, client, formats, operators, pipeline, --quick)" >&2; exit 2 ;;
    esac
done
[[ ${#parts[@]} -gt 0 ]] || parts=(codec client formats operators pipeline)

log() { echo "bench.sh: $*" >&2; }

broker() {
    if ! scripts/kafka.sh status >/dev/null 2>&1; then
        log "starting the broker"
        scripts/kafka.sh start >&2
    fi
    eval "$(scripts/kafka.sh env)"
}

criterion_args=()
if [[ $quick == 1 ]]; then
    criterion_args=(-- --warm-up-time 1 --measurement-time 3)
fi

for part in "${parts[@]}"; do
    log "=== $part"
    case $part in
        codec)
            cargo bench -p laminar-kafka-benches --bench record_batch "${criterion_args[@]}"
            ;;
        client)
            if [[ $quick == 1 ]]; then
                scripts/bench-client.sh --records 300000 --repetitions 1
            else
                scripts/bench-client.sh
            fi
            ;;
        formats)
            # Paired rounds (each side alternately, fastest of 300): steadier than criterion's
            # sequential groups on a shared machine.
            FORMATS_PAIRED=1 cargo bench -p laminar-kafka-connector --bench formats
            ;;
        operators)
            broker
            if [[ $quick == 1 ]]; then export OPERATORS_ROWS=100000; fi
            cargo bench -p laminar-kafka-connector --bench operators
            ;;
        pipeline)
            if [[ $quick == 1 ]]; then
                PIPELINE_RECORDS=200000 scripts/bench-pipeline.sh
            else
                scripts/bench-pipeline.sh
            fi
            ;;
    esac
done
