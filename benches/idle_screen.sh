#!/usr/bin/env bash
# CPU of an idle demo screen, thread by thread.
#
#   bash benches/idle_screen.sh [USER] [SECONDS]
#
# Runs `synack demo handshake` in a tmux pane of 120x40 (as USER when given:
# `tester` runs the rootless lab, without the tracepoint), waits until the
# script is over (the lab stays up), then reads utime+stime of the process
# and of each of its threads from /proc over SECONDS (default 20). Ticks are
# 10 ms: over 20 s one tick is 0.05% of a core. Needs tmux; root, or
# unprivileged user namespaces for USER.
set -euo pipefail
cd "$(dirname "$0")/.."
user=${1:-}
secs=${2:-20}
cargo build --release --quiet --bin synack
bin=$PWD/target/release/synack
session=synack-idle-$$
cmd="$bin demo handshake"
[[ -n $user ]] && cmd="runuser -u $user -- $cmd"
tmux new-session -d -s "$session" -x 120 -y 40 "$cmd"
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    tmux capture-pane -p -t "$session" | grep -q "end of the script" && break
    sleep 0.2
done
sleep 1
pid=$(pgrep -f "^$bin demo handshake" | head -1)
ticks() { local s; read -r -a s <"$1"; echo $((s[13] + s[14])); }
declare -A before
for t in /proc/"$pid"/task/*; do before[${t##*/}]=$(ticks "$t/stat"); done
p0=$(ticks /proc/"$pid"/stat)
sleep "$secs"
p1=$(ticks /proc/"$pid"/stat)
hz=$(getconf CLK_TCK)
declare -A by_name
for t in /proc/"$pid"/task/*; do
    name=$(<"$t/comm")
    used=$(($(ticks "$t/stat") - ${before[${t##*/}]:-0}))
    by_name[$name]=$((${by_name[$name]:-0} + used))
done
echo "idle demo screen (${user:-root}), ${secs} s after the script ended:"
for name in "${!by_name[@]}"; do
    printf "  thread %-14s %3d ticks = %5.2f%% of a core\n" "$name" "${by_name[$name]}" \
        "$(echo "scale=4; ${by_name[$name]} * 100 / $hz / $secs" | bc)"
done
printf "  process               %3d ticks = %5.2f%% of a core\n" $((p1 - p0)) \
    "$(echo "scale=4; ($p1 - $p0) * 100 / $hz / $secs" | bc)"
