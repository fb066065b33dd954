#!/usr/bin/env bash
# The same protected route under clerk-guard and under jwt-authorizer, with
# wrk on loopback (10 s each, one run; quote ratios, not absolute numbers).
#   bash benches/peers.sh        (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/peers"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
cargo build -q --release
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
TOKEN_OUT="$dir/token" target/release/clerk-guard-peer-bench >/dev/null &
for _ in $(seq 100); do [ -s "$dir/token" ] && curl -s http://127.0.0.1:3203/protected >/dev/null 2>&1 && break; sleep 0.1; done
token=$(cat "$dir/token")
for target in "clerk-guard (token cache on) 3201" "clerk-guard (token cache off) 3202" "jwt-authorizer 0.15 3203"; do
  port=${target##* }
  name=${target% *}
  curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/protected" >/dev/null || { echo "$name refused the token"; exit 1; }
  rps=$(wrk -t1 -c32 -d"${DURATION:-10s}" -H "Authorization: Bearer $token" "http://127.0.0.1:$port/protected" | awk '/Requests\/sec/ {print $2}')
  printf '%-32s %12s req/s\n' "$name" "$rps"
done
