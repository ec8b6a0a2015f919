#!/usr/bin/env bash
# What local differential privacy costs (docs/privacy.md, "Local differential privacy"), per
# update (each client clips its update to L2 norm C and adds N(0, (σC)²) to each parameter
# before publishing) and per record (each client trains with DP-SGD: every example's gradient
# clipped to C, Poisson batches, N(0, (σC)²) on each step's sum). Every client stops once
# another update would take its own ε beyond the target (δ = 1e-5).
# Three federations, each with a non-private run beside it on the same settings:
#   table:   20 WDBC hospitals (public bounds, Dirichlet 0.5, dense:64,relu,dense:2), 15 s runs;
#            per record with batches of 4 (q = 4 / a hospital's rows);
#   mnist:   1,000 MNIST clients (mlp, IID, FedBuff K = 100), at most 120 s or 40,000 updates;
#   mnist10: 10 MNIST sites of 6,000 rows each (mlp, IID, K = 5, batches of 256 and a client
#            learning rate of 0.5 for every arm), at most 150 s: the federation record-level
#            DP is for.
# An arm is UNIT:σ:TARGET-ε[:q], or "none"; q, per record only, is one sampling rate for every
# client (--ldp-sampling-rate: the row counts stay private). Prints one row per arm: final accuracy per seed, the
# most updates one client published, and the largest ε a client spent.
#   scripts/bench-ldp.sh [table|mnist|mnist10 (default table)] [SEEDS (default "1 2 3")]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/fedq.sh
fedq_ready
federation="${1:-table}"
seeds="${2:-1 2 3}"
out="runs/bench-ldp-$federation"
rm -rf "$out"; mkdir -p "$out"
record_batch=()
case "$federation" in
    table)
        base=(--dataset data/wdbc/wdbc.csv --label diagnosis --model "dense:64,relu,dense:2" --concurrency 5
              --partition dirichlet:0.5 --target-accuracy 1.0 --max-seconds 15 --clients 20
              --feature-ranges data/wdbc/wdbc-ranges.csv)
        clip=0.5
        record_batch=(--batch 4)
        arms="none update:4:8 update:16:8 update:4:100 update:1:100 update:1:1000 update:0.25:10000 record:1:8 record:1.5:8 record:2:8 record:2:4 record:2:2 record:4:1 record:1:8:0.05 record:1:8:0.1 record:2:8:0.1" ;;
    mnist)
        base=(--clients 1000 --buffer 100 --target-accuracy 1.0 --max-seconds 120 --max-updates 40000)
        clip=1
        arms="none update:4:8 update:1:100 update:0.25:1000 update:0.1:10000" ;;
    mnist10)
        base=(--clients 10 --buffer 5 --batch 256 --lr 0.5 --target-accuracy 1.0 --max-seconds 150)
        clip=1
        arms="none update:4:8 record:1:8 record:1.5:8 record:2:2" ;;
    *) echo "bench-ldp.sh: the federation must be table, mnist or mnist10, got '$federation'" >&2; exit 2 ;;
esac
for seed in $seeds; do
    for arm in $arms; do
        name="$arm-$seed"
        flags=()
        if [[ "$arm" != none ]]; then
            IFS=: read -r unit sigma target rate <<< "$arm"
            flags=(--ldp-unit "$unit" --ldp-noise-multiplier "$sigma" --ldp-target-epsilon "$target")
            if [[ -n "$rate" ]]; then flags+=(--ldp-sampling-rate "$rate"); fi
            if [[ "$unit" == record ]]; then
                flags+=(--ldp-clip 1 "${record_batch[@]}")
            else
                flags+=(--ldp-clip "$clip")
            fi
        fi
        "$fedq" simulate "${base[@]}" "${flags[@]}" --seed "$seed" --out "$out/$name" > "$out/$name.log" 2>&1 \
            || { cat "$out/$name.log"; exit 1; }
    done
    echo "seed $seed done" >&2
done
python3 - "$out" "$arms" "$seeds" <<'PY'
import json, os, statistics, sys
out, arms, seeds = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
print("| unit : σ : target ε per client | final accuracy per seed | median | updates applied | most updates by one client | ε spent (largest client) |")
print("|---|---|---:|---|---|---|")
for arm in arms:
    runs = [json.load(open(os.path.join(out, "%s-%s" % (arm, seed), "summary.json"))) for seed in seeds]
    finals = [100 * run["final_accuracy"] for run in runs]
    applied = [run["updates_applied"] for run in runs]
    releases = [run["ldp_releases"] for run in runs if run.get("ldp_clip") is not None]
    epsilons = [run["ldp_epsilon"] for run in runs if run.get("ldp_clip") is not None]
    print("| %s | %s | %.2f%% | %s | %s | %s |" % (
        "no local DP" if arm == "none" else arm, ", ".join("%.2f%%" % f for f in finals), statistics.median(finals),
        ", ".join(map(str, applied)), ", ".join(map(str, releases)) or "-",
        ", ".join("%.2f" % e for e in epsilons) or "-"))
PY
