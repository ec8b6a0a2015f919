#!/usr/bin/env bash
# Issue 21, item 2: the updates path as quorum queues, streams and classic queues, side by
# side in one script run, each against the plain C loop over librabbitmq on the same queue
# type, with the cores shared (how most people first run it) and with the broker pinned to
# core 0 and every fedq process to the others.
#
# Each cell: `fedq loadtest --codec int8 --workers 2 --updates N` (200 KB updates) on the
# type's own deployment (quorum and classic: one queue, both workers competing on it;
# stream: two stream shards, `--update-shards 2`, one per worker by claim), then
# `fedq bench amqp` moving N messages of 200 KB through one queue of the same type with
# the C loop. Both keep 64 publishes unconfirmed. RUNS rounds, the types interleaved in
# each, so that the machine's drift weighs on all three alike.
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
    local type="$1" pinning="$2" run="$3" json="$out/$1-$2-$3.json" shards=1 wrap=()
    [[ "$type" == stream ]] && shards=2
    if [[ "$pinning" == pinned ]]; then
        taskset -a -cp 0 "$broker_pid" >/dev/null
        wrap=(taskset -c "1-$((cores - 1))")
    else
        taskset -a -cp "0-$((cores - 1))" "$broker_pid" >/dev/null
    fi
    "${wrap[@]}" "$fedq" loadtest --broker "$broker" --broker-pid "$broker_pid" --codec int8 --workers 2 \
        --updates-queue "$type" --update-shards "$shards" --updates "$updates" --in-flight 32 \
        --json "$json" --out "$out/run" > "$out/last.log" 2>&1 || { cat "$out/last.log"; exit 1; }
    local c_loop
    c_loop="$("${wrap[@]}" "$fedq" bench amqp --broker "$broker" --sizes 200000 --queue-types "$type" --messages "$updates" \
        --rounds 1 --window 64 | awk -v type="$type" '$1 == type {print $5}')"
    local pipeline ratio
    pipeline="$(field "$json" updates_per_second)"
    ratio="$(awk -v p="$pipeline" -v c="$c_loop" 'BEGIN {printf "%.1f", 100 * p / c}')"
    echo "$type $pinning $ratio" >> "$out/ratios"
    printf "| %s | %s | %d | %.0f | %.1f | %.0f / %.0f | %.0f | %s%% | %s / %s / %s / %s |\n" "$type" "$pinning" "$run" "$pipeline" \
        "$(field "$json" mb_per_second)" "$(field "$json" p50)" "$(field "$json" p99)" "$c_loop" "$ratio" \
        "$(cpu "$json" cpu broker)" "$(cpu "$json" cpu worker)" "$(cpu "$json" cpu coordinator)" "$(cpu "$json" cpu machine)"
}

: > "$out/ratios"
echo "$runs rounds of $updates updates of 200 KB per cell, on $cores cores; $(uptime | sed 's/.*load average/load average/')"
echo "| queue type | cores | round | pipeline updates/s | MB/s | p50 / p99 ms | C loop msgs/s | pipeline / C loop | CPU broker / workers / coordinator / machine |"
echo "|---|---|---:|---:|---:|---|---:|---:|---|"
for ((i = 1; i <= runs; i++)); do
    for pinning in shared pinned; do
        for type in quorum stream classic; do cell "$type" "$pinning" "$i"; done
    done
done
echo
for pinning in shared pinned; do
    for type in quorum stream classic; do
        printf "median pipeline / C loop, %s, %s: %s%%\n" "$type" "$pinning" \
            "$(awk -v t="$type" -v p="$pinning" '$1 == t && $2 == p {print $3}' "$out/ratios" | sort -n \
                | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
    done
done
