#!/usr/bin/env bash
# How long an update's bytes stay on a RabbitMQ node's disk after it left its quorum queue
# (docs/security.md, "Updates stay on the broker's disks after they are aggregated").
# On a fresh private node: a 200 KB message carrying a marker is published to a quorum
# queue and consumed at the start of a fresh write-ahead log; then messages of 200 KB are
# published and consumed, STEP at a time, and after each step the script says which of the
# node's files still hold the marker, until none does or MAX messages went by.
#   scripts/broker-residue.sh [MAX (default 4000)] [STEP (default 500)]
# It uses amqp-tools' amqp-publish and amqp-get (installed when missing), one process a
# message: it measures what stays in the files, not speed. Port: FEDQ_RESIDUE_PORT (5694).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
max="${1:-4000}"
step="${2:-500}"
[[ "$max" =~ ^[1-9][0-9]*$ && "$step" =~ ^[1-9][0-9]*$ ]] || {
    echo "broker-residue.sh: MAX and STEP must be positive whole numbers, got '$max' and '$step'" >&2
    exit 2
}
port="${FEDQ_RESIDUE_PORT:-5694}"
source scripts/lib/packages.sh
fedq_install_missing_packages amqp-tools
source scripts/lib/rabbit-node.sh
rabbit_node_env "$port" $((port - 1000)) "$repo/.broker/$port"
scripts/broker.sh reset "$port"
url="$(scripts/broker.sh start "$port")"
trap 'scripts/broker.sh stop "$port" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
work="$(mktemp -d)"
quorum_dir="$node_dir/mnesia/$RABBITMQ_NODENAME/quorum"

rabbit_ctl eval 'rabbit_amqqueue:declare(rabbit_misc:r(<<"/">>, queue, <<"residue">>), true, false, [{<<"x-queue-type">>, longstr, <<"quorum">>}], none, <<"guest">>).' >/dev/null
marker="FEDQ-RESIDUE-MARKER-$RANDOM$RANDOM"
{ printf '%s' "$marker"; head -c $((200000 - ${#marker})) /dev/urandom; } > "$work/marker"
head -c 200000 /dev/urandom > "$work/filler"
# The marker goes first into a fresh log, so what follows measures a whole log's life.
rabbit_ctl eval 'ra_log_wal:force_roll_over(ra_log_wal).' >/dev/null
sleep 1
amqp-publish -u "$url" -r residue -p < "$work/marker"
amqp-get -u "$url" -q residue > /dev/null
holders() { grep -rl --binary-files=text "$marker" "$quorum_dir" | sed "s|^$quorum_dir/||" | tr '\n' ' ' || true; }
echo "after it was consumed: in $(holders)"
moved=0
while ((moved < max)); do
    for ((i = 0; i < step; i++)); do
        amqp-publish -u "$url" -r residue -p < "$work/filler"
        amqp-get -u "$url" -q residue > /dev/null
    done
    moved=$((moved + step))
    where="$(holders)"
    echo "after $moved more of 200 KB: ${where:-in no file of the node}"
    [[ -n "$where" ]] || exit 0
done
echo "still on disk after $max more"
