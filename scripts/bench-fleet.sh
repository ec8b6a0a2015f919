#!/usr/bin/env bash
# What `fedq fleet --clients N` costs on this machine against a private RabbitMQ
# node: the fleet process's peak memory (VmHWM) and its TCP connections to the
# broker, while a coordinator and 2 workers aggregate its updates.
#   scripts/bench-fleet.sh [CLIENTS (default 1000)] [UPDATES (default 3000)]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/fedq.sh
fedq_ready
clients="${1:-1000}"
updates="${2:-3000}"
port="${FEDQ_BENCH_BROKER_PORT:-5697}"
out="runs/bench-fleet-$clients"
fedq_fresh_bench_node "$port" "$out"
FEDQ_BROKER="$broker"
export FEDQ_BROKER
"$fedq" topology apply --purge --broker "$FEDQ_BROKER" >/dev/null
fedq_start_role "$out/coordinator.log" coordinator --checkpoint "$out/coordinator"
fedq_start_role "$out/worker-1.log" worker
fedq_start_role "$out/worker-2.log" worker
fedq_start_role "$out/fleet.log" fleet --clients "$clients" --max-updates "$updates" --out "$out/fleet"
fleet="${fedq_role_pids[-1]}"
peak_connections=0
while kill -0 "$fleet" 2>/dev/null; do
    connections=$(ss -tnpH state established "( dport = :$port )" 2>/dev/null | grep -c "pid=$fleet," || true)
    (( connections > peak_connections )) && peak_connections=$connections
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$fleet/status" 2>/dev/null || echo "$hwm")
    sleep 0.5
done
wait "$fleet"
seconds=$(grep -o '"seconds" : [0-9.]*' "$out/fleet/summary.json" | awk '{print $3}')
published=$(grep -o '"updates_published" : [0-9]*' "$out/fleet/summary.json" | awk '{print $3}')
echo "fleet of $clients clients: $published updates in ${seconds} s; peak RSS $((hwm / 1024)) MiB; $peak_connections broker connection(s)"
