#!/usr/bin/env bash
# 10,000 simulated clients under 4 GB (issue 18, item 5): the peak memory and
# throughput of `fedq fleet` (against a coordinator and 2 workers on a private
# RabbitMQ node) and of `fedq simulate` (embedded broker), for the int8 codec and
# for topk:0.01+int8 with the error-feedback residual kept in fp32 (as before) and
# in int8 (CompactResidual, the default); then what the int8 residual costs in
# accuracy: topk:0.01+int8 simulations, 100 clients, fp32 against int8 residual,
# same seeds, updates to 97% and final accuracy. Prints one line per run.
#   scripts/bench-fleet-memory.sh [CLIENTS (default 10000)] [UPDATES (default 20000)]
#   FEDQ_BIN=path/to/fedq uses that binary instead of building one (a copy, so the
#   tree can be rebuilt while this runs); FEDQ_BENCH_BROKER_PORT (default 5696);
#   FEDQ_BENCH_SEEDS (default "1 2") for the accuracy runs; FEDQ_BENCH_SKIP=fleet,
#   simulate or accuracy leaves that part out; FEDQ_BENCH_OUT (default
#   runs/bench-fleet-memory) is where the runs write.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/fedq.sh
if [[ -n "${FEDQ_BIN:-}" ]]; then fedq="$FEDQ_BIN"; else fedq_build_release; fi
clients="${1:-10000}"
updates="${2:-20000}"
[[ "$clients" =~ ^[0-9]+$ && "$updates" =~ ^[0-9]+$ ]] || { echo "bench-fleet-memory.sh: CLIENTS and UPDATES must be numbers" >&2; exit 2; }
port="${FEDQ_BENCH_BROKER_PORT:-5696}"
seeds="${FEDQ_BENCH_SEEDS:-1 2}"
skip="${FEDQ_BENCH_SKIP:-}"
out="${FEDQ_BENCH_OUT:-runs/bench-fleet-memory}"
rm -rf "$out"; mkdir -p "$out"
# The three client setups: NAME CODEC RESIDUAL.
cases=("int8 int8 int8" "topk-fp32-residual topk:0.01+int8 fp32" "topk-int8-residual topk:0.01+int8 int8")

# json FILE KEY: a number from a summary.json.
json() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("-" if v is None else v)' "$1" "$2"; }
# peak_mib TIME_FILE: the maximum resident set size /usr/bin/time -v recorded, in MiB.
peak_mib() { awk -F': ' '/Maximum resident set size/ {printf "%d", $2 / 1024}' "$1"; }
rate() { python3 -c 'import sys; print("%.0f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }

echo "machine: $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $clients clients, $updates updates"
if [[ "$skip" != *fleet* ]]; then
    trap 'fedq_stop_roles_and_broker "$port"' EXIT
    scripts/broker.sh reset "$port" >/dev/null 2>&1 || true
    FEDQ_BROKER="$(scripts/broker.sh start "$port")"
    export FEDQ_BROKER
    for setup in "${cases[@]}"; do
        read -r name codec residual <<< "$setup"
        dir="$out/fleet-$name"; mkdir -p "$dir"
        "$fedq" topology apply --purge >/dev/null
        fedq_start_role "$dir/coordinator.log" coordinator --checkpoint "$dir/coordinator"
        servers=("${fedq_role_pids[-1]}")
        for worker in 1 2; do
            fedq_start_role "$dir/worker-$worker.log" worker
            servers+=("${fedq_role_pids[-1]}")
        done
        /usr/bin/time -v -o "$dir/time.txt" "$fedq" fleet --clients "$clients" --codec "$codec" --residual "$residual" \
            --max-updates "$updates" --out "$dir/fleet" > "$dir/fleet.log" 2>&1
        for pid in "${servers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
        for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
        published=$(json "$dir/fleet/summary.json" updates_published)
        seconds=$(json "$dir/fleet/summary.json" seconds)
        echo "fleet    $name: $published updates in $seconds s ($(rate "$published" "$seconds") updates/s), peak RSS $(peak_mib "$dir/time.txt") MiB"
    done
    fedq_stop_roles_and_broker "$port"
    trap - EXIT
fi
if [[ "$skip" != *simulate* ]]; then
    for setup in "${cases[@]}"; do
        read -r name codec residual <<< "$setup"
        dir="$out/simulate-$name"
        /usr/bin/time -v -o "$out/simulate-$name.time.txt" "$fedq" simulate --clients "$clients" --codec "$codec" \
            --residual "$residual" --max-updates "$updates" --target-accuracy 1 --max-seconds 3600 --out "$dir" \
            > "$out/simulate-$name.log" 2>&1
        published=$(json "$dir/summary.json" updates_published)
        seconds=$(json "$dir/summary.json" seconds)
        echo "simulate $name: $published updates in $seconds s ($(rate "$published" "$seconds") updates/s), peak RSS $(peak_mib "$out/simulate-$name.time.txt") MiB, final accuracy $(json "$dir/summary.json" final_accuracy)"
    done
fi
if [[ "$skip" != *accuracy* ]]; then
    for seed in $seeds; do
        for residual in fp32 int8; do
            dir="$out/accuracy-seed$seed-$residual"
            "$fedq" simulate --codec topk:0.01+int8 --residual "$residual" --seed "$seed" --max-updates 6000 \
                --max-seconds 900 --out "$dir" > "$dir.log" 2>&1
            echo "accuracy seed $seed, $residual residual: updates to 97% $(json "$dir/summary.json" updates_to_target), final $(json "$dir/summary.json" final_accuracy), best $(json "$dir/summary.json" best_accuracy)"
        done
    done
fi
