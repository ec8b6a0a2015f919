# shellcheck shell=bash
# Sourced first by the load-test benchmarks (bench-loadtest.sh, bench-cluster.sh,
# bench-pipeline-vs-c.sh), from the repository root: what each needs before it measures.
# Installs what is missing, builds `fedq` in release ($fedq), and defines `field` and `cpu`,
# which read figures out of `fedq loadtest --json` files.
source scripts/lib/fedq.sh
source scripts/lib/loadtest-json.sh
fedq_ready
