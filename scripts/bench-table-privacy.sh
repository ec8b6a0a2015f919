#!/usr/bin/env bash
# A table federation under differential privacy (docs/privacy.md, "Tables"): WDBC
# (data/wdbc/wdbc.csv), `dense:64,relu,dense:2`, Dirichlet(0.5) label skew, 15 s runs.
# For each seed, the final accuracy of:
#   - 5 and 20 clients scaled by their statistics (no DP: DP refuses this scaling);
#   - 5 and 20 clients scaled by the public bounds of data/wdbc/wdbc-ranges.csv;
#   - 20 clients with those bounds under DP (clip 0.5, σ = 4) until ε = 8 at δ = 1e-5,
#     REPEATS times (a private run's accuracy varies from run to run).
#   scripts/bench-table-privacy.sh [SEEDS (default "1 2 3")] [REPEATS (default 3)]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/fedq.sh
fedq_ready
seeds="${1:-1 2 3}"
repeats="${2:-3}"
out="runs/bench-table-privacy"
rm -rf "$out"; mkdir -p "$out"
# run NAME OPTIONS...: one 15 s simulation; prints "final / best" accuracy (and ε when private).
run() {
    local name="$1"; shift
    "$fedq" simulate --dataset data/wdbc/wdbc.csv --label diagnosis --model "dense:64,relu,dense:2" \
        --concurrency 5 --partition dirichlet:0.5 --target-accuracy 1.0 --max-seconds 15 --out "$out/$name" "$@" > "$out/$name.log" 2>&1 \
        || { cat "$out/$name.log"; exit 1; }
    python3 - "$out/$name/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
line = "%.2f / %.2f%%" % (100 * s["final_accuracy"], 100 * s["best_accuracy"])
p = s.get("dp_epsilon")
print(line + (", ε %.2f" % p if p is not None else ""))
PY
}
ranges=(--feature-ranges data/wdbc/wdbc-ranges.csv)
private=(--clients 20 "${ranges[@]}" --dp-clip 0.5 --dp-noise-multiplier 4 --dp-target-epsilon 8)
echo "| seed | 5 clients, statistics | 5 clients, public bounds | 20 clients, statistics | 20 clients, public bounds | 20, bounds, DP σ 4 to ε 8 ($repeats runs) |"
echo "|---:|---|---|---|---|---|"
for seed in $seeds; do
    plain=()
    for ((i = 1; i <= repeats; i++)); do
        plain+=("$(run "dp-$seed-$i" --seed "$seed" "${private[@]}")")
    done
    printf "| %s | %s | %s | %s | %s | %s |\n" "$seed" \
        "$(run "stats5-$seed" --clients 5 --seed "$seed")" "$(run "ranges5-$seed" --clients 5 --seed "$seed" "${ranges[@]}")" \
        "$(run "stats20-$seed" --clients 20 --seed "$seed")" "$(run "ranges20-$seed" --clients 20 --seed "$seed" "${ranges[@]}")" \
        "$(printf "%s; " "${plain[@]}")"
done
