#!/usr/bin/env bash
# A private N-node RabbitMQ cluster on 127.0.0.1 for FedQueue's tests, demos and
# benchmarks: nodes on AMQP ports BASE, BASE+1, …, one shared epmd on BASE-1000,
# one shared Erlang cookie, joined with `rabbitmqctl join_cluster`. State lives
# under .broker/cluster-BASE/ of the repository (git-ignored).
#
#   scripts/cluster.sh start [N]        start (or reuse) N nodes (default 3), print their URLs comma-separated
#   scripts/cluster.sh stop             stop every node and the cluster's epmd
#   scripts/cluster.sh status           print the URLs of the nodes that answer; exit 1 if none does
#   scripts/cluster.sh kill NODE        kill -9 node NODE's Erlang VM (1-based): a crash
#   scripts/cluster.sh restart NODE     start node NODE again (it rejoins the cluster)
#   scripts/cluster.sh pid NODE         print node NODE's process id
#   scripts/cluster.sh url NODE         print node NODE's amqp:// URL
#   scripts/cluster.sh leader QUEUE     print the number of the node leading quorum queue QUEUE
#   scripts/cluster.sh node-of NAME     print the number of the node a client connection named NAME is on
# FEDQ_CLUSTER_BASE_PORT (default 5710) selects the ports; the node count is kept in
# the state directory, so kill/restart/stop need not repeat it.
set -euo pipefail

command="${1:-status}"
argument="${2:-}"
base_port="${FEDQ_CLUSTER_BASE_PORT:-5710}"
[[ "$base_port" =~ ^[0-9]+$ ]] || { echo "cluster.sh: FEDQ_CLUSTER_BASE_PORT must be a number, got '$base_port'" >&2; exit 2; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/scripts/lib/rabbit-node.sh"
cluster_dir="$repo/.broker/cluster-$base_port"
epmd_port=$((base_port - 1000))

node_count() {
    if [[ -f "$cluster_dir/nodes" ]]; then cat "$cluster_dir/nodes"; else echo 3; fi
}

# select NODE: makes node NODE (1-based) the one rabbit_* functions act on.
select_node() {
    local node=$1
    if ! [[ "$node" =~ ^[0-9]+$ ]] || ((node < 1 || node > $(node_count))); then
        echo "cluster.sh: NODE must be 1..$(node_count), got '$node'" >&2
        exit 2
    fi
    rabbit_node_env $((base_port + node - 1)) "$epmd_port" "$cluster_dir/node-$node" "$cluster_dir/home"
}

first_node_name() { echo "fedq-$base_port@localhost"; }

# join NODE: makes a freshly booted node a member of node 1's cluster (a no-op for node 1
# and for a node that is already a member).
join() {
    local node=$1
    ((node > 1)) || return 0
    select_node "$node"
    if rabbit_ctl cluster_status 2>/dev/null | grep -q "$(first_node_name)"; then return 0; fi
    rabbit_ctl stop_app >/dev/null
    rabbit_ctl join_cluster "$(first_node_name)" >/dev/null
    rabbit_ctl start_app >/dev/null
}

urls() {
    local node list=()
    for node in $(seq 1 "$(node_count)"); do
        select_node "$node"
        if [[ "${1:-all}" == all ]] || rabbit_node_answers; then list+=("$node_url"); fi
    done
    local IFS=,
    echo "${list[*]}"
}

start() {
    local count=${1:-3} node
    if ! [[ "$count" =~ ^[0-9]+$ ]] || ((count < 1 || count > 9)); then
        echo "cluster.sh: N must be 1..9, got '$count'" >&2
        exit 2
    fi
    mkdir -p "$cluster_dir/home"
    echo "$count" >"$cluster_dir/nodes"
    # Boot every node at once (each takes seconds), then join them one by one.
    for node in $(seq 1 "$count"); do
        select_node "$node"
        rabbit_node_answers || rabbit_node_launch
    done
    for node in $(seq 1 "$count"); do
        select_node "$node"
        rabbit_node_await 90 || { echo "cluster.sh: node $node did not start" >&2; exit 1; }
    done
    for node in $(seq 2 "$count"); do join "$node"; done
    urls all
}

stop() {
    local node
    for node in $(seq 1 "$(node_count)"); do
        select_node "$node"
        rabbit_node_stop
    done
    epmd -port "$epmd_port" -kill >/dev/null 2>&1 || true
    echo "stopped the cluster on ports $base_port-$((base_port + $(node_count) - 1))"
}

restart() {
    select_node "$1"
    rabbit_node_answers && return 0
    rabbit_node_launch
    rabbit_node_await 90 || { echo "cluster.sh: node $1 did not start" >&2; exit 1; }
    join "$1"
    echo "$node_url"
}

# leader QUEUE: asks any running node which node leads QUEUE; prints its number.
leader() {
    local node name
    for node in $(seq 1 "$(node_count)"); do
        select_node "$node"
        rabbit_node_answers || continue
        name=$(rabbit_ctl list_queues name leader 2>/dev/null | awk -v q="$1" '$1 == q { print $2 }') || true
        [[ -n "$name" ]] || { echo "cluster.sh: no queue '$1'" >&2; exit 1; }
        name=${name#fedq-}
        echo $((${name%@*} - base_port + 1))
        return 0
    done
    echo "cluster.sh: no node answers" >&2
    exit 1
}

# node_of NAME: the node of the first connection whose client named it NAME.
node_of() {
    local node port
    for node in $(seq 1 "$(node_count)"); do
        select_node "$node"
        rabbit_node_answers || continue
        port=$(rabbit_ctl list_connections port client_properties 2>/dev/null |
            grep -F "{\"connection_name\",\"$1\"}" | head -n 1 | cut -f 1) || true
        [[ -n "$port" ]] || { echo "cluster.sh: no connection named '$1'" >&2; exit 1; }
        echo $((port - base_port + 1))
        return 0
    done
    echo "cluster.sh: no node answers" >&2
    exit 1
}

case "$command" in
start) start "${argument:-3}" ;;
stop) stop ;;
status)
    running=$(urls running)
    if [[ -n "$running" ]]; then echo "$running"; else echo "not running: cluster on port $base_port" >&2; exit 1; fi
    ;;
kill) select_node "${argument:?cluster.sh: kill needs a NODE}"; rabbit_node_kill KILL; echo "killed $RABBITMQ_NODENAME" ;;
restart) restart "${argument:?cluster.sh: restart needs a NODE}" ;;
pid) select_node "${argument:?cluster.sh: pid needs a NODE}"; cat "$RABBITMQ_PID_FILE" ;;
url) select_node "${argument:?cluster.sh: url needs a NODE}"; echo "$node_url" ;;
leader) leader "${argument:?cluster.sh: leader needs a QUEUE}" ;;
node-of) node_of "${argument:?cluster.sh: node-of needs a connection NAME}" ;;
*) echo "usage: scripts/cluster.sh start [N]|stop|status|kill NODE|restart NODE|pid NODE|url NODE|leader QUEUE|node-of NAME" >&2; exit 2 ;;
esac
