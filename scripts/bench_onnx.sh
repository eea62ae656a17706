#!/usr/bin/env bash
# The ONNX inference benchmark of BENCHMARKS.md, in one run on one machine:
# a full-size random-init DistilHuBERT with a 5-class head, exported at 1 s and 3 s windows
# (fp32 and the project's int8), timed in tract (`edge-infer bench`) and in onnxruntime
# (fp32, and its own `quantize_dynamic` of the fp32 file), at 1 and 2 threads.
#
#   scripts/bench_onnx.sh OUT_DIR [ITERS] [PYTHON]
#
# PYTHON must have onnxruntime, onnx and numpy (not needed by the product or CI).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${1:?usage: scripts/bench_onnx.sh OUT_DIR [ITERS] [PYTHON]}"
iters="${2:-30}"
python="${3:-python3}"
mkdir -p "$out"

# The dev profile the README's commands use: dependencies (tract included) at opt-level 3
# without debug assertions or overflow checks, as in a release build (issue 16); only the
# project's own crates, which assemble the graph and time it, are unoptimised.
cargo build --locked -p host-train -p edge-infer
host_train="${CARGO_TARGET_DIR:-target}/debug/host-train"
target="${CARGO_TARGET_DIR:-target}/debug"

if [ ! -f "$out/distil/config.json" ]; then
  "$host_train" init --config distilhubert --labels belly_pain,burping,discomfort,hungry,tired --seed 1 --out "$out/distil"
fi
for w in 1 3; do
  [ -f "$out/distil-${w}s-fp32.onnx" ] ||
    "$host_train" export --model "$out/distil" --window-seconds "$w" --out "$out/distil-${w}s-fp32.onnx" >/dev/null
  [ -f "$out/distil-${w}s-int8.onnx" ] ||
    "$host_train" export --model "$out/distil" --window-seconds "$w" --int8 --out "$out/distil-${w}s-int8.onnx" >/dev/null
done

results="$out/results.jsonl"
: > "$results"
for threads in 1 2; do
  for w in 1 3; do
    for q in fp32 int8; do
      "$target/edge-infer" bench --model "$out/distil-${w}s-${q}.onnx" --threads "$threads" \
        --iters "$iters" --json | tee -a "$results"
    done
    "$python" scripts/ort_bench.py --onnx "$out/distil-${w}s-fp32.onnx" --threads "$threads" \
      --iters "$iters" | tee -a "$results"
  done
done
"$target/edge-infer" bench --model "$out/distil-3s-int8.onnx" --iters 10 --profile > "$out/profile-int8.txt"
"$target/edge-infer" bench --model "$out/distil-3s-fp32.onnx" --iters 10 --profile > "$out/profile-fp32.txt"
echo "results in $results, profiles in $out/profile-*.txt"
