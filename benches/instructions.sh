#!/usr/bin/env bash
# Instructions per cold request, counted by callgrind: the floor route (axum +
# one RS256 check with a key parsed once) against a #[clerk_protected] route
# with the global verifier, token cache off, through axum routers in process
# (the `overhead` bench's routes and tokens). Unlike wall-clock figures on a
# shared machine, the count does not move with the machine's load, so it
# shows small changes; it is not time (cache misses and stalls do not count).
#
#   bash benches/instructions.sh        (needs valgrind; N=200 requests each)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}
exe=$(cargo bench -p clerk-guard --features testing --bench overhead --no-run 2>&1 |
    sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
count() {
    OVERHEAD_LOOP=$N OVERHEAD_ROUTE=$1 valgrind --tool=callgrind \
        --callgrind-out-file=/dev/null --toggle-collect='overhead::measured_loop' "$exe" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
floor=$(count floor)
guarded=$(count guarded)
awk -v f="$floor" -v g="$guarded" -v n="$N" 'BEGIN {
    printf "instructions per cold request: floor %d, #[clerk_protected] %d, clerk-guard adds %d (%.4fx the floor)\n",
        f / n, g / n, (g - f) / n, g / f }'
