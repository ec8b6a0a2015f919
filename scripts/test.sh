#!/usr/bin/env bash
# Runs every test of FedQueue against a private RabbitMQ node on 127.0.0.1.
#   scripts/test.sh [extra swift test arguments, e.g. --filter AMQPTests]
# Installs missing system packages, starts the broker (a failing start fails
# the run: broker tests never skip), builds `fedq`, runs `swift test`, and
# always stops the broker again.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

source scripts/lib/packages.sh
fedq_install_missing_packages

port="${FEDQ_BROKER_PORT:-5699}"
trap 'scripts/broker.sh stop "$port" >/dev/null 2>&1 || true; scripts/cluster.sh stop >/dev/null 2>&1 || true' EXIT
url="$(scripts/broker.sh start "$port")"
export FEDQ_TEST_BROKER="$url"
export FEDQ_BROKER_SCRIPT="$repo/scripts/broker.sh"
echo "test.sh: broker at $FEDQ_TEST_BROKER"
# A 3-node cluster (ports 5710-5712 unless FEDQ_CLUSTER_BASE_PORT) for the cluster tests.
FEDQ_TEST_CLUSTER="$(scripts/cluster.sh start 3)"
export FEDQ_TEST_CLUSTER
export FEDQ_CLUSTER_SCRIPT="$repo/scripts/cluster.sh"
echo "test.sh: cluster at $FEDQ_TEST_CLUSTER"

# The distributed-pipeline tests start `fedq` role processes: build the binary beside
# the test bundle first (same flags, so the two builds share their objects).
swift build -c release -Xswiftc -enable-testing --product fedq
swift test -c release -Xswiftc -enable-testing "$@"
