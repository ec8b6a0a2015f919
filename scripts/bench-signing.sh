#!/usr/bin/env bash
# The cost of signed updates (issue 15): `fedq loadtest` with and without --sign,
# alternating, REPEATS pairs in one run, the broker pinned to core 0 and fedq to the
# others (as scripts/bench-loadtest.sh pins its target cell), on a private node.
#   scripts/bench-signing.sh [REPEATS (default 5)] [UPDATES per run (default 5000)]
# Prints one line per run and the medians; JSON per run in runs/bench-signing/.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/packages.sh
fedq_install_missing_packages
repeats="${1:-5}"
updates="${2:-5000}"
port="${FEDQ_BENCH_BROKER_PORT:-5696}"
swift build -c release --product fedq >/dev/null
fedq="$repo/.build/release/fedq"
trap 'scripts/broker.sh stop "$port" >/dev/null 2>&1 || true' EXIT
broker="$(scripts/broker.sh start "$port")"
broker_pid="$(scripts/broker.sh pid "$port")"
cores="$(nproc)"
out="runs/bench-signing"
mkdir -p "$out"
if ((cores >= 2)); then taskset -a -cp 0 "$broker_pid" >/dev/null; fi
run() { if ((cores >= 2)); then taskset -c "1-$((cores - 1))" "$fedq" "$@"; else "$fedq" "$@"; fi; }
declare -a plain signed
for i in $(seq 1 "$repeats"); do
    for mode in plain signed; do
        flag=(); [[ $mode == signed ]] && flag=(--sign)
        json="$out/$mode-$i.json"
        run loadtest --broker "$broker" --broker-pid "$broker_pid" --codec int8 --workers 2 --updates "$updates" \
            "${flag[@]}" --json "$json" --out "$out/run" >/dev/null
        rate="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(round(d["updates_per_second"]))' "$json")"
        echo "pair $i $mode: $rate updates/s"
        if [[ $mode == plain ]]; then plain+=("$rate"); else signed+=("$rate"); fi
    done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
p="$(median "${plain[@]}")"; s="$(median "${signed[@]}")"
echo "median unsigned $p updates/s, signed $s updates/s: $(python3 -c "print(f'{$s/$p:.1%}')") of unsigned"
