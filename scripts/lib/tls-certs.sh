# shellcheck shell=bash disable=SC2154,SC2034  # the sourcing script sets tls_certs_dir and tls_certs_days, and reads tls_role_identities
# Test and demo certificates with openssl, for scripts/tls-node.sh (a private TLS node)
# and docker/tls/make-certs.sh (the compose deployment): a CA, a server certificate, and
# client certificates whose common name is the RabbitMQ user they log in as with SASL
# EXTERNAL (ssl_cert_login_from = common_name). EC P-256 keys: quick to make, and both
# OpenSSL (librabbitmq) and Erlang's ssl (RabbitMQ) accept them.
#
# Set $tls_certs_dir (where the files go) and $tls_certs_days (validity) first.

# tls_make_ca NAME CN: a self-signed CA, NAME.pem with its key NAME.key.
tls_make_ca() {
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$tls_certs_days" \
        -subj "/CN=$2" -keyout "$tls_certs_dir/$1.key" -out "$tls_certs_dir/$1.pem" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# tls_make_leaf CA NAME CN server|client [SAN]: NAME.pem (key NAME.key) for CN, signed by
# CA. A server certificate names its hosts in SAN (e.g. DNS:rabbitmq,DNS:localhost):
# clients check the host they connect to against it.
tls_make_leaf() {
    local ca=$1 name=$2 cn=$3 kind=$4 san=${5:-} usage extensions
    usage=$([[ $kind == server ]] && echo serverAuth || echo clientAuth)
    extensions="basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=$usage\n"
    [[ -z $san ]] || extensions+="subjectAltName=$san\n"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$cn" \
        -keyout "$tls_certs_dir/$name.key" -out "$tls_certs_dir/$name.csr" 2>/dev/null
    openssl x509 -req -in "$tls_certs_dir/$name.csr" -CA "$tls_certs_dir/$ca.pem" -CAkey "$tls_certs_dir/$ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days "$tls_certs_days" -out "$tls_certs_dir/$name.pem" \
        -extfile <(printf '%b' "$extensions") 2>/dev/null
    rm -f "$tls_certs_dir/$name.csr"
}

# The role identities: each client certificate's CN, and the broker user it logs in as.
tls_role_identities=(fedq-coordinator fedq-worker fedq-client fedq-eval fedq-admin)
