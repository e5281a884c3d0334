// A few rows (a decode step) through a linear layer whose weight is in the blocked layout that
// oneDNN's matmul picked for it (gemm=blocked), without calling oneDNN: its matmul reads that
// layout at a third of the memory bandwidth for one row, and allocates on every call (rows.hpp).
//
// The layouts read are oneDNN 2.6's brgemm ones for AVX-512 and AMX, where the weight is cut into
// panels of 64 output features, each panel holding all (padded) K rows contiguously:
//   f32  (BA16a64b):   panel[i][j], i < Kp, j < 64;
//   bf16 (BA16a64b2a): panel[i / 2][j][i % 2], K padded to an even Kp;
// zero-padded past K and N. panel_layout() recognises them from the memory descriptor; another
// layout keeps the layer on oneDNN.
#pragma once

#include "activation.hpp"

#include <dnnl.hpp>

#include <cstdint>
#include <optional>

namespace loom::onednn {

// Output features per panel of the layouts above.
inline constexpr int64_t kBlockedPanel = 64;

// Kp, the padded K of a [k, n] weight in one of the layouts above; nullopt for any other layout.
std::optional<int64_t> panel_layout(const dnnl::memory::desc& md, int64_t k, int64_t n, bool bf16);

// y[r, j] = act(sum_i x[r, i] * W[i, j] + bias[j]) for r < rows, W in one of the layouts above
// with padded K `kp` (float panels, or bf16 ones when `bf16`: x is then rounded to bf16 as it
// is read, so that each product is of two bf16 values, as oneDNN's bf16 matmul computes);
// bias may be null. Uses up to `threads` threads.
void linear_rows_blocked(const float* x, const void* w, bool bf16, int64_t kp, const float* bias, float* y,
                         int64_t rows, int64_t n, int64_t k, Activation act, int threads);

}  // namespace loom::onednn
