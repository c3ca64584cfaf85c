#!/usr/bin/env bash
# synack watch beside tcpdump, on the same loopback load, at the same time.
#
#   bash benches/vs_tcpdump.sh [SECONDS] [PORT] [THREADS]
#
# Runs the bundled load generator (examples/loadgen.rs: short connections on
# one port, half of them leaving a TIME-WAIT socket) for SECONDS (default 4)
# while `tcpdump -nn -l` (text) and `synack watch --json` capture the port,
# both writing to files. Prints, for each: packets reported, packets the
# kernel dropped, CPU seconds, CPU per packet, peak RSS; and how long synack
# took to stop after SIGINT. Needs root (capture) and tcpdump; GNU time.
# Waits first until no TIME-WAIT socket of the port is left from an earlier
# run (benches/quiet.sh; QUIET=0 not to).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-4}
port=${2:-9999}
threads=${3:-4}
out=$(mktemp -d /tmp/synack-vs-tcpdump.XXXXXX)
# Half a gigabyte of output per run: kept only when asked (KEEP=1).
[[ ${KEEP:-0} == 1 ]] || trap 'rm -rf "$out"' EXIT

cargo build --release --quiet --bin synack --example loadgen
source benches/quiet.sh
wait_quiet "$port"
synack=target/release/synack
loadgen=target/release/examples/loadgen

/usr/bin/time -f "%U %S %M" -o "$out/tcpdump.time" \
    tcpdump -i lo -nn -l "tcp port $port" >"$out/tcpdump.txt" 2>"$out/tcpdump.err" &
td=$!
/usr/bin/time -f "%U %S %M" -o "$out/synack.time" \
    "$synack" watch --port "$port" --json >"$out/synack.jsonl" 2>"$out/synack.err" &
sy=$!
sleep 1.5
conns=$("$loadgen" "$port" "$secs" "$threads")
sleep 1.5
# Stop both as a user would (Ctrl-C: to the programs, not to GNU time, which
# ignores it) and time synack's stop.
kill -INT "$(pgrep -P "$td" -x tcpdump)" 2>/dev/null || true
start=$(date +%s.%N)
kill -INT "$(pgrep -P "$sy" -x synack)" 2>/dev/null || true
wait "$sy" 2>/dev/null || true
stop_s=$(echo "$(date +%s.%N) - $start" | bc)
wait "$td" 2>/dev/null || true

td_pkts=$(wc -l <"$out/tcpdump.txt")
td_drop=$(grep -o '[0-9]* packets dropped by kernel' "$out/tcpdump.err" | grep -o '^[0-9]*' || echo 0)
sy_pkts=$(grep -c '"kind":"packet"' "$out/synack.jsonl" || true)
sy_drop=$(grep -o 'the kernel dropped [0-9]*' "$out/synack.jsonl" | grep -o '[0-9]*$' | paste -sd+ | bc || true)
sy_skip=$(grep -o 'skipped [0-9]*' "$out/synack.jsonl" | grep -o '[0-9]*$' | paste -sd+ | bc || true)
read -r td_u td_s td_rss <"$out/tcpdump.time"
read -r sy_u sy_s sy_rss <"$out/synack.time"

row() { # name packets dropped user sys rss
    local cpu per
    cpu=$(echo "$4 + $5" | bc)
    per=$(echo "scale=2; $cpu * 1000000 / ($2 + ($2 == 0))" | bc)
    printf "| %-22s | %9s | %9s | %7.2f s | %7s µs | %6d MB |\n" "$1" "$2" "${3:-0}" "$cpu" "$per" "$(($6 / 1024))"
}
echo
echo "load: $conns connections in ${secs} s on port $port ($threads client threads)"
echo
echo "| | packets reported | kernel drops | CPU | CPU per packet | peak RSS |"
echo "|---|---:|---:|---:|---:|---:|"
row "tcpdump -nn -l (text)" "$td_pkts" "$td_drop" "$td_u" "$td_s" "$td_rss"
row "synack watch --json" "$sy_pkts" "${sy_drop:-0}" "$sy_u" "$sy_s" "$sy_rss"
echo
echo "synack stopped ${stop_s} s after SIGINT; it skipped ${sy_skip:-0} packets it could not keep up with"
if [[ ${KEEP:-0} == 1 ]]; then echo "files: $out"; fi
