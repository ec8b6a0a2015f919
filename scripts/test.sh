#!/usr/bin/env bash
# Runs every test of FedQueue against a private RabbitMQ node on 127.0.0.1.
#   scripts/test.sh [Swift Testing arguments, e.g. --filter AMQPTests]
# Installs missing system packages, starts the broker and a TLS-only node
# (scripts/tls-node.sh; a failing start fails the run: broker tests never skip),
# builds `fedq` and the tests, runs them under a watchdog, and always stops the nodes again.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

source scripts/lib/packages.sh
# gdb: the watchdog (scripts/lib/test-watchdog.sh) prints a hung test process's threads.
fedq_install_missing_packages shellcheck gdb
source scripts/lib/test-watchdog.sh

# Every shell script lints clean (-x follows what they source), or nothing else runs.
shellcheck -x scripts/*.sh scripts/lib/*.sh docker/tls/*.sh .ci/run
echo "test.sh: shellcheck clean"

port="${FEDQ_BROKER_PORT:-5699}"
tls_port="${FEDQ_TLS_BROKER_PORT:-5697}"
# However the run ends (a failing test included, which ends it through set -e), its watchdog
# (below) goes with it, and the nodes are stopped.
watchdog=""
running="$repo/.build/test-running.$$"
# shellcheck disable=SC2317  # run by the EXIT trap
stop_run() {
    rm -f "$running"
    if [[ -n $watchdog ]]; then
        # Its sleep too: an orphaned sleep would hold the output pipe open (and CI waiting) for the limit.
        pkill -P "$watchdog" 2>/dev/null || true
        kill "$watchdog" 2>/dev/null || true
    fi
    scripts/broker.sh stop "$port" >/dev/null 2>&1 || true
    scripts/tls-node.sh stop "$tls_port" >/dev/null 2>&1 || true
    scripts/cluster.sh stop >/dev/null 2>&1 || true
}
trap stop_run EXIT
url="$(scripts/broker.sh start "$port")"
export FEDQ_TEST_BROKER="$url"
export FEDQ_BROKER_SCRIPT="$repo/scripts/broker.sh"
echo "test.sh: broker at $FEDQ_TEST_BROKER"
# A TLS-only node (mutual TLS, SASL EXTERNAL, fresh certificates) for the TLS tests.
FEDQ_TEST_TLS_BROKER="$(scripts/tls-node.sh start "$tls_port")"
FEDQ_TEST_TLS_CERTS="$(scripts/tls-node.sh certs-dir "$tls_port")"
export FEDQ_TEST_TLS_BROKER FEDQ_TEST_TLS_CERTS
echo "test.sh: TLS node on port $tls_port, certificates in $FEDQ_TEST_TLS_CERTS"
# A 3-node cluster (ports 5710-5712 unless FEDQ_CLUSTER_BASE_PORT) for the cluster tests.
FEDQ_TEST_CLUSTER="$(scripts/cluster.sh start 3)"
export FEDQ_TEST_CLUSTER
export FEDQ_CLUSTER_SCRIPT="$repo/scripts/cluster.sh"
echo "test.sh: cluster at $FEDQ_TEST_CLUSTER"

# The distributed-pipeline tests start `fedq` role processes: build the binary beside
# the test bundle first (same flags, so the two builds share their objects).
swift build -c release -Xswiftc -enable-testing --product fedq
swift build -c release -Xswiftc -enable-testing --build-tests

# The tests run under a watchdog (FEDQ_TEST_TIMEOUT_MINUTES, default 45; a full run takes
# 10-12 here; some machines are 3x slower): a hang fails the run with every thread's stack
# and the unfinished tests instead of running into CI's own limit in silence.
log="$repo/.build/test-output.log"
status_file="$repo/.build/test-status"
rm -f "$status_file"
cluster_base="${FEDQ_CLUSTER_BASE_PORT:-5710}"
cluster_dir="$repo/.broker/cluster-$cluster_base"
mkdir -p "$repo/.build" && touch "$running"
fedq_test_watchdog "${FEDQ_TEST_TIMEOUT_MINUTES:-45}" "$running" "$log" \
    "$port:$((port - 1000)):$repo/.broker/$port" "$tls_port:$((tls_port - 1000)):$repo/.broker/tls-$tls_port" \
    "$cluster_base:$((cluster_base - 1000)):$cluster_dir/node-1:$cluster_dir/home" \
    "$((cluster_base + 1)):$((cluster_base - 1000)):$cluster_dir/node-2:$cluster_dir/home" \
    "$((cluster_base + 2)):$((cluster_base - 1000)):$cluster_dir/node-3:$cluster_dir/home" &
watchdog=$!
disown "$watchdog"  # ended below; no "Terminated" line for it
# The test bundle runs directly, not through `swift test`, which holds the bundle's output
# until it exits: a hung run's log would end well before the hang. (Every test is a Swift
# Testing test; there are no XCTest cases for `swift test` to add.)
bundle="$(swift build -c release -Xswiftc -enable-testing --show-bin-path)/FedQueuePackageTests.xctest"
# The bundle's status goes to a file, not through the pipe: under set -e a failing bundle
# would end the pipe's subshell (and this script) before anything after it ran.
run_bundle() {
    local status=0
    NO_COLOR=1 "$bundle" --testing-library swift-testing "$@" 2>&1 || status=$?
    echo "$status" >"$status_file"
}
run_bundle "$@" | tee "$log"
rm -f "$running"
pkill -P "$watchdog" 2>/dev/null || true
kill "$watchdog" 2>/dev/null || true
status="$(cat "$status_file" 2>/dev/null || echo 1)"
if [[ $status != 0 ]]; then
    echo "test.sh: the tests failed (exit $status); unfinished tests, if any:"
    fedq_unfinished_tests "$log"
fi
exit "$status"
