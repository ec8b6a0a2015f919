#!/usr/bin/env bash
# The cost of one `fedq loadtest` flag: runs without and with it, alternating, REPEATS
# pairs in one run, the broker pinned to core 0 and fedq to the others (as
# scripts/bench-loadtest.sh pins its target cell), on a private node.
#   scripts/bench-loadtest-ab.sh FLAG [REPEATS (default 5)] [UPDATES per run (default 5000)]
#   FLAG: --sign (signed updates, issue 15: "with" is the cost) or --defences-off (the
#   workers' defences, issue 16: "without" is the cost)
# Prints one line per run and the medians; JSON per run in runs/bench-ab/.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/packages.sh
source scripts/lib/fedq.sh
fedq_install_missing_packages
flag="${1:?usage: scripts/bench-loadtest-ab.sh FLAG [REPEATS] [UPDATES]}"
repeats="${2:-5}"
updates="${3:-5000}"
port="${FEDQ_BENCH_BROKER_PORT:-5696}"
fedq_build_release 2>/dev/null
trap 'scripts/broker.sh stop "$port" >/dev/null 2>&1 || true' EXIT
broker="$(scripts/broker.sh start "$port")"
broker_pid="$(scripts/broker.sh pid "$port")"
cores="$(nproc)"
out="runs/bench-ab"
mkdir -p "$out"
if ((cores >= 2)); then taskset -a -cp 0 "$broker_pid" >/dev/null; fi
run() { if ((cores >= 2)); then taskset -c "1-$((cores - 1))" "$fedq" "$@"; else "$fedq" "$@"; fi; }
declare -a without with
for i in $(seq 1 "$repeats"); do
    for mode in without with; do
        flags=(); [[ $mode == with ]] && flags=("$flag")
        json="$out/$mode-$i.json"
        run loadtest --broker "$broker" --broker-pid "$broker_pid" --codec int8 --workers 2 --updates "$updates" \
            "${flags[@]}" --json "$json" --out "$out/run" >/dev/null
        rate="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(round(d["updates_per_second"]))' "$json")"
        echo "pair $i $mode $flag: $rate updates/s"
        if [[ $mode == without ]]; then without+=("$rate"); else with+=("$rate"); fi
    done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
a="$(median "${without[@]}")"; b="$(median "${with[@]}")"
echo "median without $flag $a updates/s, with $b updates/s: with / without = $(python3 -c "print(f'{$b/$a:.1%}')")"
