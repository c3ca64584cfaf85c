#!/usr/bin/env bash
# The watch screen under the load generator: peak RSS, and how long `q` takes.
#
#   bash benches/watch_screen_flood.sh [during|after] [SECONDS] [PORT]
#
# Runs `synack watch --port PORT` in a tmux pane of 120x40 and
# examples/loadgen for SECONDS (default 6) on PORT (default 19999, away from
# the 9999 other benchmarks use), then sends `q` 2 s before the load ends
# (`during`) or 1 s after it (`after`). Prints the peak RSS (VmHWM, read
# until the process is gone) and the time from the key to the process's exit
# (its last thread gone, what `q` controls) and to its reaping by tmux (the
# pane's parent; tmux takes 1-2 s to reap any process on this VM, `sleep`
# included). Needs root (capture) and tmux. Waits first until no TIME-WAIT
# socket of the port is left from an earlier run (benches/quiet.sh; QUIET=0
# not to).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-during}
secs=${2:-6}
port=${3:-19999}
cargo build --release --quiet --bin synack --example loadgen
source benches/quiet.sh
wait_quiet "$port"
bin=$PWD/target/release/synack
session=synack-flood-$$
tmux new-session -d -s "$session" -x 120 -y 40 "$bin watch --port $port"
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT
sleep 1.5
pid=$(pgrep -f "^$bin watch --port $port" | head -1)
target/release/examples/loadgen "$port" "$secs" 4 >/dev/null &
load=$!
if [[ $mode == during ]]; then sleep $((secs - 2)); else wait "$load"; sleep 1; fi
hwm() { awk '/^VmHWM:/ {print $2}' /proc/"$pid"/status 2>/dev/null || true; }
peak=$(hwm)
key=$(date +%s%N)
tmux send-keys -t "$session" q
exited=""
while [[ -e /proc/$pid ]]; do
    state=$(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null || true)
    threads=$(awk '/^Threads:/ {print $2}' /proc/"$pid"/status 2>/dev/null || true)
    if [[ -z $exited && $state == Z && ${threads:-1} -le 1 ]]; then exited=$(date +%s%N); fi
    h=$(hwm)
    if [[ -n $h && $h -gt $peak ]]; then peak=$h; fi
    sleep 0.002
done
reaped=$(date +%s%N)
wait "$load" 2>/dev/null || true
echo "q $mode the load: peak RSS $((peak / 1024)) MB; key to exit $(((${exited:-$reaped} - key) / 1000000)) ms, to reaped $(((reaped - key) / 1000000)) ms"
