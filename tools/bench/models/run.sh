#!/usr/bin/env bash
# Whole models on Loom, ONNX Runtime and PyTorch, same weights, same machine, same run, beside
# the machine's limits measured in that run (docs/performance.md, "Whole models"):
#   bert         BERT-base masked LM, 128 tokens
#   gpt2-prompt  GPT-2 small, a 128-token prompt, logits for every position
#   gpt2-decode  GPT-2 small, one decode step after 128 cached tokens
#   vit          ViT-B/16 (ViTForImageClassification, 1,000 labels), one 224x224 image
#   clip-image   CLIP ViT-B/32's vision tower, one 224x224 image (image_embeds)
#   clip-text    CLIP ViT-B/32's text tower, 77 tokens (text_embeds)
# at 1 and 2 threads. A workload's limit is its matmul FLOPs at the oneDNN f32 GEMM ceiling
# (prefill, images) or its weight bytes at the memory read bandwidth (decode step), both measured
# just before the workload runs in each round and again after Loom's runs: on a shared host the
# machine's speed moves by a factor of two within minutes, so each round's times are set against
# the mean of that round's two limits, and a round whose two limits differ by more than 10% (the
# host changed speed while Loom ran) is left out of the ratios where a steady round exists.
# With PRECISIONS="f32 bf16", Loom also runs every workload with --precision bf16, set against
# the bf16 limits (the bf16 GEMM ceiling where oneDNN has one for this CPU; bf16 weight bytes),
# and its outputs in bf16 and f32 are compared with PyTorch's f32 ones (bf16_accuracy.jsonl).
# Before the rounds, Loom's outputs on the image checkpoints are checked against PyTorch's.
#
#   tools/bench/models/run.sh [BUILD_DIR]        (default: ./build)
#
# Needs BUILD_DIR/bin/loom and loom-onednn.so (cmake --build BUILD_DIR --target loom_cli
# loom_onednn), /usr/bin/python3 with torch and numpy, node and npm, c++ with libdnnl-dev.
# Random-weight checkpoints, ONNX files and results go to BUILD_DIR/bench/models;
# onnxruntime-node goes to BUILD_DIR/bench/ort. Settings (environment):
#   ROUNDS=3 ITERATIONS=20 WARMUP=3 THREADS="1 2" PYTHON=/usr/bin/python3 ORT_VERSION=1.30 PRECISIONS=f32
#   WORKLOADS="bert gpt2-prompt gpt2-decode vit clip-image clip-text" (any of them, in that order)
#   TORCH_WAIT_POLICY=passive (PyTorch's OMP_WAIT_POLICY)
#   OPENBLAS_CORETYPE (PyTorch's BLAS kernels; by default chosen from the CPU's flags where OpenBLAS
#   does not know the CPU, as in many virtual machines)
# Exits non-zero on errors, never because of the timings. Nothing here runs in CI.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "run.sh: build folder '${1:-build}' not found" >&2; exit 1; }
ROUNDS=${ROUNDS:-3}
ITERATIONS=${ITERATIONS:-20}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-1 2}
PYTHON=${PYTHON:-/usr/bin/python3}
ORT_VERSION=${ORT_VERSION:-1.30}
LOOM=$BUILD/bin/loom
WORK=$BUILD/bench/models
ORT_DIR=$BUILD/bench/ort
WORKLOADS=${WORKLOADS:-bert gpt2-prompt gpt2-decode vit clip-image clip-text}
PRECISIONS=${PRECISIONS:-f32}

die() { echo "run.sh: $*" >&2; exit 1; }
# shellcheck source=workloads.sh
source "$HERE/workloads.sh"
[[ -x $LOOM ]] || die "$LOOM not found: cmake --build $BUILD --target loom_cli loom_onednn"
[[ -f $BUILD/bin/loom-onednn.so ]] || die "$BUILD/bin/loom-onednn.so not found: cmake --build $BUILD --target loom_onednn"
for tool in node npm c++ "$PYTHON"; do command -v "$tool" >/dev/null || die "'$tool' not found"; done
for n in ROUNDS ITERATIONS WARMUP; do [[ ${!n} =~ ^[0-9]+$ && ${!n} -ge 1 ]] || die "$n must be a positive integer"; done
check_workloads
for p in $PRECISIONS; do
  case $p in f32 | bf16) ;; *) die "unknown precision '$p' in PRECISIONS (f32, bf16)" ;; esac
done
mkdir -p "$WORK"
# OpenBLAS picks its kernels by the CPU's family and model; where a virtual machine hides them,
# it falls back to its oldest x86-64 kernels ("Prescott", SSE3), 4-5 times slower on an AVX-512
# Xeon, and PyTorch would be timed on those. Unless OPENBLAS_CORETYPE is set already, name the
# kernels that the CPU's own feature flags allow.
if [[ -z ${OPENBLAS_CORETYPE:-} ]]; then
  blas_core=$(OPENBLAS_VERBOSE=2 OMP_NUM_THREADS=1 "$PYTHON" -c 'import torch; torch.ones(2, 2) @ torch.ones(2, 2)' 2>&1 |
    sed -n 's/^Core: //p' | head -1 || true)
  flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
  if [[ $blas_core == Prescott || $blas_core == Core2 || $blas_core == Nehalem ]]; then
    if [[ $flags == *avx512f* && $flags == *avx512bw* && $flags == *avx512vl* && $flags == *avx512dq* ]]; then
      export OPENBLAS_CORETYPE=SkylakeX
    elif [[ $flags == *avx2* && $flags == *fma* ]]; then
      export OPENBLAS_CORETYPE=Haswell
    fi
    [[ -n ${OPENBLAS_CORETYPE:-} ]] && echo "== OpenBLAS took this CPU for $blas_core: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE"
  fi
fi
# Debian's python3-torch multiplies through whichever libblas.so.3 is selected: without OpenBLAS
# that is the reference BLAS, 20-30 times slower, which would make PyTorch's figures meaningless.
blas_gflops=$(OMP_NUM_THREADS=1 "$PYTHON" -c 'import time, torch
torch.set_num_threads(1); a = torch.randn(512, 512); a @ a; t = time.perf_counter()
for _ in range(5): a @ a
print(round(5 * 2 * 512 ** 3 / (time.perf_counter() - t) / 1e9, 1))') || die "$PYTHON cannot run torch"
awk -v g="$blas_gflops" 'BEGIN { exit !(g < 15) }' &&
  die "PyTorch multiplies at $blas_gflops GFLOP/s on one thread (the reference BLAS): install libopenblas0-openmp"
echo "== PyTorch's BLAS: $blas_gflops GFLOP/s on one thread${OPENBLAS_CORETYPE:+ (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE)}"
# OpenBLAS's pthread build runs its own threads beside PyTorch's OpenMP ones: at 2 threads, four
# threads then spin on two cores, and PyTorch takes longer than at 1 (845 against 407 ms on
# BERT-base, 2026-12-06); its OpenMP build shares PyTorch's threads.
blas_lib=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
if [[ $blas_lib == *openblas-pthread* && " $THREADS " =~ \ ([2-9]|[1-9][0-9]+)\  ]]; then
  echo "== WARNING: PyTorch's BLAS is OpenBLAS's pthread build ($blas_lib): its figures above 1 thread measure" \
    "oversubscribed threads; install libopenblas0-openmp and select it with update-alternatives --config libblas.so.3-x86_64-linux-gnu" >&2
fi

# PyTorch's OpenMP threads spin between its parallel regions and its BLAS calls; on a 2-vCPU
# virtual machine that made BERT-base take 922 ms at 2 threads against 381 at 1, and 254 with
# OMP_WAIT_POLICY=passive (2026-12-06). Loom keeps libgomp's default, which was faster for it.
TORCH_WAIT_POLICY=${TORCH_WAIT_POLICY:-passive}
echo "== PyTorch runs with OMP_WAIT_POLICY=$TORCH_WAIT_POLICY (TORCH_WAIT_POLICY)"

# ---------------------------------------------------------------- checkpoints, ONNX, tools

make_checkpoints
export_onnx() {  # workload
  local out=$WORK/$1.onnx
  [[ -f $out && $out -nt $HERE/torch_models.py ]] && return
  echo "== exporting $1 to $out"
  "$PYTHON" "$HERE/torch_models.py" export "$WORK/$(ckpt "$1")" "$1" "$out" --seq "$(seq_of "$1")" --past $PAST \
    >"$WORK/$1.export.log" 2>&1 || { tail -20 "$WORK/$1.export.log" >&2; die "ONNX export of $1 failed"; }
}
for w in $WORKLOADS; do export_onnx "$w"; done

# references WORKLOAD...: PyTorch's inputs and outputs of each workload in $WORK/check/WORKLOAD,
# as `loom run` arguments: the inputs in `ref_inputs`, the outputs in `ref_expects`.
references() {
  local w f n dir
  ref_inputs=() ref_expects=()
  for w in "$@"; do
    dir=$WORK/check/$w
    "$PYTHON" "$HERE/torch_models.py" reference "$WORK/$(ckpt "$w")" "$w" "$dir" --seq "$(seq_of "$w")" >/dev/null ||
      die "PyTorch's reference outputs of $w failed"
    for f in "$dir"/*.npy; do
      n=$(basename "$f" .npy)
      if [[ $n == expected_* ]]; then ref_expects+=(--expect "${n#expected_}=$f"); else ref_inputs+=(--input "$n=$f"); fi
    done
  done
}

# The image checkpoints compute what the PyTorch modules compute (timed, and exported to ONNX):
# Loom's outputs on the modules' inputs against the modules' outputs. CLIP's default graph runs
# both towers, so it takes both workloads' inputs at once.
check_outputs() {  # checkpoint, then its workloads
  local ck=$1
  shift
  references "$@"
  echo "== checking Loom's outputs on $ck against PyTorch's"
  "$LOOM" run "$WORK/$ck" "${ref_inputs[@]}" "${ref_expects[@]}" --atol 1e-4 --rtol 1e-3 --backend onednn >"$WORK/check/$ck.log" 2>&1 ||
    { cat "$WORK/check/$ck.log" >&2; die "Loom's outputs on $ck differ from PyTorch's"; }
}
for m in $checkpoints; do
  case $m in vit) check_outputs vit vit ;; clip) check_outputs clip clip-image clip-text ;; esac
done

# bf16's error: Loom's outputs in bf16 and in f32 against PyTorch's f32 ones, per checkpoint (a
# GPT-2 prompt stands for GPT-2), one JSON line per output.
ACCURACY=$WORK/bf16_accuracy.jsonl
bf16_accuracy() {  # checkpoint, then its workloads
  local ck=$1 p
  shift
  references "$@"
  echo "== bf16 against f32 on $ck"
  for p in f32 bf16; do
    rm -rf "$WORK/check/$ck-$p"
    "$LOOM" run "$WORK/$ck" "${ref_inputs[@]}" --precision $p --backend onednn --output-dir "$WORK/check/$ck-$p" \
      >"$WORK/check/$ck-$p.log" 2>&1 || { cat "$WORK/check/$ck-$p.log" >&2; die "Loom on $ck with --precision $p failed"; }
  done
  "$PYTHON" - "$ck" "$WORK/check" "$@" >>"$ACCURACY" <<'PY'
import json, os, sys
import numpy as np
ck, check, workloads = sys.argv[1], sys.argv[2], sys.argv[3:]
for w in workloads:
    for f in sorted(os.listdir(f"{check}/{w}")):
        if not f.startswith("expected_"):
            continue
        name = f[len("expected_"):]
        ref = np.load(f"{check}/{w}/{f}").astype(np.float64)
        err = {p: float(np.abs(np.load(f"{check}/{ck}-{p}/{name}") - ref).max()) for p in ("f32", "bf16")}
        print(json.dumps({"checkpoint": ck, "workload": w, "output": name[:-4], "max_abs_ref": float(np.abs(ref).max()),
                          "f32_max_abs_error": err["f32"], "bf16_max_abs_error": err["bf16"]}))
PY
}
if [[ " $PRECISIONS " == *" bf16 "* ]]; then
  : >"$ACCURACY"
  for m in $checkpoints; do
    case $m in bert) bf16_accuracy bert bert ;; gpt2) bf16_accuracy gpt2 gpt2-prompt ;; vit) bf16_accuracy vit vit ;;
      clip) bf16_accuracy clip clip-image clip-text ;; esac
  done
fi

if [[ ! -f $ORT_DIR/node_modules/onnxruntime-node/package.json ]]; then
  echo "== installing onnxruntime-node@$ORT_VERSION into $ORT_DIR"
  mkdir -p "$ORT_DIR"
  ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$ORT_DIR" --no-audit --no-fund "onnxruntime-node@$ORT_VERSION" >"$ORT_DIR/npm.log" 2>&1 ||
    { cat "$ORT_DIR/npm.log" >&2; die "npm install onnxruntime-node@$ORT_VERSION failed"; }
fi
LIMITS=$BUILD/bench/limits
if [[ ! -x $LIMITS || $HERE/limits.cpp -nt $LIMITS ]]; then
  echo "== compiling $LIMITS"
  c++ -O3 -march=native -fopenmp -std=c++17 "$HERE/limits.cpp" -ldnnl -o "$LIMITS"
fi

# ---------------------------------------------------------------- rounds, alternating

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
record() {  # workload threads contender, then a command printing one JSON line (uses $r, the round)
  local w=$1 t=$2 c=$3; shift 3
  "$@" >"$WORK/last.json" 2>"$WORK/last.err" || { cat "$WORK/last.err" >&2; die "$c on $w failed: $*"; }
  "$PYTHON" -c 'import json,sys; d=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); d.update(workload=sys.argv[2], threads_asked=int(sys.argv[3]), contender=sys.argv[4], round=int(sys.argv[5])); print(json.dumps(d))' \
    "$WORK/last.json" "$w" "$t" "$c" "$r" >>"$RESULTS"
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= ROUNDS; ++r)); do
  for t in $THREADS; do
    echo "== round $r of $ROUNDS, $t thread(s) (load $(cut -d' ' -f1 /proc/loadavg))"
    export OMP_NUM_THREADS=$t
    record limits "$t" limits "$LIMITS"
    for w in $WORKLOADS; do
      record "$w" "$t" limits "$LIMITS"  # this workload's limits, this round
      for p in $PRECISIONS; do
        # shellcheck disable=SC2046
        record "$w" "$t" "loom$([[ $p == f32 ]] || echo "-$p")" "$LOOM" bench $(loom_args "$w") --backend onednn \
          --threads "$t" --precision "$p" --warmup "$WARMUP" --iterations "$ITERATIONS" --json
      done
      record "$w" "$t" limits-after "$LIMITS"  # and again after Loom's runs: was the host steady?
      record "$w" "$t" ort node "$HERE/bench_ort.js" --ort-dir "$ORT_DIR" --model "$WORK/$w.onnx" --threads "$t" \
        --vocab "$(vocab "$w")" --warmup "$WARMUP" --iterations "$ITERATIONS"
      OMP_WAIT_POLICY=$TORCH_WAIT_POLICY record "$w" "$t" pytorch "$PYTHON" "$HERE/torch_models.py" bench "$WORK/$(ckpt "$w")" "$w" --threads "$t" \
        --seq "$(seq_of "$w")" --past $PAST --warmup "$WARMUP" --iterations "$ITERATIONS"
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- table

"$PYTHON" "$HERE/summary.py" "$RESULTS" "$WORK" "$ROUNDS" "$ITERATIONS" "$load_before" "$load_after"
