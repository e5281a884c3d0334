// A prompt's rows (5 and more) through a bf16 linear layer whose weight is in bf16 tiles
// (blocked_rows.hpp: each tile of weights one contiguous KiB), on AMX tiles, without calling
// oneDNN.
//
// At 128 rows a bf16 weight gives 128 FLOP per byte, and oneDNN 2.6's AMX matmul waits on each
// panel as it first touches it: rotating over 24 weights, as a model does, it ran at about half
// the speed it reached on one weight held in the caches. This kernel multiplies a panel (64
// output features) by every row while it asks for the next panel, a line at a time between its
// tile products; each block of the output (up to 32 rows x 32 features, the rows cut as evenly
// as the tiles allow) stays in four tiles for all of K, and its bias and activation are applied
// while the block is in L1 (docs/performance.md, "bf16 prompts on AMX tiles"). The panels are
// split over the threads. More than kAmxPassRows rows take several passes over the weight.
#pragma once

#include "activation.hpp"

#include <cstddef>
#include <cstdint>

namespace loom::onednn {

// Rows of one pass over the weight: one pass was faster than oneDNN's matmul in every model
// measured, from CLIP's 50 rows to BERT's 512; beyond, the activations (rows x K in bf16) no
// longer stay in L2 while each panel reads them.
inline constexpr int64_t kAmxPassRows = 512;

// K of one tile product; the kernel needs the panels' padded K to be a multiple of it.
inline constexpr int64_t kAmxTileK = 32;

// True where this CPU and OS run the kernel (AMX-BF16, AMX tiles the kernel was allowed to use,
// AVX512-BF16 to round the activations).
bool amx_gemm_supported();

// Scratch bytes of a call with `rows` rows and panels of padded K `kp` (the activations in bf16);
// each row of 64-byte tile lines starts aligned where the scratch does.
size_t amx_gemm_scratch_bytes(int64_t rows, int64_t kp);

// y[r, j] = act(sum_i bf16(x[r, i]) * W[i, j] + bias[j]) for r < rows, W in bf16 tiles of padded
// K `kp` (a multiple of kAmxTileK), x rounded to bf16 (nearest even) into `scratch` first; bias may
// be null; 0 < k <= kp. Uses up to `threads` threads. Needs amx_gemm_supported().
void linear_panels_amx(const float* x, const uint16_t* w, int64_t kp, const float* bias, float* y, int64_t rows,
                       int64_t n, int64_t k, Activation act, int threads, std::byte* scratch);

}  // namespace loom::onednn
