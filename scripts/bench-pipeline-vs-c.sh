#!/usr/bin/env bash
# Issue 21, item 3: the whole pipeline (publishers, 2 aggregator workers, the coordinator)
# against a plain C loop over librabbitmq on the same queue type (quorum), with every
# process on every core (nothing pinned: how most people first run it), in one script run.
# Each run: `fedq loadtest --codec int8 --workers 2 --updates 10000` (200 KB updates), then
# `fedq bench amqp` moving as many messages of 200 KB through a quorum queue with the C loop.
# The same count matters: the node's write-ahead log rolls over every 512 MB, and a run of
# 2 GB pays for moving three of them into segment files while one of 600 MB barely does
# (the C loop moved 796 msgs/s with 3,000 messages and 596 with 10,000 in one minute).
# Both keep the same number of publishes unconfirmed: 2 publishers × IN_FLIGHT for the
# load test, a window of 2 × IN_FLIGHT for the C loop.
#   scripts/bench-pipeline-vs-c.sh [RUNS (default 5)] [IN_FLIGHT per publisher (default 32)]
# Prints a line per run and the median of pipeline / C loop. Besides the end-to-end rate (first
# publish to last settlement), a run shows the rate the broker accepted the load test's
# publishes at (first publish to last confirm) and what the machine wrote to its disks during
# each half (/proc/diskstats), per 200 KB moved: a quorum queue writes each message to the
# node's write-ahead log and, when the log rolls over while the message is not yet released,
# again into the queue's segment files. FEDQ_BENCH_ROLES_DIR puts the
# roles' files (the coordinator's checkpoint, fsynced at every version) elsewhere, e.g. on
# /dev/shm to stand in for a disk of the coordinator's own: on one VM disk its fsyncs and
# the broker's write-ahead log's wait for each other. FEDQ_BENCH_LOADTEST_FLAGS adds flags
# to the load test, e.g. `--exact-partials` to measure what fp16 partials save.
# The node's quorum write-ahead log (one process for every quorum queue, the limit in both
# halves) is shown per half too: its batches (each a write and an fdatasync) and the wall time
# per batch, the command's start-up included (scripts/broker.sh wal), and how much of its busy
# time that process waited for an Erlang scheduler rather than ran (scripts/broker.sh walstate,
# sampled every 2 ms through each half).
# Last, each run measures the C loop once more with its consumer acking as an aggregator
# worker must (`fedq bench amqp --ack-every 64 --prefetch 256`: the 64 updates of a partial
# with one multiple ack, a worker's prefetch of 4 partials): what that ack discipline alone
# costs the broker, apart from the pipeline's own work. Item 3 compares with the plain loop;
# this column says how much of the gap the protocol accounts for. (The worker also waits for
# its partial's confirm before acking; the loop acks as soon as the 64th arrives.)
# `--keep-queues`: bench amqp purges its quorum queue between runs and leaves it in place,
# because deleting one crashes RabbitMQ 3.10's segment writer now and then, and with it the
# node's write-ahead log, in the middle of the next half (AMQPThroughputRun.freshQueue).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/loadtest-bench.sh
runs="${1:-5}"
in_flight="${2:-32}"
port="${FEDQ_BENCH_BROKER_PORT:-5693}"
out="runs/bench-pipeline-vs-c"
roles_dir="${FEDQ_BENCH_ROLES_DIR:-$out/run}"
read -r -a extra_flags <<< "${FEDQ_BENCH_LOADTEST_FLAGS:-}"
fedq_fresh_bench_node "$port" "$out"
broker_pid="$(scripts/broker.sh pid "$port")"
echo "$runs runs, 2 publishers x $in_flight in flight, C loop window $((2 * in_flight)), roles' files in $roles_dir${FEDQ_BENCH_LOADTEST_FLAGS:+, load test flags $FEDQ_BENCH_LOADTEST_FLAGS}; $(uptime | sed 's/.*load average/load average/')"
echo "| run | pipeline updates/s | C loop msgs/s | pipeline / C loop | accepted updates/s / C loop | disk bytes written per 200 KB moved: load test / bench amqp (wrapper and C loop) | WAL batches, ms each: load test / bench amqp | WAL's busy time waiting for a scheduler: load test / bench amqp | p50 / p99 ms | CPU broker / workers / publishers / coordinator / machine | C loop acking 64 at a time, msgs/s | pipeline / that |"
echo "|---|---:|---:|---:|---:|---|---|---|---|---|---:|---:|"
# Bytes written so far by every disk backed by a device, as `fedq loadtest` counts them
# (MachineDisk): /proc/diskstats also lists partitions, loop and RAM devices, which would
# count the same writes twice. Field 7 of /sys/block/DISK/stat: sectors of 512 bytes.
disk_bytes() {
    local disk sum=0
    for disk in /sys/block/*; do
        if [[ -e $disk/device ]]; then sum=$((sum + $(awk '{print $7}' "$disk/stat"))); fi
    done
    echo $((sum * 512))
}
# walstate_start FILE: samples the write-ahead log's process in the background (its one line
# goes to FILE) until walstate_stop; walstate_share FILE prints the share of its busy time it
# waited for a scheduler. The stop file's path is absolute: the node, not this script, looks for it.
walstate_stop_file="$repo/$out/walstate.stop"
walstate_start() { rm -f "$walstate_stop_file"; scripts/broker.sh walstate "$port" 600 "$walstate_stop_file" > "$1" & walstate_pid=$!; }
walstate_stop() { touch "$walstate_stop_file"; wait "$walstate_pid"; }
walstate_share() { sed -n 's/.*waiting for a scheduler \([0-9]*%\).*/\1/p' "$1"; }
ratios=()
accepted_ratios=()
batched_ratios=()
for ((i = 1; i <= runs; i++)); do
    json="$out/run-$i.json"
    before="$(disk_bytes)"; read -r wal_before _ <<< "$(scripts/broker.sh wal "$port")"; t_before="$(date +%s.%N)"
    walstate_start "$out/walstate-load-test-$i.txt"
    "$fedq" loadtest --broker "$broker" --broker-pid "$broker_pid" --codec int8 --workers 2 --updates 10000 \
        --in-flight "$in_flight" "${extra_flags[@]}" --json "$json" --out "$roles_dir" > "$out/last.log" 2>&1 || { cat "$out/last.log"; exit 1; }
    t_load_test_end="$(date +%s.%N)"; walstate_stop; waits_load_test="$(walstate_share "$out/walstate-load-test-$i.txt")"
    walstate_start "$out/walstate-bench-amqp-$i.txt"
    between="$(disk_bytes)"; read -r wal_between _ <<< "$(scripts/broker.sh wal "$port")"; t_between="$(date +%s.%N)"
    c_loop="$("$fedq" bench amqp --broker "$broker" --sizes 200000 --queue-types quorum --messages 10000 --rounds 1 \
        --window $((2 * in_flight)) --keep-queues | awk '$1 == "quorum" {print $5}')"
    t_after="$(date +%s.%N)"; walstate_stop; waits_bench="$(walstate_share "$out/walstate-bench-amqp-$i.txt")"; after="$(disk_bytes)"; read -r wal_after _ <<< "$(scripts/broker.sh wal "$port")"
    c_loop_batched="$("$fedq" bench amqp --broker "$broker" --sizes 200000 --queue-types quorum --messages 10000 --rounds 1 \
        --window $((2 * in_flight)) --prefetch 256 --ack-every 64 --keep-queues | awk '$1 == "quorum" {print $5}')"
    pipeline="$(field "$json" updates_per_second)"
    accepted="$(field "$json" accepted_per_second)"
    ratios+=("$(awk -v p="$pipeline" -v c="$c_loop" 'BEGIN {printf "%.1f", 100 * p / c}')")
    accepted_ratios+=("$(awk -v p="$accepted" -v c="$c_loop" 'BEGIN {printf "%.1f", 100 * p / c}')")
    batched_ratios+=("$(awk -v p="$pipeline" -v c="$c_loop_batched" 'BEGIN {printf "%.1f", 100 * p / c}')")
    # bench amqp moves its messages twice, through the wrapper and through the C loop.
    disk="$(awk -v b="$before" -v m="$between" -v a="$after" 'BEGIN {printf "%.2f / %.2f", (m - b) / 10000 / 200000, (a - m) / 20000 / 200000}')"
    wal="$(awk -v b="$wal_before" -v m="$wal_between" -v a="$wal_after" -v tb="$t_before" -v te="$t_load_test_end" -v tm="$t_between" -v ta="$t_after" \
        'BEGIN {printf "%d, %.1f / %d, %.1f", m - b, 1000 * (te - tb) / (m - b), a - m, 1000 * (ta - tm) / (a - m)}')"
    printf "| %d | %.0f | %.0f | %s%% | %.0f, %s%% | %s | %s | %s / %s | %.0f / %.0f | %s / %s / %s / %s / %s | %.0f | %s%% |\n" "$i" "$pipeline" "$c_loop" "${ratios[-1]}" \
        "$accepted" "${accepted_ratios[-1]}" "$disk" "$wal" "$waits_load_test" "$waits_bench" \
        "$(field "$json" p50)" "$(field "$json" p99)" "$(cpu "$json" cpu broker)" "$(cpu "$json" cpu worker)" \
        "$(cpu "$json" cpu publishers)" "$(cpu "$json" cpu coordinator)" "$(cpu "$json" cpu machine)" "$c_loop_batched" "${batched_ratios[-1]}"
done
median() { printf "%s\n" "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
printf "median pipeline / C loop: %s%% over %d runs (accepted / C loop: %s%%; pipeline / C loop acking 64 at a time: %s%%)\n" \
    "$(median "${ratios[@]}")" "$runs" "$(median "${accepted_ratios[@]}")" "$(median "${batched_ratios[@]}")"
