#!/usr/bin/env bash
# Soak with faults (not part of CI): the quickstart in its real mode (keys from
# a local JWKS server, examples/soak_issuer.rs) under wrk for 60 s at 256
# connections with a request mix by connections: 70% one reused valid token,
# 10% fresh valid tokens, 10% expired, 10% garbage. At 20 s the issuer rotates
# to a new key (fresh tokens from then on are signed by it); from 30 s to 40 s
# the JWKS answers 500.
#
#   bash benches/soak.sh                  (needs wrk: apt-get install wrk)
#   UNKNOWN_KIDS=1 bash benches/soak.sh   (half the garbage names random kids:
#                                          the JWKS is probed all along, and
#                                          through the 500s)
#
# Passes when: no 5xx at all; every expired or garbage token answered 401;
# every valid token (reused, and fresh before and after the rotation) 200; no
# socket errors; resident memory at the end within 10% of that at 10 s.
# Prints the figures; exits non-zero when one fails.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
DURATION=${DURATION:-60}
POOL=${POOL:-8000}
PORT=${PORT:-3311}
cargo build -q --release --example soak_issuer --example quickstart
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT

echo "minting $POOL fresh tokens per key ..."
target/release/examples/soak_issuer "$dir" "$POOL" &
for _ in $(seq 600); do [ -s "$dir/ready" ] && break; sleep 0.2; done
[ -s "$dir/ready" ] || { echo "soak issuer did not start"; exit 1; }
read -r jwks_url issuer control < "$dir/ready"

CLERK_JWKS_URL=$jwks_url CLERK_ISSUER=$issuer PORT=$PORT RUST_LOG=warn \
  target/release/examples/quickstart > "$dir/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -s "http://127.0.0.1:$PORT/public" >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ { print $2 }' "/proc/$server/status"; }

# Garbage with unknown kids, on request: a refetch probe every cooldown.
[ "${UNKNOWN_KIDS:-0}" = 1 ] && python3 - "$dir" <<'PY'
import base64, json, sys
d = sys.argv[1]
b = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
with open(f"{d}/garbage.txt", "a") as f:
    for i in range(500):
        f.write(f"{b({'alg': 'RS256', 'kid': f'unknown-{i}', 'typ': 'JWT'})}.{b({'sub': 'x'})}.c2lnbmF0dXJl\n")
PY

loads=()
load() { # name connections seconds tokens
  SOAK_TOKENS="$dir/$4" wrk -t1 -c"$2" -d"$3s" --timeout 5s -s benches/soak.lua \
    "http://127.0.0.1:$PORT/me" > "$dir/$1.out" 2>&1 &
  loads+=("$!")
}
start=$(date +%s)
at() { while [ $(( $(date +%s) - start )) -lt "$1" ]; do sleep 0.2; done; }
load reused 179 "$DURATION" reused.txt
load expired 26 "$DURATION" expired.txt
load garbage 25 "$DURATION" garbage.txt
load fresh1 26 20 fresh1.txt
at 10; rss10=$(rss)
at 20; curl -s -X POST "$control/rotate" >/dev/null; load fresh2 26 $((DURATION - 20)) fresh2.txt
at 30; curl -s -X POST "$control/fail" >/dev/null
at 40; curl -s -X POST "$control/serve" >/dev/null
wait "${loads[@]}"
sleep 1
rss_end=$(rss)

fail=0
total5xx=0
printf '%-8s %10s %10s %8s %8s %8s %12s\n' run requests req/s 200 401 5xx socket_errs
for run in reused fresh1 fresh2 expired garbage; do
  out="$dir/$run.out"
  read -r c200 c401 c5xx cother sock < <(awk '/^COUNTS/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); printf "%s ", kv[2] } print "" }' "$out")
  rps=$(awk '/Requests\/sec/ { print $2 }' "$out")
  reqs=$((c200 + c401 + c5xx + cother))
  printf '%-8s %10s %10s %8s %8s %8s %12s\n' "$run" "$reqs" "$rps" "$c200" "$c401" "$c5xx" "$sock"
  total5xx=$((total5xx + c5xx))
  [ "$sock" -eq 0 ] || { echo "FAIL: $run had $sock socket errors"; fail=1; }
  case $run in
    reused|fresh1|fresh2) [ "$c200" -eq "$reqs" ] && [ "$reqs" -gt 0 ] || { echo "FAIL: $run: valid tokens not all accepted"; fail=1; } ;;
    expired|garbage) [ "$c401" -eq "$reqs" ] && [ "$reqs" -gt 0 ] || { echo "FAIL: $run: bad tokens not all answered 401"; fail=1; } ;;
  esac
done
[ "$total5xx" -eq 0 ] || { echo "FAIL: $total5xx answers were 5xx"; fail=1; }
growth=$(awk -v a="$rss10" -v b="$rss_end" 'BEGIN { printf "%.1f", (b - a) * 100 / a }')
echo "resident memory: ${rss10} kB at 10 s, ${rss_end} kB at the end (${growth}%)"
awk -v g="$growth" 'BEGIN { exit !(g <= 10 && g >= -10) }' || { echo "FAIL: memory moved more than 10%"; fail=1; }
echo "JWKS warnings in the server log: $(grep -c "JWKS" "$dir/server.log" || true)"
if [ "$fail" -eq 0 ]; then echo "soak: PASS"; else echo "soak: FAIL"; fi
exit "$fail"
