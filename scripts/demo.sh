#!/usr/bin/env bash
# FedQueue's main job: a federated run on real MNIST with the defaults of
# `fedq simulate` (100 clients, 10 training at once, FedBuff, int8 updates,
# embedded broker), until the model reaches 97% test accuracy.
#   scripts/demo.sh [extra fedq simulate options, e.g. --partition shards]
# Installs missing system packages, builds in release, runs, and prints where
# the report is.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

source scripts/lib/packages.sh
fedq_install_missing_packages

swift build -c release --product fedq
out="runs/demo-$(date +%Y%m%d-%H%M%S)"
.build/release/fedq simulate --out "$out" "$@"
echo
echo "summary: $repo/$out/summary.json"
echo "history: $repo/$out/history.csv"
