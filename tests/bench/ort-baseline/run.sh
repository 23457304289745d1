#!/usr/bin/env bash
# Engine vs raw ONNX Runtime, same machine, same library, same run (issue 2 benchmark).
# For each INT8 demo model, runs `edgeagent bench` and the C program `ort_baseline` alternately for
# ROUNDS rounds (batch 1, one intra-op thread, spinning off) and reports the median p50 of each and
# their ratio. Usage: tests/bench/ort-baseline/run.sh [ITERATIONS] [ROUNDS]   (via ./build.sh bench)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
iterations=${1:-20000}; rounds=${2:-5}
agent=${EDGEAGENT_BIN:-$root/agent/EdgeAgent.Agent/bin/Release/net10.0/edgeagent}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
gcc -O2 -o "$work/ort_baseline" "$here/ort_baseline.c" -ldl -lm
export EDGEAGENT_ORT_PATH=${EDGEAGENT_ORT_PATH:-$(dirname "$agent")/libonnxruntime.so.1}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { sed -E "s/.*\"$1\":([0-9.eE+-]+).*/\1/"; }
printf '| model | engine p50 µs | raw ORT p50 µs | ratio | engine p99 µs | raw p99 µs | managed B/inference |\n|---|---|---|---|---|---|---|\n'
for kind in mlp cnn; do
  model="$work/$kind.onnx"
  "$agent" make-model --kind "$kind" --output "$model" >/dev/null
  : >"$work/e"; : >"$work/r"
  for ((i = 0; i < rounds; i++)); do
    "$agent" bench --model "$model" --threads 1 --iterations "$iterations" --warmup 2000 --json >>"$work/e"
    "$work/ort_baseline" "$model" "$iterations" 2000 1 >>"$work/r"
  done
  e50=$(field p50Us <"$work/e" | median); r50=$(field p50Us <"$work/r" | median)
  e99=$(field p99Us <"$work/e" | median); r99=$(field p99Us <"$work/r" | median)
  alloc=$(field managedBytesPerInference <"$work/e" | sort -g | tail -1)
  printf '| %s | %s | %s | %.3f | %s | %s | %s |\n' "$kind" "$e50" "$r50" "$(awk -v a="$e50" -v b="$r50" 'BEGIN { print a / b }')" "$e99" "$r99" "$alloc"
done
