// Tens of rows (a short sequence: CLIP's 50 image tokens or 77 text tokens) through a linear
// layer whose f32 weight is in oneDNN's blocked panels (blocked_rows.hpp's BA16a64b), without
// calling oneDNN. With so few rows per weight byte, oneDNN's matmul waits on the weight as it
// comes from memory (on an AMX Xeon, 115-125 GFLOP/s at 50 rows against 140-155 with the weight in
// the caches); this kernel asks for the next panel while it multiplies the current one, and cuts
// K so that the current panel stays in L2: 140-150 GFLOP/s at 50 rows, as fast as oneDNN from 128
// rows (docs/performance.md, "Short sequences over blocked weights").
//
// Each panel (64 output features) is multiplied by blocks of 6 rows, 6 x 4 AVX-512 accumulators,
// K in chunks of kPanelChunk; the panels are split over the threads.
#pragma once

#include "activation.hpp"

#include <cstdint>

namespace loom::onednn {

// Rows of a linear layer that the kernel takes, past the row kernels' kRowKernelMaxRows; from
// about 128 rows oneDNN's matmul reads the weight as fast and multiplies faster.
inline constexpr int64_t kPanelGemmMaxRows = 80;

// True where this CPU runs the kernel (AVX-512 F, DQ and VL).
bool panel_gemm_supported();

// y[r, j] = act(sum_i x[r, i] * W[i, j] + bias[j]) for r < rows, W in f32 panels of padded K `kp`
// (BA16a64b); bias may be null; k > 0. Uses up to `threads` threads. Needs panel_gemm_supported().
void linear_panels_f32(const float* x, const float* w, int64_t kp, const float* bias, float* y, int64_t rows, int64_t n,
                       int64_t k, Activation act, int threads);

}  // namespace loom::onednn
