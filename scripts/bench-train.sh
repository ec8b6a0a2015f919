#!/usr/bin/env bash
# Training throughput of the learning engine beside PyTorch, in one run:
# PyTorch 1-thread training of the same model (the McMahan MLP and CNN) on
# the same MNIST files and batch sizes, then `fedq bench train`, then the
# ratios; finally heap allocations per training step, counted by valgrind
# over two runs that differ only in steps.
#
# Usage: scripts/bench-train.sh [SECONDS_PER_BATCH]   (env: MODELS, BATCHES, ROUNDS, SCRATCH, FEDQ)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_BATCH="${1:-3}"
MODELS="${MODELS:-mlp cnn}"
BATCHES="${BATCHES:-10,32,64}"
ROUNDS="${ROUNDS:-3}"
SCRATCH="${SCRATCH:-.build}"
OUT="runs/bench-train"
mkdir -p "$OUT"

if [ ! -x .venv-bench/bin/python ]; then
    python3 -m venv .venv-bench
fi
if ! .venv-bench/bin/python -c "import torch, numpy" 2>/dev/null; then
    echo "installing torch and numpy into .venv-bench (a large download)..."
    .venv-bench/bin/pip install --quiet torch numpy
fi

# FEDQ names an already built binary (e.g. one built with -enable-testing,
# so that measuring does not rebuild the package in another configuration).
if [ -z "${FEDQ:-}" ]; then
    swift build --scratch-path "$SCRATCH" -c release --product fedq >/dev/null
    FEDQ="$SCRATCH/release/fedq"
fi

# The machine is shared and noisy: interleave the two per model and batch
# size, repeat ROUNDS times, and compare each side's best round.
rm -f "$OUT"/pytorch-*.json "$OUT"/fedq-*.json
for round in $(seq 1 "$ROUNDS"); do
    for model in $MODELS; do
        for batch in ${BATCHES//,/ }; do
            .venv-bench/bin/python "scripts/bench/pytorch_$model.py" --batches "$batch" --seconds "$SECONDS_PER_BATCH" \
                --json "$OUT/pytorch-$model-$batch-$round.json"
            "$FEDQ" bench train --model "$model" --batches "$batch" --threads 1 --seconds "$SECONDS_PER_BATCH" \
                --json "$OUT/fedq-$model-$batch-$round.json"
        done
    done
done

echo "== best of $ROUNDS rounds, ratio fedq / PyTorch (both 1 thread)"
# shellcheck disable=SC2086  # MODELS is a space-separated list: one argument per model
.venv-bench/bin/python - "$OUT" $MODELS <<'PY'
import glob, json, sys
def best(prefix):
    rates = {}
    for path in glob.glob(f"{sys.argv[1]}/{prefix}-*.json"):
        for r in json.load(open(path)):
            rates[r["batch"]] = max(rates.get(r["batch"], 0), r["samples_per_second"])
    return rates
for model in sys.argv[2:]:
    torch, fedq = best(f"pytorch-{model}"), best(f"fedq-{model}")
    for batch in sorted(fedq):
        print(f"{model} batch {batch:3d}: fedq {fedq[batch]:9.0f}  pytorch {torch[batch]:9.0f}  ratio {fedq[batch] / torch[batch]:.2f}x")
PY

# Heap allocations per training step: the whole process's malloc calls with 2 and with 42
# timed steps per batch size (after a warm-up run of the same length), subtracted. Counted
# with a perf uprobe on libc's malloc where perf can place one (root), else under valgrind
# (whose 3.19 crashes on this machine's Swift runtime; it cannot read Swift's debug info,
# so it runs a stripped copy).
mallocs_perf() {
    perf stat -e probe_libc:malloc -x, "$FEDQ" bench train --model "$1" --batches "$BATCHES" --steps "$2" \
        --evaluation-samples 0 2>&1 >/dev/null | sed -n 's/^\([0-9]*\),.*probe_libc:malloc.*/\1/p'
}
mallocs_valgrind() {
    valgrind --tool=memcheck --leak-check=no "$OUT/fedq-nodebug" bench train --model "$1" --batches "$BATCHES" \
        --steps "$2" --evaluation-samples 0 2>&1 \
        | sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' | tr -d ,
}
count=""
libc=$(ldd "$FEDQ" | sed -n 's/.*libc\.so\.6 => \([^ ]*\).*/\1/p')
if command -v perf >/dev/null && { perf probe -q -x "$libc" malloc 2>/dev/null || perf probe -l 2>/dev/null | grep -q probe_libc:malloc; }; then
    count=mallocs_perf
    echo "== heap allocations per training step (perf uprobe on malloc, after warm-up)"
elif command -v valgrind >/dev/null; then
    count=mallocs_valgrind
    strip --strip-debug -o "$OUT/fedq-nodebug" "$FEDQ"
    echo "== heap allocations per training step (valgrind memcheck, after warm-up)"
fi
if [ -n "$count" ]; then
    batches=$(echo "$BATCHES" | tr ',' '\n' | wc -l)
    steps=$((40 * batches))
    for model in $MODELS; do
        short=$($count "$model" 2)
        long=$($count "$model" 42)
        if [ -z "$short" ] || [ -z "$long" ]; then echo "$model: the malloc count failed"; continue; fi
        echo "$model: mallocs in the whole process: $short with 2 timed steps per batch size, $long with 42: $(( long - short )) more for $steps more steps"
    done
fi
