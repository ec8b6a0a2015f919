#!/usr/bin/env bash
# The attack benchmark of issue 16 (BENCHMARKS.md, docs/robustness.md): `fedq simulate`
# on MNIST (mlp, 100 clients, 10 training at once, devices of at least 100 ms per local
# training, so each honest client sends about one update a second) with one malicious
# client sending one attack message per second (`--attack KIND@1`), with the default
# defences and with every defence off. Then the defences' cost on honest runs: final
# accuracy after the same number of updates, defaults against off, three seeds.
#
#   scripts/bench-attacks.sh [attacks] [shards] [honest] [robust]   (default: all four)
#   env: RATE (attack messages per second, 1), MAX_SECONDS (per run, 40)
# Every run's outputs stay under runs/bench-attacks/NAME/.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/fedq.sh
fedq_ready
root=runs/bench-attacks
mkdir -p "$root"
RATE="${RATE:-1}"
MAX_SECONDS="${MAX_SECONDS:-40}"
OFF=(--clip off --max-samples 18446744073709551615 --sample-share 0 --max-client-rate 0)
KINDS=(explode overflow replace samples-max samples future replay sybil garbage)

# run NAME [fedq simulate options...]: one run, one table row.
run() {
    local name=$1; shift
    "$fedq" simulate --out "$root/$name" --device-ms 100 --max-seconds "$MAX_SECONDS" "$@" >"$root/$name.log" 2>&1 \
        || { tail -5 "$root/$name.log"; return 1; }
    python3 - "$name" "$root/$name/summary.json" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
s = json.load(open(path))
t = s["seconds_to_target"]
reasons = ", ".join(f"{k} {v}" for k, v in sorted(s["rejected_by_reason"].items())) or "-"
books = s["updates_published"] == s["updates_applied"] + s["updates_dropped_stale"] + s["updates_rejected"]
print(f"| {name} | {'yes' if s['reached_target'] else 'no'} | {'-' if t is None else format(t, '.1f')} | "
      f"{s['final_accuracy']*100:.2f} / {s['best_accuracy']*100:.2f} | "
      f"{s['updates_published']} = {s['updates_applied']} + {s['updates_dropped_stale']} + {s['updates_rejected']} "
      f"({'balanced' if books else 'UNBALANCED'}) | {reasons} | {s.get('updates_clipped', 0)} |")
PY
}

header() {
    echo
    echo "## $1"
    echo "| run | 97%? | seconds to 97% | final / best % | published = applied + stale + rejected | rejected by reason | clipped |"
    echo "|---|---|---|---|---|---|---|"
}

# The samples attacks only matter where sample counts weigh.
extra() { case $1 in samples*) echo --weigh-by-samples ;; esac; }

sections=("$@")
((${#sections[@]} > 0)) || sections=(attacks shards honest robust)
for section in "${sections[@]}"; do
    case $section in
    attacks|shards)
        partition=iid; [ "$section" = shards ] && partition=shards
        header "$partition, one attacker at $RATE/s among 100 clients"
        run "$partition-honest" --partition "$partition"
        for kind in "${KINDS[@]}"; do
            # shellcheck disable=SC2046
            run "$partition-$kind-defended" --partition "$partition" --attack "$kind@$RATE" $(extra "$kind")
            # shellcheck disable=SC2046
            run "$partition-$kind-undefended" --partition "$partition" --attack "$kind@$RATE" $(extra "$kind") "${OFF[@]}"
        done ;;
    honest)
        header "honest runs, 3,000 updates each: the defences' cost"
        for seed in 1 2 3; do
            run "honest-defaults-seed$seed" --seed "$seed" --target-accuracy 1 --max-updates 3000 --max-seconds 300
            run "honest-off-seed$seed" --seed "$seed" --target-accuracy 1 --max-updates 3000 --max-seconds 300 "${OFF[@]}"
        done ;;
    robust)
        # The coordinate-wise rules alone (clipping off), against the attacks clipping
        # answers, and what they cost an honest run (workers send one update per partial).
        header "robust aggregation, clipping off, one attacker at $RATE/s"
        for rule in trimmed-mean:0.1 median; do
            run "iid-honest-$rule" --aggregate "$rule" "${OFF[@]}"
            for kind in explode replace; do
                run "iid-$kind-$rule" --aggregate "$rule" --attack "$kind@$RATE" "${OFF[@]}"
            done
        done ;;
    *) echo "unknown section $section (attacks, shards, honest, robust)" >&2; exit 2 ;;
    esac
done
