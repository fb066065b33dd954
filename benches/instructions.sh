#!/usr/bin/env bash
# Instructions per cold request, counted by callgrind: the floor route (axum +
# one RS256 check with a key parsed once) against a #[clerk_protected] route
# with the global verifier, token cache off, through axum routers in process
# (the `overhead` bench's routes; one process, so one key and the same tokens
# for both). Unlike wall-clock figures on a shared machine, the count does
# not move with the machine's load, so it shows small changes; it is not time
# (cache misses and stalls do not count).
#
#   bash benches/instructions.sh        (needs valgrind; N=200 requests each)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}
exe=$(cargo bench -p clerk-guard --features testing --bench overhead --no-run 2>&1 |
    sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
OVERHEAD_LOOP=$N valgrind --tool=callgrind --callgrind-out-file="$out" \
    --toggle-collect='overhead::measured_*' "$exe" >/dev/null 2>&1
# Inclusive instructions of each measured function (the largest of the
# entries callgrind lists it under, one per source file of inlined code).
inclusive() {
    callgrind_annotate --inclusive=yes "$out" |
        awk -v f="overhead::$1" '$0 ~ f "( |$)" && $0 !~ /=>/ {
            gsub(",", "", $1); if ($1 + 0 > max) max = $1 + 0 } END { print max }'
}
floor=$(inclusive measured_floor)
guarded=$(inclusive measured_guarded)
awk -v f="$floor" -v g="$guarded" -v n="$N" 'BEGIN {
    printf "instructions per cold request: floor %d, #[clerk_protected] %d, clerk-guard adds %d (%.4fx the floor)\n",
        f / n, g / n, (g - f) / n, g / f }'
