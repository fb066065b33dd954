#!/usr/bin/env bash
# Load run on loopback: wrk against examples/load_server.rs, one unprotected
# route, the protected route with a reused session token (warm), and with the
# token cache off (every request verifies RSA: cold). Bounded: 10 s per run.
#
#   bash benches/load.sh            (needs wrk: apt-get install wrk)
#
# Quote ratios from one run: the machine is shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
cargo build -q --release --example load_server
server=target/release/examples/load_server
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
duration=${DURATION:-10s}
threads=${THREADS:-1}
connections=${CONNECTIONS:-32}

run() { # name url [token]
  local header=()
  [ -n "${3:-}" ] && header=(-H "Authorization: Bearer $3")
  local rps
  rps=$(wrk -t"$threads" -c"$connections" -d"$duration" "${header[@]}" "$2" | awk '/Requests\/sec/ {print $2}')
  printf '%-34s %12s req/s\n' "$1" "$rps"
  echo "$rps" > "$dir/$1"
}

start() { # port token_cache
  PORT=$1 TOKEN_CACHE=$2 TOKENS_OUT="$dir/tokens-$1" "$server" >/dev/null &
  for _ in $(seq 50); do [ -s "$dir/tokens-$1" ] && curl -s "http://127.0.0.1:$1/public" >/dev/null && return; sleep 0.1; done
  echo "server on $1 did not start"; exit 1
}

start 3101 10000
start 3102 0
warm=$(head -1 "$dir/tokens-3101")
cold=$(head -1 "$dir/tokens-3102")
run public http://127.0.0.1:3101/public
run protected_warm http://127.0.0.1:3101/protected "$warm"
run admin_warm http://127.0.0.1:3101/admin "$warm"
run protected_cold http://127.0.0.1:3102/protected "$cold"
ratio() { awk -v a="$(cat "$dir/$1")" -v b="$(cat "$dir/$2")" 'BEGIN { printf "%.2f", a / b }'; }
echo "protected_warm / public: $(ratio protected_warm public)"
echo "protected_cold / public: $(ratio protected_cold public)"
