#!/usr/bin/env bash
# Instructions per cold request, counted by callgrind: the floor route (axum +
# one RS256 check with a key parsed once) against a #[clerk_protected] route
# with the global verifier, token cache off, through axum routers in process
# (the `overhead` bench's routes; one process, so one key and the same tokens
# for both). Unlike wall-clock figures on a shared machine, the count does
# not move with the machine's load, so it shows small changes; it is not time
# (cache misses and stalls do not count).
#
# Then the code each route runs: distinct 64-byte lines of machine code
# executed per request. Under load the kernel, hyper and RSA evict the
# instruction cache between requests, so every line of code a request runs
# is fetched again; on this kind of VM those fetches, not the instruction
# count, are most of what clerk-guard adds (a 0.6 % instruction overhead
# costs 5-7 % of the time head to head).
#
#   bash benches/instructions.sh        (needs valgrind and python3; N=200 requests each)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}
exe=$(cargo bench -p clerk-guard --features testing --bench overhead --no-run 2>&1 |
    sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
out=$(mktemp)
trap 'rm -f "$out" "$out.floor" "$out.guarded"' EXIT
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
# Code footprint: each route alone, every executed instruction's address.
for route in floor guarded; do
    OVERHEAD_LOOP=20 valgrind --tool=callgrind --dump-instr=yes --compress-pos=no \
        --compress-strings=no --callgrind-out-file="$out.$route" \
        --toggle-collect="overhead::measured_$route" "$exe" >/dev/null 2>&1
done
python3 - "$out.floor" "$out.guarded" <<'PY'
import re, sys
def lines(path):
    # Cost lines start with the instruction's address (--compress-pos=no).
    return {int(m.group(1), 16) >> 6 for m in map(re.compile(r"^0x([0-9a-f]+) ").match, open(path)) if m}
floor, guarded = lines(sys.argv[1]), lines(sys.argv[2])
print(f"code run per request (64-byte lines): floor {len(floor)}, #[clerk_protected] {len(guarded)}, "
      f"clerk-guard adds {len(guarded - floor)} ({len(guarded - floor) * 64 / 1024:.1f} KiB)")
PY
