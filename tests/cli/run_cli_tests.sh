#!/usr/bin/env bash
# Holds the `loom` command line to its contract: exit status 0 on success, 1 on a failure, 2 on
# a usage error; every failure prints a message on stderr that names the file at fault; never a
# crash or a hang. Malformed files are made here, in a temporary folder, from the shipped
# encoder (graphs/encoder/) and the small graphs of tests/cli/data/.
#
#   run_cli_tests.sh LOOM SOURCE_DIR AREA
#
# AREA: usage | plugins | graphs | weights | inputs | run | readme | export | optimize | preprocess | tasks | images | conformance
# (one ctest test each).
# The export area also loads the toymlp model plugin named by $LOOM_TEST_TOYMLP, the graphs area
# the device backend of tests/external-backend named by $LOOM_TEST_DEVICE.
# LOOM_TEST_CRASHING_PLUGINS names the folder of the plugins that crash or hang while loading
# (tests/plugins/crashing.cpp), for the plugins area. LOOM_TEST_PERTURBED names the reference backend
# built with a wrong `add` (tests/plugins), for the conformance area.
set -uo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 LOOM SOURCE_DIR AREA" >&2
  exit 2
fi
LOOM=$1
SRC=$2
AREA=$3
DATA=$SRC/tests/cli/data
ENC=$SRC/graphs/encoder
unset LOOM_PLUGIN_PATH  # the build-tree loom finds loom-onednn.so in its own folder

TMP=$(mktemp -d "${TMPDIR:-/tmp}/loom-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
OUT=$TMP/stdout
ERR=$TMP/stderr

checks=0
failures=0

fail() {
  failures=$((failures + 1))
  echo "FAIL: $*" >&2
  if [ -s "$ERR" ]; then sed 's/^/    stderr: /' "$ERR" | head -n 20 >&2; fi
  if [ -s "$OUT" ]; then sed 's/^/    stdout: /' "$OUT" | head -n 20 >&2; fi
}

# Runs loom with a time limit; sets $status.
loom() {
  timeout 120 "$LOOM" "$@" >"$OUT" 2>"$ERR"
  status=$?
}

# expect_ok DESCRIPTION ARGS...: exit 0.
expect_ok() {
  local what=$1
  shift
  checks=$((checks + 1))
  loom "$@"
  [ "$status" -eq 0 ] || fail "$what: exit status $status, expected 0 (loom $*)"
}

# expect_error STATUS NEEDLE DESCRIPTION ARGS...: exit status exactly STATUS (1 or 2), a message
# on stderr that contains NEEDLE (usually the file at fault), and nothing that looks like a crash.
expect_error() {
  local want=$1 needle=$2 what=$3
  shift 3
  checks=$((checks + 1))
  loom "$@"
  if [ "$status" -ne "$want" ]; then
    fail "$what: exit status $status, expected $want (loom $*)"
  elif [ ! -s "$ERR" ]; then
    fail "$what: nothing on stderr (loom $*)"
  elif ! grep -qF -- "$needle" "$ERR"; then
    fail "$what: stderr does not mention '$needle' (loom $*)"
  elif grep -qiE 'terminate called|segmentation|sanitizer|std::bad_|what\(\):' "$ERR"; then
    fail "$what: stderr looks like a crash (loom $*)"
  fi
}

# expect_stdout NEEDLE DESCRIPTION: the last command's stdout contains NEEDLE.
expect_stdout() {
  checks=$((checks + 1))
  grep -qF -- "$1" "$OUT" || fail "$2: stdout does not contain '$1'"
}

# expect_no_stdout NEEDLE DESCRIPTION: the last command's stdout does not contain NEEDLE.
expect_no_stdout() {
  checks=$((checks + 1))
  ! grep -qF -- "$1" "$OUT" || fail "$2: stdout contains '$1'"
}

# json FILE QUERY [OP]: a value of a JSON file (CMake's parser); fails the check on bad JSON.
json() {
  cmake -DFILE="$1" -DQUERY="$2" -DOP="${3:-GET}" -P "$SRC/tests/cli/json_query.cmake" 2>"$TMP/json.err"
}

# ---- binary files, written byte by byte so that no other tool is needed

# le_bytes N WIDTH: N as WIDTH little-endian bytes, as printf escapes.
le_bytes() {
  local n=$1 width=$2 out="" i
  for ((i = 0; i < width; i++)); do out+=$(printf '\\x%02x' $(((n >> (8 * i)) & 255))); done
  printf '%s' "$out"
}

# write_npy FILE HEADER_DICT DATA_BYTES: a version 1.0 .npy with zero-filled data.
write_npy() {
  local file=$1 dict=$2 bytes=$3
  local header="$dict"
  while [ $(((10 + ${#header} + 1) % 64)) -ne 0 ]; do header+=" "; done
  header+=$'\n'
  {
    printf '\x93NUMPY\x01\x00'
    printf "$(le_bytes ${#header} 2)"
    printf '%s' "$header"
    head -c "$bytes" /dev/zero
  } >"$file"
}

# write_safetensors FILE HEADER_JSON DATA_BYTES: zero-filled tensor data.
write_safetensors() {
  local file=$1 header=$2 bytes=$3
  {
    printf "$(le_bytes ${#header} 8)"
    printf '%s' "$header"
    head -c "$bytes" /dev/zero
  } >"$file"
}

ENCODER_INPUTS=(--input "input_ids=$ENC/input_ids.npy" --input "token_type_ids=$ENC/token_type_ids.npy"
  --input "attention_mask=$ENC/attention_mask.npy")

# ---------------------------------------------------------------- areas

area_usage() {
  expect_ok "--version" --version
  expect_stdout "loom " "--version"
  expect_ok "--help" --help
  expect_stdout "Usage" "--help"
  for cmd in plugins inspect validate run bench export preprocess fill-mask next-sentence classify embed generate; do
    expect_ok "$cmd --help" "$cmd" --help
    expect_stdout "Usage" "$cmd --help"
    expect_stdout "$cmd" "$cmd --help"
  done

  local g=$ENC/encoder.yaml
  expect_error 2 "frobnicate" "unknown subcommand" frobnicate "$g"
  expect_error 2 "--bogus" "unknown top-level option" --bogus
  expect_error 2 "--bogus" "unknown option of run" run "$g" --bogus
  expect_error 2 "--colour" "unknown option of plugins" plugins --colour
  expect_error 2 "graph" "run without its graph" run
  expect_error 2 "graph" "inspect without its graph" inspect
  expect_error 2 "graph" "validate without its graph" validate
  expect_error 2 "--input" "--input without a value" run "$g" --input
  expect_error 2 "--output-dir" "--output-dir without a value" run "$g" --output-dir
  expect_error 2 "input_ids.npy" "--input without NAME=" run "$g" --input "$ENC/input_ids.npy"
  expect_error 2 "--input" "--input with an empty name" run "$g" --input "=$ENC/input_ids.npy"
  expect_error 2 "--input" "--input with an empty file" run "$g" --input "input_ids="
  expect_error 2 "input_ids" "--input given twice" run "$g" --input "input_ids=$ENC/input_ids.npy" \
    --input "input_ids=$ENC/input_ids.npy"
  expect_error 2 "--expect" "--expect without NAME=" run "$g" "${ENCODER_INPUTS[@]}" --expect "$ENC/input_ids.npy"
  expect_error 2 "nosuch" "--expect of an output the graph lacks" run "$g" "${ENCODER_INPUTS[@]}" \
    --expect "nosuch=$ENC/expected_pooler_output.npy"
  expect_error 2 "--dim" "--dim without =" inspect "$g" --dim seq
  expect_error 2 "--dim" "--dim with a non-number" inspect "$g" --dim seq=abc
  expect_error 2 "--dim" "--dim with a negative number" bench "$g" --dim seq=-3
  expect_error 2 "--dim" "a bad --dim is a usage error even when the graph is missing" inspect "$TMP/none.yaml" --dim seq=x
  expect_error 2 "--threads" "negative --threads" run "$g" --threads -1
  expect_error 2 "--threads" "non-numeric --threads" run "$g" --threads many
  expect_error 2 "--iterations" "zero --iterations" bench "$g" --iterations 0
  expect_error 2 "--atol" "negative --atol" run "$g" --atol -1
  expect_error 2 "Usage" "no subcommand" 

  # A mistyped subcommand is named as unknown, with the nearest one.
  expect_error 2 "unknown subcommand 'runn'; did you mean 'run'?" "a mistyped subcommand" runn "$g"
  expect_error 2 "did you mean 'bench'?" "a mistyped subcommand" bnech "$g"
  expect_error 2 "unknown subcommand 'frobnicate' (subcommands: " "an unknown subcommand lists them" frobnicate

  # Every numeric option has a range, and a value outside it is a usage error that says it.
  local cmd
  for cmd in run bench; do
    expect_error 2 "from 0 to 1024" "$cmd --threads past the bound" "$cmd" "$g" --threads 65536
    expect_error 2 "from 0 to 1024" "$cmd --threads just past the bound" "$cmd" "$g" --threads 1025
    expect_error 2 "from 0 to 1024" "$cmd --threads beyond int" "$cmd" "$g" --threads 99999999999999999999
  done
  expect_error 2 "from 0 to 1000000" "--warmup past the bound" bench "$g" --warmup 1000001
  expect_error 2 "from 1 to 1000000" "--iterations past the bound" bench "$g" --iterations 2000000
  expect_error 2 "from 1 to 1000000" "--repeat past the bound" bench "$g" --repeat 1000001
  expect_error 2 "from 1 to 1000000" "zero --repeat" bench "$g" --repeat 0
  expect_error 2 "--atol" "NaN --atol" run "$g" --atol nan
  expect_error 2 "--rtol" "infinite --rtol" run "$g" --rtol inf
  expect_error 2 "from 1 to 600" "--probe-timeout of 0" plugins --probe-timeout 0
  expect_error 2 "--dim" "--dim of 0 is refused before the graph is read" bench "$TMP/none.yaml" --dim seq=0
  expect_error 2 "given twice" "--dim given twice" inspect "$g" --dim seq=4 --dim seq=8
  expect_error 2 "has no symbol 'sq' (its symbols: batch, seq)" "--dim of a symbol the graph lacks" inspect "$g" --dim sq=3
  expect_error 2 "has no symbol 'sq'" "bench --dim of a symbol the graph lacks" bench "$g" --dim sq=3
  expect_error 2 "--backend" "--backend given twice" run "$g" --backend onednn --backend onednn
  expect_error 2 "empty backend name" "--backend with an empty name" run "$g" "${ENCODER_INPUTS[@]}" --backend onednn,
  expect_error 2 "got an empty list" "--backend with nothing" run "$g" "${ENCODER_INPUTS[@]}" --backend ""
  # A fused node decomposed is shown with the reason of the backend that declined it.
  expect_ok "inspect shows decompositions" inspect "$g" --backend onednn
  expect_stdout "why: backend 'onednn': attention without valid_length or causal" "inspect says why attention was decomposed"

  # A mistyped option is named, with the nearest one; an option given twice is said so.
  expect_error 2 "unknown option '--inptu' for 'run'; did you mean '--input'?" "a mistyped option" run "$g" --inptu "x=y"
  expect_error 2 "did you mean '--max-new-tokens'?" "an option in snake case" generate "$g" --max_new_tokens 3
  expect_error 2 "unknown option '--topk' for 'fill-mask'; did you mean '--top-k'?" "fill-mask's mistyped option" \
    fill-mask "$g" "a [MASK]" --topk 3
  expect_error 2 "option '--json' goes after the subcommand: loom plugins --json" "an option before its subcommand" --json plugins
  expect_error 2 "--optimize is given twice" "an option of one value given twice" run "$g" --optimize none --optimize all
  expect_error 2 "did you mean 'precision'?" "a mistyped session option" run "$g" --option precison=bf16
  expect_error 2 "expected a number in (0, 1], got '0'" "--mask-ratio of 0" fill-image "$g" --mask-ratio 0
  # Output that cannot be written fails the command (a full disk).
  if [ -w /dev/full ]; then
    checks=$((checks + 1))
    timeout 60 "$LOOM" inspect "$g" --json >/dev/full 2>"$ERR"
    status=$?
    [ "$status" -eq 1 ] && grep -qF "writing to standard output failed" "$ERR" ||
      fail "inspect --json > /dev/full: exit $status, expected 1 with the write named"
  fi
  # A file of another kind where a graph goes is named as such.
  expect_error 1 "this is a .npy array, not a YAML graph" "a .npy array as the graph" validate "$ENC/input_ids.npy"

  # --help shows the defaults and ranges; --backend takes one comma-separated list.
  expect_ok "bench --help" bench --help
  expect_stdout "1..1000000=50" "bench --help shows --iterations' range and default"
  expect_stdout "0..1024=0" "bench --help shows --threads' range and default"
  expect_ok "run --help" run --help
  expect_stdout "=1e-05" "run --help shows the default tolerance"
  # Options whose default means "not given" show none (no "=-1" or "=nan").
  expect_ok "generate --help" generate --help
  checks=$((checks + 1))
  if grep -E -- "--(temperature|top-k|length-penalty|max-new-tokens|num-beams|top-p)[^=]*=" "$OUT" | grep -q .; then
    fail "generate --help shows a placeholder default: $(grep -E -- '=(-1|nan|0)( |$)' "$OUT" | head -3)"
  fi
  checks=$((checks + 1))
  if ! grep -q -- "--backend NAME\[,NAME...\] " "$OUT" || grep -- "--backend" "$OUT" | grep -qF " ..."; then
    fail "run --help: --backend should read as one comma-separated list"
  fi
}

area_plugins() {
  expect_ok "plugins" plugins
  expect_stdout "onednn" "plugins"
  expect_stdout " loaded, " "plugins"

  expect_ok "plugins --json" plugins --json
  cp "$OUT" "$TMP/plugins.json"
  local n i found=0
  checks=$((checks + 1))
  if ! n=$(json "$TMP/plugins.json" "" LENGTH); then
    fail "plugins --json is not valid JSON: $(cat "$TMP/json.err")"
  else
    for ((i = 0; i < n; i++)); do
      if [ "$(json "$TMP/plugins.json" "$i;name")" = onednn ] && [ "$(json "$TMP/plugins.json" "$i;loaded")" = ON ] &&
        [ "$(json "$TMP/plugins.json" "$i;kind")" = backend ]; then
        found=1
        [ "$(json "$TMP/plugins.json" "$i;devices" LENGTH)" -ge 1 ] || fail "plugins --json: onednn lists no device"
      fi
    done
    [ "$found" -eq 1 ] || fail "plugins --json does not list a loaded onednn backend"
  fi

  # --no-default-plugins finds nothing; a named plugin file is then the only one.
  expect_ok "plugins --no-default-plugins" plugins --no-default-plugins --json
  checks=$((checks + 1))
  [ "$(json "$OUT" "" LENGTH)" = 0 ] || fail "plugins --no-default-plugins lists plugins"
  expect_ok "plugins --plugin FILE" plugins --no-default-plugins --plugin "$(dirname "$LOOM")/loom-onednn.so"
  expect_stdout "onednn" "plugins --plugin FILE"

  # A plugin file that is not a library: listed as failed by `plugins`, an error elsewhere.
  printf 'not a library\n' >"$TMP/libfake.so"
  expect_ok "plugins with a broken --plugin" plugins --plugin "$TMP/libfake.so"
  expect_stdout "FAILED" "plugins with a broken --plugin"
  expect_stdout "libfake.so" "plugins with a broken --plugin"
  expect_error 1 "libfake.so" "validate with a broken --plugin" validate "$ENC/encoder.yaml" --plugin "$TMP/libfake.so"
  expect_error 1 "missing.so" "run with a missing --plugin" run "$ENC/encoder.yaml" --plugin "$TMP/missing.so" "${ENCODER_INPUTS[@]}"
  # Without any backend, compiling fails with a hint.
  expect_error 1 "onednn" "run without plugins" run "$ENC/encoder.yaml" --no-default-plugins --backend onednn "${ENCODER_INPUTS[@]}"
  expect_error 1 "metal" "run on a backend that is not loaded" run "$ENC/encoder.yaml" --backend metal "${ENCODER_INPUTS[@]}"

  # Plugins that abort, segfault or hang while loading: `plugins` lists each with what happened
  # beside the plugins that loaded, and exits 0.
  local crashing=${LOOM_TEST_CRASHING_PLUGINS:-}
  checks=$((checks + 1))
  if [ -z "$crashing" ] || [ ! -f "$crashing/loom-test-crash-init-hangs.so" ]; then
    fail "LOOM_TEST_CRASHING_PLUGINS does not name the folder of the crashing test plugins ('$crashing')"
    return
  fi
  LOOM_PLUGIN_PATH=$crashing expect_ok "plugins beside crashing plugins" plugins --probe-timeout 2
  local what
  for what in "entry-aborts.so: crashed while loading: SIGABRT" "constructor-aborts.so: crashed while loading: SIGABRT" \
    "init-hangs.so: did not finish loading within 2 s"; do
    expect_stdout "loom-test-crash-$what" "plugins lists a crashing plugin"
  done
  # The segfault, or in a sanitizer build the sanitizer's report of it, which ends the probe.
  local segv="loom-test-crash-init-segfaults.so: (crashed while loading: SIGSEGV|ended the probe process while loading with exit status [0-9]+; its last output: .*(null pointer|undefined-behavior|SEGV))"
  checks=$((checks + 1))
  grep -qE -- "$segv" "$OUT" || fail "plugins does not list the plugin that segfaults in init() with its signal"
  expect_stdout "its last output: test-crash-constructor: giving up as the library is mapped" "plugins shows a crash's last output"
  expect_stdout "onednn  backend" "plugins still lists the good plugin beside crashing ones"
  # The build's plugins (the backends and the model plugins beside the binary) load; the four
  # crashing ones do not.
  local built
  built=$(find "$(dirname "$LOOM")" -maxdepth 1 -name 'loom-*.so' ! -name 'loom-test-*' | wc -l)
  expect_stdout "$built loaded, 4 failed" "plugins counts crashing plugins as failed"
  LOOM_PLUGIN_PATH=$crashing expect_ok "plugins --json beside crashing plugins" plugins --probe-timeout 2 --json
  cp "$OUT" "$TMP/crash.json"
  checks=$((checks + 1))
  if ! n=$(json "$TMP/crash.json" "" LENGTH); then
    fail "plugins --json beside crashing plugins is not valid JSON: $(cat "$TMP/json.err")"
  else
    [ "$n" = $((built + 4)) ] || fail "plugins --json beside crashing plugins lists $n files, expected $((built + 4))"
    grep -qE -- "$segv" "$TMP/crash.json" || fail "plugins --json does not give the segfault"
  fi
  # A crashing plugin named with --plugin: the same, under `plugins`.
  expect_ok "plugins --plugin of a crashing plugin" plugins --no-default-plugins --plugin "$crashing/loom-test-crash-init-segfaults.so"
  checks=$((checks + 1))
  grep -qE -- "$segv" "$OUT" || fail "plugins --plugin of a crashing plugin does not give the segfault"
}

area_graphs() {
  expect_ok "validate the shipped encoder" validate "$ENC/encoder.yaml"
  expect_stdout "ok" "validate"
  expect_ok "validate --json" validate --json "$ENC/encoder.yaml"
  checks=$((checks + 1))
  [ "$(json "$OUT" "valid")" = ON ] || fail "validate --json does not say valid: true"

  expect_ok "inspect" inspect "$ENC/encoder.yaml" --dim batch=1 --dim seq=16
  expect_stdout "input_ids" "inspect"
  expect_stdout "onednn arena" "inspect"
  expect_ok "inspect --placement" inspect "$ENC/encoder.yaml" --placement
  expect_stdout "placement:" "inspect --placement"

  expect_ok "inspect --placement --json" inspect "$ENC/encoder.yaml" --placement --json --dim batch=2 --dim seq=8
  cp "$OUT" "$TMP/inspect.json"
  checks=$((checks + 1))
  local nodes placed i backend
  if ! nodes=$(json "$TMP/inspect.json" nodes); then
    fail "inspect --json is not valid JSON: $(cat "$TMP/json.err")"
  else
    placed=$(json "$TMP/inspect.json" placement LENGTH)
    [ "$nodes" -gt 20 ] || fail "inspect --json: only $nodes nodes"
    [ "$placed" = "$nodes" ] || fail "inspect --json: $placed placements for $nodes nodes"
    for ((i = 0; i < placed; i++)); do
      backend=$(json "$TMP/inspect.json" "placement;$i;backend")
      [ "$backend" = onednn ] || fail "inspect --json: node $i is placed on '$backend'"
    done
    [ "$(json "$TMP/inspect.json" "memory;bindings;seq")" = 8 ] || fail "inspect --json: seq binding missing"
    [ "$(json "$TMP/inspect.json" "partitions;0;backend")" = onednn ] || fail "inspect --json: partition 0 is not on onednn"
  fi
  # oneDNN's own GEMM keeps weights where they are mapped; the packed GEMM keeps a copy of each
  # linear weight in the engine's packed-constant cache.
  expect_ok "inspect with gemm=onednn" inspect "$ENC/encoder.yaml" --json --option onednn.gemm=onednn
  [ "$(json "$OUT" "memory;packed_bytes")" = 0 ] || fail "inspect --json: gemm=onednn packs no constants"
  expect_ok "inspect with gemm=packed" inspect "$ENC/encoder.yaml" --json --option onednn.gemm=packed
  [ "$(json "$OUT" "memory;packed_bytes")" -gt 0 ] || fail "inspect --json: gemm=packed packs the linear weights"
  expect_ok "inspect with gemm=blocked" inspect "$ENC/encoder.yaml" --json --option onednn.gemm=blocked
  [ "$(json "$OUT" "memory;packed_bytes")" -gt 0 ] || fail "inspect --json: gemm=blocked reorders the linear weights"
  expect_error 1 "gemm=fast" "an unknown gemm option" inspect "$ENC/encoder.yaml" --option onednn.gemm=fast

  # The device backend keeps its uploads of constants in the engine's packed-constant cache:
  # scale (16 floats) and half (1 float) of tests/external-backend/graph.yaml.
  local device=(--plugin "${LOOM_TEST_DEVICE:?the device test plugin}" --backend external,onednn --option onednn.gemm=onednn)
  expect_ok "inspect a graph split with the device backend" inspect "$SRC/tests/external-backend/graph.yaml" "${device[@]}" --json
  cp "$OUT" "$TMP/device.json"
  [ "$(json "$TMP/device.json" "memory;packed_bytes")" = 68 ] || fail "inspect --json: packed_bytes of the device uploads"
  expect_ok "inspect a graph split with the device backend, as text" inspect "$SRC/tests/external-backend/graph.yaml" "${device[@]}"
  expect_stdout "packed copies 68 B (shared by sessions of the engine)" "inspect shows the packed copies"

  # Files that do not exist or are not graphs.
  expect_error 1 "$TMP/none.yaml" "a missing graph file" validate "$TMP/none.yaml"
  expect_error 1 "$TMP/none.yaml" "run on a missing graph file" run "$TMP/none.yaml"
  expect_error 1 "$TMP" "a folder instead of a graph" validate "$TMP"
  printf '' >"$TMP/empty.yaml"
  expect_error 1 "empty.yaml" "an empty graph file" validate "$TMP/empty.yaml"
  printf 'loom: 1\nname: x\ninputs: [\n' >"$TMP/unclosed.yaml"
  expect_error 1 "unclosed.yaml:" "a YAML syntax error" validate "$TMP/unclosed.yaml"
  printf '\x00\xff\xfe binary' >"$TMP/binary.yaml"
  expect_error 1 "binary.yaml" "a binary file" validate "$TMP/binary.yaml"

  # Malformed graphs (tests/cli/data/): each error names file:line.
  local bad
  for bad in unknown_key cycle unknown_op unknown_input unknown_attr bad_perm no_outputs; do
    expect_error 1 "$bad.yaml:" "graph $bad.yaml" validate "$DATA/$bad.yaml"
    expect_error 1 "$bad.yaml:" "inspect graph $bad.yaml" inspect "$DATA/$bad.yaml"
  done
  expect_error 1 "colour" "the unknown key is named" validate "$DATA/unknown_key.yaml"
  expect_error 1 "cycle" "the cycle is named" validate "$DATA/cycle.yaml"
  expect_error 1 "attention" "the unknown op is named" validate "$DATA/unknown_op.yaml"

  # The encoder with one mistake, edited in a copy.
  sed 's/op: softmax, inputs: \[scores, mask\]/op: softmax, inputs: [scores, mask, mask]/' "$ENC/encoder.yaml" >"$TMP/encoder.yaml"
  cp "$ENC/encoder.safetensors" "$TMP/"
  expect_error 1 "encoder.yaml:" "too many inputs in a block node" validate "$TMP/encoder.yaml"
}

area_weights() {
  # The encoder beside a damaged copy of its weights.
  mkdir -p "$TMP/enc"
  cp "$ENC/encoder.yaml" "$TMP/enc/"
  expect_error 1 "encoder.safetensors" "a missing weights file" validate "$TMP/enc/encoder.yaml"
  expect_error 1 "encoder.safetensors" "run with a missing weights file" run "$TMP/enc/encoder.yaml" "${ENCODER_INPUTS[@]}"

  head -c 100000 "$ENC/encoder.safetensors" >"$TMP/enc/encoder.safetensors"
  expect_error 1 "encoder.safetensors" "truncated weights" validate "$TMP/enc/encoder.yaml"
  expect_error 1 "encoder.safetensors" "run with truncated weights" run "$TMP/enc/encoder.yaml" "${ENCODER_INPUTS[@]}"
  head -c 5 "$ENC/encoder.safetensors" >"$TMP/enc/encoder.safetensors"
  expect_error 1 "encoder.safetensors" "weights shorter than their header length" validate "$TMP/enc/encoder.yaml"
  printf '' >"$TMP/enc/encoder.safetensors"
  expect_error 1 "encoder.safetensors" "empty weights" validate "$TMP/enc/encoder.yaml"
  write_safetensors "$TMP/enc/encoder.safetensors" '{"a":' 0
  expect_error 1 "encoder.safetensors" "weights whose header is not JSON" validate "$TMP/enc/encoder.yaml"
  write_safetensors "$TMP/enc/encoder.safetensors" '{}' 0
  expect_error 1 "encoder.safetensors" "weights without the graph's tensors" validate "$TMP/enc/encoder.yaml"
  expect_error 1 "word_embeddings" "the missing tensor is named" validate "$TMP/enc/encoder.yaml"

  # tests/cli/data/weights.yaml declares w as f32 [2, 3]; the file is made here.
  cp "$DATA/weights.yaml" "$TMP/"
  write_safetensors "$TMP/weights.safetensors" '{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}' 24
  expect_ok "a well-formed small weights file" validate "$TMP/weights.yaml"
  write_safetensors "$TMP/weights.safetensors" '{"w":{"dtype":"F32","shape":[3,2],"data_offsets":[0,24]}}' 24
  expect_error 1 "weights.safetensors" "a tensor whose shape differs from the initializer's" validate "$TMP/weights.yaml"
  expect_error 1 "[3, 2]" "the file's shape is named" validate "$TMP/weights.yaml"
  expect_error 1 "weights.yaml:" "the initializer's line is named" validate "$TMP/weights.yaml"
  write_safetensors "$TMP/weights.safetensors" '{"w":{"dtype":"I32","shape":[2,3],"data_offsets":[0,24]}}' 24
  expect_error 1 "weights.safetensors" "a tensor whose dtype differs from the initializer's" validate "$TMP/weights.yaml"
  write_safetensors "$TMP/weights.safetensors" '{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}' 20
  expect_error 1 "weights.safetensors" "tensor data past the end of the file" validate "$TMP/weights.yaml"
  write_safetensors "$TMP/weights.safetensors" '{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}' 20
  expect_error 1 "weights.safetensors" "offsets that disagree with the shape" validate "$TMP/weights.yaml"

  # Half-precision weights that the graph declares f32 are converted on load, and inspect says how
  # many bytes that made; a half-precision file declared as another dtype stays an error.
  local dtype
  for dtype in F16 BF16; do
    write_safetensors "$TMP/weights.safetensors" '{"w":{"dtype":"'$dtype'","shape":[2,3],"data_offsets":[0,12]}}' 12
    expect_ok "$dtype weights declared f32" validate "$TMP/weights.yaml"
    expect_ok "inspect $dtype weights declared f32" inspect "$TMP/weights.yaml"
    expect_stdout "initializers: 1, weights 24 B (24 B of them converted to f32 on load)" "inspect shows the $dtype weights converted"
    expect_ok "inspect --json $dtype weights declared f32" inspect "$TMP/weights.yaml" --json
    cp "$OUT" "$TMP/converted.json"
    checks=$((checks + 1))
    [ "$(json "$TMP/converted.json" "memory;converted_bytes")" = 24 ] || fail "inspect --json: converted_bytes of $dtype weights"
    [ "$(json "$TMP/converted.json" checkpoint TYPE)" = NULL ] || fail "inspect --json: a YAML graph has no checkpoint"
  done
  expect_ok "inspect f32 weights" inspect "$ENC/encoder.yaml" --json
  cp "$OUT" "$TMP/f32.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/f32.json" "memory;converted_bytes")" = 0 ] || fail "inspect --json: converted_bytes of f32 weights"
  sed 's/dtype: f32, shape: \[2, 3\]/dtype: i32, shape: [2, 3]/' "$DATA/weights.yaml" >"$TMP/weights.yaml"
  expect_error 1 "declared dtype i32 but $TMP/weights.safetensors holds 'w' as bf16" "BF16 weights declared i32" \
    validate "$TMP/weights.yaml"
}

area_inputs() {
  local g=$ENC/encoder.yaml
  local ids=$ENC/input_ids.npy types=$ENC/token_type_ids.npy mask=$ENC/attention_mask.npy

  expect_error 1 "$TMP/missing.npy" "a missing .npy input" run "$g" --input "input_ids=$TMP/missing.npy" \
    --input "token_type_ids=$types" --input "attention_mask=$mask"
  head -c 200 "$ids" >"$TMP/truncated.npy"
  expect_error 1 "truncated.npy" "a truncated .npy input" run "$g" --input "input_ids=$TMP/truncated.npy" \
    --input "token_type_ids=$types" --input "attention_mask=$mask"
  head -c 60 "$ids" >"$TMP/header_only.npy"
  expect_error 1 "header_only.npy" "a .npy cut inside its header" run "$g" --input "input_ids=$TMP/header_only.npy" \
    --input "token_type_ids=$types" --input "attention_mask=$mask"
  write_npy "$TMP/bigendian.npy" "{'descr': '>i8', 'fortran_order': False, 'shape': (2, 8), }" 128
  expect_error 1 "bigendian.npy" "a big-endian .npy input" run "$g" --input "input_ids=$TMP/bigendian.npy" \
    --input "token_type_ids=$types" --input "attention_mask=$mask"
  write_npy "$TMP/fortran.npy" "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 8), }" 128
  expect_error 1 "fortran.npy" "a Fortran-order .npy input" run "$g" --input "input_ids=$TMP/fortran.npy" \
    --input "token_type_ids=$types" --input "attention_mask=$mask"
  printf 'hello' >"$TMP/text.npy"
  expect_error 1 "text.npy" "a file that is not .npy" run "$g" --input "input_ids=$TMP/text.npy" \
    --input "token_type_ids=$types" --input "attention_mask=$mask"
  write_npy "$TMP/shape_lies.npy" "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 8), }" 64
  expect_error 1 "shape_lies.npy" "a .npy whose data is shorter than its shape" run "$g" --input "input_ids=$TMP/shape_lies.npy" \
    --input "token_type_ids=$types" --input "attention_mask=$mask"
  expect_error 1 "truncated.npy" "a truncated --expect reference" run "$g" "${ENCODER_INPUTS[@]}" \
    --expect "pooler_output=$TMP/truncated.npy"

  # Well-formed files that do not fit the graph: the run names the input and its file.
  write_npy "$TMP/ids_f32.npy" "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 8), }" 64
  expect_error 1 "ids_f32.npy" "an input of the wrong dtype" run "$g" --input "input_ids=$TMP/ids_f32.npy" \
    --input "token_type_ids=$types" --input "attention_mask=$mask"
  expect_error 1 "dtype" "the dtype is named" run "$g" --input "input_ids=$TMP/ids_f32.npy" \
    --input "token_type_ids=$types" --input "attention_mask=$mask"
  write_npy "$TMP/ids_rank3.npy" "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 8, 1), }" 128
  expect_error 1 "ids_rank3.npy" "an input of the wrong rank" run "$g" --input "input_ids=$TMP/ids_rank3.npy" \
    --input "token_type_ids=$types" --input "attention_mask=$mask"
  write_npy "$TMP/mask_seq5.npy" "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 5), }" 80
  expect_error 1 "mask_seq5.npy" "inputs that disagree on seq" run "$g" --input "input_ids=$ids" \
    --input "token_type_ids=$types" --input "attention_mask=$TMP/mask_seq5.npy"
  expect_error 1 "input_ids" "the other input is named too" run "$g" --input "input_ids=$ids" \
    --input "token_type_ids=$types" --input "attention_mask=$TMP/mask_seq5.npy"
  # Names on the command line are checked against the graph alike (exit 2, the graph's names
  # listed): an --input or --expect the graph lacks, a graph input not given.
  expect_error 2 "no --input for 'attention_mask'" "a missing input is named" run "$g" --input "input_ids=$ids" --input "token_type_ids=$types"
  expect_error 2 "tiny-bert-encoder" "a missing input names the graph" run "$g" --input "input_ids=$ids" --input "token_type_ids=$types"
  expect_error 2 "no --input for 'input_ids', 'token_type_ids', 'attention_mask'" "every missing input at once" run "$g"
  expect_error 2 "'extra' is not an input (its inputs: input_ids, token_type_ids, attention_mask)" "an input the graph lacks" \
    run "$g" "${ENCODER_INPUTS[@]}" --input "extra=$ids"
  expect_error 2 "'extra' is not an input" "bench: an input the graph lacks" bench "$g" --input "extra=$ids" --iterations 1
  expect_error 2 "has no output of that name (its outputs: last_hidden_state, pooler_output)" "an --expect the graph lacks" \
    run "$g" "${ENCODER_INPUTS[@]}" --expect "nosuch=$ENC/expected_pooler_output.npy"
  # Inputs longer than the position table: refused before the run, naming the node and the limit.
  local in
  for in in input_ids token_type_ids attention_mask; do
    write_npy "$TMP/$in.33.npy" "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 33), }" 264
  done
  expect_error 1 "seq = 33 is more than graph 'tiny-bert-encoder' takes: seq <= 32 (node 'positions'" "inputs past the position table" \
    run "$g" --input "input_ids=$TMP/input_ids.33.npy" --input "token_type_ids=$TMP/token_type_ids.33.npy" \
    --input "attention_mask=$TMP/attention_mask.33.npy"
  # Ids past the embedding table: a run-time error naming the node, not a crash.
  write_npy "$TMP/ids_big.npy" "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 8), }" 0
  printf "$(le_bytes 5000 8)" >>"$TMP/ids_big.npy"
  head -c 120 /dev/zero >>"$TMP/ids_big.npy"
  expect_error 1 "gather" "an id past the vocabulary" run "$g" --input "input_ids=$TMP/ids_big.npy" \
    --input "token_type_ids=$types" --input "attention_mask=$mask"
}

area_run() {
  local g=$ENC/encoder.yaml

  expect_ok "run against the PyTorch reference" run "$g" "${ENCODER_INPUTS[@]}" \
    --expect "last_hidden_state=$ENC/expected_last_hidden_state.npy" --expect "pooler_output=$ENC/expected_pooler_output.npy"
  expect_stdout "matches the reference" "run --expect"

  expect_ok "run --output-dir" run "$g" "${ENCODER_INPUTS[@]}" --output-dir "$TMP/out/nested"
  # --precision P is the session option precision=P on run, inspect, bench and every task.
  expect_ok "run --precision f32" run "$g" "${ENCODER_INPUTS[@]}" --precision f32 --backend onednn
  if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then  # bf16 runs on the AVX2 GEMM
    # bf16 linear layers: within a bf16 rounding of the f32 reference, not within f32's.
    expect_ok "run --precision bf16" run "$g" "${ENCODER_INPUTS[@]}" --precision bf16 --backend onednn \
      --expect "last_hidden_state=$ENC/expected_last_hidden_state.npy" --atol 0.1 --rtol 0.05
    expect_error 1 "elements differ" "run --precision bf16 is not f32" run "$g" "${ENCODER_INPUTS[@]}" --precision bf16 \
      --backend onednn --expect "last_hidden_state=$ENC/expected_last_hidden_state.npy"
  fi
  expect_error 2 "--precision" "run --precision of an unknown value" run "$g" "${ENCODER_INPUTS[@]}" --precision f64
  expect_error 2 "--precision and --option precision" "run --precision twice" \
    run "$g" "${ENCODER_INPUTS[@]}" --precision f32 --option precision=f32
  expect_error 1 "computes in f32 or bf16, not f16" "inspect --precision f16 on onednn" inspect "$g" --precision f16 --backend onednn
  local name
  for name in last_hidden_state pooler_output; do
    checks=$((checks + 1))
    if [ ! -f "$TMP/out/nested/$name.npy" ]; then
      fail "run --output-dir did not write $name.npy"
    elif [ "$(head -c 6 "$TMP/out/nested/$name.npy" | tail -c 5)" != NUMPY ]; then
      fail "run --output-dir: $name.npy is not a .npy file"
    fi
  done
  checks=$((checks + 1))
  [ "$(find "$TMP/out/nested" -type f | wc -l)" -eq 2 ] || fail "run --output-dir wrote other files"
  # What it wrote is what it computed: compare it with the reference through --expect.
  expect_ok "written outputs match the reference" run "$g" "${ENCODER_INPUTS[@]}" --atol 0 --rtol 0 \
    --expect "pooler_output=$TMP/out/nested/pooler_output.npy" --expect "last_hidden_state=$TMP/out/nested/last_hidden_state.npy"

  expect_ok "run --json" run "$g" "${ENCODER_INPUTS[@]}" --json --output-dir "$TMP/out2" \
    --expect "pooler_output=$ENC/expected_pooler_output.npy"
  cp "$OUT" "$TMP/run.json"
  checks=$((checks + 1))
  if ! [ "$(json "$TMP/run.json" "outputs" LENGTH)" = 2 ]; then
    fail "run --json: outputs is not a list of 2: $(cat "$TMP/json.err")"
  else
    [ "$(json "$TMP/run.json" "outputs;0;name")" = last_hidden_state ] || fail "run --json: first output"
    [ "$(json "$TMP/run.json" "outputs;0;shape;2")" = 64 ] || fail "run --json: shape"
    [ "$(json "$TMP/run.json" "outputs;1;file")" = "$TMP/out2/pooler_output.npy" ] || fail "run --json: file"
    [ "$(json "$TMP/run.json" "checks;0;ok")" = ON ] || fail "run --json: check"
  fi

  # A reference that differs: exit 1, naming the output and the reference file.
  cp "$ENC/expected_pooler_output.npy" "$TMP/wrong_pooler.npy"
  printf '\x00\x00\x80\x3f' | dd of="$TMP/wrong_pooler.npy" bs=1 seek=200 conv=notrunc status=none
  expect_error 1 "wrong_pooler.npy" "--expect mismatch" run "$g" "${ENCODER_INPUTS[@]}" --expect "pooler_output=$TMP/wrong_pooler.npy"
  expect_error 1 "pooler_output" "--expect mismatch names the output" run "$g" "${ENCODER_INPUTS[@]}" \
    --expect "pooler_output=$TMP/wrong_pooler.npy"
  expect_error 1 "expected_pooler_output.npy" "--expect with the wrong shape" run "$g" "${ENCODER_INPUTS[@]}" \
    --expect "last_hidden_state=$ENC/expected_pooler_output.npy"
  expect_error 1 "input_ids.npy" "--expect with the wrong dtype" run "$g" "${ENCODER_INPUTS[@]}" \
    --expect "pooler_output=$ENC/input_ids.npy"

  # --output-dir that cannot be created: the folder and why.
  printf 'x' >"$TMP/a_file"
  expect_error 1 "--output-dir $TMP/a_file/out: cannot create the folder: Not a directory" "--output-dir under a file" \
    run "$g" "${ENCODER_INPUTS[@]}" --output-dir "$TMP/a_file/out"
  expect_error 1 "--output-dir $TMP/a_file: cannot create the folder" "--output-dir that is a file" \
    run "$g" "${ENCODER_INPUTS[@]}" --output-dir "$TMP/a_file"

  # run --output-dir says what it wrote.
  expect_ok "run --output-dir reports its files" run "$g" "${ENCODER_INPUTS[@]}" --output-dir "$TMP/out3"
  expect_stdout "pooler_output: f32 [2, 64]" "run --output-dir"
  expect_stdout "-> $TMP/out3/pooler_output.npy" "run --output-dir names each file"
  expect_stdout "wrote 2 file(s) to $TMP/out3" "run --output-dir says what it wrote"

  # Output names from the graph never leave --output-dir: '/', '\', '%', control bytes and a
  # leading '.' are percent-encoded, and the mapping is printed.
  mkdir -p "$TMP/trap/inner"
  cat >"$TMP/trap/inner/names.yaml" <<EOF
loom: 1
name: names
inputs:
  - {name: x, dtype: f32, shape: [2]}
outputs: [../../escaped, "$TMP/trap/absolute", .hidden, 'a\b', 100%, plain]
nodes:
  - {op: add, inputs: [x, x], outputs: [../../escaped]}
  - {op: mul, inputs: [x, x], outputs: ["$TMP/trap/absolute"]}
  - {op: sub, inputs: [x, x], outputs: [.hidden]}
  - {op: add, inputs: [x, x], outputs: ['a\b']}
  - {op: mul, inputs: [x, x], outputs: [100%]}
  - {op: sub, inputs: [x, x], outputs: [plain]}
EOF
  write_npy "$TMP/trap/x.npy" "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }" 8
  expect_ok "run with output names that climb out" run "$TMP/trap/inner/names.yaml" --input "x=$TMP/trap/x.npy" \
    --output-dir "$TMP/trap/inner/out"
  local abs_encoded=${TMP//\//%2F}
  for name in "%2E.%2F..%2Fescaped.npy" "${abs_encoded}%2Ftrap%2Fabsolute.npy" "%2Ehidden.npy" "a%5Cb.npy" "100%25.npy" "plain.npy"; do
    checks=$((checks + 1))
    [ -f "$TMP/trap/inner/out/$name" ] || fail "run --output-dir did not write $name inside the folder"
  done
  expect_stdout "../../escaped: f32 [2]  [0, 0]  -> $TMP/trap/inner/out/%2E.%2F..%2Fescaped.npy" "run --output-dir prints the encoded name"
  checks=$((checks + 1))
  [ "$(find "$TMP/trap" -type f | wc -l)" -eq 8 ] || fail "run --output-dir wrote outside the folder: $(find "$TMP/trap" -type f)"
  checks=$((checks + 1))
  [ ! -e "$TMP/trap/absolute" ] && [ ! -e "$TMP/trap/absolute.npy" ] && [ ! -e "$TMP/escaped.npy" ] ||
    fail "run --output-dir followed a path in an output name"

  # A mismatch prints enough digits to tell the two values apart (9 for f32): the reference
  # differs from the output in the last bit of its first element.
  local header_len data
  header_len=$(od -An -tu2 -j8 -N2 "$TMP/out3/pooler_output.npy" | tr -d ' ')
  data=$((10 + header_len))
  cp "$TMP/out3/pooler_output.npy" "$TMP/one_ulp.npy"
  printf "$(printf '\\x%02x' $(($(od -An -tu1 -j$data -N1 "$TMP/one_ulp.npy") ^ 1)))" |
    dd of="$TMP/one_ulp.npy" bs=1 seek=$data conv=notrunc status=none
  expect_error 1 "first at flat index 0:" "a mismatch of one ulp" run "$g" "${ENCODER_INPUTS[@]}" --atol 0 --rtol 0 \
    --expect "pooler_output=$TMP/one_ulp.npy"
  checks=$((checks + 1))
  local pair left right
  pair=$(sed -n 's/.*first at flat index 0: \([^ ]*\) vs \([^)]*\)).*/\1 \2/p' "$ERR")
  if [ -z "$pair" ]; then
    fail "a mismatch does not print the first differing pair"
  else
    read -r left right <<<"$pair"
    [ "$left" != "$right" ] || fail "a mismatch of one ulp prints two equal values: $pair"
  fi

  # bench says what it ran (shapes, threads, device) and names each figure for what it is.
  expect_ok "bench" bench "$g" --dim batch=1 --dim seq=8 --warmup 1 --iterations 3 --threads 1 --optimize none
  expect_stdout "latency per run: median" "bench"
  expect_stdout "shapes: batch=1 seq=8" "bench prints the dims it used"
  expect_stdout "threads: 1 (--threads)" "bench prints the threads it asked for"
  expect_stdout "backend onednn on CPU" "bench prints the device"
  expect_stdout "median / 56 nodes" "bench names the median over nodes for what it is"
  expect_no_stdout "per node " "bench does not call the median over nodes a per-node cost"
  expect_ok "bench with the backend's default threads" bench "$g" --dim seq=4 --warmup 0 --iterations 1
  expect_stdout "threads: each backend's default" "bench without --threads"
  expect_stdout "shapes: batch=1 seq=4" "bench: unbound symbols count as 1"
  expect_ok "bench --json with given inputs" bench "$g" "${ENCODER_INPUTS[@]}" --iterations 2 --warmup 0 --json
  checks=$((checks + 1))
  if json "$OUT" median_us >/dev/null; then
    [ "$(json "$OUT" "dims;seq")" = 8 ] || fail "bench --json: dims.seq is not the inputs' 8"
    [ "$(json "$OUT" threads)" = default ] || fail "bench --json: threads is not 'default'"
    [ "$(json "$OUT" "devices;0;backend")" = onednn ] || fail "bench --json: no device"
    [ "$(json "$OUT" generated_inputs LENGTH)" = 0 ] || fail "bench --json: inputs were given, none generated"
  else
    fail "bench --json: no median_us: $(cat "$TMP/json.err")"
  fi
  # --threads 1 holds the runs to the calling thread even with OMP_NUM_THREADS unset: no thread
  # pool is started (the oneDNN primitives were once made for every core). oneDNN alone: a GPU's
  # driver, where one is a default backend, starts threads of its own.
  omp_threads=${OMP_NUM_THREADS-} omp_set=${OMP_NUM_THREADS+set}
  unset OMP_NUM_THREADS
  expect_ok "bench --threads 1 --json" bench "$g" --dim batch=1 --dim seq=32 --iterations 20 --threads 1 --json --backend onednn
  [ -n "$omp_set" ] && export OMP_NUM_THREADS=$omp_threads
  threads=$(json "$OUT" process_threads)
  [ "$threads" = 1 ] || fail "bench --threads 1: $threads threads in the process, expected 1"
  # A symbol past what the graph takes: a usage error naming the limit and the node.
  expect_error 2 "--dim seq=64: graph 'tiny-bert-encoder' takes seq <= 32 (node 'positions' gathers position ids 0..seq-1 from 'position_embeddings' [32, 64])" \
    "bench past the position table" bench "$g" --dim batch=1 --dim seq=64 --iterations 1 --warmup 0
  expect_error 2 "takes seq <= 32" "inspect past the position table" inspect "$g" --dim seq=33
  expect_ok "inspect at the position table's limit" inspect "$g" --dim seq=32
  expect_stdout "limit: seq <= 32 (node 'positions'" "inspect lists the graph's limits"
  # inspect compares like with like: the activations with and without reuse, scratch apart.
  expect_stdout "= activations " "inspect splits the arena"
  checks=$((checks + 1))
  local line
  line=$(grep "onednn arena:" "$OUT")
  if [[ $line =~ arena:\ ([0-9.]+\ [KMG]?i?B)\ =\ activations\ ([0-9.]+\ [KMG]?i?B)\ \(([0-9.]+\ [KMG]?i?B)\ without\ reuse\)\ \+\ scratch\ ([0-9.]+\ [KMG]?i?B) ]]; then
    expect_ok "inspect --json" inspect "$g" --dim seq=32 --json
    local arena activations unplanned scratch
    arena=$(json "$OUT" "memory;arena_bytes;onednn")
    activations=$(json "$OUT" "memory;activation_bytes;onednn")
    unplanned=$(json "$OUT" "memory;without_reuse_bytes;onednn")
    scratch=$(json "$OUT" "memory;scratch_bytes;onednn")
    [ "$arena" -eq $((activations + scratch)) ] || fail "inspect: arena $arena != activations $activations + scratch $scratch"
    [ "$activations" -le "$unplanned" ] || fail "inspect: activations with reuse ($activations) exceed without ($unplanned)"
  else
    fail "inspect: the arena line does not read 'arena: X = activations Y (Z without reuse) + scratch W': $line"
  fi
  bench_checkpoints
}

# bench on the checkpoints of tests/models: generated token inputs (--seq, --batch), decode steps
# through the KV-cache graph (--decode, --past), the JSON keys, a per-node trace, and the values
# each model refuses. Timings are never asserted.
bench_checkpoints() {
  local m=$SRC/tests/models key
  expect_ok "bench --seq on a checkpoint" bench "$m/bert-mlm" --seq 16 --batch 2 --warmup 1 --iterations 3 --threads 1 --json
  cp "$OUT" "$TMP/bench.json"
  checks=$((checks + 1))
  [ "$(wc -l <"$TMP/bench.json")" -eq 1 ] || fail "bench --json is not one line"
  for key in median_ms p90_ms min_ms load_ms peak_rss_mb tokens_per_s runs_per_s median_us p10_us p90_us min_us              peak_rss_bytes median_over_nodes_us process_threads generated_inputs nodes graph backends dims; do
    json "$TMP/bench.json" "$key" >/dev/null || fail "bench --json: no '$key'"
  done
  [ "$(json "$TMP/bench.json" "dims;seq")" = 16 ] || fail "bench --seq 16: dims.seq is $(json "$TMP/bench.json" "dims;seq")"
  [ "$(json "$TMP/bench.json" "dims;batch")" = 2 ] || fail "bench --batch 2: dims.batch is $(json "$TMP/bench.json" "dims;batch")"
  [ "$(json "$TMP/bench.json" tokens)" = 32 ] || fail "bench --seq 16 --batch 2: tokens is not 32"
  [ "$(json "$TMP/bench.json" precision)" = f32 ] || fail "bench: precision is not f32"
  expect_ok "bench --seq, text report" bench "$m/bert-mlm" --seq 8 --warmup 0 --iterations 2
  expect_stdout "tokens/s" "bench reports tokens per second"
  expect_stdout "loaded in" "bench reports the load time"
  expect_stdout "latency per run: median" "bench reports the latency"
  expect_error 2 "takes seq <= 32" "bench --seq past the model's positions" bench "$m/bert-mlm" --seq 33 --iterations 1
  expect_error 2 "has no text-generation graph" "bench --decode without a generation graph" \
    bench "$m/bert-mlm" --decode 2 --past 4 --iterations 1
  expect_error 2 "--decode needs --past" "bench --decode without --past" bench "$m/gpt2" --decode 2 --iterations 1
  expect_error 2 "needs --decode" "bench --past without --decode" bench "$m/gpt2" --past 4 --iterations 1
  expect_error 2 "holds at most 48" "bench --past + --decode past the positions" bench "$m/gpt2" --decode 8 --past 41 --iterations 1
  expect_error 2 "takes 1 row(s) per step" "bench --decode with a batch the generation graph does not take" \
    bench "$m/gpt2" --decode 2 --past 3 --batch 2 --iterations 1
  expect_error 2 "--precision" "bench --precision of an unknown value" bench "$m/gpt2" --precision f64
  expect_error 2 "--precision and --option precision" "bench --precision twice" \
    bench "$m/gpt2" --precision f32 --option precision=f32

  expect_ok "bench --decode --past" bench "$m/gpt2" --decode 3 --past 5 --warmup 1 --iterations 2 --threads 1 --json
  cp "$OUT" "$TMP/decode.json"
  checks=$((checks + 1))
  for key in median_ms p90_ms min_ms load_ms peak_rss_mb prefill_ms tokens_per_s; do
    json "$TMP/decode.json" "$key" >/dev/null || fail "bench --decode --json: no '$key'"
  done
  [ "$(json "$TMP/decode.json" mode)" = decode ] || fail "bench --decode: mode is not decode"
  [ "$(json "$TMP/decode.json" samples)" = 6 ] || fail "bench --decode 3 --iterations 2: $(json "$TMP/decode.json" samples) samples, expected 6 (one per step)"
  [ "$(json "$TMP/decode.json" past)" = 5 ] || fail "bench --past 5: past is not 5"
  expect_ok "bench --decode up to the last position" bench "$m/gpt2" --decode 8 --past 40 --warmup 0 --iterations 1
  expect_stdout "latency per decode step" "bench --decode reports per step"

  # --profile: a Chrome trace with one complete event per node of one run.
  expect_ok "bench --profile" bench "$m/bert-mlm" --seq 8 --warmup 0 --iterations 1 --profile "$TMP/trace.json"
  checks=$((checks + 1))
  local events nodes first
  if events=$(json "$TMP/trace.json" traceEvents LENGTH); then
    expect_ok "bench --json for the node count" bench "$m/bert-mlm" --seq 8 --warmup 0 --iterations 1 --json
    nodes=$(json "$OUT" nodes)
    # Two metadata events (process and thread names), then one per node.
    [ "$events" -eq $((nodes + 2)) ] || fail "bench --profile: $events events for $nodes nodes (expected one per node and 2 metadata)"
    first=$(json "$TMP/trace.json" "traceEvents;2;ph")
    [ "$first" = X ] || fail "bench --profile: event 2 has ph '$first', expected X"
    for key in name cat ts dur pid tid; do json "$TMP/trace.json" "traceEvents;2;$key" >/dev/null || fail "bench --profile: no '$key' in an event"; done
    json "$TMP/trace.json" "traceEvents;2;args;op" >/dev/null || fail "bench --profile: no op in an event's args"
  else
    fail "bench --profile: the trace is not JSON with traceEvents: $(cat "$TMP/json.err")"
  fi
  expect_ok "bench --decode --profile" bench "$m/gpt2" --decode 1 --past 4 --warmup 0 --iterations 1 --profile "$TMP/decode-trace.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/decode-trace.json" traceEvents LENGTH)" -gt 10 ] 2>/dev/null || fail "bench --decode --profile: no per-node events"
  expect_error 1 "--profile $TMP/no/such/trace.json" "bench --profile into a missing folder" \
    bench "$m/bert-mlm" --seq 8 --iterations 1 --profile "$TMP/no/such/trace.json"
  bench_image_checkpoints
}

# bench on image checkpoints and on CLIP's towers (--task): pixel_values generated at the model's
# image size, --batch for images, images per second, and what each graph refuses.
bench_image_checkpoints() {
  local m=$SRC/tests/models
  expect_ok "bench an image classifier" bench "$m/vit-cls" --batch 2 --warmup 1 --iterations 2 --threads 1 --json
  cp "$OUT" "$TMP/vit.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/vit.json" "generated_inputs;0")" = pixel_values ] || fail "bench vit-cls: pixel_values not generated"
  [ "$(json "$TMP/vit.json" "dims;batch")" = 2 ] || fail "bench vit-cls --batch 2: dims.batch is $(json "$TMP/vit.json" "dims;batch")"
  [ "$(json "$TMP/vit.json" images)" = 2 ] || fail "bench vit-cls --batch 2: images is not 2"
  json "$TMP/vit.json" images_per_s >/dev/null || fail "bench vit-cls: no images_per_s"
  ! json "$TMP/vit.json" tokens >/dev/null || fail "bench vit-cls: tokens counted for an image model"
  # The generated image has the configured 32x24 size: the fixture's own image of that size
  # binds the same input, and a wrong size is refused.
  expect_ok "bench an image classifier on its own image" bench "$m/vit-cls" --input "pixel_values=$m/vit-cls/pixel_values.npy" \
    --warmup 0 --iterations 1 --json
  checks=$((checks + 1))
  [ "$(json "$OUT" "generated_inputs" LENGTH)" = 0 ] || fail "bench vit-cls --input: an input was generated"
  expect_error 1 "expected [batch, 3, 32, 24]" "bench an image classifier on an image of another size" \
    bench "$m/vit-cls" --input "pixel_values=$m/clip/pixel_values.npy" --iterations 1
  expect_ok "bench an image classifier, text report" bench "$m/vit-cls" --warmup 0 --iterations 1 --task image-classification
  expect_stdout "for image-classification" "bench names the task"
  expect_stdout "images/s" "bench reports images per second"
  expect_stdout "shapes: batch=1" "bench: one image unless --batch"
  expect_error 2 "has no token-id input" "bench --seq on an image model" bench "$m/vit-cls" --seq 8 --iterations 1
  expect_error 2 "--task feature-extraction" "bench --task the model does not offer" \
    bench "$m/vit-cls" --task feature-extraction --iterations 1

  # CLIP: the vision tower alone, the text tower alone at --seq, both by default.
  expect_ok "bench CLIP's vision tower" bench "$m/clip" --task image-feature-extraction --warmup 1 --iterations 2 --json
  cp "$OUT" "$TMP/clip-image.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/clip-image.json" generated_inputs LENGTH)" = 1 ] || fail "bench CLIP image tower: not pixel_values alone"
  [ "$(json "$TMP/clip-image.json" "generated_inputs;0")" = pixel_values ] || fail "bench CLIP image tower: pixel_values not generated"
  [ "$(json "$TMP/clip-image.json" task)" = image-feature-extraction ] || fail "bench --task: task not in the JSON"
  [ "$(json "$TMP/clip-image.json" images)" = 1 ] || fail "bench CLIP image tower: images is not 1"
  expect_ok "bench CLIP's text tower" bench "$m/clip" --task feature-extraction --seq 16 --warmup 1 --iterations 2 --json
  cp "$OUT" "$TMP/clip-text.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/clip-text.json" generated_inputs LENGTH)" = 2 ] || fail "bench CLIP text tower: not input_ids and attention_mask"
  [ "$(json "$TMP/clip-text.json" "dims;seq")" = 16 ] || fail "bench CLIP text tower --seq 16: dims.seq is not 16"
  [ "$(json "$TMP/clip-text.json" tokens)" = 16 ] || fail "bench CLIP text tower --seq 16: tokens is not 16"
  ! json "$TMP/clip-text.json" images >/dev/null || fail "bench CLIP text tower: images counted"
  expect_ok "bench CLIP, both towers" bench "$m/clip" --batch 2 --seq 7 --warmup 0 --iterations 1 --json
  checks=$((checks + 1))
  [ "$(json "$OUT" "dims;image_batch")" = 2 ] || fail "bench CLIP --batch 2: the images' batch is not 2"
  [ "$(json "$OUT" "dims;batch")" = 2 ] || fail "bench CLIP --batch 2: the texts' batch is not 2"
  [ "$(json "$OUT" images)" = 2 ] || fail "bench CLIP --batch 2: images is not 2"
  [ "$(json "$OUT" tokens)" = 14 ] || fail "bench CLIP --batch 2 --seq 7: tokens is not 14"
  expect_error 2 "takes seq <= 16" "bench CLIP's text tower past its positions" \
    bench "$m/clip" --task feature-extraction --seq 17 --iterations 1
  expect_error 2 "--seq: graph" "bench --seq on CLIP's vision tower" bench "$m/clip" --task image-feature-extraction --seq 8 --iterations 1
  expect_error 2 "--task text-generation" "bench --task CLIP does not offer" bench "$m/clip" --task text-generation --iterations 1
  expect_error 2 "--decode runs the text-generation graph" "bench --decode with another --task" \
    bench "$m/gpt2" --decode 1 --past 4 --task feature-extraction --iterations 1
  expect_error 1 "no-such-model" "bench --task on a missing model" bench "$TMP/no-such-model" --task feature-extraction
}

# The commands of the README and the examples of docs/cli.md, as written, run from a folder
# that holds the shipped graphs (prefix/bin/loom is the build's loom).
area_readme() {
  mkdir -p "$TMP/readme"
  ln -s "$SRC/graphs" "$TMP/readme/graphs"
  ln -s "$SRC/tests" "$TMP/readme/tests"
  cd "$TMP/readme" || return
  local commands=() line joined="" doc pattern
  for doc in README.md docs/cli.md; do
    # README: indented `prefix/bin/loom ...` lines; docs/cli.md: indented examples on graphs/.
    if [ "$doc" = README.md ]; then pattern='^ {4}prefix/bin/loom '; else pattern='^ {4}loom .*graphs/'; fi
    while IFS= read -r line; do
      if [[ $line =~ $pattern ]] || [ -n "$joined" ]; then
        line=${line%%#*}
        joined+="$line "
        if [[ $line =~ \\\ *$ ]]; then
          joined=${joined%\\*}
          continue
        fi
        commands+=("$joined")
        joined=""
      fi
    done <"$SRC/$doc"
  done
  checks=$((checks + 1))
  [ "${#commands[@]}" -ge 7 ] || fail "found only ${#commands[@]} commands in README.md and docs/cli.md"
  local c args
  for c in "${commands[@]}"; do
    read -ra args <<<"$c"
    expect_ok "documented command: $c" "${args[@]:1}"
    checks=$((checks + 1))
    [ -s "$OUT" ] || fail "documented command printed nothing: $c"
  done
  checks=$((checks + 1))
  [ -f "$TMP/readme/out/last_hidden_state.npy" ] || fail "the documented run did not write out/last_hidden_state.npy"
}

# same_outputs DESCRIPTION DIR_A DIR_B NAME...: the .npy files NAME.npy of both folders are equal
# byte for byte.
same_outputs() {
  local what=$1 a=$2 b=$3 name
  shift 3
  for name in "$@"; do
    checks=$((checks + 1))
    cmp -s "$a/$name.npy" "$b/$name.npy" || fail "$what: $name.npy differs between $a and $b"
  done
}

area_export() {
  local toy=$SRC/tests/external-model
  local plugin=(--plugin "${LOOM_TEST_TOYMLP:?the toymlp test plugin}")

  # The shipped encoder: exported into another folder, it runs and gives the same bytes.
  expect_ok "export the encoder" export "$ENC/encoder.yaml" -o "$TMP/exported/deeper/encoder.yaml"
  expect_stdout "$TMP/exported/deeper/encoder.yaml" "export names what it wrote"
  checks=$((checks + 1))
  grep -q "^weights: .*encoder.safetensors$" "$TMP/exported/deeper/encoder.yaml" || fail "the exported encoder has no weights line"
  checks=$((checks + 1))
  grep -q "use:\|blocks:" "$TMP/exported/deeper/encoder.yaml" && fail "the exported encoder still has blocks"
  expect_ok "run the encoder" run "$ENC/encoder.yaml" "${ENCODER_INPUTS[@]}" --output-dir "$TMP/enc.orig"
  expect_ok "run the exported encoder" run "$TMP/exported/deeper/encoder.yaml" "${ENCODER_INPUTS[@]}" --output-dir "$TMP/enc.exp" \
    --expect "last_hidden_state=$ENC/expected_last_hidden_state.npy" --expect "pooler_output=$ENC/expected_pooler_output.npy"
  same_outputs "exported encoder" "$TMP/enc.orig" "$TMP/enc.exp" last_hidden_state pooler_output
  # Exporting what was exported, into the same folder, writes the same graph.
  expect_ok "export the exported encoder" export "$TMP/exported/deeper/encoder.yaml" -o "$TMP/exported/deeper/again.yaml"
  checks=$((checks + 1))
  cmp -s <(tail -n +2 "$TMP/exported/deeper/encoder.yaml") <(tail -n +2 "$TMP/exported/deeper/again.yaml") ||
    fail "a second export differs from the first"

  # A model manifest: the exported graph keeps the plugin's processing section and runs without
  # the plugin.
  expect_ok "inspect the toymlp manifest" inspect "$toy/manifest.yaml" "${plugin[@]}"
  expect_stdout "task tabular-classification (default): output logits, softmax, 4 labels (low, medium, high, very high), top_k 1" \
    "inspect shows the processing section"
  expect_ok "inspect --json the toymlp manifest" inspect "$toy/manifest.yaml" "${plugin[@]}" --json
  cp "$OUT" "$TMP/toy.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/toy.json" "processing;tasks;0;id2label;3")" = "very high" ] || fail "inspect --json: id2label: $(cat "$TMP/json.err")"
  [ "$(json "$TMP/toy.json" "processing;tasks;0;function")" = softmax ] || fail "inspect --json: function"
  [ "$(json "$TMP/toy.json" "processing;version")" = 1 ] || fail "inspect --json: version"
  expect_ok "export the toymlp manifest" export "$toy/manifest.yaml" "${plugin[@]}" -o "$TMP/toy/graph.yaml"
  expect_stdout "processing section" "export of a manifest"
  expect_ok "inspect the exported toymlp graph, without the plugin" inspect "$TMP/toy/graph.yaml"
  expect_stdout "task tabular-classification (default): output logits, softmax, 4 labels" "the exported graph keeps its processing"
  expect_ok "run the toymlp manifest" run "$toy/manifest.yaml" "${plugin[@]}" --input "features=$toy/features.npy" \
    --output-dir "$TMP/toy.orig"
  expect_ok "run the exported toymlp graph" run "$TMP/toy/graph.yaml" --input "features=$toy/features.npy" --output-dir "$TMP/toy.exp" \
    --expect "logits=$toy/expected_logits.npy" --expect "probs=$toy/expected_probs.npy"
  same_outputs "exported toymlp" "$TMP/toy.orig" "$TMP/toy.exp" logits probs

  # The checkpoint's tensors that the graph does not read: none for classification, the
  # classifier's for feature extraction (the default task of a checkpoint folder).
  expect_ok "inspect the toymlp manifest" inspect "$toy/manifest.yaml" "${plugin[@]}"
  expect_stdout "checkpoint $toy/checkpoint (model.safetensors): 12 tensors, 2.5 KiB; unused by the graph: 0 tensors, 0 B" \
    "inspect of a manifest lists no unused tensors"
  checks=$((checks + 1))
  [ "$(json "$TMP/toy.json" "checkpoint;unused;count")" = 0 ] || fail "inspect --json: unused tensors of the manifest"
  [ "$(json "$TMP/toy.json" "checkpoint;tensors")" = 12 ] || fail "inspect --json: checkpoint tensors"
  [ "$(json "$TMP/toy.json" "checkpoint;weights")" = model.safetensors ] || fail "inspect --json: checkpoint weights"
  expect_ok "inspect a checkpoint folder" inspect "$toy/checkpoint" "${plugin[@]}"
  expect_stdout "unused by the graph: 2 tensors, 208 B:" "inspect lists the tensors the graph does not read"
  expect_stdout "  classifier.bias: f32 [4]" "inspect lists an unused tensor"
  expect_stdout "  classifier.weight: f32 [4, 12]" "inspect lists an unused tensor with its shape"
  expect_ok "inspect --json a checkpoint folder" inspect "$toy/checkpoint" "${plugin[@]}" --json
  cp "$OUT" "$TMP/ckpt.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/ckpt.json" "checkpoint;unused;count")" = 2 ] || fail "inspect --json: unused count"
  [ "$(json "$TMP/ckpt.json" "checkpoint;unused;bytes")" = 208 ] || fail "inspect --json: unused bytes"
  [ "$(json "$TMP/ckpt.json" "checkpoint;unused;tensors;1;name")" = classifier.weight ] || fail "inspect --json: unused name"
  [ "$(json "$TMP/ckpt.json" "checkpoint;unused;tensors;1;dtype")" = f32 ] || fail "inspect --json: unused dtype"
  [ "$(json "$TMP/ckpt.json" "checkpoint;unused;tensors;1;shape;0")" = 4 ] || fail "inspect --json: unused shape"

  # A checkpoint folder: the plugin of its model_type, its default task (feature extraction).
  expect_ok "export a checkpoint folder" export "$toy/checkpoint" "${plugin[@]}" -o "$TMP/ckpt.yaml"
  expect_ok "run the exported checkpoint" run "$TMP/ckpt.yaml" --input "features=$toy/features.npy" \
    --expect "last_hidden_state=$toy/expected_last_hidden_state.npy"
  expect_ok "run a checkpoint folder" run "$toy/checkpoint" "${plugin[@]}" --input "features=$toy/features.npy" \
    --expect "last_hidden_state=$toy/expected_last_hidden_state.npy"
  expect_error 1 "no loaded model plugin accepts model_type 'toymlp'" "a checkpoint folder without its plugin" \
    export "$toy/checkpoint" -o "$TMP/ckpt2.yaml"
  mkdir -p "$TMP/not-a-checkpoint"
  expect_error 1 "has no config.json" "a folder without config.json" export "$TMP/not-a-checkpoint" -o "$TMP/x.yaml"

  # What export refuses: overwriting what the graph is read from, a folder as output, no -o.
  cp "$ENC/encoder.yaml" "$ENC/encoder.safetensors" "$TMP/"
  expect_error 2 "$TMP/encoder.yaml" "export over its own input" export "$TMP/encoder.yaml" -o "$TMP/encoder.yaml"
  expect_error 2 "refusing to overwrite" "export over its own input (message)" export "$TMP/encoder.yaml" -o "$TMP/./encoder.yaml"
  expect_error 2 "$TMP/encoder.safetensors" "export over the weights" export "$TMP/encoder.yaml" -o "$TMP/encoder.safetensors"
  checks=$((checks + 1))
  cmp -s "$ENC/encoder.safetensors" "$TMP/encoder.safetensors" || fail "export changed the weights it refused to overwrite"
  expect_error 2 "$toy/manifest.yaml" "export over the manifest" export "$toy/manifest.yaml" "${plugin[@]}" -o "$toy/manifest.yaml"
  expect_error 2 "is a folder" "export into a folder" export "$ENC/encoder.yaml" -o "$TMP/exported"
  expect_error 2 "--output" "export without -o" export "$ENC/encoder.yaml"
  expect_error 1 "$TMP/none.yaml" "export of a missing graph" export "$TMP/none.yaml" -o "$TMP/out.yaml"
  printf 'x' >"$TMP/a_file"
  expect_error 1 "$TMP/a_file/out.yaml" "export under a file" export "$ENC/encoder.yaml" -o "$TMP/a_file/out.yaml"
  # A graph that does not validate is not written.
  expect_error 1 "unknown_op.yaml" "export of an invalid graph" export "$DATA/unknown_op.yaml" -o "$TMP/invalid.yaml"
  checks=$((checks + 1))
  [ ! -e "$TMP/invalid.yaml" ] || fail "export wrote a graph that does not validate"
}

# `loom preprocess`: texts -> the graph's tokenizer inputs as int64 .npy files, which `loom run`
# takes as they are. The graph (tests/cli/data/tokenizer.yaml) uses tests/tokenizers/tiny-wordpiece:
# [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, hello 5, world 6, ! 7, "," 8, un 11, ##aff 12, ##able 13,
# the 17, cafe 14; its outputs show each input value it was given.
area_preprocess() {
  local g=$DATA/tokenizer.yaml
  expect_ok "preprocess two texts" preprocess "$g" --text "Hello, World!" --text "unaffable" --output-dir "$TMP/pre" --json
  cp "$OUT" "$TMP/pre.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/pre.json" "input_ids;0")" = "[ 2, 5, 8, 6, 7, 3 ]" ] || fail "preprocess --json: input_ids row 0: $(cat "$TMP/pre.json")"
  [ "$(json "$TMP/pre.json" "input_ids;1")" = "[ 2, 11, 12, 13, 3, 0 ]" ] || fail "preprocess --json: input_ids row 1 (padded)"
  [ "$(json "$TMP/pre.json" "attention_mask;1")" = "[ 1, 1, 1, 1, 1, 0 ]" ] || fail "preprocess --json: attention_mask row 1"
  [ "$(json "$TMP/pre.json" "token_type_ids;0")" = "[ 0, 0, 0, 0, 0, 0 ]" ] || fail "preprocess --json: token_type_ids row 0"
  # The files hold the same int64 values (the last bytes of a .npy are its data).
  checks=$((checks + 1))
  [ "$(tail -c 96 "$TMP/pre/input_ids.npy" | od -An -t d8 -v | xargs)" = "2 5 8 6 7 3 2 11 12 13 3 0" ] ||
    fail "preprocess: input_ids.npy holds $(tail -c 96 "$TMP/pre/input_ids.npy" | od -An -t d8 -v | xargs)"
  # ... and `loom run` takes them under the graph's input names.
  expect_ok "run on what preprocess wrote" run "$g" --input "input_ids=$TMP/pre/input_ids.npy" \
    --input "token_type_ids=$TMP/pre/token_type_ids.npy" --input "attention_mask=$TMP/pre/attention_mask.npy" --output-dir "$TMP/pre.run"
  checks=$((checks + 1))
  [ "$(tail -c 48 "$TMP/pre.run/ids_seen.npy" | od -An -t f4 -v | xargs)" = "2 5 8 6 7 3 2 11 12 13 3 0" ] || fail "run: ids_seen"
  [ "$(tail -c 48 "$TMP/pre.run/mask_seen.npy" | od -An -t f4 -v | xargs)" = "1 1 1 1 1 1 1 1 1 1 1 0" ] || fail "run: mask_seen"

  # Pairs: types 1 for the second text; max_length 8 truncates the longer text first.
  expect_ok "preprocess a pair" preprocess "$g" --text "Hello, World!" --text-pair "the cafe" --output-dir "$TMP/pair" --json
  cp "$OUT" "$TMP/pair.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/pair.json" "input_ids;0")" = "[ 2, 5, 8, 6, 3, 17, 14, 3 ]" ] || fail "preprocess a pair: input_ids: $(cat "$TMP/pair.json")"
  [ "$(json "$TMP/pair.json" "token_type_ids;0")" = "[ 0, 0, 0, 0, 0, 1, 1, 1 ]" ] || fail "preprocess a pair: token_type_ids"
  expect_ok "preprocess without --json" preprocess "$g" --text "hello" --output-dir "$TMP/plain"
  expect_stdout "input_ids: i64 [1, 3]" "preprocess lists what it wrote"
  expect_stdout "wrote 3 file(s) to $TMP/plain" "preprocess says where"

  expect_error 2 "1 --text-pair for 2 --text" "preprocess with fewer pairs than texts" preprocess "$g" --text a --text b \
    --text-pair c --output-dir "$TMP/x"
  expect_error 2 "--text" "preprocess without a text" preprocess "$g" --output-dir "$TMP/x"
  expect_error 2 "--output-dir" "preprocess without --output-dir" preprocess "$g" --text a
  expect_error 1 "$ENC/encoder.yaml: the graph has no tokenizer" "preprocess of a graph without a tokenizer" \
    preprocess "$ENC/encoder.yaml" --text a --output-dir "$TMP/x"
  expect_error 1 "--text #2: not valid UTF-8" "preprocess of a text that is not UTF-8" preprocess "$g" --text ok \
    --text $'bad \xff' --output-dir "$TMP/x"
  printf 'x' >"$TMP/a_file"
  expect_error 1 "--output-dir $TMP/a_file/out" "preprocess into a folder under a file" preprocess "$g" --text a \
    --output-dir "$TMP/a_file/out"
  # Images: pixel values beside the text inputs, in the graph's input order, as `loom run` takes them.
  local ti=$DATA/text_image.yaml px=$SRC/tests/fixtures/images/src
  expect_ok "preprocess text and images" preprocess "$ti" --text "hello" --image "$px/one_pixel.png" \
    --image "$px/rgb.png" --output-dir "$TMP/ti" --json
  cp "$OUT" "$TMP/ti.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/ti.json" "pixel_values" LENGTH)" = "2" ] || fail "preprocess --image: two images: $(cat "$TMP/ti.json")"
  [ "$(json "$TMP/ti.json" "pixel_values;0;0;1")" = "[ 134.0, 134.0 ]" ] || fail "preprocess --image: red of one_pixel.png"
  [ "$(json "$TMP/ti.json" "pixel_values;0;1;0")" = "[ 0.0, 0.0 ]" ] || fail "preprocess --image: green of one_pixel.png"
  [ "$(json "$TMP/ti.json" "input_ids;0" LENGTH)" = "3" ] || fail "preprocess --image: the text beside it"
  expect_ok "run on the pixel values preprocess wrote" run "$ti" --input "input_ids=$TMP/ti/input_ids.npy" \
    --input "pixel_values=$TMP/ti/pixel_values.npy" --output-dir "$TMP/ti.run"
  checks=$((checks + 1))
  [ "$(tail -c 48 "$TMP/ti.run/pixels_seen.npy" | od -An -t f4 -v | xargs)" = "$(tail -c 48 "$TMP/ti/pixel_values.npy" | od -An -t f4 -v | xargs)" ] ||
    fail "run: pixels_seen"
  expect_ok "preprocess images alone" preprocess "$ti" --image "$px/color420.jpg" --output-dir "$TMP/im"
  expect_stdout "pixel_values: f32 [1, 3, 2, 2]" "preprocess lists the pixel values"
  expect_stdout "wrote 1 file(s) to $TMP/im" "preprocess counts the image file"
  expect_error 1 "$ENC/encoder.yaml: the graph has no image processor" "preprocess --image of a graph without one" \
    preprocess "$ENC/encoder.yaml" --image "$px/rgb.png" --output-dir "$TMP/x"
  expect_error 1 "$g: the graph has no image processor" "preprocess --image of a text-only graph" \
    preprocess "$g" --image "$px/rgb.png" --output-dir "$TMP/x"
  expect_error 1 "$SRC/tests/fixtures/images/hostile/bad_crc.png: cannot decode the PNG image: IHDR: CRC error" \
    "preprocess of a PNG with a bad CRC" preprocess "$ti" --image "$SRC/tests/fixtures/images/hostile/bad_crc.png" --output-dir "$TMP/x"
  expect_error 1 "$TMP: the image is a folder" "preprocess of a folder as an image" preprocess "$ti" --image "$TMP" --output-dir "$TMP/x"
  sed "s|size: {height: 2, width: 2}|size: {shortest_edge: 2}|; s|../../tokenizers|$SRC/tests/tokenizers|" "$ti" >"$TMP/shortest.yaml"
  expect_error 1 "--image #2 is 3x2 after resize and crop, the first image 2x2" "preprocess of images that end at two sizes" \
    preprocess "$TMP/shortest.yaml" --image "$px/one_pixel.png" --image "$px/rgb.png" --output-dir "$TMP/x"
  # A hostile vocabulary is named with its line.
  mkdir -p "$TMP/bad"
  sed "s|../../tokenizers/tiny-wordpiece/vocab.txt|vocab.txt|" "$g" >"$TMP/bad/tokenizer.yaml"
  printf '[PAD]\n[UNK]\n[CLS]\n[\377]\n' >"$TMP/bad/vocab.txt"
  expect_error 1 "vocab.txt:4: a token that is not UTF-8 (at byte 1)" "preprocess with a bad token in vocab.txt" \
    preprocess "$TMP/bad/tokenizer.yaml" --text a --output-dir "$TMP/x"

  # CLIP's BPE (tests/cli/data/clip_tokenizer.yaml, OpenAI's vocabulary): <|startoftext|> 49406,
  # a</w> 320, photo</w> 1125, of</w> 539, cat</w> 2368, 2</w> 273, 0</w> 271, 4</w> 275, and
  # <|endoftext|> 49407, also the pad. Upper case is lower-cased; each digit is a word.
  local clip=$DATA/clip_tokenizer.yaml
  expect_ok "preprocess with CLIP's tokenizer" preprocess "$clip" --text "A photo of a CAT" --text "2024" --output-dir "$TMP/clip" --json
  cp "$OUT" "$TMP/clip.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/clip.json" "input_ids;0")" = "[ 49406, 320, 1125, 539, 320, 2368, 49407 ]" ] ||
    fail "preprocess with CLIP's tokenizer: input_ids row 0: $(cat "$TMP/clip.json")"
  [ "$(json "$TMP/clip.json" "input_ids;1")" = "[ 49406, 273, 271, 273, 275, 49407, 49407 ]" ] ||
    fail "preprocess with CLIP's tokenizer: input_ids row 1 (padded)"
  [ "$(json "$TMP/clip.json" "attention_mask;1")" = "[ 1, 1, 1, 1, 1, 1, 0 ]" ] || fail "preprocess with CLIP's tokenizer: attention_mask row 1"
  expect_ok "run on what preprocess wrote for CLIP" run "$clip" --input "input_ids=$TMP/clip/input_ids.npy" \
    --input "attention_mask=$TMP/clip/attention_mask.npy" --output-dir "$TMP/clip.run"
  checks=$((checks + 1))
  [ "$(tail -c 28 "$TMP/clip.run/ids_seen.npy" | od -An -t f4 -v | xargs)" = "49406 273 271 273 275 49407 49407" ] || fail "run: CLIP's ids_seen"
  # A CLIP merges.txt that names a token its vocab.json lacks is named with its line.
  mkdir -p "$TMP/badclip"
  sed "s|../../tokenizers/clip/merges.txt|merges.txt|" "$clip" | sed "s|../../tokenizers/clip/vocab.json|$SRC/tests/tokenizers/clip/vocab.json|" \
    >"$TMP/badclip/clip.yaml"
  printf '#version: 0.2\ni n\nzz top</w>\n' >"$TMP/badclip/merges.txt"
  expect_error 1 "merges.txt:3: the result 'zztop</w>' of the merge 'zz top</w>' is not in the vocabulary" \
    "preprocess with a CLIP merge outside the vocabulary" preprocess "$TMP/badclip/clip.yaml" --text a --output-dir "$TMP/x"
}

# --optimize LEVEL on run, bench and inspect: same outputs at every level, and inspect shows what
# the passes did.
area_optimize() {
  local g=$ENC/encoder.yaml level
  for level in none basic all; do
    expect_ok "run --optimize $level against the PyTorch reference" run "$g" "${ENCODER_INPUTS[@]}" --optimize "$level" \
      --expect "last_hidden_state=$ENC/expected_last_hidden_state.npy" --expect "pooler_output=$ENC/expected_pooler_output.npy"
    expect_ok "bench --optimize $level" bench "$g" --dim batch=1 --dim seq=8 --warmup 0 --iterations 2 --optimize "$level"
    expect_stdout "--optimize $level" "bench --optimize $level"
  done
  expect_error 2 "--optimize" "an unknown level" run "$g" "${ENCODER_INPUTS[@]}" --optimize fast
  expect_error 2 "--optimize" "--optimize without a level" inspect "$g" --optimize
  expect_error 2 "--optimize" "an unknown level on bench" bench "$g" --optimize ALL

  expect_ok "inspect --optimize none" inspect "$g" --optimize none
  expect_stdout "optimize none: 56 nodes as written, 56 after the passes" "inspect --optimize none"
  checks=$((checks + 1))
  ! grep -q "fused nodes" "$OUT" || fail "inspect --optimize none lists fused nodes"
  expect_ok "inspect (default level all)" inspect "$g"
  expect_stdout "optimize all: 56 nodes as written, 39 after the passes" "inspect"
  expect_stdout "layer.0.context.heads (attention) replaced layer.0.scores, layer.0.probs, layer.0.context.heads" "inspect"
  expect_stdout "layer.1.y (add_layer_norm) replaced layer.1.ffn.residual, layer.1.y" "inspect"
  expect_stdout "fuse-attention: 56 -> 52 nodes (2 rewrites)" "inspect"
  expect_stdout "fold-attention-transposes: 52 -> 44 nodes (2 rewrites)" "inspect"
  expect_stdout "layer.0.context.heads (attention) replaced layer.0.q.t, layer.0.k.t, layer.0.v.t, layer.0.context.heads, layer.0.context.t" "inspect"

  # A backend built for op set 6 (before attention's layout) is never handed the fold's bshd
  # attention: placed first, it gets it decomposed into transposes around a bhsd attention, which
  # it runs fused, rather than the whole node going to a later backend (the reference, op set 7).
  expect_ok "inspect on an op-set-6 backend" inspect "$g" --plugin "$LOOM_TEST_OPSET6" --backend opset6,reference --placement
  expect_stdout "nodes: 47 (" "inspect on an op-set-6 backend: 39 nodes and the 8 transposes put back"
  expect_stdout "attention 2," "inspect on an op-set-6 backend: attention still fused"
  expect_stdout "layer.0.context.heads (attention) into layer.0.context.heads.q.heads_first, layer.0.context.heads.k.heads_first, layer.0.context.heads.v.heads_first, layer.0.context.heads.heads_first, layer.0.context.heads" \
    "inspect on an op-set-6 backend: the bshd attention decomposed"
  expect_no_stdout "heads_first (attention) into" "inspect on an op-set-6 backend: the bhsd attention left fused"
  expect_stdout "#0 opset6: 47 nodes" "inspect on an op-set-6 backend: one partition there"
  expect_ok "run on an op-set-6 backend" run "$g" --plugin "$LOOM_TEST_OPSET6" --backend opset6,reference "${ENCODER_INPUTS[@]}" \
    --expect "last_hidden_state=$ENC/expected_last_hidden_state.npy" --expect "pooler_output=$ENC/expected_pooler_output.npy"

  expect_ok "inspect --optimize all --json" inspect "$g" --optimize all --json --placement
  cp "$OUT" "$TMP/inspect.json"
  checks=$((checks + 1))
  if ! level=$(json "$TMP/inspect.json" "optimize;level"); then
    fail "inspect --json has no optimize.level: $(cat "$TMP/json.err")"
  else
    [ "$level" = all ] || fail "inspect --json: optimize.level is '$level'"
    [ "$(json "$TMP/inspect.json" "optimize;nodes_before")" = 56 ] || fail "inspect --json: nodes_before"
    [ "$(json "$TMP/inspect.json" "optimize;nodes_after")" = 39 ] || fail "inspect --json: nodes_after"
    [ "$(json "$TMP/inspect.json" "optimize;fused" LENGTH)" = 9 ] || fail "inspect --json: 9 fused nodes"
    [ "$(json "$TMP/inspect.json" "optimize;fused;0;op")" = attention ] || fail "inspect --json: first fused op"
    [ "$(json "$TMP/inspect.json" "optimize;fused;0;replaced" LENGTH)" = 3 ] || fail "inspect --json: replaced nodes"
    [ "$(json "$TMP/inspect.json" "optimize;passes;0;pass")" = remove-dead-nodes ] || fail "inspect --json: first pass"
    # What the session runs: placement lists every node of it.
    [ "$(json "$TMP/inspect.json" placement LENGTH)" = "$(json "$TMP/inspect.json" nodes)" ] || fail "inspect --json: placement vs nodes"
  fi
}

# The text tasks on the checkpoints of tests/models (tools/fixtures/make_text_models.py): what
# each prints, its JSON keys (transformers' pipelines'), and its mistakes.
area_tasks() {
  local m=$SRC/tests/models
  expect_ok "fill-mask --precision f32" fill-mask "$m/bert-mlm" "the cat [MASK] on the mat ." --precision f32 --backend onednn
  if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    expect_ok "fill-mask --precision bf16" fill-mask "$m/bert-mlm" "the cat [MASK] on the mat ." --precision bf16 --backend onednn
  fi
  expect_error 1 "computes in f32 or bf16, not f16" "generate --precision f16 on onednn" \
    generate "$m/gpt2" --prompt "hello" --max-new-tokens 2 --precision f16 --backend onednn
  expect_ok "fill-mask --json" fill-mask "$m/bert-mlm" "the cat [MASK] on the mat ." --top-k 3 --json
  cp "$OUT" "$TMP/fill.json"
  checks=$((checks + 1))
  if ! n=$(json "$TMP/fill.json" "" LENGTH); then
    fail "fill-mask --json is not valid JSON: $(cat "$TMP/json.err")"
  else
    [ "$n" = 3 ] || fail "fill-mask --top-k 3 gave $n predictions"
    for key in score token token_str sequence; do
      json "$TMP/fill.json" "0;$key" >/dev/null || fail "fill-mask --json: no '$key' in a prediction"
    done
    local s0 s1 tok str seq
    s0=$(json "$TMP/fill.json" "0;score"); s1=$(json "$TMP/fill.json" "1;score")
    awk -v a="$s0" -v b="$s1" 'BEGIN { exit !(a >= b && a <= 1 && b > 0) }' || fail "fill-mask scores are not probabilities, best first ($s0, $s1)"
    # Random weights choose the token; the sequence is the text around it, special tokens left out.
    seq=$(json "$TMP/fill.json" "0;sequence")
    case "$seq" in "the cat"*"on the mat.") ;; *) fail "fill-mask: sequence '$seq' is not the text around the filled mask" ;; esac
    [[ "$seq" != *"[CLS]"* && "$seq" != *"[MASK]"* ]] || fail "fill-mask: sequence '$seq' keeps special tokens"
  fi
  expect_ok "fill-mask prints" fill-mask "$m/bert-mlm" "hello [MASK] !"
  expect_stdout "hello" "fill-mask prints the filled sequences"
  expect_error 1 "has no [MASK] token to fill" "fill-mask of a text without a mask" fill-mask "$m/bert-mlm" "hello world"
  # Texts are taken as typed: one in brackets is not a list, and each text is filled.
  expect_ok "fill-mask of a text in brackets" fill-mask "$m/bert-mlm" "[MASK]" "[the [MASK],dog]" --json
  cp "$OUT" "$TMP/fill2.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/fill2.json" "" LENGTH)" = 2 ] || fail "fill-mask of two bracketed texts did not give two results"
  expect_error 2 "unknown option '--bogus' for 'fill-mask'" "fill-mask with an unknown option after its text" fill-mask "$m/bert-mlm" "a [MASK]" --bogus
  expect_error 1 "does not offer fill-mask" "fill-mask on a model without the head" fill-mask "$m/bert-nsp" "a [MASK] b"

  expect_ok "next-sentence --json" next-sentence "$m/bert-nsp" --text "the cat sat" --text-pair "on the mat" --json
  cp "$OUT" "$TMP/nsp.json"
  checks=$((checks + 1))
  local p; p=$(json "$TMP/nsp.json" "is_next") || fail "next-sentence --json: no is_next: $(cat "$TMP/nsp.json")"
  awk -v a="$p" 'BEGIN { exit !(a > 0 && a < 1) }' || fail "next-sentence: is_next $p is not a probability"
  [ "$(json "$TMP/nsp.json" "scores" LENGTH)" = 2 ] || fail "next-sentence --json: two scores"
  expect_error 2 "one --text A and one --text-pair B" "next-sentence without a pair" next-sentence "$m/bert-nsp" --text "a"
  # A text past the model's positions, invalid UTF-8 and options that do not apply are named.
  local long; long=$(printf 'word %.0s' $(seq 40))
  expect_error 1 "the text is 42 tokens long (special tokens included), but the model holds at most 32 positions" \
    "embed of a text past the positions" embed "$m/bert-base" --text "$long"
  expect_error 1 "--text #2: not valid UTF-8" "embed of invalid UTF-8" embed "$m/bert-base" --text ok --text $'a\xffb'
  expect_error 1 "--prompt: not valid UTF-8" "generate of invalid UTF-8" generate "$m/gpt2" --prompt $'a\xff'
  expect_error 2 "--output-dir is for ImageGPT's images" "generate -o for a text" generate "$m/gpt2" --prompt hi -o "$TMP/gentext"
  expect_error 2 "gives its own vectors (text_embeds)" "embed --pooling for CLIP" embed "$m/clip" --text hi --pooling cls
  expect_error 2 "1 --text-pair for 2 --text" "classify with fewer pairs than texts" classify "$m/bert-seqcls" --text a --text b \
    --text-pair c
  expect_error 2 "--seq 100: graph 'bert' takes seq <= 32 (its declared bound)" "bench --seq past the positions" \
    bench "$m/bert-mlm" --seq 100
  expect_ok "inspect of a checkpoint" inspect "$m/bert-mlm"
  expect_stdout "limit: seq <= 32 (declared by the graph)" "inspect lists the checkpoint's position bound"
  expect_stdout "attention_mask: i64 [batch, seq] (optional: default 1)" "inspect marks inputs with a default"
  # A vocab.txt holding the mask token twice: the last line's id, for the tokenizer and the
  # fill-mask task alike (transformers' load_vocab).
  rm -rf "$TMP/dupvocab"; cp -r "$m/bert-mlm" "$TMP/dupvocab"
  sed -i '30s/.*/[MASK]/' "$TMP/dupvocab/vocab.txt"
  expect_ok "preprocess with a duplicated mask token" preprocess "$TMP/dupvocab" --text "hello [MASK]" --output-dir "$TMP/dupvocab/pp" --json
  cp "$OUT" "$TMP/dupvocab.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/dupvocab.json" "input_ids;0;2")" = 29 ] || fail "a duplicated [MASK] in vocab.txt: not the last line's id 29"
  expect_ok "fill-mask with a duplicated mask token" fill-mask "$TMP/dupvocab" "hello [MASK] ."
  # The next-sentence probability is softmax(logits)[0] (class 0 is IsNext): the same ids run
  # through the graph give the logits.
  expect_ok "preprocess of a pair" preprocess "$m/bert-nsp" --text "the cat sat" --text-pair "on the mat" --output-dir "$TMP/nspin"
  expect_ok "run of the pair" run "$m/bert-nsp" --input "input_ids=$TMP/nspin/input_ids.npy" \
    --input "token_type_ids=$TMP/nspin/token_type_ids.npy" --input "attention_mask=$TMP/nspin/attention_mask.npy" \
    --output-dir "$TMP/nspout"
  checks=$((checks + 1))
  local header l0 l1
  header=$(od -An -tu2 -j8 -N2 "$TMP/nspout/logits.npy" | tr -d ' ')
  read -r l0 l1 < <(od -An -tf4 -j$((10 + header)) -N8 "$TMP/nspout/logits.npy")
  awk -v a="$l0" -v b="$l1" -v p="$p" 'BEGIN { q = 1 / (1 + exp(b - a)); d = q - p; exit !(d < 1e-3 && d > -1e-3) }' ||
    fail "next-sentence: is_next $p is not softmax(logits $l0, $l1)[0]"

  expect_ok "classify --json" classify "$m/bert-seqcls" --text "good day" --text "bad night" --json
  cp "$OUT" "$TMP/cls.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/cls.json" "" LENGTH)" = 2 ] || fail "classify of two texts: $(cat "$TMP/cls.json")"
  [ "$(json "$TMP/cls.json" "0" LENGTH)" = 3 ] || fail "classify: every label of id2label"
  case "$(json "$TMP/cls.json" "0;0;label")" in positive | negative | neutral) ;; *) fail "classify: label not from id2label" ;; esac
  expect_ok "classify --top-k 1" classify "$m/bert-seqcls" --text "good day" --top-k 1
  expect_stdout "  " "classify prints score and label"

  expect_ok "embed --json" embed "$m/bert-base" --text "hello world" --text "the cat" --normalize --json
  cp "$OUT" "$TMP/embed.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/embed.json" "dim")" = 32 ] || fail "embed: dim: $(cat "$TMP/embed.json")"
  [ "$(json "$TMP/embed.json" "embeddings" LENGTH)" = 2 ] || fail "embed: two vectors"
  [ "$(json "$TMP/embed.json" "pooling")" = mean ] || fail "embed: mean pooling by default"
  expect_error 2 "pooling" "embed --pooling max" embed "$m/bert-base" --text a --pooling max

  expect_ok "generate --json" generate "$m/gpt2" --prompt "the cat" --max-new-tokens 6 --json
  cp "$OUT" "$TMP/gen.json"
  checks=$((checks + 1))
  for key in token_ids text tokens_per_s; do json "$TMP/gen.json" "$key" >/dev/null || fail "generate --json: no '$key'"; done
  # Six new tokens, unless the model says eos first.
  local new reason
  new=$(json "$TMP/gen.json" "new_tokens"); reason=$(json "$TMP/gen.json" "stop_reason")
  { [ "$new" = 6 ] && [ "$reason" = max_new_tokens ]; } || { [ "$new" -le 6 ] && [ "$reason" = eos ]; } ||
    fail "generate --max-new-tokens 6: $(cat "$TMP/gen.json")"
  [ "$(json "$TMP/gen.json" "token_ids" LENGTH)" -gt "$new" ] || fail "generate --json: token_ids holds the prompt and the new tokens"
  # An empty prompt starts from the bos token (293 in this vocabulary), as generate() without input_ids.
  expect_ok "generate --prompt ''" generate "$m/gpt2" --prompt "" --max-new-tokens 3 --json
  [ "$(json "$OUT" "token_ids;0")" = 293 ] || fail "generate --prompt '': not from bos: $(cat "$OUT")"
  [ "$(json "$OUT" "token_ids" LENGTH)" = 4 ] || fail "generate --prompt '': bos and three new tokens: $(cat "$OUT")"
  expect_error 2 "give the text to continue with --prompt TEXT" "generate without --prompt" generate "$m/gpt2"
  expect_ok "generate streams text" generate "$m/gpt2" --prompt "Hello world" --max-new-tokens 4 --seed 3 --temperature 0.8
  expect_stdout "Hello world" "generate prints the prompt and what follows"
  expect_error 1 "holds at most 48 positions" "generate with a prompt longer than the positions" \
    generate "$m/gpt2" --prompt "$(printf 'the cat %.0s' $(seq 30))"
  [ ! -s "$OUT" ] || fail "generate echoes a prompt it refuses: $(head -c 200 "$OUT")"
  checks=$((checks + 1))
  # Ids past the vocabulary are refused by the input's declared values, naming the input.
  write_npy "$TMP/ids_oob.npy" "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2), }" 8
  printf "$(le_bytes 64 8)" >>"$TMP/ids_oob.npy"
  expect_error 1 "input 'input_ids' holds 64 at [0, 1], outside its values 0..63" "run with an id past the vocabulary" \
    run "$m/bert-mlm" --input "input_ids=$TMP/ids_oob.npy" --output-dir "$TMP/oob"
  expect_error 2 "temperature" "generate --temperature 0" generate "$m/gpt2" --prompt a --temperature 0
  # --no-repeat-ngram-size 1: no token of the prompt or of the new text comes twice.
  expect_ok "generate --no-repeat-ngram-size 1" generate "$m/gpt2" --prompt "the cat" --max-new-tokens 12 --no-repeat-ngram-size 1 --json
  cp "$OUT" "$TMP/gen1.json"
  checks=$((checks + 1))
  local count i
  count=$(json "$TMP/gen1.json" "token_ids" LENGTH)
  [ "$count" -gt 12 ] || fail "generate --no-repeat-ngram-size 1: $(cat "$TMP/gen1.json")"
  for i in $(seq 0 $((count - 1))); do json "$TMP/gen1.json" "token_ids;$i"; echo; done >"$TMP/gen1.ids"
  [ -z "$(sort "$TMP/gen1.ids" | uniq -d)" ] || fail "generate --no-repeat-ngram-size 1 repeated a token: $(cat "$TMP/gen1.json")"
  expect_ok "generate --repetition-penalty --min-new-tokens" generate "$m/gpt2" --prompt "the cat" --max-new-tokens 3 \
    --repetition-penalty 1.3 --min-new-tokens 2 --json
  [ "$(json "$OUT" new_tokens)" = 3 ] || fail "generate --repetition-penalty --min-new-tokens: $(cat "$OUT")"
  checks=$((checks + 1))
  expect_error 2 "expected a finite number > 0, got '0'" "generate --repetition-penalty 0" \
    generate "$m/gpt2" --prompt a --repetition-penalty 0
  expect_error 2 "--no-repeat-ngram-size" "generate --no-repeat-ngram-size -1" generate "$m/gpt2" --prompt a --no-repeat-ngram-size -1
  expect_error 2 "--seed: expected a whole number from 0 to 18446744073709551615, got '-1'" "generate --seed -1" \
    generate "$m/gpt2" --prompt a --seed -1
  # --min-p 1 keeps only the most likely token: sampling gives the greedy text, whatever the seed.
  expect_ok "generate --greedy" generate "$m/gpt2" --prompt "the cat" --max-new-tokens 6 --greedy --json
  cp "$OUT" "$TMP/greedy.json"
  expect_ok "generate --min-p 1" generate "$m/gpt2" --prompt "the cat" --max-new-tokens 6 --min-p 1 --seed 11 --json
  [ "$(json "$OUT" token_ids)" = "$(json "$TMP/greedy.json" token_ids)" ] || fail "generate --min-p 1 is not greedy: $(cat "$OUT")"
  checks=$((checks + 1))
  expect_ok "generate --typical-p --eta-cutoff" generate "$m/gpt2" --prompt "the cat" --max-new-tokens 3 --typical-p 0.9 \
    --epsilon-cutoff 0.001 --eta-cutoff 0.001 --seed 2 --json
  expect_error 2 "--typical-p: expected a number in (0, 1], got '0'" "generate --typical-p 0" generate "$m/gpt2" --prompt a --typical-p 0
  expect_error 2 "--epsilon-cutoff: expected a number in [0, 1), got '1'" "generate --epsilon-cutoff 1" generate "$m/gpt2" --prompt a --epsilon-cutoff 1
  expect_error 2 "--output-dir: expected a folder, got an empty name" "preprocess --output-dir ''" preprocess "$m/gpt2" --text a --output-dir ""
  # generation_config.json's processors reach the generator: a suppressed token never comes.
  mkdir -p "$TMP/gpt2-suppress" && cp "$m"/gpt2/* "$TMP/gpt2-suppress/"
  local first prompt_length=$(($(json "$TMP/greedy.json" token_ids LENGTH) - 6))
  first=$(json "$TMP/greedy.json" "token_ids;$prompt_length")
  printf '{"suppress_tokens": [%s]}' "$first" >"$TMP/gpt2-suppress/generation_config.json"
  expect_ok "inspect shows suppress_tokens" inspect "$TMP/gpt2-suppress" --task text-generation
  expect_stdout "suppress [$first]" "inspect lists the suppressed tokens"
  expect_ok "generate with suppress_tokens" generate "$TMP/gpt2-suppress" --prompt "the cat" --max-new-tokens 6 --json
  for i in $(seq "$prompt_length" $((prompt_length + 5))); do
    [ "$(json "$OUT" "token_ids;$i")" != "$first" ] || fail "suppressed token $first generated: $(cat "$OUT")"
  done
  checks=$((checks + 1))
  # A model that asks for beam search searches its beams, as --num-beams does; with sampling it
  # asks for beam sampling, which is refused unless a decoding is chosen.
  mkdir -p "$TMP/gpt2-beams" && cp "$m"/gpt2/* "$TMP/gpt2-beams/"
  printf '{"num_beams": 3, "length_penalty": 2.0}' >"$TMP/gpt2-beams/generation_config.json"
  expect_ok "generate with num_beams 3" generate "$TMP/gpt2-beams" --prompt "the cat" --max-new-tokens 5 --json
  cp "$OUT" "$TMP/beams.json"
  expect_ok "generate --num-beams 3" generate "$m/gpt2" --prompt "the cat" --max-new-tokens 5 --num-beams 3 --length-penalty 2 --json
  [ "$(json "$OUT" token_ids)" = "$(json "$TMP/beams.json" token_ids)" ] || fail "generate --num-beams 3: $(cat "$OUT")"
  checks=$((checks + 1))
  printf '{"num_beams": 3, "do_sample": true}' >"$TMP/gpt2-beams/generation_config.json"
  expect_error 1 "num_beams 3 (processing.generation.num_beams, from the model's generation_config.json" "generate with num_beams 3 and do_sample" \
    generate "$TMP/gpt2-beams" --prompt "the cat" --max-new-tokens 2
  expect_ok "generate --greedy with num_beams 3" generate "$TMP/gpt2-beams" --prompt "the cat" --max-new-tokens 2 --greedy
  expect_error 2 "--length-penalty: expected a finite number" "generate --length-penalty x" generate "$m/gpt2" --prompt a --length-penalty x
  expect_error 1 "length_penalty 2.000000 weighs finished beams, and num_beams is 1 (the model's)" "generate --length-penalty without beams" \
    generate "$m/gpt2" --prompt a --max-new-tokens 2 --length-penalty 2
  # --num-return-sequences: the best beams, best first (the first is --num-beams' one), or samples,
  # seed S + i each (the first is --seed S's); greedy decoding has one.
  expect_ok "generate --num-return-sequences 3 --num-beams 3" generate "$m/gpt2" --prompt "the cat" --max-new-tokens 5 --num-beams 3 \
    --length-penalty 2 --num-return-sequences 3 --json
  [ "$(json "$OUT" sequences LENGTH)" = 3 ] || fail "generate --num-return-sequences 3: $(cat "$OUT")"
  [ "$(json "$OUT" "sequences;0;token_ids")" = "$(json "$TMP/beams.json" token_ids)" ] || fail "generate --num-return-sequences: the first is not the best beam"
  [ "$(json "$OUT" token_ids)" = "$(json "$TMP/beams.json" token_ids)" ] || fail "generate --num-return-sequences: token_ids are not the first sequence's"
  expect_ok "generate --seed 12" generate "$m/gpt2" --prompt "the cat" --max-new-tokens 4 --temperature 1.5 --seed 12 --json
  cp "$OUT" "$TMP/seed12.json"
  expect_ok "generate --num-return-sequences 2 sampling" generate "$m/gpt2" --prompt "the cat" --max-new-tokens 4 --temperature 1.5 \
    --seed 11 --num-return-sequences 2 --json
  [ "$(json "$OUT" "sequences;1;token_ids")" = "$(json "$TMP/seed12.json" token_ids)" ] || fail "generate --num-return-sequences: sequence 2 is not seed 12's"
  checks=$((checks + 1))
  expect_error 1 "num_return_sequences 2 with greedy decoding" "generate --num-return-sequences 2 --greedy" \
    generate "$m/gpt2" --prompt a --num-return-sequences 2 --greedy
  expect_ok "generate --num-return-sequences 2 streams" generate "$m/gpt2" --prompt "the cat" --max-new-tokens 3 --num-beams 2 \
    --num-return-sequences 2
  expect_stdout "--- sequence 2 of 2 ---" "generate numbers its sequences"
  expect_error 2 "--max-new-tokens is for text" "generate --image-count --max-new-tokens" \
    generate "$m/imagegpt" --image-count 1 --max-new-tokens 3 -o "$TMP/ig"
  # A generation_config.json that is a folder is an error, not an absent file.
  mkdir -p "$TMP/gpt2-folder" && cp "$m"/gpt2/* "$TMP/gpt2-folder/" && mkdir -p "$TMP/gpt2-folder/generation_config.json"
  expect_error 1 "generation_config.json: not a regular file" "generate with a folder for generation_config.json" \
    generate "$TMP/gpt2-folder" --prompt a
  expect_error 1 "has no language-model head" "generate with GPT2Model" generate "$m/gpt2-base" --prompt "the cat"
  # inspect, validate and export take a checkpoint's graph for a task.
  expect_ok "inspect --task text-generation" inspect "$m/gpt2" --task text-generation
  expect_stdout "caches: h.0.key_cache" "inspect --task text-generation shows the generation section"
  expect_ok "validate --task text-generation" validate "$m/gpt2" --task text-generation
  expect_ok "export --task text-generation" export "$m/gpt2" --task text-generation -o "$TMP/gpt2-generation.yaml"
  grep -q "past_length" "$TMP/gpt2-generation.yaml" || fail "export --task text-generation: no past_length in the graph"
  checks=$((checks + 1))
  expect_error 2 "--task nope: " "inspect --task nope" inspect "$m/gpt2" --task nope
}

# ---- loom conformance: the generated op cases against the reference backend

area_conformance() {
  expect_ok "conformance --op add" conformance --op add
  expect_stdout "reference" "conformance shows the reference backend's column"
  expect_stdout "onednn" "conformance shows the onednn backend's column"
  expect_no_stdout "softmax" "conformance --op add shows only add"
  expect_ok "conformance --op softmax --json" conformance --op softmax --backend onednn --json
  cp "$OUT" "$TMP/conformance.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/conformance.json" ok)" = ON ] || fail "conformance --json: ok is not true: $(head -c 400 "$TMP/conformance.json")"
  [ "$(json "$TMP/conformance.json" "ops;0;op")" = softmax ] || fail "conformance --json: ops[0] is not softmax"
  [ "$(json "$TMP/conformance.json" "ops;0;backends;onednn;status")" = pass ] || fail "conformance --json: softmax on onednn"
  expect_error 2 "no op 'nosuch'" "conformance --op with an unknown op" conformance --op nosuch
  expect_error 2 "layer_norm" "conformance --op names the ops there are" conformance --op nosuch
  expect_error 2 "no backend 'nosuch' is loaded" "conformance --backend with an unknown backend" conformance --backend nosuch
  expect_error 2 "onednn" "conformance --backend names the loaded backends" conformance --backend nosuch
  expect_error 1 "reference backend" "conformance without the reference backend" \
    conformance --no-default-plugins --plugin "$(dirname "$LOOM")/loom-onednn.so"

  # A backend with one wrong kernel fails on that op only, naming the case and the element.
  loom conformance --plugin "$LOOM_TEST_PERTURBED" --backend perturbed --op add
  checks=$((checks + 1))
  [ "$status" -eq 1 ] || fail "conformance of a wrong add: exit status $status, expected 1"
  expect_stdout "FAILED add on perturbed" "conformance reports the wrong add"
  expect_stdout "expected" "conformance names the element that differs"
  expect_ok "conformance of the perturbed backend's right mul" conformance --plugin "$LOOM_TEST_PERTURBED" --backend perturbed --op mul
  loom conformance --plugin "$LOOM_TEST_PERTURBED" --backend perturbed --op add --json
  cp "$OUT" "$TMP/perturbed.json"
  checks=$((checks + 1))
  [ "$status" -eq 1 ] && [ "$(json "$TMP/perturbed.json" ok)" = OFF ] &&
    [ "$(json "$TMP/perturbed.json" "ops;0;backends;perturbed;status")" = fail ] ||
    fail "conformance --json of a wrong add: status $status, $(head -c 400 "$TMP/perturbed.json")"
}

# The image tasks on the small checkpoints of tests/models (tools/fixtures/make_vision_models.py)
# and the images of tests/fixtures/images.
area_images() {
  local m=$SRC/tests/models px=$SRC/tests/fixtures/images/src hostile=$SRC/tests/fixtures/images/hostile
  expect_ok "classify --image --json" classify "$m/vit-cls" --image "$px/color444.jpg" --top-k 2 --json
  cp "$OUT" "$TMP/icls.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/icls.json" "" LENGTH)" = 2 ] || fail "classify --image --top-k 2: $(cat "$TMP/icls.json")"
  case "$(json "$TMP/icls.json" "0;label")" in cat | dog | bird) ;; *) fail "classify --image: label not from id2label" ;; esac
  # A preprocessor_config.json that does not resize: the image's own size, named with the file.
  mkdir -p "$TMP/noresize"
  cp "$m/vit-cls/"* "$TMP/noresize/"
  sed -i 's/"do_resize": *true/"do_resize": false/' "$TMP/noresize/preprocessor_config.json"
  grep -q '"do_resize": false' "$TMP/noresize/preprocessor_config.json" || fail "the vit-cls fixture's preprocessor_config.json has no do_resize: true"
  expect_error 1 "rgb.png comes out of the image processor at 29x19 (do_resize is off)" "classify of an image the processor does not resize" \
    classify "$TMP/noresize" --image "$px/rgb.png"
  expect_ok "classify of two images" classify "$m/swin-cls" --image "$px/color444.jpg" --image "$px/grey.png"
  expect_stdout "$px/grey.png:" "classify names each of several images"
  expect_ok "classify of two images --json" classify "$m/beit-cls" --image "$px/color444.jpg" --image "$px/grey.png" --json
  cp "$OUT" "$TMP/icls2.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/icls2.json" "" LENGTH)" = 2 ] && [ "$(json "$TMP/icls2.json" "1" LENGTH)" = 3 ] ||
    fail "classify of two images: a list per image: $(cat "$TMP/icls2.json")"
  expect_error 1 "it lists no tasks: they come with its processing files, preprocessor_config.json for images" "classify --image on a checkpoint without preprocessor_config.json" \
    classify "$m/vit-base" --image "$px/rgb.png"
  expect_error 1 "cannot decode the PNG image" "classify of a broken PNG" classify "$m/vit-cls" --image "$hostile/bad_crc.png"
  expect_error 1 "huge.png" "classify of a PNG whose header claims a huge size" classify "$m/vit-cls" --image "$hostile/huge.png"
  expect_error 1 "no_such.png" "classify of a missing image" classify "$m/vit-cls" --image "$TMP/no_such.png"

  expect_ok "zero-shot --json" zero-shot "$m/clip" --image "$px/color444.jpg" --labels "a cat, a dog,a bird" --json
  cp "$OUT" "$TMP/zs.json"
  checks=$((checks + 1))
  if [ "$(json "$TMP/zs.json" "" LENGTH)" != 3 ]; then
    fail "zero-shot: a score per label: $(cat "$TMP/zs.json")"
  else
    local a b c
    a=$(json "$TMP/zs.json" "0;score"); b=$(json "$TMP/zs.json" "1;score"); c=$(json "$TMP/zs.json" "2;score")
    awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN { s = a + b + c; exit !(a >= b && b >= c && s > 0.999999 && s < 1.000001) }' ||
      fail "zero-shot: scores are not a softmax over the labels, best first ($a $b $c)"
    case "$(json "$TMP/zs.json" "0;label")" in "a cat" | "a dog" | "a bird") ;; *) fail "zero-shot: labels are the given ones, trimmed" ;; esac
  fi
  expect_ok "zero-shot --template" zero-shot "$m/clip" --image "$px/color444.jpg" --labels "cat,dog" --template "a photo of a {}."
  expect_error 2 "it must hold {}" "zero-shot --template without {}" zero-shot "$m/clip" --image "$px/rgb.png" --labels "a,b" --template "x"
  expect_error 2 "an empty label" "zero-shot --labels with an empty one" zero-shot "$m/clip" --image "$px/rgb.png" --labels "a,,b"
  # A byte that is not UTF-8 is counted within its label, not within the templated sentence.
  expect_error 1 "--labels #2: not valid UTF-8 (byte 1 of 4)" "zero-shot --labels not UTF-8" zero-shot "$m/clip" --image "$px/rgb.png" \
    --labels "$(printf 'cat,d\377og')"
  expect_error 2 "--image" "zero-shot without an image" zero-shot "$m/clip" --labels "a,b"
  expect_error 1 "does not offer zero-shot-image-classification" "zero-shot on a ViT" zero-shot "$m/vit-cls" --image "$px/rgb.png" --labels "a,b"

  # CLIP's own embeddings come at unit length without --normalize.
  expect_ok "embed --image --json" embed "$m/clip" --image "$px/color444.jpg" --image "$px/rgb.png" --json
  cp "$OUT" "$TMP/iemb.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/iemb.json" "embeddings" LENGTH)" = 2 ] && [ "$(json "$TMP/iemb.json" "pooling")" = image_embeds ] &&
    [ "$(json "$TMP/iemb.json" "normalized")" = ON ] ||
    fail "embed --image on CLIP: two image_embeds vectors: $(head -c 300 "$TMP/iemb.json")"
  local dim; dim=$(json "$TMP/iemb.json" "dim")
  local sq=0 i v
  for ((i = 0; i < dim; i++)); do
    v=$(json "$TMP/iemb.json" "embeddings;0;$i")
    sq=$(awk -v s="$sq" -v v="$v" 'BEGIN { printf "%.9f", s + v * v }')
  done
  awk -v s="$sq" 'BEGIN { exit !(s > 0.99999 && s < 1.00001) }' || fail "embed --image on CLIP: squared length $sq"
  expect_ok "embed --text on CLIP" embed "$m/clip" --text "a photo of a cat" --json
  cp "$OUT" "$TMP/temb.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/temb.json" "pooling")" = text_embeds ] && [ "$(json "$TMP/temb.json" "normalized")" = ON ] &&
    [ "$(json "$TMP/temb.json" "dim")" = "$dim" ] || fail "embed --text on CLIP: text_embeds at unit length, as wide as image_embeds"
  expect_ok "embed --image of ViT" embed "$m/vit-cls" --image "$px/rgb.png" --pooling cls --json
  cp "$OUT" "$TMP/vemb.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/vemb.json" "pooling")" = cls ] || fail "embed --image of ViT: cls pooling of last_hidden_state"

  mkdir -p "$TMP/folder"
  cp "$px/color444.jpg" "$px/rgb.png" "$px/grey.png" "$TMP/folder/"
  echo "not an image" >"$TMP/folder/notes.txt"
  expect_ok "search --json" search "$m/clip" "$TMP/folder" --text "a red square" --json
  cp "$OUT" "$TMP/search.json"
  checks=$((checks + 1))
  if [ "$(json "$TMP/search.json" "" LENGTH)" != 3 ]; then
    fail "search: every image of the folder, and nothing else: $(cat "$TMP/search.json")"
  else
    local s0 s2
    s0=$(json "$TMP/search.json" "0;score"); s2=$(json "$TMP/search.json" "2;score")
    awk -v a="$s0" -v b="$s2" 'BEGIN { exit !(a >= b && a <= 1 && b >= -1) }' || fail "search: cosine scores, best first ($s0, $s2)"
  fi
  expect_ok "search --top-k 1" search "$m/clip" "$TMP/folder" --text "a red square" --top-k 1
  expect_stdout "$TMP/folder/" "search prints the files"
  expect_error 2 "is not a folder of images" "search of a file" search "$m/clip" "$px/rgb.png" --text "x"
  mkdir -p "$TMP/empty"
  expect_error 2 "holds no .png, .jpg or .jpeg file" "search of an empty folder" search "$m/clip" "$TMP/empty" --text "x"
  expect_error 2 "one query" "search without a query" search "$m/clip" "$TMP/folder"

  expect_ok "fill-image --json" fill-image "$m/beit-mim" --image "$px/color444.jpg" --mask-ratio 0.25 --seed 7 --json
  cp "$OUT" "$TMP/fill.json"
  checks=$((checks + 1))
  [ "$(json "$TMP/fill.json" "num_patches")" = 16 ] && [ "$(json "$TMP/fill.json" "masked_positions" LENGTH)" = 4 ] &&
    [ "$(json "$TMP/fill.json" "predicted_tokens" LENGTH)" = 4 ] || fail "fill-image: 4 of 16 patches masked: $(cat "$TMP/fill.json")"
  local t; t=$(json "$TMP/fill.json" "predicted_tokens;0")
  awk -v t="$t" 'BEGIN { exit !(t >= 0 && t < 40) }' || fail "fill-image: token $t outside the visual vocabulary (40)"
  expect_ok "fill-image again" fill-image "$m/beit-mim" --image "$px/color444.jpg" --mask-ratio 0.25 --seed 7 --json
  checks=$((checks + 1))
  cmp -s "$OUT" "$TMP/fill.json" || fail "fill-image: the same seed masks the same patches"
  expect_error 2 "--mask-ratio" "fill-image --mask-ratio 0" fill-image "$m/beit-mim" --image "$px/rgb.png" --mask-ratio 0
  expect_error 2 "--mask-ratio" "fill-image --mask-ratio 1.5" fill-image "$m/beit-mim" --image "$px/rgb.png" --mask-ratio 1.5
  expect_error 1 "does not offer masked-image-modeling" "fill-image on a classifier" fill-image "$m/beit-cls" --image "$px/rgb.png"

  # ImageGPT: each PNG read back through the colour clusters gives the ids that were sampled.
  expect_ok "generate images --json" generate "$m/imagegpt" --image-count 2 --seed 3 -o "$TMP/gen" --json
  cp "$OUT" "$TMP/gen.json"
  checks=$((checks + 1))
  if [ "$(json "$TMP/gen.json" "images" LENGTH)" != 2 ] || [ ! -s "$TMP/gen/image-1.png" ]; then
    fail "generate --image-count 2: $(head -c 300 "$TMP/gen.json")"
  else
    local k ids
    for k in 0 1; do
      ids=$(json "$TMP/gen.json" "images;$k;token_ids")
      expect_ok "preprocess of a generated image" preprocess "$m/imagegpt" --image "$TMP/gen/image-$k.png" --output-dir "$TMP/genpp" --json
      cp "$OUT" "$TMP/genpp.json"
      checks=$((checks + 1))
      [ "$(json "$TMP/genpp.json" "input_ids;0")" = "$ids" ] || fail "generate: image-$k.png does not hold the sampled ids $ids"
    done
    [ "$(json "$TMP/gen.json" "images;0;token_ids")" != "$(json "$TMP/gen.json" "images;1;token_ids")" ] ||
      fail "generate: two images from seeds 3 and 4 are the same"
  fi
  expect_ok "generate --prime" generate "$m/imagegpt" --prime "$px/color444.jpg" -o "$TMP/prime" --json
  cp "$OUT" "$TMP/prime.json"
  expect_ok "preprocess of the prime" preprocess "$m/imagegpt" --image "$px/color444.jpg" --output-dir "$TMP/primepp" --json
  cp "$OUT" "$TMP/primepp.json"
  checks=$((checks + 1))
  for k in 0 1 2 3 4 5 6 7; do
    [ "$(json "$TMP/prime.json" "images;0;token_ids;$k")" = "$(json "$TMP/primepp.json" "input_ids;0;$k")" ] ||
      { fail "generate --prime: pixel $k of the upper half is not the prime's"; break; }
  done
  expect_ok "generate images prints" generate "$m/imagegpt" --image-count 1 -o "$TMP/gen2"
  expect_stdout "pixels/s" "generate reports pixels per second"
  expect_error 2 "-o DIR" "generate images without -o" generate "$m/imagegpt" --image-count 1
  expect_error 1 "task 'image-generation' is not supported by gpt2" "generate --image-count on GPT-2" generate "$m/gpt2" --image-count 1 -o "$TMP/g"
}

case "$AREA" in
  usage | plugins | graphs | weights | inputs | run | readme | export | optimize | preprocess | tasks | images | conformance) "area_$AREA" ;;
  *)
    echo "unknown area '$AREA' (usage, plugins, graphs, weights, inputs, run, readme, export, optimize, preprocess, tasks, images, conformance)" >&2
    exit 2
    ;;
esac

echo "$AREA: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
