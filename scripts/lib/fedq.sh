# shellcheck shell=bash disable=SC2154  # $repo is set by the sourcing script
# Sourced by the scripts that build and run `fedq` (demo, benchmarks): a release
# build, and roles started as background processes on a private broker, stopped
# again with the broker however the script ends.

# fedq_build_release: builds the `fedq` product in release and sets $fedq to it.
fedq_build_release() {
    # The flags of scripts/test.sh, so the demo, the benchmarks and the tests share one build.
    swift build -c release -Xswiftc -enable-testing --product fedq >&2
    fedq="$repo/.build/release/fedq"
}

# fedq_ready: what every script that runs the release `fedq` starts with: the system
# packages it needs, installed through apt when missing, then the build ($fedq).
fedq_ready() {
    # shellcheck source=scripts/lib/packages.sh
    source "$repo/scripts/lib/packages.sh"
    fedq_install_missing_packages
    fedq_build_release
}

fedq_role_pids=()

# fedq_start_role LOG ARGUMENTS...: runs `$fedq ARGUMENTS...` in the background,
# its output in LOG; its pid is the last of $fedq_role_pids.
fedq_start_role() {
    local log="$1"; shift
    "$fedq" "$@" > "$log" 2>&1 &
    fedq_role_pids+=("$!")
}

# fedq_stop_roles_and_broker PORT: SIGTERM to every role started, wait for them,
# then stop the private broker on PORT (meant for `trap … EXIT`).
fedq_stop_roles_and_broker() {
    local pid
    for pid in "${fedq_role_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${fedq_role_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    scripts/broker.sh stop "$1" >/dev/null 2>&1 || true
}

# fedq_fresh_bench_node PORT OUT: what every benchmark on a private RabbitMQ node starts
# with: OUT emptied, the node on PORT reset and started (and stopped, with every role
# started, when the script exits); sets `broker` to the node's URL.
fedq_fresh_bench_node() {
    local port="$1" out="$2"
    rm -rf "$out"; mkdir -p "$out"
    # shellcheck disable=SC2064  # the port is expanded now, on purpose
    trap "fedq_stop_roles_and_broker $port" EXIT
    scripts/broker.sh reset "$port" >/dev/null 2>&1 || true
    # shellcheck disable=SC2034  # read by the script that sourced this file
    broker="$(scripts/broker.sh start "$port")"
}
