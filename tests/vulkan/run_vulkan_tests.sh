#!/usr/bin/env bash
# Command-line checks of the Vulkan backend (backends/vulkan, docs/vulkan.md):
#
#   run_vulkan_tests.sh LOOM SOURCE_DIR AREA
#
# AREA: conformance (the generated op suite on vulkan, and which ops pass) | driver (no driver:
# reported, never a crash) | options (device=N, unknown keys, device limits refused by name) |
# encoder (the shipped encoder on vulkan with oneDNN as fallback, against PyTorch) | models (every
# checkpoint of tests/models on vulkan with oneDNN as fallback, against PyTorch).
# The caller pins the driver (VK_ICD_FILENAMES) and Mesa's shader cache (tests/vulkan/CMakeLists.txt).
set -uo pipefail
[ $# -eq 3 ] || { echo "usage: $0 LOOM SOURCE_DIR AREA" >&2; exit 2; }
LOOM=$1
SRC=$2
AREA=$3
ENC=$SRC/graphs/encoder
unset LOOM_PLUGIN_PATH  # the build-tree loom finds the plugins in its own folder

TMP=$(mktemp -d "${TMPDIR:-/tmp}/loom-vulkan.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
failures=0

# check DESCRIPTION EXPECTED_STATUS NEEDLE ARGS...: loom's exit status and a text in its output.
check() {
  local what=$1 want=$2 needle=$3
  shift 3
  timeout 300 "$LOOM" "$@" >"$TMP/out" 2>&1
  local status=$?
  if [ "$status" -ne "$want" ] || ! grep -qF -- "$needle" "$TMP/out"; then
    failures=$((failures + 1))
    echo "FAIL: $what: exit status $status (expected $want), looked for: $needle" >&2
    sed 's/^/    /' "$TMP/out" | tail -n 30 >&2
  fi
}

case $AREA in
  conformance)
    check "conformance on vulkan" 0 "0 failures" conformance --backend vulkan
    cat "$TMP/out"
    for op in add sub mul div relu tanh sigmoid exp gelu quick_gelu softmax layer_norm matmul linear reshape transpose slice concat cast positions gather rms_norm l2_normalize roll pad gather_rows reduce_mean conv2d key_mask attention add_layer_norm; do
      grep -qE "^$op +[0-9]+ +pass " "$TMP/out" || { failures=$((failures + 1)); echo "FAIL: $op does not pass on vulkan" >&2; }
    done
    ;;
  driver)
    # A driver list that names a missing file: no instance. The plugin's init fails, loom plugins
    # says why, the other plugins load, and a session that asks for vulkan is told it is missing.
    export VK_ICD_FILENAMES=$TMP/no-such-driver.json
    check "plugins without a driver" 0 "loom-vulkan.so: init() failed: cannot create a Vulkan 1.2 instance" plugins
    check "plugins without a driver (others load)" 0 "onednn" plugins
    check "run on vulkan without a driver" 1 "backend 'vulkan' is not loaded" run "$ENC/encoder.yaml" --backend vulkan \
      --input input_ids="$ENC/input_ids.npy" --input token_type_ids="$ENC/token_type_ids.npy" \
      --input attention_mask="$ENC/attention_mask.npy"
    ;;
  options)
    printf 'loom: 1\nname: big\ninputs:\n  - {name: x, dtype: f32, shape: [n]}\noutputs: [y]\nnodes:\n  - {op: relu, inputs: [x], outputs: [y]}\n' >"$TMP/relu.yaml"
    printf 'loom: 1\nname: mm\ninputs:\n  - {name: a, dtype: f32, shape: [4, 4]}\noutputs: [c]\nnodes:\n  - {op: matmul, inputs: [a, a], outputs: [c]}\n' >"$TMP/mm.yaml"
    bench=(bench --backend vulkan --warmup 0 --iterations 1)
    check "plugins lists the device" 0 "used only where a session names it (--backend vulkan)" plugins
    check "device=0" 0 "" "${bench[@]}" "$TMP/relu.yaml" --dim n=1000 --option vulkan.device=0
    check "device out of range" 1 "option device=9: the vulkan backend has" "${bench[@]}" "$TMP/relu.yaml" --option vulkan.device=9
    check "device not a number" 1 "option device=gpu" "${bench[@]}" "$TMP/relu.yaml" --option vulkan.device=gpu
    check "unknown option" 1 "option 'colour' is unknown to the vulkan backend" "${bench[@]}" "$TMP/relu.yaml" --option vulkan.colour=red
    check "precision bf16" 1 "the vulkan backend computes in f32 only" "${bench[@]}" "$TMP/relu.yaml" --option precision=bf16
    check "staging value" 1 "option staging=never: the value must be one of auto, always" "${bench[@]}" "$TMP/relu.yaml" --option vulkan.staging=never
    # Device limits, refused when the partition is compiled or its plan prepared, by name.
    check "workgroup size" 1 "exceeds the device's maxComputeWorkGroupSize" "${bench[@]}" "$TMP/relu.yaml" --option vulkan.workgroup_size=4096
    check "matmul tile" 1 "exceeds the device's maxComputeWorkGroupInvocations" "${bench[@]}" "$TMP/mm.yaml" --option vulkan.matmul_tile=33
    # An index out of range is found on the device and reported by the run, naming the node.
    printf 'loom: 1\nname: g\ninputs:\n  - {name: data, dtype: f32, shape: [n, 3]}\noutputs: [y]\ninitializers:\n  - {name: idx, dtype: i64, shape: [3], values: [1, -4, -5]}\nnodes:\n  - {op: gather, inputs: [data, idx], outputs: [y]}\n' >"$TMP/gather.yaml"
    check "gather in range" 0 "" "${bench[@]}" "$TMP/gather.yaml" --dim n=5
    check "gather index out of range" 1 "node 'y' (gather): index -5 is outside -4 .. 3 (a dim of 4)" "${bench[@]}" "$TMP/gather.yaml" --dim n=4
    printf 'loom: 1\nname: m\ninputs:\n  - {name: scores, dtype: f32, shape: [1, 1, 2, k]}\noutputs: [y]\ninitializers:\n  - {name: length, dtype: i64, shape: [1], values: [7]}\nnodes:\n  - {op: key_mask, inputs: [scores, length], outputs: [y], attrs: {causal: true}}\n' >"$TMP/mask.yaml"
    check "key_mask in range" 0 "" "${bench[@]}" "$TMP/mask.yaml" --dim k=8
    check "key_mask length out of range" 1 "node 'y' (key_mask): valid_length 7 is outside 0..5, the number of keys" \
      "${bench[@]}" "$TMP/mask.yaml" --dim k=5
    check "storage buffer range" 1 "more than the device's maxStorageBufferRange" "${bench[@]}" "$TMP/relu.yaml" --dim n=40000000
    ;;
  encoder)
    run=(run "$ENC/encoder.yaml" --input input_ids="$ENC/input_ids.npy" --input token_type_ids="$ENC/token_type_ids.npy"
         --input attention_mask="$ENC/attention_mask.npy" --expect last_hidden_state="$ENC/expected_last_hidden_state.npy"
         --expect pooler_output="$ENC/expected_pooler_output.npy" --atol 1e-3 --rtol 1e-3)
    check "encoder on vulkan, oneDNN as fallback" 0 "pooler_output matches the reference" "${run[@]}" --backend vulkan,onednn
    check "encoder through staging buffers" 0 "pooler_output matches the reference" "${run[@]}" --backend vulkan,onednn --option vulkan.staging=always
    check "the encoder runs on the device" 0 "input_ids: host -> vulkan" inspect "$ENC/encoder.yaml" --placement --backend vulkan,onednn
    # An op the backend lacks (argmax) between ops it runs: placed on oneDNN with copies each
    # way, and the result that of the reference backend.
    printf 'loom: 1\nname: fallback\ninputs:\n  - {name: x, dtype: f32, shape: [2, 8, 64]}\noutputs: [y]\nnodes:\n  - {op: relu, inputs: [x], outputs: [r]}\n  - {op: argmax, inputs: [r], outputs: [n], attrs: {axis: -1, keepdims: true}}\n  - {op: cast, inputs: [n], outputs: [f], attrs: {to: f32}}\n  - {op: add, inputs: [f, x], outputs: [y]}\n' >"$TMP/fallback.yaml"
    x=x="$ENC/expected_last_hidden_state.npy"
    check "fallback graph on the reference backend" 0 "" run "$TMP/fallback.yaml" --backend reference --input "$x" --output-dir "$TMP/ref"
    check "fallback graph on vulkan and oneDNN" 0 "y matches the reference" run "$TMP/fallback.yaml" --backend vulkan,onednn --input "$x" \
      --expect y="$TMP/ref/y.npy" --atol 1e-5 --rtol 1e-5
    check "placement names what vulkan declines" 0 "declined by vulkan: op 'argmax' is not implemented by the vulkan backend" \
      inspect "$TMP/fallback.yaml" --placement --backend vulkan,onednn
    check "placement shows the copies" 0 "r: vulkan -> host" inspect "$TMP/fallback.yaml" --placement --backend vulkan,onednn
    check "placement shows the copies back" 0 "n: onednn -> vulkan" inspect "$TMP/fallback.yaml" --placement --backend vulkan,onednn
    ;;
  models)
    # Each folder's .npy files are its inputs and, as expected_NAME.npy, its outputs; prompt_ids
    # and expected_generated belong to the generation tests.
    for dir in "$SRC"/tests/models/*/; do
      args=()
      for f in "$dir"*.npy; do
        name=$(basename "$f" .npy)
        case $name in
          prompt_ids | expected_generated) ;;
          expected_*) args+=(--expect "${name#expected_}=$f") ;;
          *) args+=(--input "$name=$f") ;;
        esac
      done
      check "$(basename "$dir") on vulkan, oneDNN as fallback" 0 "matches the reference" run "$dir" --backend vulkan,onednn \
        "${args[@]}" --atol 1e-3 --rtol 1e-3  # a mismatch exits 1
    done
    ;;
  *)
    echo "unknown area $AREA" >&2
    exit 2
    ;;
esac
[ "$failures" -eq 0 ] || { echo "$failures check(s) failed in area $AREA" >&2; exit 1; }
echo "area $AREA: ok"
