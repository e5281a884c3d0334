// A few rows (a decode step) through a linear layer whose weight is in the blocked layout that
// oneDNN's matmul picked for it (gemm=blocked), without calling oneDNN: its matmul reads that
// layout at a third of the memory bandwidth for one row, and allocates on every call (rows.hpp).
//
// The layouts read are oneDNN 2.6's brgemm ones for AVX-512 and AMX, where the weight is cut into
// panels of 64 output features, each panel holding all (padded) K rows contiguously:
//   f32  (BA16a64b):   panel[i][j], i < Kp, j < 64;
//   bf16 (BA16a64b2a): panel[i / 2][j][i % 2], K padded to an even Kp;
// zero-padded past K and N. Where the AMX kernel runs (blocked_amx.hpp), bf16 weights are kept
// with each step of 32 K of a panel as four tiles (16 K pairs x 16 features, one contiguous KiB
// each) instead, a layout oneDNN has no tag for but describes and reorders into (BA4b16a16b2a):
//   bf16 tiles:        panel[i / 32][j / 16][i % 32 / 2][j % 16][i % 2].
// panel_layout() recognises these layouts from the memory descriptor; another layout keeps the
// layer on oneDNN.
#pragma once

#include "activation.hpp"

#include <dnnl.hpp>

#include <cstdint>
#include <optional>

namespace loom::onednn {

// Output features per panel of the layouts above.
inline constexpr int64_t kBlockedPanel = 64;

// How a weight's panels are laid out: their padded K, and whether bf16 panels are in tiles.
struct PanelLayout {
  int64_t kp = 0;
  bool tiles = false;
  bool operator==(const PanelLayout&) const = default;
};

// Features of one tile of the bf16 tiles' layout.
inline constexpr int64_t kBlockedTile = 16;

// The layout of a [k, n] weight in one of the layouts above; nullopt for any other layout.
std::optional<PanelLayout> panel_layout(const dnnl::memory::desc& md, int64_t k, int64_t n, bool bf16);

// A [k, n] weight's descriptor in the bf16 tiles' layout.
dnnl::memory::desc bf16_tiles_md(int64_t k, int64_t n);

// A [k, n] weight's descriptor in a panel layout that panel_layout() returned (for bf16 when
// `bf16`).
dnnl::memory::desc panel_md(int64_t k, int64_t n, PanelLayout layout, bool bf16);

// y[r, j] = act(sum_i x[r, i] * W[i, j] + bias[j]) for r < rows, W in one of the layouts above
// (float panels, or bf16 ones when `bf16`: x is then rounded to bf16 as it is read, so that each
// product is of two bf16 values, as oneDNN's bf16 matmul computes); bias may be null. Uses up to
// `threads` threads.
void linear_rows_blocked(const float* x, const void* w, bool bf16, PanelLayout layout, const float* bias, float* y,
                         int64_t rows, int64_t n, int64_t k, Activation act, int threads);

}  // namespace loom::onednn
