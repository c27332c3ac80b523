#!/usr/bin/env bash
# The GPU check (issue 19, and the predictor's GPU check of issue 17): tests, decode / prefill /
# throughput of an NF-1B-like model, training figures at d = 1024, a six-evaluation measured
# campaign and the latency predictor, all on cuda:0, every figure under one results folder.
#
# The device machine has no Rust and reaches no registry, so the binaries are built here and
# travel with the working tree (at most 64 MiB: stripped, the GPU-relevant test binaries only):
#
#   scripts/gpu-check.sh prepare            # here: .gpu/ <- flashnas and test binaries (cuda, xz)
#   scripts/gpu-check.sh run "$OUT"         # there, with carry = [".gpu"]; figures to $OUT
#   scripts/gpu-check.sh dry-run DIR        # here: the same steps on the CPU at small sizes
#
# `run` stays inside a deadline (GPU_CHECK_SECONDS, default 540: one device command may run 600 s);
# each step has its own time limit and a step that fails or runs out is recorded and skipped.
# What comes back from $OUT is at most 8 files: log.txt, summary.txt, nvidia-smi.txt, the JSON
# figures and one archive (campaign directory and predictor files).
set -uo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
case "$mode" in
prepare)
  set -e
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flashnas-target}"
  rm -rf .gpu && mkdir -p .gpu
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
  staging="$(mktemp -d)"
  cargo build --release --features cuda
  cp "$CARGO_TARGET_DIR/release/flashnas" "$staging/flashnas"
  # The test binaries that exercise the model, decoding, training and the profiler on the
  # active device, most important first (the CLI, executor, report and search tests are
  # device-free; each cuda test binary takes minutes to build on 2 cores). A stripped cuda binary is ~100 MB, ~16 MB with xz; what travels is capped
  # at 64 MiB with the working tree, so tests are taken in this order while they fit.
  cargo test --release --workspace --features cuda --no-run --message-format=json \
    --test numerics --test decode --test proxy --test profiler --test kernels |
    python3 -c '
import json, sys
order = [("numerics", "test"), ("decode", "test"), ("proxy", "test"), ("profiler", "test"),
         ("kernels", "test")]
found = {}
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        t = m["target"]
        kind = "lib" if "lib" in t["kind"] else t["kind"][0]
        found[(t["name"], kind)] = m["executable"]
for i, key in enumerate(order):
    if key in found:
        print(f"{i}-{key[0]}-{key[1]}", found[key])
' >"$staging/tests.txt"
  strip "$staging/flashnas"
  xz -T0 -6 -c "$staging/flashnas" >.gpu/flashnas.xz
  budget=$((60 * 1024 * 1024 - $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)))
  while read -r name exe; do
    cp "$exe" "$staging/$name" && strip "$staging/$name"
    xz -T0 -6 -c "$staging/$name" >"$staging/$name.xz"
    if [ $(($(du -cb .gpu | tail -1 | cut -f1) + $(stat -c %s "$staging/$name.xz"))) -le "$budget" ]; then
      mkdir -p .gpu/tests && mv "$staging/$name.xz" .gpu/tests/
    else
      echo "left out (no room under 64 MiB): $name"
    fi
  done <"$staging/tests.txt"
  rm -rf "$staging"
  # Put the CPU build back in the shared target directory.
  cargo build --release
  du -ab .gpu
  ;;
run | dry-run)
  OUT="${2:?usage: scripts/gpu-check.sh run|dry-run OUT}"
  mkdir -p "$OUT"
  OUT="$(cd "$OUT" && pwd)"
  work="$(mktemp -d)"
  deadline=$(($(date +%s) + ${GPU_CHECK_SECONDS:-540}))
  if [ "$mode" = run ]; then
    [ -f .gpu/flashnas.xz ] || { echo "no .gpu/flashnas.xz: run scripts/gpu-check.sh prepare here and carry .gpu" >&2; exit 2; }
    mkdir -p "$work/bin"
    xz -dc .gpu/flashnas.xz >"$work/bin/flashnas"
    for t in .gpu/tests/*.xz; do
      [ -e "$t" ] && xz -dc "$t" >"$work/bin/$(basename "$t" .xz)"
    done
    chmod +x "$work/bin"/*
    bin="$work/bin/flashnas"
    tests=()
    for t in "$work"/bin/[0-9]*; do [ -e "$t" ] && tests+=("$t"); done
    device="cuda:0"
    arch=configs/nf-1b-like.json
    generate=8192 prefill=8192 memory_mib=81920 width=1024 roofline=h200
    campaign=configs/gpu-check.toml predictor=configs/gpu-predictor.toml
    probes=10 rounds=2 check_n=30
  else
    bin="${CARGO_TARGET_DIR:-$HOME/.cache/flashnas-target}/release/flashnas"
    tests=()
    device="cpu"
    arch=examples/hybrid-tiny.json
    generate=256 prefill=256 memory_mib=64 width=128 roofline=cpu-2core
    # The GPU configs on the CPU: one small width, short training.
    sed -e 's/cuda:0/cpu/' -e 's/^widths = .*/widths = [64]/' -e 's/^head_dim = 128/head_dim = 32/' \
      -e 's/^reference_width = 1024/reference_width = 64/' -e 's/^steps = 60/steps = 5/' \
      -e 's/^seq_len = 256/seq_len = 64/' -e 's/^width = 1024/width = 64/' configs/gpu-check.toml >"$work/campaign.toml"
    sed -e 's/cuda:0/cpu/' -e 's/^widths = .*/widths = [64, 96, 128]/' -e 's/^head_dim = 128/head_dim = 32/' \
      -e 's/^reference_width = 1024/reference_width = 64/' -e 's/^width = 1024/width = 64/' \
      configs/gpu-predictor.toml >"$work/predictor.toml"
    campaign="$work/campaign.toml" predictor="$work/predictor.toml"
    probes=5 rounds=1 check_n=8
  fi
  [ -x "$bin" ] || { echo "no flashnas binary at $bin (run: scripts/gpu-check.sh prepare)" >&2; exit 2; }
  exec > >(tee "$OUT/log.txt") 2>&1
  summary="$OUT/summary.txt"
  : >"$summary"
  # step NAME LIMIT_S COMMAND…: runs within its limit and the overall deadline; records the outcome.
  step() {
    local name=$1 limit=$2
    shift 2
    local left=$((deadline - $(date +%s)))
    if [ "$left" -lt 20 ]; then
      echo "== $name: skipped (deadline)" | tee -a "$summary"
      return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    echo "== $name (limit ${limit}s): $*"
    local t0 rc
    t0=$(date +%s%N)
    timeout --kill-after=10 "$limit" "$@"
    rc=$?
    local ms=$((($(date +%s%N) - t0) / 1000000))
    printf '== %s: rc %d in %d.%03d s\n' "$name" "$rc" $((ms / 1000)) $((ms % 1000)) | tee -a "$summary"
  }
  echo "flashnas GPU check ($mode) on $(hostname), $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  if command -v nvidia-smi >/dev/null; then nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1; fi
  # 1. Tests on the device (the model's numerics tests compare chunked and recurrent forms,
  #    decode and full forward, fused kernels and composed ops, at the tolerances in the tests).
  for t in "${tests[@]}"; do
    step "test $(basename "$t")" 150 "$t" --test-threads 1
  done
  # 2. The NF-1B-like model: batch-1 decode of 8k tokens after a 64-token prompt and an 8k
  #    prefill; then throughput at the largest batch whose weights + caches fit 80 GiB.
  step "profile batch 1" 200 "$bin" profile --arch "$arch" --device "$device" --prompt 64 \
    --generate "$generate" --batch 0 --prefill-len "$prefill" --repeats 1 --warmup 1 \
    --roofline "$roofline" --json "$OUT/profile-b1.json"
  step "profile max batch" 120 "$bin" profile --arch "$arch" --device "$device" --prompt 64 \
    --generate 256 --memory-mib "$memory_mib" --prefill-len 512 --repeats 1 --warmup 1 \
    --json "$OUT/profile-maxbatch.json"
  # 3. Training figures at d = 1024.
  step "bench train" 90 "$bin" bench train --width "$width" --steps 6
  step "bench model" 90 "$bin" bench model --width "$width" --lengths 256,1024 --repeats 2 \
    --json "$OUT/bench-model.json"
  # 4. Six measured evaluations on the device (wall time split in the campaign's status).
  step "campaign" 150 "$bin" search --config "$campaign" --out "$work/campaign"
  step "campaign status" 20 "$bin" status "$work/campaign"
  # 5. The latency predictor on the device (issue 17): build, then check on unseen archs.
  step "predictor build" 120 "$bin" latency-model build --config "$predictor" \
    --out "$work/predictor.json" --probes "$probes" --rounds "$rounds"
  step "predictor check" 90 "$bin" latency-model check --model "$work/predictor.json" \
    --config "$predictor" --n "$check_n" --sweeps 2 --json "$OUT/predictor-check.json"
  rm -rf "$work/bin"
  tar -czf "$OUT/work.tar.gz" -C "$work" . 2>/dev/null
  echo "== summary"
  cat "$summary"
  ;;
*)
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
