#!/usr/bin/env bash
# ASHA's rungs and η on the two recall tables (issue 37: ASHA's compute to reach random's final
# quality, target ≤ 1/3). Chosen on tuning seeds 0–29, reported on held-out seeds 1000–1029.
#   1. sweep: rungs {0.25 | 0.5 | 0.25,0.5} × η {2, 3, 4, 6}, ASHA and random, seeds 0–29, 1×;
#   2. held-out: the configured rungs [0.25] and the sweep's choice, every strategy, 1× and 4×.
# Each run is a few seconds (the table answers); raw/ keeps each run's report and summary.json
# (trajectories are left out: 1 MB each, and `bench strategies` rebuilds them bit for bit).
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${FLASHNAS:-target/release/flashnas}
raw=benchmarks/asha-rungs/raw
mkdir -p "$raw"
keep() { mv "$1/report.txt" "$raw/$2.report.txt"; mv "$1/summary.json" "$raw/$2.summary.json"; rm -rf "$1"; }
for t in recall-long recall-wide; do
  for r in 0.25 0.5 0.25,0.5; do
    for e in 2 3 4 6; do
      n=tune-$t-r$r-eta$e
      "$B" bench strategies --table benchmarks/$t.parquet --seeds 30 --seed-offset 0 \
        --strategies asha,random --rungs $r --eta $e --out /tmp/asha-rungs-$n > /dev/null
      keep /tmp/asha-rungs-$n $n
    done
  done
done
for tb in recall-long:52 recall-wide:156; do
  t=${tb%:*}; b=${tb#*:}
  for r in 0.25 0.25,0.5; do
    for scale in 1x 4x; do
      n=heldout-$t-r$r-$scale
      extra=(); [ $scale = 4x ] && extra=(--budget $b)
      "$B" bench strategies --table benchmarks/$t.parquet --seeds 30 --seed-offset 1000 \
        --rungs $r --eta 3 "${extra[@]}" --out /tmp/asha-rungs-$n > /dev/null
      keep /tmp/asha-rungs-$n $n
    done
  done
done
python3 benchmarks/asha-rungs/summary.py
