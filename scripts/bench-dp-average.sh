#!/usr/bin/env bash
# What releasing the versions' moving average at the end of the privacy budget does to a
# private table federation (docs/privacy.md, "The end of the budget"): 20 WDBC hospitals,
# public bounds, DP clip 0.5, σ = 4, until ε = 8 at δ = 1e-5 (scripts/bench-table-privacy.sh's
# DP column). Each arm runs RUNS times per seed, interleaved run by run so both see the same
# machine; prints each arm's final accuracies: median, mean, lowest, and runs under 80% / 85%,
# and the runs' mean staleness (median and highest: the collapses come from stale runs).
# DP_EXTRA adds options to every run (later ones win), e.g. another clip or model:
#   DP_EXTRA="--dp-clip 0.1 --model dense:2" scripts/bench-dp-average.sh 5 "22 23 24" 0.9
#   scripts/bench-dp-average.sh [RUNS per seed (default 10)] [SEEDS (default "1 2 3")] [DECAYS (default "0 0.9")]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/fedq.sh
fedq_ready
runs="${1:-10}"
seeds="${2:-1 2 3}"
decays="${3:-0 0.9}"
read -r -a extra <<< "${DP_EXTRA:-}"
out="runs/bench-dp-average"
rm -rf "$out"; mkdir -p "$out"
for ((i = 1; i <= runs; i++)); do
    for seed in $seeds; do
        for decay in $decays; do
            name="$decay-$seed-$i"
            "$fedq" simulate --dataset data/wdbc/wdbc.csv --label diagnosis --model "dense:64,relu,dense:2" \
                --concurrency 5 --partition dirichlet:0.5 --target-accuracy 1.0 --max-seconds 15 --clients 20 \
                --feature-ranges data/wdbc/wdbc-ranges.csv --dp-clip 0.5 --dp-noise-multiplier 4 --dp-target-epsilon 8 \
                --dp-final-average "$decay" --seed "$seed" "${extra[@]}" --out "$out/$name" > "$out/$name.log" 2>&1 \
                || { cat "$out/$name.log"; exit 1; }
        done
    done
    echo "round $i of $runs done" >&2
done
python3 - "$out" "$decays" <<'PY'
import json, os, statistics, sys
out, decays = sys.argv[1], sys.argv[2].split()
print("| --dp-final-average | runs | median final | mean | lowest | under 80% | under 85% | ε | mean staleness: median, highest |")
print("|---|---:|---:|---:|---:|---:|---:|---|---|")
for decay in decays:
    finals, epsilons, staleness = [], [], []
    for name in sorted(os.listdir(out)):
        path = os.path.join(out, name, "summary.json")
        if name.startswith(decay + "-") and os.path.exists(path):
            summary = json.load(open(path))
            finals.append(100 * summary["final_accuracy"])
            epsilons.append(summary["dp_epsilon"])
            staleness.append(summary["mean_staleness"])
    print("| %s | %d | %.2f%% | %.2f%% | %.2f%% | %d | %d | %.2f-%.2f | %.1f, %.1f |" % (
        decay, len(finals), statistics.median(finals), statistics.mean(finals), min(finals),
        sum(f < 80 for f in finals), sum(f < 85 for f in finals), min(epsilons), max(epsilons),
        statistics.median(staleness), max(staleness)))
PY
