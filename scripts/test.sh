#!/usr/bin/env bash
# Runs every test of FedQueue against a private RabbitMQ node on 127.0.0.1.
#   scripts/test.sh [extra swift test arguments, e.g. --filter AMQPTests]
# Installs missing system packages, starts the broker and a TLS-only node
# (scripts/tls-node.sh; a failing start fails the run: broker tests never skip),
# builds `fedq`, runs `swift test`, and always stops the nodes again.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

source scripts/lib/packages.sh
fedq_install_missing_packages shellcheck

# Every shell script lints clean (-x follows what they source), or nothing else runs.
shellcheck -x scripts/*.sh scripts/lib/*.sh docker/tls/*.sh .ci/run
echo "test.sh: shellcheck clean"

port="${FEDQ_BROKER_PORT:-5699}"
tls_port="${FEDQ_TLS_BROKER_PORT:-5697}"
trap 'scripts/broker.sh stop "$port" >/dev/null 2>&1 || true; scripts/tls-node.sh stop "$tls_port" >/dev/null 2>&1 || true; scripts/cluster.sh stop >/dev/null 2>&1 || true' EXIT
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
swift test -c release -Xswiftc -enable-testing "$@"
