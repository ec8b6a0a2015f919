# shellcheck shell=bash disable=SC2154,SC2034  # $repo is set by the sourcing script; $node_dir and $node_url are read by it
# One private RabbitMQ node from Debian's rabbitmq-server package, for broker.sh
# (a single node) and cluster.sh (N nodes joined into a cluster). Everything it
# listens on is bound to 127.0.0.1: the AMQP listener, the Erlang distribution,
# and the epmd it shares only with its own cluster.

rabbit_bin=/usr/lib/rabbitmq/bin

# FEDQ_RABBITMQ_ROOT runs RabbitMQ from another Debian root instead of this system's package:
# scripts/rabbitmq-root.sh makes one with Debian 13's RabbitMQ 4.0 (and Erlang 27), to
# measure what a newer RabbitMQ changes (BENCHMARKS.md, issue 21). The node's files stay
# where they are: the root sees this repository, /tmp, /proc, /sys and /dev through bind
# mounts.
# rabbit_tool_command TOOL: sets rabbit_cmd to the command line of one of RabbitMQ's tools
# (rabbitmqctl, rabbitmq-server), for callers that wrap it (timeout); rabbit_tool TOOL ARGS...
# runs it.
rabbit_tool_command() {
    rabbit_cmd=("$rabbit_bin/$1")
    if [[ -n "${FEDQ_RABBITMQ_ROOT:-}" ]]; then rabbit_cmd=(chroot "$FEDQ_RABBITMQ_ROOT" "${rabbit_cmd[@]}"); fi
}
rabbit_tool() {
    rabbit_tool_command "$1"
    shift
    "${rabbit_cmd[@]}" "$@"
}

# rabbit_node_env PORT EPMD_PORT DIR [COOKIE_HOME]: selects the node listening for AMQP
# on PORT, its state under DIR, registered with the epmd on EPMD_PORT; nodes that
# share COOKIE_HOME (default DIR/home) share an Erlang cookie and may be clustered.
rabbit_node_env() {
    local port=$1 epmd_port=$2
    node_dir=$3
    export RABBITMQ_NODENAME="fedq-$port@localhost"
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT="$port"
    export RABBITMQ_DIST_PORT=$((port + 20000))
    export ERL_EPMD_ADDRESS=127.0.0.1
    export ERL_EPMD_PORT="$epmd_port"
    export RABBITMQ_CONF_ENV_FILE="$node_dir/rabbitmq-env.conf"
    export RABBITMQ_CONFIG_FILE="$node_dir/rabbitmq.conf"
    export RABBITMQ_MNESIA_BASE="$node_dir/mnesia"
    export RABBITMQ_LOG_BASE="$node_dir/log"
    export RABBITMQ_PID_FILE="$node_dir/rabbitmq.pid"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$node_dir/enabled_plugins"
    export RABBITMQ_ENABLED_PLUGINS="" # management is not needed by FedQueue; keeps start-up fast
    # FEDQ_NODE_ERL_ARGS adds emulator flags to a node, e.g. "+S 1" (BENCHMARKS.md, "What
    # holds the quorum path back", says which settings were tried on the benchmarks' node).
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} ${FEDQ_NODE_ERL_ARGS:-}"
    export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export RABBITMQ_CTL_DIST_PORT_MIN=$((port + 21000))
    export RABBITMQ_CTL_DIST_PORT_MAX=$((port + 21010))
    export HOME="${4:-$node_dir/home}" # holds the Erlang cookie
    node_url="amqp://guest:guest@127.0.0.1:$port/%2F"
}

rabbit_run_as_broker() {
    # The Debian package runs the node as user rabbitmq; as root, do the same.
    if [[ -n "${FEDQ_RABBITMQ_ROOT:-}" ]]; then
        chroot --userspec=rabbitmq:rabbitmq "$FEDQ_RABBITMQ_ROOT" "$@"
    elif [[ $(id -u) -eq 0 ]] && id rabbitmq >/dev/null 2>&1; then
        setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$@"
    else
        "$@"
    fi
}

rabbit_ctl() { rabbit_tool rabbitmqctl -q -n "$RABBITMQ_NODENAME" "$@"; }

rabbit_node_answers() { rabbit_ctl status >/dev/null 2>&1; }

rabbit_node_prepare() {
    mkdir -p "$node_dir/mnesia" "$node_dir/log" "$HOME"
    : >"$RABBITMQ_CONF_ENV_FILE"
    # A node may replace the plain listener ($rabbit_node_listeners) and add settings
    # ($rabbit_node_extra_conf): tls-node.sh has a TLS listener only.
    # max_message_size: RabbitMQ 4's default (16 MiB), which Debian's 3.10 raises to
    # 128 MiB: tests must meet the limit a deployment meets (large messages are chunked).
    cat >"$RABBITMQ_CONFIG_FILE" <<CONF
${rabbit_node_listeners:-listeners.tcp.1 = 127.0.0.1:$RABBITMQ_NODE_PORT}
loopback_users = none
log.console = false
log.file.level = warning
heartbeat = 60
max_message_size = 16777216
${rabbit_node_extra_conf:-}
${FEDQ_NODE_CONF:-}
CONF
    echo "[$RABBITMQ_ENABLED_PLUGINS]." >"$RABBITMQ_ENABLED_PLUGINS_FILE"
    # FEDQ_NODE_CONF adds lines to rabbitmq.conf (e.g. 'raft.wal_max_size_bytes = 2147483648'),
    # FEDQ_NODE_ADVANCED_CONFIG settings rabbitmq.conf cannot express, as the Erlang terms
    # of an advanced.config, e.g. '[{rabbit, [{quorum_snapshot_interval, 1024}]}].'
    if [[ -n "${FEDQ_NODE_ADVANCED_CONFIG:-}" ]]; then
        echo "$FEDQ_NODE_ADVANCED_CONFIG" >"$node_dir/advanced.config"
        export RABBITMQ_ADVANCED_CONFIG_FILE="$node_dir/advanced.config"
    fi
    if [[ ! -f "$HOME/.erlang.cookie" ]]; then
        head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$HOME/.erlang.cookie"
    fi
    chmod 400 "$HOME/.erlang.cookie"
    if [[ -n "${FEDQ_RABBITMQ_ROOT:-}" ]]; then
        # That root's user rabbitmq, whose ids need not be this system's.
        chroot "$FEDQ_RABBITMQ_ROOT" chown -R rabbitmq:rabbitmq "$node_dir" "$HOME"
    elif [[ $(id -u) -eq 0 ]] && id rabbitmq >/dev/null 2>&1; then
        chown -R rabbitmq:rabbitmq "$repo/.broker"
        # Never let the packaged system service start alongside (or instead of) this node.
        update-rc.d rabbitmq-server disable >/dev/null 2>&1 || true
    fi
}

# rabbit_node_launch: starts the selected node in the background (returns at once).
rabbit_node_launch() {
    rabbit_node_prepare
    rabbit_run_as_broker env -C "$node_dir" setsid "$rabbit_bin/rabbitmq-server" \
        >"$node_dir/log/startup.out" 2>"$node_dir/log/startup.err" </dev/null &
}

# rabbit_node_await SECONDS: waits until the selected node has booted, or fails.
rabbit_node_await() {
    local deadline=$((SECONDS + $1))
    until rabbit_node_answers; do
        if ((SECONDS > deadline)); then
            echo "node $RABBITMQ_NODENAME did not answer within $1 s; see $node_dir/log" >&2
            tail -n 20 "$node_dir/log/startup.err" "$node_dir/log/startup.out" >&2 || true
            return 1
        fi
        sleep 1
    done
    rabbit_ctl await_startup >/dev/null
}

# rabbit_node_stop: stops the selected node (gracefully, then by signal).
rabbit_node_stop() {
    if rabbit_node_answers; then rabbit_ctl stop "$RABBITMQ_PID_FILE" >/dev/null 2>&1 || rabbit_ctl shutdown >/dev/null 2>&1 || true; fi
    rabbit_node_kill TERM
}

# rabbit_node_stop_alone: stops a single node (broker.sh, tls-node.sh) and the epmd on its
# private port, which that node started and nobody else uses; says so.
rabbit_node_stop_alone() {
    rabbit_node_stop
    epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true
    echo "stopped $RABBITMQ_NODENAME"
}

# rabbit_node_kill [SIGNAL]: signals the selected node's Erlang VM (default KILL: a crash).
rabbit_node_kill() {
    local signal=${1:-KILL} pid
    [[ -f "$RABBITMQ_PID_FILE" ]] || return 0
    pid=$(cat "$RABBITMQ_PID_FILE")
    if kill -0 "$pid" 2>/dev/null; then
        kill "-$signal" "$pid" 2>/dev/null || true
        for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$RABBITMQ_PID_FILE"
}
