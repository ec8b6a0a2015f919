#!/usr/bin/env bash
# Makes the certificates docker/compose.yml runs on: a CA of this deployment, the
# broker's certificate (CN rabbitmq; DNS names rabbitmq, the compose service every role
# connects to, and localhost, for the port published on 127.0.0.1), and one client
# certificate per role identity, whose common name is the RabbitMQ user it will log in
# as with SASL EXTERNAL (fedq-coordinator, fedq-worker, fedq-client, fedq-eval,
# fedq-admin). Needs only openssl.
#
#   docker/tls/make-certs.sh           make them under docker/tls/certs/ unless there already
#   docker/tls/make-certs.sh --force   make new ones (then restart the stack: every
#                                      certificate changes, the CA too)
#
# docker/tls/certs/ is git-ignored: no key is ever committed. It is made 0700, so other
# users of the host cannot read the keys; the files in it are 0644, because compose
# bind-mounts them one by one into containers whose users (fedq, uid 10001; rabbitmq)
# are not the host user who owns them, and a bind-mounted file keeps its host owner and
# mode. Each role's container gets the CA, its own certificate and its own key only.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$repo/scripts/lib/tls-certs.sh"
tls_certs_dir="$here/certs"
tls_certs_days=365

case "${1:-}" in
"") if [[ -f "$tls_certs_dir/ca.pem" ]]; then echo "certificates already in $tls_certs_dir (--force to replace them)"; exit 0; fi ;;
--force) ;;
*) echo "usage: docker/tls/make-certs.sh [--force]" >&2; exit 2 ;;
esac
command -v openssl >/dev/null || { echo "make-certs.sh: needs openssl (apt-get install openssl)" >&2; exit 1; }

rm -rf "$tls_certs_dir"
mkdir -p "$tls_certs_dir"
chmod 700 "$tls_certs_dir"
tls_make_ca ca "FedQueue compose CA"
tls_make_leaf ca server rabbitmq server "DNS:rabbitmq,DNS:localhost"
for identity in "${tls_role_identities[@]}"; do tls_make_leaf ca "$identity" "$identity" client; done
chmod 644 "$tls_certs_dir"/*
# The CA key signs nothing at run time: only its owner on the host needs it.
chmod 600 "$tls_certs_dir/ca.key"
echo "made the CA, the broker's certificate and ${#tls_role_identities[@]} role certificates in $tls_certs_dir"
