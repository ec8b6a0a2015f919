#!/usr/bin/env bash
# The worker scaling table of BENCHMARKS.md: `fedq loadtest --raw` for W = 1, 2, 4
# aggregator workers × updates of about 50 KB, 200 KB and 800 KB (the mlp's 199,210
# parameters as topk:0.125+int8, int8 and fp32), each beside the broker's raw ceiling
# for the same bytes measured in the same run; then repeated runs of the target cell
# (200 KB, W=2), and the latency at half the peak rate.
#
# On a machine of 2 or more cores the broker gets core 0 and every fedq process (publishers,
# coordinator, workers) the others, as when the broker has a node of its own: otherwise the
# roles' CPU is taken from the broker in the pipeline run but not in the raw run, and the
# ratio measures the sharing, not the pipeline. The target cell is also run with the cores
# shared, for comparison. FEDQ_BENCH_PIN=0 shares the cores throughout.
#   scripts/bench-loadtest.sh [SECONDS of publishing per cell (default 8)] [REPEATS of the target cell (default 5)]
# A cell's throughput includes the wait for the model version holding its last updates
# (up to 100 ms in a worker plus 200 ms at the coordinator), so cells must last seconds:
# a 3,000-update cell of 50 KB updates lasted about 1 s and lost a quarter to that wait.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/loadtest-bench.sh
seconds="${1:-8}"
repeats="${2:-5}"
port="${FEDQ_BENCH_BROKER_PORT:-5696}"
out="runs/bench-loadtest"
fedq_fresh_bench_node "$port" "$out"
broker_pid="$(scripts/broker.sh pid "$port")"
cores="$(nproc)"
all_cpus="0-$((cores - 1))"

# pin on|off: the broker on core 0 and `run` on the others, or everything on every core.
pinned=0
pin() {
    if [[ "$1" == on && "${FEDQ_BENCH_PIN:-1}" != 0 && "$cores" -ge 2 ]]; then
        taskset -a -cp 0 "$broker_pid" >/dev/null
        pinned=1
    else
        taskset -a -cp "$all_cpus" "$broker_pid" >/dev/null
        pinned=0
    fi
}
run() {
    if ((pinned)); then taskset -c "1-$((cores - 1))" "$fedq" "$@"; else "$fedq" "$@"; fi
}


row() {
    local json="$1" codec="$2" workers="$3"
    printf "| %s | %s | %d | %.0f | %.1f | %.0f | %.1f%% | %.1f | %.1f | %s | %s | %s | %s | %s | %s |\n" \
        "$(field "$json" message_bytes)" "$codec" "$workers" "$(field "$json" updates_per_second)" \
        "$(field "$json" mb_per_second)" "$(field "$json" raw_updates_per_second)" \
        "$(awk -v r="$(field "$json" ratio_to_raw)" 'BEGIN {print r * 100}')" "$(field "$json" p50)" "$(field "$json" p99)" \
        "$(cpu "$json" cpu coordinator)" "$(cpu "$json" cpu worker)" "$(cpu "$json" cpu broker)" "$(cpu "$json" raw_cpu broker)" \
        "$(cpu "$json" cpu machine)" "$(cpu "$json" raw_cpu machine)"
}

pin on
echo "cores: $cores; broker pinned to core 0, fedq to the others: $([[ $pinned == 1 ]] && echo yes || echo no)"
echo
echo "| payload | codec | W | updates/s | MB/s | raw updates/s | pipeline / raw | p50 ms | p99 ms | CPU coordinator | CPU workers | CPU broker | CPU broker, raw run | machine busy | machine busy, raw run |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for codec in "topk:0.125+int8" int8 fp32; do
    for workers in 1 2 4; do
        json="$out/${codec//[:+]/_}-w$workers.json"
        run loadtest --broker "$broker" --broker-pid "$broker_pid" --codec "$codec" --workers "$workers" --seconds "$seconds" --raw \
            --json "$json" --out "$out/run" > "$out/last.log" 2>&1 || { cat "$out/last.log"; exit 1; }
        row "$json" "$codec" "$workers"
    done
done

# The target cell again, 10,000 updates per run (the last buffer's wait weighs < 3%), with the
# broker on its own core and then with the cores shared; the median ratio of each.
target() {
    local label="$1" ratios=()
    for ((i = 1; i <= repeats; i++)); do
        local json="$out/target-$label-$i.json"
        run loadtest --broker "$broker" --broker-pid "$broker_pid" --codec int8 --workers 2 --updates 10000 --raw --json "$json" --out "$out/run" \
            > "$out/last.log" 2>&1 || { cat "$out/last.log"; exit 1; }
        ratios+=("$(awk -v r="$(field "$json" ratio_to_raw)" 'BEGIN {printf "%.1f", r * 100}')")
        printf "%s run %d: %.0f updates/s, raw %.0f/s, pipeline / raw %s%%, machine busy %s cores (raw run %s)\n" "$label" "$i" \
            "$(field "$json" updates_per_second)" "$(field "$json" raw_updates_per_second)" "${ratios[-1]}" \
            "$(cpu "$json" cpu machine)" "$(cpu "$json" raw_cpu machine)"
    done
    printf "%s: median pipeline / raw %s%% over %d runs\n" "$label" \
        "$(printf "%s\n" "${ratios[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')" "$repeats"
}
echo
pin on
target "$([[ $pinned == 1 ]] && echo "broker on its own core" || echo "cores shared")"
if [[ $pinned == 1 ]]; then
    pin off
    target "cores shared"
    pin on
fi

# Latency at half the peak rate: 200 KB updates, 2 workers.
peak=$(field "$out/int8-w2.json" updates_per_second)
half=$(awk -v p="$peak" 'BEGIN {print p / 2}')
run loadtest --broker "$broker" --broker-pid "$broker_pid" --codec int8 --workers 2 --rate "$half" --seconds 10 \
    --json "$out/int8-w2-half-rate.json" --out "$out/half-rate" > "$out/last.log" 2>&1
printf "\nat half the peak (%.0f updates/s offered), int8, W=2: %.0f updates/s, latency p50 %.1f ms, p99 %.1f ms, max %.1f ms\n" \
    "$half" "$(field "$out/int8-w2-half-rate.json" updates_per_second)" "$(field "$out/int8-w2-half-rate.json" p50)" \
    "$(field "$out/int8-w2-half-rate.json" p99)" "$(field "$out/int8-w2-half-rate.json" max)"
