#!/usr/bin/env bash
# Sets Loom up on a fresh Debian 12 machine: installs the Debian packages, configures, builds,
# installs into a prefix, and runs the main job: the shipped 2-layer encoder graph, checked
# against its PyTorch reference.
#
#   bash tools/setup.sh            # prefix: ./prefix, build folder: ./build
#   LOOM_PREFIX=/opt/loom bash tools/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PREFIX=${LOOM_PREFIX:-$ROOT/prefix}
BUILD=${LOOM_BUILD_DIR:-$ROOT/build}
JOBS=${LOOM_JOBS:-$(nproc)}

PACKAGES=(cmake ninja-build g++ libboost-dev libboost-filesystem-dev libdnnl-dev ocl-icd-opencl-dev
  libvulkan-dev glslc spirv-tools mesa-vulkan-drivers libyaml-cpp-dev doctest-dev nlohmann-json3-dev
  libcli11-dev libstb-dev clang libclang-rt-14-dev libpcre2-dev libutf8proc-dev libpng-dev libjpeg62-turbo-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "== configuring and building (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" >/dev/null
start=$(date +%s)
cmake --build "$BUILD" -j "$JOBS"
echo "   built in $(( $(date +%s) - start )) s"

echo "== installing into $PREFIX"
cmake --install "$BUILD" >/dev/null
echo "   $PREFIX/bin/loom, $PREFIX/lib/libloom.so, $PREFIX/include/loom/, $PREFIX/lib/loom/plugins/"

echo "== main job: the shipped encoder graph (graphs/encoder/) against its PyTorch reference"
G=graphs/encoder
"$PREFIX/bin/loom" plugins
"$PREFIX/bin/loom" run $G/encoder.yaml \
  --input input_ids=$G/input_ids.npy --input token_type_ids=$G/token_type_ids.npy \
  --input attention_mask=$G/attention_mask.npy \
  --expect last_hidden_state=$G/expected_last_hidden_state.npy \
  --expect pooler_output=$G/expected_pooler_output.npy \
  --output-dir "$BUILD/encoder-out"
echo "== ok: outputs written to $BUILD/encoder-out/"
