// What the AMX kernels (blocked_amx.cpp, attention_amx.cpp) share: where they compile, the
// target attribute of their functions and the tile configuration's layout.
#pragma once

#include <algorithm>
#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#include <immintrin.h>
#define LOOM_AMX_GEMM 1
// A superset of avx512.hpp's LOOM_AVX512, so that its helpers inline here.
#define LOOM_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512bf16,avx512vl,avx512dq,fma")))

namespace loom::onednn::amx {

// ldtilecfg's 64 bytes: palette 1, up to sixteen tiles of their rows and bytes per row.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

}  // namespace loom::onednn::amx
#endif
