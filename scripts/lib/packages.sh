# shellcheck shell=bash
# Sourced by scripts/demo.sh and scripts/test.sh: installs the Debian packages FedQueue
# builds and runs against when any is missing. The packaged RabbitMQ service is kept from
# starting (policy-rc.d): FedQueue always runs a private node of its own (scripts/broker.sh).
# `prometheus` is there for its promtool, with which the tests check /metrics, the compose
# scrape config and the dashboard's queries; its service is kept from starting the same way.
# shellcheck disable=SC2120  # optional extra packages; most callers pass none
fedq_install_missing_packages() {
    # libssl-dev: the AMQP module explains failed TLS handshakes with OpenSSL; openssl:
    # scripts/tls-node.sh makes the test certificates with it.
    # Arguments add packages only the caller needs (scripts/test.sh: shellcheck).
    local packages=(librabbitmq-dev libssl-dev openssl libopenblas-dev rabbitmq-server zlib1g-dev prometheus "$@")
    local missing=() package
    for package in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    ((${#missing[@]} > 0)) || return 0
    echo "installing ${missing[*]}"
    local sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    local policy_added=false
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${sudo_cmd[@]}" chmod +x /usr/sbin/policy-rc.d
        policy_added=true
    fi
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    if $policy_added; then "${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d; fi
}
