#!/usr/bin/env bash
# The whole-model workloads of run.sh on Loom's Vulkan backend, beside Loom's oneDNN backend on
# the machine's cores and, where this PyTorch sees a CUDA device, PyTorch on that GPU: same
# checkpoints, same machine, same run (docs/performance.md, "Vulkan"). Before the timings, each
# workload's outputs on --backend vulkan are checked against PyTorch's (f32 within 1e-3 +
# 1e-3·|ref|, f16 weights within 2e-2 + 2e-2·|ref|).
#
#   tools/bench/models/vulkan.sh [BUILD_DIR]        (default: ./build)
#
# Needs BUILD_DIR/bin/loom with its plugins (or LOOM=path to an installed one), a Vulkan driver,
# and PYTHON with torch and numpy. Checkpoints and results go to BUILD_DIR/bench/models
# (vulkan.jsonl; a table is printed). Settings (environment):
#   ITERATIONS=20 WARMUP=3 THREADS=$(nproc) PYTHON=/usr/bin/python3 DEVICE=0 PRECISIONS="f32 f16"
#   WORKLOADS="bert gpt2-prompt gpt2-decode vit clip-image clip-text" (any of them)
# Exits non-zero on errors (a wrong output included), never because of the timings.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "vulkan.sh: build folder '${1:-build}' not found" >&2; exit 1; }
ITERATIONS=${ITERATIONS:-20}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-$(nproc)}
PYTHON=${PYTHON:-/usr/bin/python3}
DEVICE=${DEVICE:-0}
PRECISIONS=${PRECISIONS:-f32 f16}
LOOM=${LOOM:-$BUILD/bin/loom}
WORK=$BUILD/bench/models
WORKLOADS=${WORKLOADS:-bert gpt2-prompt gpt2-decode vit clip-image clip-text}

die() { echo "vulkan.sh: $*" >&2; exit 1; }
# shellcheck source=workloads.sh
source "$HERE/workloads.sh"
[[ -x $LOOM ]] || die "$LOOM not found: cmake --build $BUILD --target loom_cli loom_onednn loom_vulkan"
command -v "$PYTHON" >/dev/null || die "'$PYTHON' not found"
for n in ITERATIONS WARMUP THREADS DEVICE; do [[ ${!n} =~ ^[0-9]+$ ]] || die "$n must be a whole number"; done
check_workloads
for p in $PRECISIONS; do
  case $p in f32 | f16) ;; *) die "unknown precision '$p' in PRECISIONS (f32, f16)" ;; esac
done
mkdir -p "$WORK"

make_checkpoints

echo "== the devices"
"$LOOM" plugins | grep -E "^vulkan|device:" || true

# Outputs first, per checkpoint: the decode step is checked through GPT-2's prompt (the same
# graph and weights); CLIP's default graph runs both towers, so it takes both workloads' inputs.
check_outputs() {  # checkpoint, then its workloads
  local ck=$1 w f n p dir tol
  shift
  local args=()
  for w in "$@"; do
    dir=$WORK/check-vulkan/$w
    "$PYTHON" "$HERE/torch_models.py" reference "$WORK/$ck" "$w" "$dir" --seq "$(seq_of "$w")" >/dev/null ||
      die "PyTorch's reference outputs of $w failed"
    for f in "$dir"/*.npy; do
      n=$(basename "$f" .npy)
      if [[ $n == expected_* ]]; then args+=(--expect "${n#expected_}=$f"); else args+=(--input "$n=$f"); fi
    done
  done
  for p in $PRECISIONS; do
    tol=(--atol 1e-3 --rtol 1e-3)
    [[ $p == f16 ]] && tol=(--atol 2e-2 --rtol 2e-2)
    echo "== $ck on vulkan ($p) against PyTorch"
    "$LOOM" run "$WORK/$ck" "${args[@]}" "${tol[@]}" --backend vulkan --precision "$p" --option vulkan.device="$DEVICE" \
      --output-dir "$WORK/check-vulkan/$ck-$p" >"$WORK/check-vulkan/$ck-$p.log" 2>&1 ||
      { tail -20 "$WORK/check-vulkan/$ck-$p.log" >&2; die "Loom's outputs of $ck on vulkan ($p) differ from PyTorch's"; }
    grep -iE "expect|max" "$WORK/check-vulkan/$ck-$p.log" | sed 's/^/   /' || true
  done
}
checked=" "
for w in $WORKLOADS; do
  ck=$(ckpt "$w")
  [[ $checked == *" $ck "* ]] && continue
  checked+="$ck "
  case $ck in
    gpt2) check_outputs gpt2 gpt2-prompt ;;
    clip) check_outputs clip clip-image clip-text ;;
    *) check_outputs "$ck" "$w" ;;
  esac
done

RESULTS=$WORK/vulkan.jsonl
: >"$RESULTS"
record() {  # workload contender, then a command printing one JSON line
  local w=$1 c=$2; shift 2
  if ! "$@" >"$WORK/last.json" 2>"$WORK/last.err"; then
    cat "$WORK/last.err" >&2
    die "$c on $w failed: $*"
  fi
  "$PYTHON" -c 'import json,sys; d=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); d.update(workload=sys.argv[2], contender=sys.argv[3]); print(json.dumps(d))' \
    "$WORK/last.json" "$w" "$c" >>"$RESULTS"
}
cuda=$("$PYTHON" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 0)
for w in $WORKLOADS; do
  echo "== timing $w"
  for p in $PRECISIONS; do
    # shellcheck disable=SC2046
    record "$w" "vulkan-$p" "$LOOM" bench $(loom_args "$w") --backend vulkan --option vulkan.device="$DEVICE" \
      --precision "$p" --warmup "$WARMUP" --iterations "$ITERATIONS" --json
  done
  # shellcheck disable=SC2046
  record "$w" "onednn-f32" "$LOOM" bench $(loom_args "$w") --backend onednn --threads "$THREADS" \
    --warmup "$WARMUP" --iterations "$ITERATIONS" --json
  if [[ $cuda == 1 ]]; then
    record "$w" "pytorch-cuda-f32" "$PYTHON" "$HERE/torch_models.py" bench "$WORK/$(ckpt "$w")" "$w" --device cuda \
      --seq "$(seq_of "$w")" --past $PAST --warmup "$WARMUP" --iterations "$ITERATIONS"
  fi
done

"$PYTHON" - "$RESULTS" "$THREADS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
contenders = list(dict.fromkeys(r["contender"] for r in rows))
by = {(r["workload"], r["contender"]): r for r in rows}
print(f"\nmedian ms (oneDNN on {sys.argv[2]} threads; the last columns: vulkan's time over oneDNN's)")
head = ["workload"] + contenders + [f"{c}/onednn" for c in contenders if c.startswith("vulkan")]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for w in dict.fromkeys(r["workload"] for r in rows):
    cells = [w] + [f'{by[w, c]["median_ms"]:.2f}' if (w, c) in by else "-" for c in contenders]
    base = by.get((w, "onednn-f32"))
    for c in contenders:
        if c.startswith("vulkan"):
            cells.append(f'{by[w, c]["median_ms"] / base["median_ms"]:.2f}' if base and (w, c) in by else "-")
    print("| " + " | ".join(cells) + " |")
PY
