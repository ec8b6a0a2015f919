#!/usr/bin/env bash
# A private RabbitMQ node for FedQueue's tests and demos, from Debian's
# rabbitmq-server package. Everything it listens on is bound to 127.0.0.1
# (AMQP listener, Erlang distribution, its own epmd), on non-default ports so
# it never clashes with a system node. State lives under .broker/PORT/ of the
# repository (git-ignored).
#
#   scripts/broker.sh start [PORT]   start (or reuse) the node, print its amqp:// URL
#   scripts/broker.sh stop [PORT]    stop the node and the epmd it started
#   scripts/broker.sh status [PORT]  exit 0 and print the URL when the node answers
#   scripts/broker.sh pid [PORT]     print the node's (beam.smp) process id, e.g. for taskset
set -euo pipefail

command="${1:-status}"
port="${2:-${FEDQ_BROKER_PORT:-5699}}"
[[ "$port" =~ ^[0-9]+$ ]] || { echo "broker.sh: PORT must be a number, got '$port'" >&2; exit 2; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base="$repo/.broker/$port"
rabbit_bin=/usr/lib/rabbitmq/bin
url="amqp://guest:guest@127.0.0.1:$port/%2F"

# Ports derived from the AMQP port so several private nodes can coexist.
export RABBITMQ_NODENAME="fedq-$port@localhost"
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT="$port"
export RABBITMQ_DIST_PORT=$((port + 20000))
export ERL_EPMD_ADDRESS=127.0.0.1
export ERL_EPMD_PORT=$((port - 1000))
export RABBITMQ_CONF_ENV_FILE="$base/rabbitmq-env.conf"
export RABBITMQ_CONFIG_FILE="$base/rabbitmq.conf"
export RABBITMQ_MNESIA_BASE="$base/mnesia"
export RABBITMQ_LOG_BASE="$base/log"
export RABBITMQ_PID_FILE="$base/rabbitmq.pid"
export RABBITMQ_ENABLED_PLUGINS_FILE="$base/enabled_plugins"
export RABBITMQ_ENABLED_PLUGINS="" # management is not needed by FedQueue; keeps start-up fast
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_DIST_PORT_MIN=$((port + 21000))
export RABBITMQ_CTL_DIST_PORT_MAX=$((port + 21010))
export HOME="$base/home" # holds this node's own Erlang cookie

run_as_broker() {
    # The Debian package runs the node as user rabbitmq; as root, do the same.
    if [[ $(id -u) -eq 0 ]] && id rabbitmq >/dev/null 2>&1; then
        setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$@"
    else
        "$@"
    fi
}

ctl() { "$rabbit_bin/rabbitmqctl" -q -n "$RABBITMQ_NODENAME" "$@"; }

answers() { ctl status >/dev/null 2>&1; }

prepare() {
    mkdir -p "$base/mnesia" "$base/log" "$base/home"
    : >"$RABBITMQ_CONF_ENV_FILE"
    cat >"$RABBITMQ_CONFIG_FILE" <<CONF
listeners.tcp.1 = 127.0.0.1:$port
loopback_users = none
log.console = false
log.file.level = warning
heartbeat = 60
CONF
    echo "[]." >"$RABBITMQ_ENABLED_PLUGINS_FILE"
    if [[ ! -f "$HOME/.erlang.cookie" ]]; then
        head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$HOME/.erlang.cookie"
    fi
    chmod 400 "$HOME/.erlang.cookie"
    if [[ $(id -u) -eq 0 ]] && id rabbitmq >/dev/null 2>&1; then
        chown -R rabbitmq:rabbitmq "$repo/.broker"
        # Never let the packaged system service start alongside (or instead of) this node.
        update-rc.d rabbitmq-server disable >/dev/null 2>&1 || true
    fi
}

start() {
    if answers; then echo "$url"; return 0; fi
    prepare
    run_as_broker env -C "$base" setsid "$rabbit_bin/rabbitmq-server" \
        >"$base/log/startup.out" 2>"$base/log/startup.err" </dev/null &
    local deadline=$((SECONDS + 90))
    until answers; do
        if ((SECONDS > deadline)); then
            echo "broker.sh: node $RABBITMQ_NODENAME did not answer within 90 s; see $base/log" >&2
            tail -n 20 "$base/log/startup.err" "$base/log/startup.out" >&2 || true
            exit 1
        fi
        sleep 1
    done
    ctl await_startup >/dev/null
    echo "$url"
}

stop() {
    if answers; then ctl stop "$RABBITMQ_PID_FILE" >/dev/null 2>&1 || ctl shutdown >/dev/null 2>&1 || true; fi
    if [[ -f "$RABBITMQ_PID_FILE" ]]; then
        local pid
        pid=$(cat "$RABBITMQ_PID_FILE")
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$RABBITMQ_PID_FILE"
    fi
    # The epmd on our private port was started by this node; nobody else uses it.
    epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true
    echo "stopped $RABBITMQ_NODENAME"
}

case "$command" in
start) start ;;
stop) stop ;;
status)
    if answers; then echo "$url"; else echo "not running: $RABBITMQ_NODENAME" >&2; exit 1; fi
    ;;
pid)
    if [[ -f "$RABBITMQ_PID_FILE" ]]; then cat "$RABBITMQ_PID_FILE"; else echo "not running: $RABBITMQ_NODENAME" >&2; exit 1; fi
    ;;
*) echo "usage: scripts/broker.sh start|stop|status|pid [PORT]" >&2; exit 2 ;;
esac
