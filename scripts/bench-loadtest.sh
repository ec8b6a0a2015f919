#!/usr/bin/env bash
# The worker scaling table of BENCHMARKS.md: `fedq loadtest --raw` for W = 1, 2, 4
# aggregator workers × updates of about 50 KB, 200 KB and 800 KB (the mlp's 199,210
# parameters as topk:0.125+int8, int8 and fp32), each beside the broker's raw ceiling
# for the same bytes measured in the same run; then the latency at half the peak rate.
#   scripts/bench-loadtest.sh [UPDATES per run (default 3000)]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/packages.sh
source scripts/lib/fedq.sh
fedq_install_missing_packages
fedq_build_release
updates="${1:-3000}"
port="${FEDQ_BENCH_BROKER_PORT:-5696}"
out="runs/bench-loadtest"
rm -rf "$out"; mkdir -p "$out"
trap 'scripts/broker.sh stop "$port" >/dev/null 2>&1 || true' EXIT
broker="$(scripts/broker.sh start "$port")"

field() { grep -o "\"$2\" : [0-9.e+-]*" "$1" | head -1 | awk '{print $3}'; }
# cpu FILE ARRAY ROLE: the cores ROLE used, summed over its entries in the JSON array ARRAY
# ("cpu" for the pipeline run, "raw_cpu" for the raw one).
cpu() {
    awk -v array="\"$2\"" -v role="\"role\" : \"$3" '
        index($0, array " : [") { inside = 1 }
        inside && /"cores"/ { cores = $3 }
        inside && index($0, role) { sum += cores }
        inside && /^  \]/ { inside = 0 }
        END { printf "%.2f", sum }' "$1"
}

row() {
    local json="$1" codec="$2" workers="$3"
    printf "| %s | %s | %d | %.0f | %.1f | %.0f | %.1f%% | %.1f | %.1f | %s | %s | %s | %s |\n" \
        "$(field "$json" message_bytes)" "$codec" "$workers" "$(field "$json" updates_per_second)" \
        "$(field "$json" mb_per_second)" "$(field "$json" raw_updates_per_second)" \
        "$(awk -v r="$(field "$json" ratio_to_raw)" 'BEGIN {print r * 100}')" "$(field "$json" p50)" "$(field "$json" p99)" \
        "$(cpu "$json" cpu coordinator)" "$(cpu "$json" cpu worker)" "$(cpu "$json" cpu broker)" "$(cpu "$json" raw_cpu broker)"
}

echo "| payload | codec | W | updates/s | MB/s | raw updates/s | pipeline / raw | p50 ms | p99 ms | CPU coordinator | CPU workers | CPU broker | CPU broker, raw run |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for codec in "topk:0.125+int8" int8 fp32; do
    for workers in 1 2 4; do
        json="$out/${codec//[:+]/_}-w$workers.json"
        "$fedq" loadtest --broker "$broker" --codec "$codec" --workers "$workers" --updates "$updates" --raw \
            --json "$json" --out "$out/run" > "$out/last.log" 2>&1 || { cat "$out/last.log"; exit 1; }
        row "$json" "$codec" "$workers"
    done
done

# Latency at half the peak rate: 200 KB updates, 2 workers.
peak=$(field "$out/int8-w2.json" updates_per_second)
half=$(awk -v p="$peak" 'BEGIN {print p / 2}')
"$fedq" loadtest --broker "$broker" --codec int8 --workers 2 --rate "$half" --seconds 10 \
    --json "$out/int8-w2-half-rate.json" --out "$out/half-rate" > "$out/last.log" 2>&1
printf "\nat half the peak (%.0f updates/s offered), int8, W=2: %.0f updates/s, latency p50 %.1f ms, p99 %.1f ms, max %.1f ms\n" \
    "$half" "$(field "$out/int8-w2-half-rate.json" updates_per_second)" "$(field "$out/int8-w2-half-rate.json" p50)" \
    "$(field "$out/int8-w2-half-rate.json" p99)" "$(field "$out/int8-w2-half-rate.json" max)"
