#!/usr/bin/env bash
# Loss against width at two proxy lengths (issue 37): two layer lists of the recall-long
# space at widths 32–256, trained as the recall-long table trains (seq 64, batch 8, lr 0.01,
# weight normalization, untied embeddings as the space builds them) for 100 and 400 steps with seeds 0 and 1.
#   benchmarks/width-scaling/run.sh && python3 benchmarks/width-scaling/summary.py
set -euo pipefail
cd "$(dirname "$0")"
F=${FLASHNAS:-flashnas}
for S in 100 400; do for seed in 0 1; do for A in m2d m2faf; do for W in 32 64 128 256; do
  o=raw/r-$A-$W-$S-$seed.json
  [ -f "$o" ] || "$F" train --arch arch/arch-$A-$W.json --config train/t-$S-$seed.toml --out "$o" > /dev/null
done; done; done; done
