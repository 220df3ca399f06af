#!/usr/bin/env bash
# The scaling curve: wall time and gap of `orplan solve` (60 s limit) as the waitlist grows
# (1k-40k patients, one hospital week) and as the horizon grows (1, 2, 4 weeks, 12k patients).
# Usage: bash benchmarks/scaling.sh   (about 10 minutes; writes benchmarks/results/scaling.*)
set -euo pipefail
cd "$(dirname "$0")/.."
cases=benchmarks/cases/scaling
mkdir -p "$cases"
made=()
for n in 1000 5000 10000 20000 40000; do
    dir="$cases/hospital-${n}p-1w"
    [ -d "$dir" ] || ./dev orplan generate --profile hospital --seed 1 --patients "$n" -o "$dir"
    made+=("$dir")
done
for w in 2 4; do
    dir="$cases/hospital-12000p-${w}w"
    [ -d "$dir" ] || ./dev orplan generate --profile hospital --seed 1 --weeks "$w" -o "$dir"
    made+=("$dir")
done
./dev orplan bench "${made[@]}" -m milp -t 60 -o benchmarks/results/scaling
