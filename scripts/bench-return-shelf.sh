#!/usr/bin/env bash
# What a worker's return shelf costs (docs/robustness.md, "Replays that reach another worker"):
# `fedq loadtest --codec int8 --workers 2` (200 KB updates, the default quorum path) with the
# workers keeping their last partials' updates (`--return-shelf 32`, the default with --issuer-key) and with
# none (`--return-shelf 0`), run by run in turn on one fresh private node. Per run: updates/s,
# the workers' CPU and each worker process's peak resident memory (VmHWM, read from /proc
# every 200 ms while it runs) and minor page faults (the last count read).
# FEDQ_BENCH_LOADTEST_FLAGS adds flags to the load test, e.g. `--sign`.
#   scripts/bench-return-shelf.sh [RUNS per arm (default 3)] [UPDATES per run (default 6000)]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/loadtest-bench.sh
runs="${1:-3}"
updates="${2:-6000}"
port="${FEDQ_BENCH_BROKER_PORT:-5693}"
out="runs/bench-return-shelf"
read -r -a extra_flags <<< "${FEDQ_BENCH_LOADTEST_FLAGS:-}"
fedq_fresh_bench_node "$port" "$out"
broker_pid="$(scripts/broker.sh pid "$port")"
echo "$runs runs per arm, $updates updates of 200 KB each${FEDQ_BENCH_LOADTEST_FLAGS:+, load test flags $FEDQ_BENCH_LOADTEST_FLAGS}; $(uptime | sed 's/.*load average/load average/')"
echo "| run | --return-shelf MiB | updates/s | p99 ms | workers' CPU (cores) | workers' peak RSS MiB | workers' minor faults (thousands) |"
echo "|---|---:|---:|---:|---:|---|---|"
# peak_rss STOP_FILE OUT_FILE: the largest VmHWM of each `fedq worker` process seen until
# STOP_FILE exists, then (a second line) each one's minor page faults as last read.
peak_rss() {
    declare -A peak=() faults=()
    local pid kb minflt
    while [[ ! -e $1 ]]; do
        for pid in $(pgrep -f "fedq worker" || true); do
            kb="$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2> /dev/null || true)"
            if [[ -n $kb && $kb -gt ${peak[$pid]:-0} ]]; then peak[$pid]=$kb; fi
            minflt="$(awk '{print $10}' "/proc/$pid/stat" 2> /dev/null || true)"
            if [[ -n $minflt ]]; then faults[$pid]=$minflt; fi
        done
        sleep 0.2
    done
    {
        for pid in "${!peak[@]}"; do echo "$((peak[$pid] / 1024))"; done | sort -n | paste -sd/
        for pid in "${!faults[@]}"; do echo "$((faults[$pid] / 1000))"; done | sort -n | paste -sd/
    } > "$2"
}
for ((i = 1; i <= runs; i++)); do
    for shelf in 0 32; do
        json="$out/run-$i-$shelf.json"
        rm -f "$out/stop"
        peak_rss "$out/stop" "$out/rss" &
        sampler=$!
        "$fedq" loadtest --broker "$broker" --broker-pid "$broker_pid" --codec int8 --workers 2 --updates "$updates" \
            --return-shelf "$shelf" "${extra_flags[@]}" --json "$json" --out "$out/run" > "$out/last.log" 2>&1 || { cat "$out/last.log"; exit 1; }
        touch "$out/stop"
        wait "$sampler"
        printf '| %d | %d | %s | %s | %s | %s | %s |\n' "$i" "$shelf" "$(field "$json" updates_per_second)" "$(field "$json" p99)" \
            "$(cpu "$json" cpu worker)" "$(sed -n 1p "$out/rss")" "$(sed -n 2p "$out/rss")"
    done
done
