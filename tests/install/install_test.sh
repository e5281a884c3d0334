#!/usr/bin/env bash
# Proves the installed package from the outside, as a user would: installs a build tree into a
# fresh prefix, builds projects that know nothing but that prefix (find_package(loom)), and runs
# them with the installed `loom`.
#
#   install_test.sh install          BUILD_DIR PREFIX
#   install_test.sh host-app         PREFIX SOURCE_DIR WORK_DIR
#   install_test.sh external-backend PREFIX SOURCE_DIR WORK_DIR
#   install_test.sh external-model   PREFIX SOURCE_DIR WORK_DIR
#
# Environment (set by tests/install/CMakeLists.txt): LOOM_TEST_GENERATOR, LOOM_TEST_CXX,
# LOOM_TEST_CXX_FLAGS (the sanitizer flags of the build being tested, if any), LOOM_TEST_JOBS.
set -euo pipefail

step=${1:?usage: install_test.sh STEP ARGS...}
shift

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Configures and builds the project in $1 into $2 against the prefix $3, then checks that the
# package was found in that prefix and nowhere else (no build tree, no package registry).
build_against_prefix() {
  local src=$1 build=$2 prefix=$3
  local args=(-S "$src" -B "$build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
  [ -n "${LOOM_TEST_GENERATOR:-}" ] && args+=(-G "$LOOM_TEST_GENERATOR")
  [ -n "${LOOM_TEST_CXX:-}" ] && args+=(-DCMAKE_CXX_COMPILER="$LOOM_TEST_CXX")
  [ -n "${LOOM_TEST_CXX_FLAGS:-}" ] && args+=(-DCMAKE_CXX_FLAGS="$LOOM_TEST_CXX_FLAGS"
    -DCMAKE_MODULE_LINKER_FLAGS="$LOOM_TEST_CXX_FLAGS" -DCMAKE_EXE_LINKER_FLAGS="$LOOM_TEST_CXX_FLAGS")
  echo "== configuring $src against $prefix"
  rm -rf "$build"  # nothing cached from an earlier prefix or build
  cmake "${args[@]}" >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; fail "configuring $src"; }
  local found
  found=$(sed -n 's/^loom_DIR:PATH=//p' "$build/CMakeCache.txt")
  [ "$(realpath "$found")" = "$(realpath "$prefix")/lib/cmake/loom" ] ||
    fail "$src found the loom package in '$found', not in $prefix/lib/cmake/loom"
  echo "== building $src"
  cmake --build "$build" -j "${LOOM_TEST_JOBS:-2}"
}

# The plugin exports loom_plugin_entry and nothing else.
check_exports() {
  local plugin=$1 symbols
  symbols=$(nm -D --defined-only "$plugin" | awk '{print $3}' | sort)
  echo "== exported symbols of $(basename "$plugin"): $symbols"
  [ "$symbols" = "loom_plugin_entry" ] || fail "$plugin exports more than loom_plugin_entry: $symbols"
}

# Runs a command that must fail with exit status 1 and print $1 (a fixed string) on stderr.
expect_failure() {
  local want=$1 status=0
  shift
  "$@" >/dev/null 2>"$WORK/stderr.txt" || status=$?
  cat "$WORK/stderr.txt"
  [ "$status" -eq 1 ] || fail "'$*' exited with $status, expected 1"
  grep -qF -- "$want" "$WORK/stderr.txt" || fail "'$*': the error does not say '$want'"
}

case "$step" in
  install)
    BUILD=${1:?build dir} PREFIX=${2:?prefix}
    rm -rf "$PREFIX"
    echo "== installing $BUILD into a fresh prefix $PREFIX"
    cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
    for f in bin/loom lib/libloom.so include/loom/engine.hpp include/loom/abi.h include/loom/plugin_sdk.hpp \
      lib/cmake/loom/loomConfig.cmake lib/cmake/loom/loomTargets.cmake; do
      [ -e "$PREFIX/$f" ] || fail "the install lacks $f"
    done
    ls "$PREFIX"/lib/loom/plugins/loom-*.so >/dev/null 2>&1 || fail "the install has no plugin in lib/loom/plugins"
    # Only the install's own plugins, and the installed loom finds them there.
    "$PREFIX/bin/loom" plugins --json >"$PREFIX.plugins.json"
    grep -q '"origin": "install"' "$PREFIX.plugins.json" || fail "the installed loom did not search lib/loom/plugins"
    grep -q '"loaded": false' "$PREFIX.plugins.json" && fail "an installed plugin failed to load: $(cat "$PREFIX.plugins.json")"
    echo "ok"
    ;;

  host-app)
    PREFIX=${1:?prefix} SRC=${2:?source dir} WORK=${3:?work dir}
    mkdir -p "$WORK"
    build_against_prefix "$SRC/examples/host-app" "$WORK/build" "$PREFIX"
    APP="$WORK/build/loom-host-app"
    ldd "$APP" | grep -F "$(realpath "$PREFIX")/lib/libloom.so" >/dev/null ||
      fail "loom-host-app does not load the installed libloom: $(ldd "$APP")"
    # The shipped encoder, with the install's plugins only (the default search).
    "$APP" "$SRC/graphs/encoder/encoder.yaml" --check | tee "$WORK/encoder.txt"
    grep -q "plugins from $(realpath "$PREFIX")/lib/loom/plugins" "$WORK/encoder.txt" ||
      fail "loom-host-app did not take its plugins from the install"
    grep -q "^output last_hidden_state: f32 \[" "$WORK/encoder.txt" || fail "no last_hidden_state printed"
    grep -q "^output pooler_output: f32 \[" "$WORK/encoder.txt" || fail "no pooler_output printed"
    [ "$(grep -c "matches expected_" "$WORK/encoder.txt")" -eq 2 ] || fail "the outputs were not both checked"
    # The README shows the program's real output: each output line it shows starts as printed.
    shown=""
    while IFS= read -r shown; do
      grep -qF -- "$shown" "$WORK/encoder.txt" || fail "examples/host-app/README.md shows '$shown', the program prints otherwise"
    done < <(sed -n 's/^\(output [a-z_]*: [a-z0-9]* \[[0-9, ]*\]\).*/\1/p; s/^\(placement: .*\)$/\1/p' \
      "$SRC/examples/host-app/README.md")
    # --check holds outputs to the same default tolerance as `loom run --expect` (1e-5 + 1e-5*|ref|):
    # a reference 1024 ulps (about 6e-5) off its first element fails both.
    mkdir -p "$WORK/enc"
    cp "$SRC"/graphs/encoder/* "$WORK/enc/"
    ref="$WORK/enc/expected_pooler_output.npy"
    header_len=$(od -An -tu2 -j8 -N2 "$ref" | tr -d ' ')
    data=$((10 + header_len))
    bits=$(($(od -An -tu4 -j$data -N4 "$ref") + 1024))
    for ((i = 0; i < 4; i++)); do
      printf "$(printf '\\x%02x' $(((bits >> (8 * i)) & 255)))"
    done | dd of="$ref" bs=1 seek=$data conv=notrunc status=none
    status=0
    "$APP" "$WORK/enc/encoder.yaml" --check >"$WORK/off.txt" || status=$?
    [ "$status" -eq 1 ] && grep -q "DIFFERS from expected_pooler_output.npy" "$WORK/off.txt" ||
      fail "loom-host-app --check accepts a reference that loom run --expect refuses: $(cat "$WORK/off.txt")"
    status=0
    "$PREFIX/bin/loom" run "$WORK/enc/encoder.yaml" --input input_ids="$WORK/enc/input_ids.npy" \
      --input token_type_ids="$WORK/enc/token_type_ids.npy" --input attention_mask="$WORK/enc/attention_mask.npy" \
      --expect pooler_output="$ref" >/dev/null 2>&1 || status=$?
    [ "$status" -eq 1 ] || fail "loom run --expect accepts the reference 1024 ulps off (exit $status)"
    "$APP" "$SRC/graphs/encoder/encoder.yaml" --backend onednn >/dev/null
    expect_failure "no-such-backend" "$APP" "$SRC/graphs/encoder/encoder.yaml" --backend no-such-backend
    expect_failure "missing.yaml" "$APP" "$WORK/missing.yaml"
    echo "ok"
    ;;

  external-backend)
    PREFIX=${1:?prefix} SRC=${2:?source dir} WORK=${3:?work dir}
    DIR="$SRC/tests/external-backend"
    mkdir -p "$WORK"
    build_against_prefix "$DIR" "$WORK/build" "$PREFIX"
    PLUGIN="$WORK/build/loom-external.so"
    check_exports "$PLUGIN"
    LOOM="$PREFIX/bin/loom"
    "$LOOM" plugins --plugin "$PLUGIN" --json >"$WORK/plugins.json"
    grep -q '"memory": "device"' "$WORK/plugins.json" || fail "the external backend is not listed with device memory"

    # The placement of the graph as written (at --optimize all, linear h and relu r fuse).
    "$LOOM" inspect "$DIR/graph.yaml" --plugin "$PLUGIN" --backend external,onednn --placement --json --optimize none \
      >"$WORK/inspect.json"
    cmake -DJSON="$WORK/inspect.json" -DEXPECTED="$DIR/expected_placement.txt" -P "$SRC/tests/install/check_placement.cmake"

    run=("$LOOM" run "$DIR/graph.yaml" --plugin "$PLUGIN" --input x="$DIR/x.npy" --input shift="$DIR/shift.npy"
      --expect probs="$DIR/expected_probs.npy" --expect gated="$DIR/expected_gated.npy")
    "${run[@]}" --backend external,onednn
    "${run[@]}" --backend external,onednn --optimize none
    # The same graph on oneDNN alone gives the same results; the external backend alone cannot
    # run linear and says so.
    "${run[@]}" --backend onednn
    expect_failure "no backend can run this node" "${run[@]}" --backend external
    echo "ok"
    ;;

  external-model)
    PREFIX=${1:?prefix} SRC=${2:?source dir} WORK=${3:?work dir}
    DIR="$SRC/tests/external-model"
    mkdir -p "$WORK"
    build_against_prefix "$DIR" "$WORK/build" "$PREFIX"
    PLUGIN="$WORK/build/loom-toymlp.so"
    check_exports "$PLUGIN"
    LOOM="$PREFIX/bin/loom"
    "$LOOM" plugins --plugin "$PLUGIN" | grep -q "toymlp" || fail "loom plugins does not list toymlp"

    "$LOOM" run "$DIR/manifest.yaml" --plugin "$PLUGIN" --input features="$DIR/features.npy" \
      --expect logits="$DIR/expected_logits.npy" --expect probs="$DIR/expected_probs.npy"
    "$LOOM" run "$DIR/features.yaml" --plugin "$PLUGIN" --input features="$DIR/features.npy" \
      --expect last_hidden_state="$DIR/expected_last_hidden_state.npy"

    # The graph carries the plugin's processing section; exported, it runs without the plugin.
    "$LOOM" inspect "$DIR/manifest.yaml" --plugin "$PLUGIN" | tee "$WORK/inspect.txt"
    grep -qF "task tabular-classification (default): output logits, softmax, 4 labels" "$WORK/inspect.txt" ||
      fail "loom inspect does not show the processing section of the toymlp graph"
    "$LOOM" export "$DIR/manifest.yaml" --plugin "$PLUGIN" -o "$WORK/exported/toymlp.yaml"
    "$LOOM" run "$WORK/exported/toymlp.yaml" --input features="$DIR/features.npy" \
      --expect logits="$DIR/expected_logits.npy" --expect probs="$DIR/expected_probs.npy"

    # Broken checkpoints: a copy with one config.json key changed each time.
    broken() {  # broken NAME SED-EXPRESSION -> a manifest whose checkpoint has that change
      local dir="$WORK/$1"
      rm -rf "$dir"
      mkdir -p "$dir"
      cp -r "$DIR/checkpoint" "$dir/checkpoint"
      sed -i "$2" "$dir/checkpoint/config.json"
      printf 'model: toymlp\ncheckpoint: checkpoint\ntask: tabular-classification\n' >"$dir/manifest.yaml"
      echo "$dir/manifest.yaml"
    }
    m=$(broken wrong-type 's/"model_type": "toymlp"/"model_type": "toymlp-v2"/')
    expect_failure "model_type 'toymlp-v2' is not accepted by model plugin 'toymlp'" \
      "$LOOM" run "$m" --plugin "$PLUGIN" --input features="$DIR/features.npy"
    m=$(broken bad-act 's/"hidden_act": "gelu"/"hidden_act": "swish"/')
    expect_failure 'config.json: hidden_act "swish" is not supported by toymlp' \
      "$LOOM" run "$m" --plugin "$PLUGIN" --input features="$DIR/features.npy"
    m=$(broken extra-layer 's/"num_hidden_layers": 3/"num_hidden_layers": 4/')
    expect_failure "model.safetensors: tensor 'layers.3.weight' is missing" \
      "$LOOM" run "$m" --plugin "$PLUGIN" --input features="$DIR/features.npy"
    m=$(broken wrong-size 's/"hidden_size": 12/"hidden_size": 10/')
    expect_failure "tensor 'embed.weight' has shape [12,6], expected [10,6]" \
      "$LOOM" run "$m" --plugin "$PLUGIN" --input features="$DIR/features.npy"
    printf 'model: toymlp\ncheckpoint: %s\ntask: fill-mask\n' "$DIR/checkpoint" >"$WORK/fill-mask.yaml"
    expect_failure "task 'fill-mask' is not supported by toymlp" \
      "$LOOM" run "$WORK/fill-mask.yaml" --plugin "$PLUGIN" --input features="$DIR/features.npy"
    echo "ok"
    ;;

  *)
    fail "unknown step '$step'"
    ;;
esac
