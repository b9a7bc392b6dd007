#!/usr/bin/env bash
# CPU per hand-off of the gateway at a fixed rate, by thread, with the
# context switches a second: what `loadgen rate` does not print.
#
#   bench/threads-at-rate.sh RATE [loadgen options...]
#
# Runs `loadgen -c 32 -d 10 --in-flight 64 [options] rate -r RATE`, reads
# /proc/PID/task/*/{stat,status} of the gateway 4 s into the run and 4 s
# later, and prints each thread name's share of a core, its microseconds
# per hand-off and its context switches a second, then the load
# generator's share and its latency lines. LOADGEN overrides the binary
# (default: target/release/loadgen, or $CARGO_TARGET_DIR's).
set -euo pipefail
rate=${1:?usage: $0 RATE [loadgen options...]}
shift
loadgen=${LOADGEN:-${CARGO_TARGET_DIR:-target}/release/loadgen}
out=$(mktemp)
trap 'rm -f "$out" "$out.1" "$out.2"' EXIT
"$loadgen" -c 32 -d 10 --in-flight 64 "$@" rate -r "$rate" >"$out" 2>&1 &
lg=$!
sleep 4
gw=$(grep -oP 'gateway pid \K[0-9]+' "$out")
ticks() { awk '{print $14 + $15}' "$1"; }
snap() {
    for t in /proc/"$gw"/task/*; do
        printf '%s %s %s %s\n' "$(basename "$t")" "$(tr ' ' '_' <"$t/comm")" "$(ticks "$t/stat")" \
            "$(awk '/^(non)?voluntary_ctxt_switches/ {s += $2} END {print s}' "$t/status")"
    done | sort
}
lg0=$(ticks /proc/$lg/stat)
snap >"$out.1"
sleep 4
snap >"$out.2"
lg1=$(ticks /proc/$lg/stat)
# Clock ticks are 1/100 s: over 4 s, ticks/4 is a percentage of one core.
join "$out.1" "$out.2" | awk -v r="$rate" '
    { c = ($6 - $3) / 4; x = ($7 - $4) / 4; n[$2]++; cpu[$2] += c; cs[$2] += x; tot += c }
    END {
        for (k in cpu) printf "%-16s x%-2d %4d%% of a core %5d us/hand-off %7d context switches/s\n", k, n[k], cpu[k], cpu[k] * 10000 / r, cs[k]
        printf "gateway total    %4d%% of a core %5d us/hand-off\n", tot, tot * 10000 / r
    }'
echo "loadgen and simulated partners $(( (lg1 - lg0) / 4 ))% of a core"
wait "$lg"
grep -E 'receipt|delivered' "$out"
