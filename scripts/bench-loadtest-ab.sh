#!/usr/bin/env bash
# The cost of one `fedq loadtest` flag: runs without and with it, alternating, REPEATS
# pairs in one run, the broker pinned to core 0 and fedq to the others (as
# scripts/bench-loadtest.sh pins its target cell), on a private node.
#   scripts/bench-loadtest-ab.sh FLAG [REPEATS (default 5)] [UPDATES per run (default 5000)]
#   FLAG: --sign (signed updates, issue 15: "with" is the cost) or --defences-off (the
#   workers' defences, issue 16: "without" is the cost); several words are several flags,
#   e.g. "--sign --return-shelf=0" (signed workers without their return shelf)
# Prints one line per run and the medians; JSON per run in runs/bench-ab/.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/fedq.sh
flag="${1:?usage: scripts/bench-loadtest-ab.sh FLAG [REPEATS] [UPDATES]}"
repeats="${2:-5}"
updates="${3:-5000}"
port="${FEDQ_BENCH_BROKER_PORT:-5696}"
fedq_ready 2>/dev/null
trap 'scripts/broker.sh stop "$port" >/dev/null 2>&1 || true' EXIT
scripts/broker.sh reset "$port" >/dev/null 2>&1 || true
broker="$(scripts/broker.sh start "$port")"
broker_pid="$(scripts/broker.sh pid "$port")"
cores="$(nproc)"
out="runs/bench-ab"
mkdir -p "$out"
if ((cores >= 2)); then taskset -a -cp 0 "$broker_pid" >/dev/null; fi
run() { if ((cores >= 2)); then taskset -c "1-$((cores - 1))" "$fedq" "$@"; else "$fedq" "$@"; fi; }
# A fresh node's first load test is far slower than the rest (its queues and log are
# new): one warm-up run, not counted, so it does not always fall on the first mode.
run loadtest --broker "$broker" --codec int8 --workers 2 --updates 1000 --out "$out/run" >/dev/null
declare -a without with cpu_without cpu_with
for i in $(seq 1 "$repeats"); do
    for mode in without with; do
        flags=(); [[ $mode == with ]] && read -r -a flags <<< "$flag"
        json="$out/$mode-$i.json"
        run loadtest --broker "$broker" --broker-pid "$broker_pid" --codec int8 --workers 2 --updates "$updates" \
            "${flags[@]}" --json "$json" --out "$out/run" >/dev/null
        rate="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(round(d["updates_per_second"]))' "$json")"
        # The workers' CPU per update: what the flag changes in them, less noisy than a
        # throughput that the broker's share of two busy cores decides.
        cpu="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); w=sum(r["cpu_seconds"] for r in d["cpu"] if r["role"].startswith("worker")); n=d["updates_aggregated"]; print(f"{1000*w/n:.3f}")' "$json")"
        echo "pair $i $mode $flag: $rate updates/s, workers $cpu ms CPU per update"
        if [[ $mode == without ]]; then without+=("$rate"); cpu_without+=("$cpu"); else with+=("$rate"); cpu_with+=("$cpu"); fi
    done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
a="$(median "${without[@]}")"; b="$(median "${with[@]}")"
echo "median without $flag $a updates/s, with $b updates/s: with / without = $(python3 -c "print(f'{$b/$a:.1%}')")"
c="$(median "${cpu_without[@]}")"; d="$(median "${cpu_with[@]}")"
echo "median workers' CPU per update: without $flag $c ms, with $d ms"
