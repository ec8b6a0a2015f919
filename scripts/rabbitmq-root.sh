#!/usr/bin/env bash
# Makes a Debian 13 root holding RabbitMQ 4.0 (and Erlang 27) beside this Debian 12 system,
# whose own package is RabbitMQ 3.10, and prints the line that points FedQueue's scripts at it:
#   scripts/rabbitmq-root.sh [DIR (default /opt/fedq-rabbitmq4)]
#   export FEDQ_RABBITMQ_ROOT=DIR      # then scripts/broker.sh, cluster.sh, tls-node.sh,
#                                      # test.sh and the benchmarks run RabbitMQ 4.0 nodes
# Why a root and not the package: Erlang 27 needs Debian 13's C library, which Debian 12
# cannot take; the docker image (docker/compose.yml, rabbitmq:4-management) runs RabbitMQ 4,
# and this is how the tests and benchmarks meet it on a machine without Docker Hub.
# debootstrap fetches Debian 13 from deb.debian.org (about 45 s here, 400 MB on disk). The
# node keeps its files where scripts/broker.sh puts them: the root sees this repository,
# /tmp, /proc, /sys and /dev through bind mounts, made again when missing (after a reboot).
# Needs root. `scripts/rabbitmq-root.sh --unmount [DIR]` takes the mounts away.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
unmount=false
if [[ "${1:-}" == --unmount ]]; then unmount=true; shift; fi
root="${1:-/opt/fedq-rabbitmq4}"
[[ "$root" == /* ]] || { echo "rabbitmq-root.sh: DIR must be an absolute path, got '$root'" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "rabbitmq-root.sh: needs root (debootstrap, chroot and mount do)" >&2; exit 1; }
mounts=(/proc /sys /dev /dev/pts /tmp "$repo")

if $unmount; then
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        if mountpoint -q "$root${mounts[i]}"; then umount "$root${mounts[i]}"; fi
    done
    exit 0
fi

if [[ ! -x "$root/usr/lib/rabbitmq/bin/rabbitmq-server" ]]; then
    source "$repo/scripts/lib/packages.sh"
    if ! command -v debootstrap >/dev/null; then fedq_install_missing_packages debootstrap; fi
    echo "making a Debian 13 root with RabbitMQ 4.0 in $root" >&2
    debootstrap --variant=minbase --include=rabbitmq-server trixie "$root" http://deb.debian.org/debian >"$root.log" 2>&1 ||
        { echo "rabbitmq-root.sh: debootstrap failed; see $root.log" >&2; exit 1; }
fi
for mount in "${mounts[@]}"; do
    mkdir -p "$root$mount"
    if ! mountpoint -q "$root$mount"; then mount --bind "$mount" "$root$mount"; fi
done
# shellcheck disable=SC2016  # ${Version} is dpkg-query's field, not the shell's
echo "RabbitMQ $(chroot "$root" dpkg-query -W -f='${Version}' rabbitmq-server) in $root" >&2
echo "export FEDQ_RABBITMQ_ROOT=$root"
