#!/usr/bin/env bash
# A campaign's own overhead as it grows: the hybrid-wide space, strategy random (aging runs out
# of new genomes near 7,000), the budget in seconds, answered by the space's surrogate (no
# training): wall and peak memory per evaluation budget.
#   scripts/overhead.sh [BIN] [BUDGETS...]   (default: target/release/flashnas 1000 2000 … 100000)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/target/release/flashnas}"; shift || true
budgets=("${@:-1000 2000 4000 8000 16000 32000 64000 100000}")
cd "$root"
[ -f benchmarks/hybrid-wide.surrogate.json ] || "$bin" surrogate fit --table benchmarks/hybrid-wide.parquet --out benchmarks/hybrid-wide.surrogate.json
cfg="$(mktemp --suffix=.toml -p benchmarks)"
trap 'rm -f "$cfg"' EXIT
sed -e 's/^strategy = "all"/strategy = "random"/' -e 's/^budget_ref = 2.0/budget_s = 0.0244/' benchmarks/hybrid-wide.toml > "$cfg"
out="$(mktemp -d)"
for n in ${budgets[@]}; do
  /usr/bin/time -f "$n evaluations: %e s, peak %M KB" "$bin" search --config "$cfg" \
    --executor surrogate:benchmarks/hybrid-wide.surrogate.json --budget "$n" --out "$out/$n" > /dev/null
  echo "  $(wc -l < "$out/$n/journal.jsonl") journal records"
done
