# shellcheck shell=bash disable=SC2154  # $repo is set by the sourcing script
# Sourced by scripts/test.sh: bounds the test run and explains a hang instead of letting CI
# time out in silence. A test that awaits something which never comes (a confirm from a
# blocked broker, a lock a hung suite holds) stops all output; after the limit this prints
# every thread's stack (gdb), the tests that started and never ended, the brokers' resource
# alarms, free disk and memory, then stops the run, which then fails.

# fedq_unfinished_tests LOG: the tests and suites the swift-testing output in LOG started
# and never ended, in start order.
fedq_unfinished_tests() {
    awk '
        /^◇ (Test|Suite) .* started\.$/ {
            s = $0; sub(/^◇ /, "", s); sub(/ started\.$/, "", s)
            if (s ~ /^Test case passing/ || s == "Test run") next
            open[s] = 1; order[++n] = s; next
        }
        /^(✔|✘) (Test|Suite) .* (passed|failed) after/ {
            s = $0; sub(/^(✔|✘) /, "", s); sub(/ (passed|failed) after.*$/, "", s)
            sub(/ with [0-9]+ test cases?$/, "", s); delete open[s]
        }
        END { for (i = 1; i <= n; i++) if (order[i] in open) print "  still running: " order[i] }
    ' "$1"
}

# fedq_broker_alarms NODE...: each test node's resource alarms (memory, disk), or why not.
# A NODE is PORT:EPMD_PORT:STATE_DIR[:COOKIE_HOME], as rabbit_node_env takes them.
fedq_broker_alarms() {
    local node port epmd dir home
    for node in "$@"; do
        IFS=: read -r port epmd dir home <<<"$node"
        (
            # shellcheck source=scripts/lib/rabbit-node.sh
            source "$repo/scripts/lib/rabbit-node.sh"
            rabbit_node_env "$port" "$epmd" "$dir" "$home"
            printf '  node on %s: alarms %s\n' "$port" \
                "$(rabbit_tool_command rabbitmqctl && timeout 20 "${rabbit_cmd[@]}" -q -n "$RABBITMQ_NODENAME" eval 'rabbit_alarm:get_alarms().' 2>&1 | tr -s ' \n' ' ')"
        )
    done
}

# fedq_test_watchdog MINUTES RUNNING LOG NODE...: after MINUTES, if the file RUNNING is still
# there (the run that started this watchdog has not ended), reports on the test process still
# running from this checkout and stops it. Run in the background; kill it when the tests end.
# RUNNING is the run's own: a watchdog that outlived its run (once one did, after a failing
# run exited without stopping it) must not stop a later run's tests in the same checkout.
fedq_test_watchdog() {
    local minutes=$1 running=$2 log=$3 pid
    shift 3
    sleep "$((minutes * 60))"
    [[ -e $running ]] || return 0
    pid="$(pgrep -f "$repo/\.build/.*PackageTests\.xctest" | head -n 1)"
    echo
    echo "test.sh: the tests are still running after $minutes minutes (FEDQ_TEST_TIMEOUT_MINUTES): a hang."
    if [[ -n $pid ]] && command -v gdb >/dev/null; then
        echo "test.sh: every thread of the test process $pid:"
        timeout 120 gdb -p "$pid" -batch -nx -ex 'set pagination off' -ex 'thread apply all bt 25' 2>/dev/null \
            | grep -E '^(Thread|#)' || echo "  (gdb could not attach)"
    fi
    echo "test.sh: disk and memory:"
    df -h "$repo" /tmp | sed 's/^/  /'
    free -m | sed 's/^/  /'
    echo "test.sh: resource alarms of the test nodes (a blocked broker stops publishers):"
    fedq_broker_alarms "$@"
    echo "test.sh: started and never ended:"
    fedq_unfinished_tests "$log"
    [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null
    sleep 10
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
    pkill -TERM -f "swift-test.*$repo" 2>/dev/null || true
    return 0
}
