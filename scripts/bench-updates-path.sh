#!/usr/bin/env bash
# Issue 21, item 2: the updates path as quorum queues, streams and classic queues, side by
# side in one script run, each against the plain C loop over librabbitmq on the same queue
# type, with the cores shared (how most people first run it) and with the broker pinned to
# core 0 and every fedq process to the others.
#
# Each cell: `fedq loadtest --codec int8 --updates N` (200 KB updates), then `fedq bench
# amqp` moving N messages of 200 KB through one queue of the same type with the C loop; both
# keep 64 publishes unconfirmed. Quorum and classic: one queue, 2 workers competing on it.
# Stream: one stream, read by the one worker holding its claim (the same one queue as the C
# loop); "stream x2": two stream shards and 2 workers, one each (the deployment a stream
# path would run, against the same one-stream C loop, so its ratio is not the pipeline's
# cost alone). RUNS rounds, the cells interleaved in each, so that the machine's drift
# weighs on all alike. A C loop that fails to declare its queue (a busy node's quorum
# leader election can time out: `cluster_not_formed`) is tried again, up to 3 times.
# The C loop's queues are purged between runs and kept (`--keep-queues`): deleting a quorum
# queue can crash RabbitMQ 3.10's segment writer, and the node's write-ahead log with it,
# during the next cell. The load test still replaces the update queues when a cell changes
# their type (a queue's type cannot change under its name), which can do the same.
#   scripts/bench-updates-path.sh [RUNS (default 3)] [UPDATES per cell (default 6000)]
# Prints a row per cell, then per type and pinning the median pipeline / C loop.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/loadtest-bench.sh
runs="${1:-3}"
updates="${2:-6000}"
port="${FEDQ_BENCH_BROKER_PORT:-5692}"
out="runs/bench-updates-path"
fedq_fresh_bench_node "$port" "$out"
broker_pid="$(scripts/broker.sh pid "$port")"
cores="$(nproc)"

# cell TYPE PINNING RUN: one load test and one C loop; prints the row, appends the ratio.
cell() {
    local label="$1" pinning="$2" run="$3" json="$out/$1-$2-$3.json" type="$1" shards=1 workers=2 wrap=()
    case "$label" in
    stream) workers=1 ;;
    stream-x2) type=stream shards=2 ;;
    esac
    if [[ "$pinning" == pinned ]]; then
        taskset -a -cp 0 "$broker_pid" >/dev/null
        wrap=(taskset -c "1-$((cores - 1))")
    else
        taskset -a -cp "0-$((cores - 1))" "$broker_pid" >/dev/null
    fi
    "${wrap[@]}" "$fedq" loadtest --broker "$broker" --broker-pid "$broker_pid" --codec int8 --workers "$workers" \
        --updates-queue "$type" --update-shards "$shards" --updates "$updates" --in-flight 32 \
        --json "$json" --out "$out/run" > "$out/last.log" 2>&1 || { cat "$out/last.log"; exit 1; }
    local c_loop="" attempt
    for attempt in 1 2 3; do
        c_loop="$("${wrap[@]}" "$fedq" bench amqp --broker "$broker" --sizes 200000 --queue-types "$type" --messages "$updates" \
            --rounds 1 --window 64 --keep-queues 2> "$out/c-loop.err" | awk -v type="$type" '$1 == type {print $5}')" && [[ -n "$c_loop" ]] && break
        echo "C loop attempt $attempt failed: $(tail -1 "$out/c-loop.err")" >&2
        sleep 10
    done
    [[ -n "$c_loop" ]] || { echo "the C loop failed 3 times" >&2; exit 1; }
    local pipeline ratio
    pipeline="$(field "$json" updates_per_second)"
    ratio="$(awk -v p="$pipeline" -v c="$c_loop" 'BEGIN {printf "%.1f", 100 * p / c}')"
    echo "$label $pinning $ratio" >> "$out/ratios"
    printf "| %s | %s | %d | %.0f | %.1f | %.0f / %.0f | %.0f | %s%% | %s / %s / %s / %s |\n" "$label" "$pinning" "$run" "$pipeline" \
        "$(field "$json" mb_per_second)" "$(field "$json" p50)" "$(field "$json" p99)" "$c_loop" "$ratio" \
        "$(cpu "$json" cpu broker)" "$(cpu "$json" cpu worker)" "$(cpu "$json" cpu coordinator)" "$(cpu "$json" cpu machine)"
}

: > "$out/ratios"
echo "$runs rounds of $updates updates of 200 KB per cell, on $cores cores; $(uptime | sed 's/.*load average/load average/')"
echo "| updates path | cores | round | pipeline updates/s | MB/s | p50 / p99 ms | C loop msgs/s | pipeline / C loop | CPU broker / workers / coordinator / machine |"
echo "|---|---|---:|---:|---:|---|---:|---:|---|"
for ((i = 1; i <= runs; i++)); do
    for pinning in shared pinned; do
        for label in quorum stream stream-x2 classic; do cell "$label" "$pinning" "$i"; done
    done
done
echo
for pinning in shared pinned; do
    for label in quorum stream stream-x2 classic; do
        printf "median pipeline / C loop, %s, %s: %s%%\n" "$label" "$pinning" \
            "$(awk -v t="$label" -v p="$pinning" '$1 == t && $2 == p {print $3}' "$out/ratios" | sort -n \
                | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
    done
done
