#!/usr/bin/env bash
# Runs every test of FedQueue against a private RabbitMQ node on 127.0.0.1.
#   scripts/test.sh [extra swift test arguments, e.g. --filter AMQPTests]
# Installs missing system packages, starts the broker (a failing start fails
# the run: broker tests never skip), runs `swift test`, and always stops the
# broker again.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

packages=(librabbitmq-dev libopenblas-dev rabbitmq-server zlib1g-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
    echo "test.sh: installing ${missing[*]}"
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    # Keep the packaged system node from starting: we run a private one.
    policy_added=false
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${sudo_cmd[@]}" chmod +x /usr/sbin/policy-rc.d
        policy_added=true
    fi
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    if $policy_added; then "${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d; fi
fi

port="${FEDQ_BROKER_PORT:-5699}"
trap 'scripts/broker.sh stop "$port" >/dev/null 2>&1 || true' EXIT
url="$(scripts/broker.sh start "$port")"
export FEDQ_TEST_BROKER="$url"
export FEDQ_BROKER_SCRIPT="$repo/scripts/broker.sh"
echo "test.sh: broker at $FEDQ_TEST_BROKER"

swift test -c release -Xswiftc -enable-testing "$@"
