#!/bin/sh
# The latency predictor at long prompts: build on the quickstart space with prompt P, then
# check on 40 unseen genomes (seed 1000, widths inside and beyond the design grid).
set -e
BIN=${BIN:-/work/target-latency/release/flashnas}
cd "$(dirname "$0")"
for p in ${PROMPTS:-1024 4096}; do
  /usr/bin/time -f "build p$p: %e s" $BIN latency-model build --config predictor-p$p.toml --out raw/predictor-p$p.json --report raw/predictor-p$p.build.json > raw/predictor-p$p.build.txt 2>&1
  /usr/bin/time -f "check p$p: %e s" $BIN latency-model check --model raw/predictor-p$p.json --config predictor-p$p.toml --n ${N:-40} --json raw/predictor-p$p.check.json > raw/predictor-p$p.check.txt 2>&1
done
