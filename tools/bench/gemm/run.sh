#!/usr/bin/env bash
# The packed GEMM of the oneDNN backend against oneDNN's sgemm, shape by shape (median GFLOP/s
# of each, and their ratio), at 1 and 2 threads. See docs/performance.md, "Packed weights".
#
#   tools/bench/gemm/run.sh [BUILD_DIR]        (default: ./build; the binary goes to BUILD_DIR/bench/gemm)
#
# Needs c++ and libdnnl-dev. Settings: THREADS="1 2" ROUNDS=20. Nothing here runs in CI.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "run.sh: build folder '${1:-build}' not found" >&2; exit 1; }
THREADS=${THREADS:-1 2}
ROUNDS=${ROUNDS:-20}
OUT=$BUILD/bench/gemm
mkdir -p "$OUT"
c++ -O3 -std=c++20 -fopenmp -I"$ROOT/backends/onednn" "$HERE/packed_vs_onednn.cpp" "$ROOT/backends/onednn/gemm.cpp" \
  "$ROOT/backends/onednn/activation.cpp" -fno-trapping-math \
  -o "$OUT/packed_vs_onednn" -ldnnl
echo "$(date -u +%F) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"
for t in $THREADS; do
  echo "== $t thread(s)"
  "$OUT/packed_vs_onednn" "$t" "$ROUNDS"
done
