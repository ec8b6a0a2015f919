# shellcheck shell=bash
# Sourced by the load-test benchmarks (bench-loadtest.sh, bench-cluster.sh): figures read
# out of the JSON `fedq loadtest --json FILE` writes.

# field FILE KEY: the first number under "KEY".
field() { grep -o "\"$2\" : [0-9.e+-]*" "$1" | head -1 | awk '{print $3}'; }

# cpu FILE ARRAY ROLE: the cores ROLE used, summed over its entries in the JSON array ARRAY
# ("cpu" for the pipeline run, "raw_cpu" for the raw one).
cpu() {
    awk -v array="\"$2\"" -v role="\"role\" : \"$3" '
        index($0, array " : [") { inside = 1 }
        inside && /"cores"/ { cores = $3 }
        inside && index($0, role) { sum += cores }
        inside && /^  \]/ { inside = 0 }
        END { printf "%.2f", sum }' "$1"
}
