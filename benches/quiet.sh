# Sourced by the flood benchmarks: wait_quiet PORT waits until no TIME-WAIT
# socket of PORT is left from an earlier run (they last a minute). synack's
# kernel view walks and keeps every one of them, tcpdump does not, and the
# screen's table shows them: figures taken beside them measure the last run
# as well as this one. QUIET=0 skips the wait.
wait_quiet() {
    [[ ${QUIET:-1} == 1 ]] || return 0
    local n
    while n=$(ss -Htan state time-wait "( sport = :$1 or dport = :$1 )" | wc -l) && ((n > 0)); do
        echo "waiting for $n TIME-WAIT sockets of port $1 to end (QUIET=0 not to wait)" >&2
        sleep 5
    done
}
