#!/usr/bin/env bash
# The "Event Stream Processing" pipeline of the reference page, end to end through Kafka: ours
# (`laminar-kafka run examples/sql/event_processing.sql`) against a Kafka Streams application doing
# the same transform (benches/pipeline/, Java), on the same broker, in the same run, with
# exactly-once (ours: 'sink.commit_mode' = 'exactly_once'; Streams: processing.guarantee =
# exactly_once_v2) and with at-least-once (ours: 'at_least_once'; Streams: at_least_once).
#
#   scripts/bench-pipeline.sh                       the full benchmark (2,000,000 records per run)
#   PIPELINE_RECORDS=200000 scripts/bench-pipeline.sh   a quick one
#
# For each guarantee and each side, one after the other (never two measured things at once):
#   1. fresh input and output topics (6 partitions each), the input pre-filled with the records
#      (JSON events of about 130 bytes, 10% with a null event_type; not measured);
#   2. the processor starts as a child of this script (directly: the measured pid is the Rust
#      process or the JVM, no shell in between), as a new consumer group / application.id;
#   3. "done" is when the processor's consumer group has committed offsets for every input record
#      (a monitor JVM, started and connected before the processor, polls the group's committed
#      offsets every 20 ms). With exactly-once those offsets commit in the same transaction as the
#      output, so done = the last output is committed; with at-least-once both sides commit
#      offsets only after the output is acknowledged;
#   4. the child's CPU time (user + system of all its threads, /proc/PID/stat) is sampled at done,
#      then it gets SIGTERM and must exit cleanly (its shutdown is not measured);
#   5. the output is read back read_committed and checked: exactly-once, every kept event exactly
#      once; at-least-once, every kept event at least once; categories, keys and scores right.
# Wall time runs from the child's start to done, so start-up (JVM start, group join, ours' SQL
# planning) is included, as is the start-up CPU. That start-up CPU is also measured separately:
# each side runs once on an empty input for PIPELINE_IDLE_SECONDS, and the table shows CPU per
# record both with and without it. The broker's CPU over each run is shown too.
#
# Prints a table: side, guarantee, records/s, CPU-µs/record (with and without start-up), broker
# CPU-µs/record; then the ratios ours/theirs (goal: ≥ 3× their records/s at ≤ 1/6 of their CPU
# per record). Records are input records (the 2,000,000), also for the rates. Exit 1 if a run
# fails, times out or its output is wrong.
#
# Environment: PIPELINE_RECORDS (2000000), PIPELINE_PARTITIONS (6), PIPELINE_TIMEOUT (seconds per
# run until done, 900), PIPELINE_IDLE_SECONDS (8; 0 skips the start-up measurement),
# PIPELINE_SIDES ("ours streams"), PIPELINE_GUARANTEES ("exactly_once at_least_once"),
# PIPELINE_BUILD (1; 0 uses the existing target/release/laminar-kafka and benches/pipeline jar),
# PIPELINE_JVM_OPTS (the Streams JVM's options; default those of Kafka's kafka-run-class.sh with
# -Xmx1G), PIPELINE_STREAMS_THREADS (Streams' num.stream.threads; unset: its default, 1),
# KAFKA_VERSION (scripts/kafka.sh's; the Streams jar is built for the same version).
# Logs, the SQL scripts and results.tsv of each run: benches/pipeline/target/runs/<time>/.
# Needs java 17 and mvn (as scripts/kafka.sh does), cargo, awk.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/benches/pipeline"
KAFKA_SH="$ROOT/scripts/kafka.sh"
BIN="$ROOT/target/release/laminar-kafka"
SQL_TEMPLATE="$ROOT/examples/sql/event_processing.sql"

RECORDS=${PIPELINE_RECORDS:-2000000}
PARTITIONS=${PIPELINE_PARTITIONS:-6}
TIMEOUT=${PIPELINE_TIMEOUT:-900}
IDLE_SECONDS=${PIPELINE_IDLE_SECONDS:-8}
SIDES=${PIPELINE_SIDES:-ours streams}
GUARANTEES=${PIPELINE_GUARANTEES:-exactly_once at_least_once}
BUILD=${PIPELINE_BUILD:-1}
# kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS, and a heap like the broker's.
read -r -a STREAMS_JVM <<<"${PIPELINE_JVM_OPTS:--Xmx1G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"
# The helpers (pre-fill, verify, delete) and the monitor are not measured.
TOOL_JVM=(-Xmx1G -XX:+UseParallelGC -Djava.awt.headless=true)
MONITOR_JVM=(-Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)

[[ $RECORDS =~ ^[1-9][0-9]*$ ]] || { echo "bench-pipeline: PIPELINE_RECORDS must be a positive number" >&2; exit 2; }

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$BENCH/target/runs/$STAMP"
RESULTS="$OUT/results.tsv"
TICK=$(getconf CLK_TCK)

log() { echo "bench-pipeline: $*" >&2; }
die() {
    log "$*"
    exit 1
}

# Processes this script started and has not reaped yet, killed by pid on exit.
CHILDREN=()
cleanup() {
    local pid
    for pid in "${CHILDREN[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_child() {
    local pid=$1 kept=() p
    for p in "${CHILDREN[@]}"; do
        [[ $p == "$pid" ]] || kept+=("$p")
    done
    CHILDREN=("${kept[@]}")
}

# CPU time of a process (all its threads, dead ones included), in clock ticks.
cpu_ticks() {
    local stat
    stat=$(<"/proc/$1/stat") || return 1
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat
    echo $((${12} + ${13}))
}

now_us() {
    local t=$EPOCHREALTIME
    echo "${t/./}"
}

# --- set-up ------------------------------------------------------------------------------------------

"$KAFKA_SH" start >&2
eval "$("$KAFKA_SH" env)"
BROKER_PID=$("$KAFKA_SH" status | sed -n 's/.*, pid \([0-9][0-9]*\),.*/\1/p')
[[ -n $BROKER_PID && -r /proc/$BROKER_PID/stat ]] || BROKER_PID=

mkdir -p "$OUT"
if [[ $BUILD == 1 ]]; then
    log "building laminar-kafka (cargo build --release -p laminar-kafka-cli)"
    (cd "$ROOT" && cargo build --release -p laminar-kafka-cli) >"$OUT/cargo.log" 2>&1 ||
        { tail -n 40 "$OUT/cargo.log" >&2; die "cargo build failed (log: $OUT/cargo.log)"; }
    log "building the Kafka Streams application (Maven, kafka-streams $KAFKA_VERSION)"
    (cd "$BENCH" && rm -rf target/lib && mvn -B -q package -Dkafka.version="$KAFKA_VERSION") >"$OUT/mvn.log" 2>&1 ||
        { tail -n 40 "$OUT/mvn.log" >&2; die "the Maven build failed (log: $OUT/mvn.log)"; }
fi
[[ " $SIDES " != *" ours "* || -x $BIN ]] || die "$BIN is missing (PIPELINE_BUILD=0 needs a built one)"
[[ -f $BENCH/target/pipeline-bench.jar ]] || die "$BENCH/target/pipeline-bench.jar is missing"
CP="$BENCH/target/pipeline-bench.jar:$BENCH/target/lib/*"

tool() { java "${TOOL_JVM[@]}" -cp "$CP" dev.laminar.bench.pipeline.Tool "$@"; }

# --- one run -----------------------------------------------------------------------------------------

# Sets CMD (the processor's command line) for side $1, guarantee $2, topics and group.
processor_command() {
    local side=$1 guarantee=$2 input=$3 output=$4 group=$5 dir=$6
    if [[ $side == ours ]]; then
        local sql="$dir/$group.sql" mode=$guarantee
        sed -e "s/'raw_events'/'$input'/; s/'processed_events'/'$output'/; s/'event_processor'/'$group'/" \
            -e "s/'exactly_once'/'$mode'/" "$SQL_TEMPLATE" >"$sql"
        grep -q "'$input'" "$sql" && grep -q "'$output'" "$sql" && grep -q "'$group'" "$sql" &&
            grep -q "'sink.commit_mode' = '$mode'" "$sql" || die "could not rewrite $SQL_TEMPLATE into $sql"
        CMD=("$BIN" run "$sql" --set "bootstrap_servers=$KAFKA_BOOTSTRAP" --progress)
    else
        local g=$guarantee
        [[ $g == exactly_once ]] && g=exactly_once_v2
        CMD=(java "${STREAMS_JVM[@]}" -cp "$CP" dev.laminar.bench.pipeline.StreamsApp
            "$KAFKA_BOOTSTRAP" "$input" "$output" "$group" "$g" "$dir/state-$group")
    fi
}

# SIGTERM, then wait up to 60 s; sets RC to the exit status.
stop_child() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        # A zombie still answers kill -0: `wait` below reaps it.
        [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
        log "pid $pid did not stop within 60 s of SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    RC=0
    wait "$pid" || RC=$?
    forget_child "$pid"
}

# The start-up cost: the processor on an empty input for IDLE_SECONDS; sets IDLE_CPU (seconds).
idle_run() {
    local side=$1 guarantee=$2 tag="pipe-$STAMP-$1-$2-idle"
    local input="$tag-in" output="$tag-out" pid ticks
    tool prefill "$KAFKA_BOOTSTRAP" "$input" "$output" "$PARTITIONS" 0 >"$OUT/$tag.prefill" 2>&1 ||
        { cat "$OUT/$tag.prefill" >&2; die "pre-fill failed"; }
    processor_command "$side" "$guarantee" "$input" "$output" "$tag" "$OUT"
    "${CMD[@]}" >"$OUT/$tag.out" 2>"$OUT/$tag.err" &
    pid=$!
    CHILDREN+=("$pid")
    sleep "$IDLE_SECONDS"
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$OUT/$tag.err" >&2; die "$side ($guarantee) exited on an empty input"; }
    ticks=$(cpu_ticks "$pid")
    stop_child "$pid"
    tool delete "$KAFKA_BOOTSTRAP" "$input" "$output" >>"$OUT/$tag.prefill" 2>&1 || true
    IDLE_CPU=$(awk -v t="$ticks" -v hz="$TICK" 'BEGIN { printf "%.3f", t / hz }')
}

# One measured run; appends a line to $RESULTS.
measured_run() {
    local side=$1 guarantee=$2 idle_cpu=$3 tag="pipe-$STAMP-$1-$2"
    local input="$tag-in" output="$tag-out" expected total kept tr br ot
    log "$side, $guarantee: pre-filling $input with $RECORDS records"
    expected=$(tool prefill "$KAFKA_BOOTSTRAP" "$input" "$output" "$PARTITIONS" "$RECORDS" 2>"$OUT/$tag.prefill.err" | grep '^EXPECTED') ||
        { cat "$OUT/$tag.prefill.err" >&2; die "pre-fill failed"; }
    read -r total kept tr br ot < <(sed 's/[a-z_]*=//g; s/^EXPECTED //' <<<"$expected")
    [[ $total == "$RECORDS" ]] || die "pre-fill wrote $total records, not $RECORDS"

    # The monitor: connected before the processor starts, then polling.
    local fifo="$OUT/$tag.monitor.fifo" mon line done_ms="" mon_fd
    mkfifo "$fifo"
    java "${MONITOR_JVM[@]}" -cp "$CP" dev.laminar.bench.pipeline.Tool monitor \
        "$KAFKA_BOOTSTRAP" "$tag" "$input" "$RECORDS" "$TIMEOUT" >"$fifo" 2>"$OUT/$tag.monitor.err" &
    mon=$!
    CHILDREN+=("$mon")
    exec {mon_fd}<"$fifo"
    read -r -t 60 -u "$mon_fd" line && [[ $line == READY ]] ||
        { cat "$OUT/$tag.monitor.err" >&2; die "the monitor did not start"; }

    processor_command "$side" "$guarantee" "$input" "$output" "$tag" "$OUT"
    local broker0=0 broker1=0 t0 pid ticks status=ok
    [[ -n $BROKER_PID ]] && broker0=$(cpu_ticks "$BROKER_PID")
    log "$side, $guarantee: running ${CMD[0]##*/} until $RECORDS input offsets are committed"
    t0=$(now_us)
    "${CMD[@]}" >"$OUT/$tag.out" 2>"$OUT/$tag.err" &
    pid=$!
    CHILDREN+=("$pid")
    while true; do
        if read -r -t 1 -u "$mon_fd" line; then
            case $line in
                DONE\ *) done_ms=${line#DONE }; break ;;
                TIMEOUT*) status="timeout ($line)"; break ;;
            esac
        elif (($? <= 128)); then
            status="the monitor failed"
            break
        fi
        if ! kill -0 "$pid" 2>/dev/null || [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]]; then
            status="the processor exited before done"
            break
        fi
    done
    ticks=$(cpu_ticks "$pid" || echo 0)
    [[ -n $BROKER_PID ]] && broker1=$(cpu_ticks "$BROKER_PID")
    exec {mon_fd}<&-
    rm -f "$fifo"
    kill -TERM "$mon" 2>/dev/null || true
    wait "$mon" 2>/dev/null || true
    forget_child "$mon"
    stop_child "$pid"
    local stop_rc=$RC
    if [[ $status != ok ]]; then
        tail -n 30 "$OUT/$tag.err" >&2
        die "$side, $guarantee: $status (logs: $OUT/$tag.*)"
    fi
    # Ours exits 0 after SIGTERM; the JVM exits 143 (SIGTERM) after its shutdown hook.
    if ! { ((stop_rc == 0)) || [[ $side == streams && $stop_rc == 143 ]]; }; then
        tail -n 30 "$OUT/$tag.err" >&2
        die "$side, $guarantee: the processor exited with $stop_rc after SIGTERM (logs: $OUT/$tag.*)"
    fi

    local mode=at-least verdict
    [[ $guarantee == exactly_once ]] && mode=exact
    verdict=$(tool verify "$KAFKA_BOOTSTRAP" "$output" "$RECORDS" "$kept" "$tr" "$br" "$ot" "$mode" 2>"$OUT/$tag.verify.err") ||
        { echo "$verdict" >&2; tail -n 20 "$OUT/$tag.verify.err" >&2; die "$side, $guarantee: wrong output (topic $output kept)"; }
    echo "$verdict" >"$OUT/$tag.verify"
    log "$side, $guarantee: $verdict"
    local out_records
    out_records=$(sed -n 's/.* records=\([0-9]*\) .*/\1/p' <<<"$verdict")
    tool delete "$KAFKA_BOOTSTRAP" "$input" "$output" 2>>"$OUT/$tag.verify.err" || log "could not delete $input, $output"

    awk -v side="$side" -v g="$guarantee" -v n="$RECORDS" -v out="$out_records" -v t0="$t0" -v done="$done_ms" \
        -v ticks="$ticks" -v hz="$TICK" -v idle="$idle_cpu" -v b="$((broker1 - broker0))" -v hasb="${BROKER_PID:+1}" '
        BEGIN {
            wall = done / 1000 - t0 / 1e6
            cpu = ticks / hz
            printf "%s\t%s\t%d\t%d\t%.3f\t%.0f\t%.3f\t%.2f\t%s\t%s\t%s\n", side, g, n, out, wall, n / wall, cpu,
                cpu * 1e6 / n, idle == "" ? "-" : idle, idle == "" ? "-" : sprintf("%.2f", (cpu - idle) * 1e6 / n),
                hasb ? sprintf("%.2f", b / hz * 1e6 / n) : "-"
        }' >>"$RESULTS"
    tail -n 1 "$RESULTS" | awk -F'\t' '{ printf "bench-pipeline: %s, %s: %.2f s, %s records/s, %.2f CPU-s, %s CPU-µs/record\n", $1, $2, $5, $6, $7, $8 }' >&2
}

# --- the benchmark -----------------------------------------------------------------------------------

printf 'side\tguarantee\trecords\toutput_records\twall_s\trecords_per_s\tcpu_s\tcpu_us_per_record\tstartup_cpu_s\tcpu_us_per_record_excl_startup\tbroker_cpu_us_per_record\n' >"$RESULTS"
log "$RECORDS records, $PARTITIONS partitions, Kafka $KAFKA_VERSION at $KAFKA_BOOTSTRAP; output in $OUT"
for guarantee in $GUARANTEES; do
    [[ $guarantee == exactly_once || $guarantee == at_least_once ]] || die "unknown guarantee $guarantee"
    for side in $SIDES; do
        [[ $side == ours || $side == streams ]] || die "unknown side $side"
        IDLE_CPU=""
        if ((IDLE_SECONDS > 0)); then
            idle_run "$side" "$guarantee"
            log "$side, $guarantee: start-up CPU ${IDLE_CPU} s (${IDLE_SECONDS} s on an empty input)"
        fi
        measured_run "$side" "$guarantee" "$IDLE_CPU"
    done
done

# --- the table ---------------------------------------------------------------------------------------

{
echo
echo "Event Stream Processing pipeline, $RECORDS input records ($PARTITIONS partitions), Kafka $KAFKA_VERSION, $(nproc) CPUs"
awk -F'\t' '
    NR == 1 { next }
    { rows[NR] = $0 }
    END {
        printf "%-8s %-14s %11s %9s %12s %11s %13s %13s %13s\n", "side", "guarantee", "output", "wall s",
            "records/s", "CPU s", "CPU-µs/rec", "excl start", "broker µs/rec"
        for (i = 2; i <= NR; i++) {
            split(rows[i], f, "\t")
            printf "%-8s %-14s %11d %9.2f %12d %11.2f %13.2f %13s %13s\n", f[1], f[2], f[4], f[5], f[6], f[7], f[8], f[10], f[11]
            rate[f[1], f[2]] = f[6]; cpu[f[1], f[2]] = f[8]; ex[f[1], f[2]] = f[10]; seen[f[2]] = 1
        }
        print ""
        for (g in seen) {
            if ((("ours", g) in rate) && (("streams", g) in rate)) {
                r = rate["ours", g] / rate["streams", g]
                c = cpu["ours", g] / cpu["streams", g]
                printf "%-14s ours/theirs: records/s %.2f× (goal ≥ 3×: %s), CPU per record %.3f = 1/%.1f (goal ≤ 1/6: %s)\n",
                    g, r, (r >= 3 ? "met" : "not met"), c, 1 / c, (c <= 1 / 6 ? "met" : "not met")
                if (ex["ours", g] != "-" && ex["streams", g] != "-" && ex["ours", g] > 0 && ex["streams", g] > 0) {
                    e = ex["ours", g] / ex["streams", g]
                    printf "%-14s ours/theirs: CPU per record without start-up %.3f = 1/%.1f\n", g, e, 1 / e
                }
            }
        }
    }' "$RESULTS"
echo "CPU = user+sys of the processor process from its start to done (start-up included); \"excl start\" subtracts"
echo "its CPU over ${IDLE_SECONDS} s on an empty input. Wall = start to the last input offset committed. Results: $RESULTS"
} | tee "$OUT/table.txt"
