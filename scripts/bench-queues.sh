#!/usr/bin/env bash
# Issue 21's comparison of RabbitMQ's three kinds of queue for the updates path:
# `fedq bench amqp` moves 200 KB messages (an int8 mlp update) through a classic queue,
# a quorum queue and a stream, each with the Swift wrapper and with a plain C loop over
# librabbitmq in the same run (publish with confirms, consume with acks and a prefetch),
# first with every process on every core, then with the broker pinned to core 0 and the
# publishers and consumers to the others.
#   scripts/bench-queues.sh [MESSAGES per run (default 3000)] [ROUNDS, best counts (default 3)]
# Prints one table per placement; the JSON is under runs/bench-queues/.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/fedq.sh
fedq_ready
messages="${1:-3000}"
rounds="${2:-3}"
port="${FEDQ_BENCH_BROKER_PORT:-5694}"
out="runs/bench-queues"
fedq_fresh_bench_node "$port" "$out"
broker_pid="$(scripts/broker.sh pid "$port")"
cores="$(nproc)"

for placement in shared pinned; do
    runner=()
    if [[ "$placement" == pinned ]]; then
        if ((cores < 2)); then echo "one core: no pinned run"; break; fi
        taskset -a -cp 0 "$broker_pid" >/dev/null
        runner=(taskset -c "1-$((cores - 1))")
    else
        taskset -a -cp "0-$((cores - 1))" "$broker_pid" >/dev/null
    fi
    echo "== $placement cores ($(uptime | sed 's/.*load average/load average/'))"
    "${runner[@]}" "$fedq" bench amqp --broker "$broker" --sizes 200000 --queue-types classic,quorum,stream \
        --messages "$messages" --rounds "$rounds" --keep-queues --json "$out/$placement.json" | grep -v '^wrote'
done
