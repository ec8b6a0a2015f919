#!/usr/bin/env bash
# A private RabbitMQ node that speaks only verified, mutual TLS, for FedQueue's TLS
# tests and for trying the roles over amqps:// by hand. Like scripts/broker.sh it runs
# Debian's rabbitmq-server with everything bound to 127.0.0.1, but its one listener is
# TLS (no plain AMQP port at all), it requires a client certificate signed by its CA
# (ssl_options.verify = verify_peer, fail_if_no_peer_cert = true), and it accepts
# SASL EXTERNAL: the user is the client certificate's common name
# (rabbitmq_auth_mechanism_ssl, ssl_cert_login_from = common_name). PLAIN stays
# allowed (guest:guest), still behind the client certificate.
#
# Each start generates fresh keys and certificates with openssl under
# .broker/tls-PORT/certs/ (git-ignored), so no key is ever committed:
#   ca.pem                     the CA the node and the clients trust
#   server.pem, server.key     the node's certificate: CN and DNS name "localhost" only,
#                              so a connection to 127.0.0.1 fails the host name check
#   fedq-coordinator.pem/.key, fedq-worker…, fedq-client…, fedq-eval…, fedq-admin…
#                              client certificates; the node has a user for each CN
#                              (no password: they log in with EXTERNAL), imported at
#                              boot from .broker/tls-PORT/definitions.json
#   untrusted-ca.pem           a second CA nobody trusts, and untrusted-client.pem/.key,
#                              a "fedq-worker" certificate it signed (for refusal tests)
#
#   scripts/tls-node.sh start [PORT]      start (or reuse) the node; print its amqps:// URL
#                                         (EXTERNAL as fedq-worker, verified)
#   scripts/tls-node.sh stop [PORT]       stop the node and the epmd it started
#   scripts/tls-node.sh status [PORT]     exit 0 and print the URL when the node answers
#   scripts/tls-node.sh certs-dir [PORT]  print the directory holding the certificates
#   scripts/tls-node.sh url [PORT] [CN]   print the URL for identity CN (default fedq-worker)
# PORT defaults to FEDQ_TLS_BROKER_PORT or 5697. Its derived ports (epmd PORT-1000,
# distribution PORT+20000, rabbitmqctl PORT+21100…+21110) stay clear of broker.sh's
# 5699 and cluster.sh's 5710-5712 and theirs.
set -euo pipefail

command="${1:-status}"
port="${2:-${FEDQ_TLS_BROKER_PORT:-5697}}"
[[ "$port" =~ ^[0-9]+$ ]] || { echo "tls-node.sh: PORT must be a number, got '$port'" >&2; exit 2; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/scripts/lib/rabbit-node.sh"
source "$repo/scripts/lib/tls-certs.sh"
rabbit_node_env "$port" $((port - 1000)) "$repo/.broker/tls-$port"
# broker.sh's rabbitmqctl range (PORT+21000…+21010) would overlap that of a plain node
# two ports up (5699's 26699…26709): move this node's out of the way.
export RABBITMQ_CTL_DIST_PORT_MIN=$((port + 21100))
export RABBITMQ_CTL_DIST_PORT_MAX=$((port + 21110))
export RABBITMQ_ENABLED_PLUGINS=rabbitmq_auth_mechanism_ssl

certs="$node_dir/certs"
identities=("${tls_role_identities[@]}")

# url_escape TEXT: percent-encodes what would end or change a URL query value.
url_escape() {
    local text=$1
    text=${text//%/%25}
    text=${text//&/%26}
    text=${text//#/%23}
    text=${text//\?/%3F}
    text=${text// /%20}
    printf '%s' "$text"
}

# identity_url CN: the amqps:// URL logging in with EXTERNAL as CN, verifying the node.
identity_url() {
    local cn=$1
    printf 'amqps://localhost:%s/%%2F?auth_mechanism=external&cacertfile=%s&certfile=%s&keyfile=%s\n' \
        "$port" "$(url_escape "$certs/ca.pem")" "$(url_escape "$certs/$cn.pem")" "$(url_escape "$certs/$cn.key")"
}

make_certificates() {
    command -v openssl >/dev/null || { source "$repo/scripts/lib/packages.sh"; fedq_install_missing_packages; }
    rm -rf "$certs"
    mkdir -p "$certs"
    tls_certs_dir=$certs tls_certs_days=30
    tls_make_ca ca "FedQueue test CA (port $port)"
    tls_make_leaf ca server localhost server DNS:localhost
    local cn
    for cn in "${identities[@]}"; do tls_make_leaf ca "$cn" "$cn" client; done
    tls_make_ca untrusted-ca "FedQueue untrusted CA (port $port)"
    tls_make_leaf untrusted-ca untrusted-client fedq-worker client
    chmod 600 "$certs"/*.key
}

# write_definitions: the users the node imports at boot. Importing them there rather than
# with rabbitmqctl saves a dozen Erlang VM start-ups (seconds each on a busy machine). A
# node that imports definitions seeds no default user, so guest is listed too (for PLAIN).
# The identities have an empty password hash: no password matches it, so the client
# certificate (EXTERNAL) is their only way in.
write_definitions() {
    local cn tags users=() permissions=()
    for cn in guest "${identities[@]}"; do
        if [[ $cn == guest ]]; then
            users+=('{"name": "guest", "password": "guest", "tags": []}')
        else
            tags=""
            [[ $cn != fedq-admin ]] || tags='"administrator"'
            users+=("{\"name\": \"$cn\", \"password_hash\": \"\", \"tags\": [$tags]}")
        fi
        permissions+=("{\"user\": \"$cn\", \"vhost\": \"/\", \"configure\": \".*\", \"write\": \".*\", \"read\": \".*\"}")
    done
    local IFS=,
    printf '{"users": [%s], "vhosts": [{"name": "/"}], "permissions": [%s]}\n' "${users[*]}" "${permissions[*]}" \
        >"$node_dir/definitions.json"
}

start() {
    if rabbit_node_answers; then identity_url fedq-worker; return 0; fi
    mkdir -p "$node_dir"
    make_certificates
    write_definitions
    rabbit_node_listeners="listeners.tcp = none
listeners.ssl.1 = 127.0.0.1:$port"
    rabbit_node_extra_conf="ssl_options.cacertfile = $certs/ca.pem
ssl_options.certfile = $certs/server.pem
ssl_options.keyfile = $certs/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
auth_mechanisms.1 = EXTERNAL
auth_mechanisms.2 = PLAIN
ssl_cert_login_from = common_name
load_definitions = $node_dir/definitions.json"
    rabbit_node_launch
    rabbit_node_await 120 || { echo "tls-node.sh: the node did not start" >&2; exit 1; }
    identity_url fedq-worker
}

case "$command" in
start) start ;;
stop) rabbit_node_stop_alone ;;
status)
    if rabbit_node_answers; then identity_url fedq-worker; else echo "not running: $RABBITMQ_NODENAME" >&2; exit 1; fi
    ;;
certs-dir) echo "$certs" ;;
url)
    cn="${3:-fedq-worker}"
    [[ " ${identities[*]} " == *" $cn "* ]] || { echo "tls-node.sh: CN must be one of ${identities[*]}, got '$cn'" >&2; exit 2; }
    identity_url "$cn"
    ;;
*) echo "usage: scripts/tls-node.sh start|stop|status|certs-dir|url [PORT] [CN]" >&2; exit 2 ;;
esac
