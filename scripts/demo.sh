#!/usr/bin/env bash
# FedQueue's main job: a federated run on real MNIST until the model reaches 97%
# test accuracy.
#   scripts/demo.sh [extra fedq simulate options, e.g. --partition shards]
#       the whole pipeline in one process on the embedded broker (the defaults of
#       `fedq simulate`: 100 clients, 10 training at once, FedBuff, int8 updates)
#   scripts/demo.sh --dataset data/wdbc/wdbc.csv --label diagnosis [--clients 5 --partition dirichlet:0.5]
#       the same on a medical table: hospitals holding biopsies (docs/models.md)
#   scripts/demo.sh --rabbitmq [extra fleet options, e.g. --partition shards]
#       the same as separate processes on a private RabbitMQ node on 127.0.0.1:
#       a coordinator, 2 aggregator workers, a 100-client fleet and an evaluator,
#       each as its own least-privilege broker identity, with signed updates and models
#   scripts/demo.sh --rabbitmq --dataset data/wdbc/wdbc.csv --label diagnosis [--clients 5 ...]
#       the table federation as processes: every role gets the table options, the clients
#       send signed statistics (never rows), and the coordinator waits for all of them;
#       with --feature-ranges data/wdbc/wdbc-ranges.csv the table is scaled by those public
#       bounds instead, and no client sends statistics
#   FEDQ_REVOKED=FILE scripts/demo.sh --rabbitmq ...
#       the coordinator sends the revocation list FILE (`fedq keys revoke`) to the workers
#       on its signed version notices; no other role reads the file
# Installs missing system packages, builds in release, runs, prints where the
# report is, and stops everything it started.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

source scripts/lib/fedq.sh
fedq_ready
out="runs/demo-$(date +%Y%m%d-%H%M%S)"

if [[ "${1:-}" != "--rabbitmq" ]]; then
    "$fedq" simulate --out "$out" "$@"
    echo
    echo "summary: $repo/$out/summary.json"
    echo "history: $repo/$out/history.csv"
    exit 0
fi
shift

# A table federation: the table options go to every role, the fleet's clients are
# hospitals (5 unless --clients says otherwise, each training 50 ms at least), and the
# coordinator waits for every client's statistics before its first version.
table=()
clients=100
target=0.97
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --dataset | --label | --model | --test-fraction | --feature-ranges) table+=("${args[i]}" "${args[i + 1]:-}") ;;
    esac
done
fleet_defaults=()
coordinator_table=()
if ((${#table[@]} > 0)); then
    clients=5
    target=0.96
    fleet_defaults=(--clients 5 --device-ms 50)
fi
for ((i = 0; i < ${#args[@]}; i++)); do
    [[ "${args[i]}" == --clients ]] && clients="${args[i + 1]:-$clients}"
done
# With --feature-ranges the table is scaled by public bounds: no statistics, no quorum.
if ((${#table[@]} > 0)); then
    coordinator_table=("${table[@]}")
    [[ " ${table[*]} " == *" --feature-ranges "* ]] || coordinator_table+=(--statistics-quorum "$clients")
fi

# A revocation list goes to the coordinator alone: the workers get it from its notices.
revoked=()
if [[ -n "${FEDQ_REVOKED:-}" ]]; then revoked=(--revoked "$FEDQ_REVOKED"); fi
unset FEDQ_REVOKED

port="${FEDQ_DEMO_BROKER_PORT:-5698}"
trap 'fedq_stop_roles_and_broker "$port"' EXIT
scripts/broker.sh start "$port" >/dev/null
mkdir -p "$out"
# Every role runs as its own least-privilege identity (topology/identities.json,
# docs/security.md), its password in a file of mode 600, never on a command line.
ids="$out/identities"
"$fedq" identities create --out "$ids" > "$out/identities.log"
scripts/broker.sh import "$port" "$ids/definitions.json"
broker="127.0.0.1:$port/%2F"
# as USER COMMAND...: runs COMMAND with USER's broker identity.
as() {
    local user="$1"; shift
    FEDQ_BROKER="amqp://$user@$broker" FEDQ_BROKER_PASSWORD_FILE="$ids/$user.password" "$@"
}
# Signed updates and models (docs/signing.md): the federation's issuer credentials the
# fleet's 100 clients; workers admit only updates signed under those credentials, and
# every subscriber checks the coordinator's signature on each model version.
keys="$out/keys"
"$fedq" keys init "$keys" > "$out/keys.log"
"$fedq" keys issue --issuer "$keys/issuer.key" --clients 0-99 --valid-days 1 --out "$keys/clients" >> "$out/keys.log"
echo "demo: RabbitMQ at amqp://…@$broker, one identity per role ($ids), signed updates and models ($keys); role logs in $out/*.log"

# A fresh run: what an earlier demo left in the queues is not this run's. Only the
# administrator may declare or purge the topology.
as fedq-admin "$fedq" topology apply --purge > "$out/topology.log" 2>&1
as fedq-coordinator fedq_start_role "$out/coordinator.log" coordinator --checkpoint "$out/coordinator" \
    --signing-key "$keys/coordinator.key" --issuer-key "$keys/issuer.pub" "${revoked[@]}" "${coordinator_table[@]}"
for worker in 1 2; do
    as fedq-worker fedq_start_role "$out/worker-$worker.log" worker \
        --issuer-key "$keys/issuer.pub" --coordinator-key "$keys/coordinator.pub" "${table[@]}"
done
as fedq-client fedq_start_role "$out/fleet.log" fleet --clients 100 "${fleet_defaults[@]}" --out "$out/fleet" \
    --credentials "$keys/clients" --coordinator-key "$keys/coordinator.pub" "$@"
fleet="${fedq_role_pids[-1]}"
as fedq-eval "$fedq" eval --out "$out/eval" --target-accuracy "$target" --stop-at-target \
    --coordinator-key "$keys/coordinator.pub" "${table[@]}" 2>&1 | tee "$out/eval.log" | grep --line-buffered "reached\|version [0-9]*0 "
# The fleet stops; the coordinator then settles what is still in flight (its buffer
# is applied after --max-buffer-wait-ms) and the report checks the books.
kill -TERM "$fleet"; wait "$fleet" || true
"$fedq" report "$out" --target-accuracy "$target" --wait-settled 30
