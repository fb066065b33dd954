#!/usr/bin/env bash
# Every handler shape users write, against its counterpart without auth
# (warm: the same token again, answered from the cache) or the floor (cold:
# distinct tokens, cache off; axum plus one RS256 check), in one server:
# `examples/shapes.rs` on a current_thread runtime pinned to core 0, every
# route in one router, wrk on core 1. Each round runs every route between
# two runs of its reference; the figure is the server's CPU time per
# request (utime + stime from /proc, over wrk's request count), and a
# route's ratio is its reference's cost (the runs just before and after it)
# over its own, median of the rounds with their spread.
#
#   bash benches/shapes.sh     (needs wrk and taskset; ROUNDS=7 DURATION=2s
#                               COLD_TOKENS=50000 CONNECTIONS=16 MODES="warm cold"
#                               by default: the README's figures)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-7}
DURATION=${DURATION:-2s}
COLD_TOKENS=${COLD_TOKENS:-50000}
CONNECTIONS=${CONNECTIONS:-16}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
cargo build --release -q -p clerk-guard-examples --example shapes
exe=target/release/examples/shapes
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
tick=$(getconf CLK_TCK)

# CPU seconds the server has used, in clock ticks.
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

run_mode() { # mode cache tokens reference reference_me
    local mode=$1 cache=$2 tokens=$3 ref=$4 ref_me=$5
    SHAPES_SERVE=1 PORT=3400 TOKEN_CACHE=$cache TOKENS=$tokens TOKENS_OUT="$dir/$mode.txt" \
        taskset -c 0 "$exe" > "$dir/server.out" &
    local pid=$!
    until grep -q listening "$dir/server.out" 2>/dev/null; do sleep 0.2; done
    # Each route runs between two runs of its reference (A-B-A): the VM's
    # drift within a round cancels out of the ratio.
    local order="$ref sole $ref auth $ref role $ref org_role $ref permission $ref principal $ref $ref_me me $ref_me"
    for round in $(seq "$ROUNDS"); do
        local at=0
        for route in $order; do
            local before after requests
            before=$(cpu "$pid")
            requests=$(ROUTE="/$route" TOKENS_FILE="$dir/$mode.txt" taskset -c 1 \
                wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s benches/shapes.lua http://127.0.0.1:3400 |
                awk '/requests in/ { print $1 }')
            after=$(cpu "$pid")
            echo "$round $at $route $(( after - before )) $requests" >> "$dir/$mode.costs"
            at=$(( at + 1 ))
        done
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
    python3 - "$dir/$mode.costs" "$mode" "$ref" "$ref_me" "$tick" <<'PY'
import sys, statistics
path, mode, ref, ref_me, tick = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
runs = {}  # round -> [(route, µs per request)] in order
for line in open(path):
    rnd, at, route, ticks, requests = line.split()
    runs.setdefault(int(rnd), []).append((route, int(ticks) / tick / int(requests) * 1e6))
ratios, costs, refs = {}, {}, {}
for order in runs.values():
    for i, (route, cost) in enumerate(order):
        if route in (ref, ref_me):
            continue
        # The reference runs just before and just after the route.
        against = (order[i - 1][1] + order[i + 1][1]) / 2
        ratios.setdefault(route, []).append(against / cost)
        costs.setdefault(route, []).append(cost)
        refs.setdefault(route, []).append(against)
print(f"{mode}: ratio = {ref}'s CPU per request / the route's, the reference run just before "
      f"and after (median [min, max] of {len(runs)} rounds)")
for route in ["sole", "auth", "role", "org_role", "permission", "principal", "me"]:
    r = sorted(ratios[route])
    print(f"  {route:<11} {statistics.median(r):.3f} [{r[0]:.3f}, {r[-1]:.3f}]  "
          f"({statistics.median(costs[route]):.1f} µs against {statistics.median(refs[route]):.1f} µs)")
PY
}

for mode in ${MODES:-warm cold}; do
    case $mode in
        warm) run_mode warm $((16 << 20)) 1 plain plain_me ;;
        cold) run_mode cold 0 "$COLD_TOKENS" floor floor_me ;;
    esac
done
