#!/usr/bin/env bash
# The cluster table of BENCHMARKS.md (issue 18): `fedq loadtest --raw` (200 KB int8 mlp
# updates, 2 workers) on one RabbitMQ node, then on a 3-node cluster with the updates path
# as one quorum queue and as 3 shards, each beside the broker's raw loop through one
# quorum queue measured in the same run; then what a deployment plans with: the brokers'
# CPU per update on one node and on the cluster (every message is written by 3 replicas
# there), from which the throughput of N nodes and S shards is modelled (docs/cluster.md).
#
# Every node runs on this machine, so the cluster shares the cores with itself and the
# roles: expect less than one node, not more. Run it on a quiet machine.
#   scripts/bench-cluster.sh [SECONDS of publishing per cell (default 10)]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/loadtest-bench.sh
seconds="${1:-10}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds == 0)); then
    echo "bench-cluster.sh: SECONDS must be a positive whole number, got '$seconds'" >&2
    exit 2
fi
port="${FEDQ_BENCH_BROKER_PORT:-5695}"
export FEDQ_CLUSTER_BASE_PORT="${FEDQ_BENCH_CLUSTER_BASE_PORT:-5720}"
out="runs/bench-cluster"
rm -rf "$out"; mkdir -p "$out"
trap 'scripts/cluster.sh stop >/dev/null 2>&1 || true; fedq_stop_roles_and_broker "$port"' EXIT


# cell LABEL BROKER SHARDS: one load test; prints its row and keeps its JSON as $out/LABEL.json.
cell() {
    local label="$1" broker="$2" shards="$3" json="$out/$1.json"
    "$fedq" loadtest --broker "$broker" --codec int8 --workers 2 --update-shards "$shards" --seconds "$seconds" --raw \
        --json "$json" --out "$out/run-$label" > "$out/$label.log" 2>&1 || { cat "$out/$label.log"; exit 1; }
    local rate raw broker_cores
    rate="$(field "$json" updates_per_second)"
    raw="$(field "$json" raw_updates_per_second)"
    broker_cores="$(cpu "$json" cpu broker)"
    printf "| %s | %d | %.0f | %.0f | %.0f%% | %.1f | %.1f | %s | %s | %.2f |\n" "$label" "$shards" "$rate" "$raw" \
        "$(awk -v r="$(field "$json" ratio_to_raw)" 'BEGIN {print r * 100}')" "$(field "$json" p50)" "$(field "$json" p99)" \
        "$broker_cores" "$(cpu "$json" cpu machine)" "$(awk -v c="$broker_cores" -v r="$rate" 'BEGIN {print 1000 * c / r}')"
}

echo "cores: $(nproc); every node and role on this machine; $seconds s of publishing per cell"
echo
echo "| broker | update shards | updates/s | raw updates/s (one quorum queue) | pipeline / raw | p50 ms | p99 ms | CPU brokers (cores) | machine busy | broker CPU ms per update |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
scripts/broker.sh reset "$port" >/dev/null 2>&1 || true
single="$(scripts/broker.sh start "$port")"
cell "one node" "$single" 1
scripts/broker.sh stop "$port" >/dev/null
cluster="$(scripts/cluster.sh start 3)"
cell "3-node cluster" "$cluster" 1
cell "3-node cluster, 3 shards" "$cluster" 3
echo
for queue in fedq.q.updates fedq.q.updates.1 fedq.q.updates.2; do
    echo "leader of $queue: node $(scripts/cluster.sh leader "$queue")"
done
