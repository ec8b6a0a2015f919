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
#   scripts/broker.sh wal [PORT]     print "BATCHES WRITES" of the node's quorum write-ahead log so far
#   scripts/broker.sh walstate PORT SECONDS [STOPFILE]  sample that log's process every 2 ms and print
#                                    what share of the time it ran, waited for a scheduler, or idled
#   scripts/broker.sh import PORT FILE  import a definitions file (users, permissions, topology)
#   scripts/broker.sh alarm PORT on|off  raise or clear a memory alarm (publishers get blocked)
#   scripts/broker.sh reset [PORT]   stop the node and delete its state (every queue, user
#                                    and message): benchmarks start from nothing, so a queue
#                                    an older version left bound to an exchange skews nothing
# A node started with FEDQ_NODE_CONF, FEDQ_NODE_ADVANCED_CONFIG or FEDQ_NODE_ERL_ARGS set
# takes those settings too (scripts/lib/rabbit-node.sh), e.g. to try a broker setting.
set -euo pipefail

command="${1:-status}"
port="${2:-${FEDQ_BROKER_PORT:-5699}}"
[[ "$port" =~ ^[0-9]+$ ]] || { echo "broker.sh: PORT must be a number, got '$port'" >&2; exit 2; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/scripts/lib/rabbit-node.sh"
# Ports derived from the AMQP port so several private nodes can coexist.
rabbit_node_env "$port" $((port - 1000)) "$repo/.broker/$port"

# One line and exit 1 when the node does not answer, rather than rabbitmqctl's page of
# diagnostics, for the commands that ask a running node.
require_node() { rabbit_node_answers || { echo "broker.sh: no node answers on port $port (scripts/broker.sh start $port)" >&2; exit 1; }; }

start() {
    if rabbit_node_answers; then echo "$node_url"; return 0; fi
    rabbit_node_launch
    rabbit_node_await 90 || { echo "broker.sh: the node did not start" >&2; exit 1; }
    echo "$node_url"
}

case "$command" in
start) start ;;
stop) rabbit_node_stop_alone ;;
reset)
    rabbit_node_stop_alone
    rm -rf "$node_dir"
    ;;
status)
    if rabbit_node_answers; then echo "$node_url"; else echo "not running: $RABBITMQ_NODENAME" >&2; exit 1; fi
    ;;
import)
    # Imports a RabbitMQ definitions file (e.g. `fedq identities create`'s) into the node.
    file="${3:?usage: scripts/broker.sh import PORT FILE}"
    rabbit_ctl import_definitions "$file" >/dev/null
    ;;
alarm)
    # alarm PORT on|off: raises (or clears) a memory alarm, which blocks publishing
    # connections as a node low on memory or disk does; for the tests of blocked publishing.
    case "${3:-}" in
    on) rabbit_ctl set_vm_memory_high_watermark absolute 1 >/dev/null ;;
    off) rabbit_ctl set_vm_memory_high_watermark 0.4 >/dev/null ;;
    *) echo "usage: scripts/broker.sh alarm PORT on|off" >&2; exit 2 ;;
    esac
    ;;
wal)
    # The quorum queues' write-ahead log so far (Ra's counters), "BATCHES WRITES": the one
    # process every quorum queue of the node writes through (BENCHMARKS.md, "What holds the
    # quorum path back"); a batch is one write and one fdatasync of what came meanwhile.
    require_node
    rabbit_ctl eval 'C = maps:get(ra_log_wal, ra_counters:overview()), io:format("~b ~b~n", [maps:get(batches, C), maps:get(writes, C)]).' | sed -n 1p
    ;;
walstate)
    # walstate PORT SECONDS [STOPFILE]: the write-ahead log's process sampled every 2 ms for
    # SECONDS (or until STOPFILE exists): "running R% runnable Q% idle I% (N samples); busy
    # time waiting for a scheduler W%". Idle is waiting with an empty mailbox (nothing to
    # write); runnable is ready to run but not on a scheduler. W% = runnable / (running +
    # runnable): how much of its busy time the node's one serial writer loses to the rest of
    # the node and the machine (BENCHMARKS.md, "The write-ahead log waits for a scheduler").
    seconds="${3:?usage: scripts/broker.sh walstate PORT SECONDS [STOPFILE]}"
    [[ "$seconds" =~ ^[0-9]+$ ]] || { echo "broker.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2; }
    stop="${4:-}"
    require_node
    rabbit_ctl eval "
        Wal = whereis(ra_log_wal), Until = erlang:monotonic_time(millisecond) + $seconds * 1000, Stop = \"$stop\",
        State = fun() -> case erlang:process_info(Wal, [status, message_queue_len]) of
            [{status, waiting}, {message_queue_len, 0}] -> idle; [{status, runnable}, _] -> runnable; _ -> running end end,
        Loop = fun L(Acc) -> case erlang:monotonic_time(millisecond) >= Until orelse (Stop =/= \"\" andalso filelib:is_file(Stop)) of
            true -> Acc; false -> S = State(), timer:sleep(2), L(maps:update_with(S, fun(V) -> V + 1 end, 1, Acc)) end end,
        C = Loop(#{}), Run = maps:get(running, C, 0), Rq = maps:get(runnable, C, 0), Idle = maps:get(idle, C, 0), N = max(1, Run + Rq + Idle), Total = Run + Rq + Idle,
        io:format(\"running ~b% runnable ~b% idle ~b% (~b samples); busy time waiting for a scheduler ~b%~n\",
            [100 * Run div N, 100 * Rq div N, 100 * Idle div N, Total, 100 * Rq div max(1, Run + Rq)])." | sed -n 1p
    ;;
pid)
    if [[ -f "$RABBITMQ_PID_FILE" ]]; then cat "$RABBITMQ_PID_FILE"; else echo "not running: $RABBITMQ_NODENAME" >&2; exit 1; fi
    ;;
*) echo "usage: scripts/broker.sh start|stop|status|pid|wal|reset [PORT] | walstate PORT SECONDS [STOPFILE] | import PORT FILE | alarm PORT on|off" >&2; exit 2 ;;
esac
