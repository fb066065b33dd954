#!/usr/bin/env bash
# One run, one table: plain axum, the floor (axum + one aws-lc RS256 check with
# a key parsed once), clerk-guard, jwt-authorizer 0.15, clerk-rs 0.5 and
# dioxus-clerk 0.8, each protecting the same route (same body, `ok`) against
# the same local JWKS, warm (one reused token) and cold (a different token on
# each request, from 100 000 distinct ones). Server pinned to core 0 with one
# tokio worker, wrk pinned to core 1; runs interleaved, median of $RUNS.
# Then clerk-guard head to head with the floor (distinct tokens) and with
# plain axum (one reused token): both loaded at once, their two threads
# sharing core 0, so each run gives a cost ratio free of drift.
# Then the memory figure: clerk-guard's resident memory before and after
# 100 000 distinct valid tokens, each sent twice in a row (a token enters the
# cache on its second verification), for ~600-byte and ~2500-byte tokens.
# MEMORY_ONLY=1 runs the memory figure alone; HEAD_TO_HEAD_ONLY=1 runs the
# head-to-head series alone ($RUNS runs; its ratio moves with the machine's
# state, so a long series says more than five runs).
#
#   bash benches/compare.sh      (needs wrk and taskset; the peers build once)
#
# Peers live in benches/peers, outside the workspace: CI never builds them.
set -euo pipefail
cd "$(dirname "$0")"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
command -v taskset >/dev/null || { echo "taskset is not installed (util-linux)"; exit 1; }
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
TOKENS=${TOKENS:-100000}
(cd peers && cargo build -q --release)
server=peers/target/release/clerk-guard-peer-bench
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT

start() { # out_dir [env...]
  mkdir -p "$1"
  env OUT_DIR="$1" TOKIO_WORKER_THREADS=1 "${@:2}" "$server" > "$1/server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1200); do [ -s "$1/ready" ] && break; sleep 0.1; done
  # (Run in a command substitution: the caller checks for a pid.)
  [ -s "$1/ready" ] || { echo "server did not start: $(cat "$1/server.log")" >&2; kill "$pid" 2>/dev/null; return 1; }
  taskset -a -p -c 0 "$pid" >/dev/null
  echo "$pid"
}

# Head to head: clerk-guard (port 3313) and its reference (the floor on 3312
# with distinct tokens, plain axum on 3311 with the one reused token), each
# on a runtime of its own, both threads on core 0, loaded at the same time,
# half the connections each. The scheduler splits the core evenly, so the
# ratio of their req/s is the ratio of their costs per request, measured
# over the same seconds: drift that moves a sequential pair falls on both.
# The reference clerk-guard is held to in `mode`: its port and name.
reference() { # mode(cold|warm)
  if [ "$1" = warm ]; then echo "3311 plain"; else echo "3312 floor"; fi
}

head_to_head() { # run mode(cold|warm)
  local reference name loaders=() port
  read -r reference name <<<"$(reference "$2")"
  for port in "$reference" 3313; do
    TOKENS_FILE="$dir/main/$2.txt" taskset -c 1 wrk -t1 -c$((CONNECTIONS / 2)) -d"$DURATION" \
      -s compare.lua "http://127.0.0.1:$port/" > "$dir/h2h-$port.out" &
    loaders+=($!)
  done
  wait "${loaders[@]}"
  local theirs mine
  theirs=$(awk '/Requests\/sec/ { print $2 }' "$dir/h2h-$reference.out")
  mine=$(awk '/Requests\/sec/ { print $2 }' "$dir/h2h-3313.out")
  awk -v t="$theirs" -v m="$mine" 'BEGIN { print m / t }' >> "$dir/ratio-h2h-$2"
  printf 'run %s  head to head, %s: %s %s, clerk-guard %s req/s\n' "$1" "$2" "$name" "$theirs" "$mine" >&2
}

h2h_line() { # mode(cold|warm)
  local name
  read -r _ name <<<"$(reference "$1")"
  sort -n "$dir/ratio-h2h-$1" | awk -v mode="$1" -v name="$name" '{ v[NR] = $1; s += $1; q += $1 * $1 } END {
    m = s / NR; sd = (NR > 1 ? sqrt((q - NR * m * m) / (NR - 1)) : 0)
    printf "clerk-guard-%s / %s-%s, head to head (both loaded at once on one core): median %.3f×, mean %.3f× ± %.3f (95%% interval of the mean; runs: ", mode, name, mode, v[int((NR + 1) / 2)], m, 1.96 * sd / sqrt(NR)
    for (i = 1; i <= NR; i++) printf "%s%.2f", (i > 1 ? ", " : ""), v[i]; print ")" }'
}

if [ "${HEAD_TO_HEAD_ONLY:-0}" = 1 ]; then
  echo "minting $TOKENS tokens ..."
  pid=$(start "$dir/main" TOKENS="$TOKENS") || exit 1
  warm=$(head -1 "$dir/main/warm.txt")
  for port in 3311 3312 3313; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $warm" "http://127.0.0.1:$port/")
    [ "$code" = 200 ] || { echo "port $port (head to head) answered $code to a valid token"; exit 1; }
  done
  for run in $(seq "$RUNS"); do head_to_head "$run" cold; head_to_head "$run" warm; done
  h2h_line cold
  h2h_line warm
  kill "$pid" 2>/dev/null || true
  exit 0
fi

if [ "${MEMORY_ONLY:-0}" != 1 ]; then
echo "minting $TOKENS tokens ..."
pid=$(start "$dir/main" TOKENS="$TOKENS") || exit 1
warm=$(head -1 "$dir/main/warm.txt")

# Each reference point is run right before the clerk-guard row compared with
# it, so each run gives one paired ratio that the machine's drift cancels in.
targets=("plain 3301 warm" "clerk-guard 3303 warm" "floor 3302 cold" "clerk-guard 3303 cold"
         "jwt-authorizer-0.15 3304 warm" "jwt-authorizer-0.15 3304 cold"
         "clerk-rs-0.5 3305 warm" "clerk-rs-0.5 3305 cold"
         "dioxus-clerk-0.8 3306 warm" "dioxus-clerk-0.8 3306 cold")
for target in "${targets[@]}"; do
  read -r name port mode <<<"$target"
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $warm" "http://127.0.0.1:$port/")
  [ "$code" = 200 ] || { echo "$name answered $code to a valid token"; exit 1; }
done
for port in 3311 3312 3313; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $warm" "http://127.0.0.1:$port/")
  [ "$code" = 200 ] || { echo "port $port (head to head) answered $code to a valid token"; exit 1; }
done

for run in $(seq "$RUNS"); do
  for target in "${targets[@]}"; do
    read -r name port mode <<<"$target"
    file="$dir/main/$mode.txt"
    rps=$(TOKENS_FILE=$file taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s compare.lua \
      "http://127.0.0.1:$port/" | awk '/Requests\/sec/ { print $2 }')
    echo "$rps" >> "$dir/$name-$mode"
    printf 'run %s  %-22s %-5s %10s req/s\n' "$run" "$name" "$mode" "$rps" >&2
  done
  head_to_head "$run" cold
  head_to_head "$run" warm
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
plain=$(median "$dir/plain-warm")
floor=$(median "$dir/floor-cold")
echo
echo "| server | tokens | req/s (median of $RUNS) | vs plain | vs floor |"
echo "|---|---|---|---|---|"
for target in "${targets[@]}"; do
  read -r name port mode <<<"$target"
  m=$(median "$dir/$name-$mode")
  awk -v n="$name" -v mode="$mode" -v m="$m" -v p="$plain" -v f="$floor" \
    'BEGIN { printf "| %s | %s | %.0f | %.2f× | %.2f× |\n", n, mode, m, m / p, m / f }'
done
echo
# Paired ratios: per run, clerk-guard against the reference measured just before it.
for pair in "clerk-guard-warm plain-warm" "clerk-guard-cold floor-cold"; do
  read -r mine theirs <<<"$pair"
  paste "$dir/$mine" "$dir/$theirs" | awk '{ print $1 / $2 }' | sort -n > "$dir/ratio-$mine"
  awk -v name="$mine" -v ref="$theirs" '{ v[NR] = $1 } END {
    printf "%s / %s, paired per run: median %.2f× (runs: ", name, ref, v[int((NR + 1) / 2)]
    for (i = 1; i <= NR; i++) printf "%s%.2f", (i > 1 ? ", " : ""), v[i]; print ")" }' "$dir/ratio-$mine"
done
h2h_line cold
h2h_line warm
kill "$pid" 2>/dev/null || true
fi

echo
echo "| token size | resident before | after $TOKENS distinct tokens, twice each | growth | budget + 4 MiB |"
echo "|---|---|---|---|---|"
for pad in 0 1400; do
  sub="$dir/mem-$pad"
  pid=$(start "$sub" MEMORY_ONLY=1 TOKENS="$TOKENS" PAD="$pad") || exit 1
  size=$(head -1 "$sub/cold.txt" | tr -d '\n' | wc -c)
  curl -s -o /dev/null -H "Authorization: Bearer $(head -1 "$sub/warm.txt")" http://127.0.0.1:3303/
  before=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
  TOKENS_FILE="$sub/cold.txt" STOP_AFTER=$((2 * TOKENS)) REPEAT=2 DONE_FILE="$sub/done" taskset -c 1 \
    wrk -t1 -c16 -d600s -s compare.lua http://127.0.0.1:3303/ > "$sub/wrk.out" &
  loader=$!
  for _ in $(seq 6000); do [ -s "$sub/done" ] && break; sleep 0.1; done
  kill "$loader" 2>/dev/null || true
  wait "$loader" 2>/dev/null || true
  sleep 1
  after=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
  awk -v s="$size" -v b="$before" -v a="$after" 'BEGIN {
    g = (a - b) / 1024; printf "| %d bytes | %.1f MiB | %.1f MiB | %.1f MiB | %s |\n", s, b / 1024, a / 1024, g, (g <= 20 ? "within (20 MiB)" : "OVER (20 MiB)") }'
  kill "$pid" 2>/dev/null || true
done
