// Short sequences over oneDNN's f32 blocked panels (blocked_gemm.hpp).
#include "blocked_gemm.hpp"

#include "avx512.hpp"
#include "blocked_rows.hpp"
#include "isa.hpp"
#include "rows.hpp"

#include <omp.h>

#include <algorithm>
#include <stdexcept>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LOOM_PANEL_GEMM 1
#endif

namespace loom::onednn {

#if LOOM_PANEL_GEMM
namespace {

constexpr int64_t kP = kBlockedPanel;
constexpr int kBlockRows = 6;  // 6 rows x 4 vectors of 16 features: 24 of the 32 registers
// K rows of a panel per pass over the row blocks: 512 x 256 bytes stay in L2 while every block
// reads them, beside the next panel's coming in (one chunk of K at once: 110 -> 150 GFLOP/s at
// 50 rows and K = 3072).
constexpr int64_t kPanelChunk = 512;

// What a pass of one panel over a K chunk asks for ahead: `rows` rows of 64 floats from `next`,
// each row asked for by one of the `stride` row blocks (the `phase`-th), so that the requests
// spread over the pass.
struct Ahead {
  const float* next = nullptr;
  int64_t rows = 0;
  int64_t phase = 0, stride = 1;
};

// The output features of a panel that exist: 16-lane masks of the panel's four vectors.
struct Lanes {
  __mmask16 mask[4];
};

// Rows [0, R) of x (row stride k) times the panel's K rows [i0, i1), added to y (row stride n)
// or, for the first chunk, written to it; the last chunk adds the bias (may be null).
template <int R>
LOOM_AVX512 inline __attribute__((always_inline)) void block(const float* x, int64_t k, int64_t i0, int64_t i1,
                                                            const float* panel, float* y, int64_t n, const Lanes& lanes,
                                                            const float* bias, const Ahead& ahead) {
  __m512 acc[R][4];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c)
      acc[r][c] = i0 == 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(lanes.mask[c], y + r * n + 16 * c);
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t a = i - i0;
    if (a < ahead.rows && a % ahead.stride == ahead.phase) {
      const char* line = reinterpret_cast<const char*>(ahead.next + a * kP);
      for (int l = 0; l < 4; ++l) _mm_prefetch(line + 64 * l, _MM_HINT_T1);
    }
    const float* w = panel + i * kP;
    const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16), w2 = _mm512_loadu_ps(w + 32),
                 w3 = _mm512_loadu_ps(w + 48);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 v = _mm512_set1_ps(x[r * k + i]);
      acc[r][0] = _mm512_fmadd_ps(v, w0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(v, w1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(v, w2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(v, w3, acc[r][3]);
    }
  }
  if (bias)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      const __m512 b = _mm512_maskz_loadu_ps(lanes.mask[c], bias + 16 * c);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][c] = _mm512_add_ps(acc[r][c], b);
    }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) _mm512_mask_storeu_ps(y + r * n + 16 * c, lanes.mask[c], acc[r][c]);
}

// Panels [p0, p1) of the output, all rows.
LOOM_AVX512 void panel_range(const float* x, const float* w, int64_t kp, const float* bias, float* y, int64_t rows,
                             int64_t n, int64_t k, int64_t p0, int64_t p1) {
  const int64_t blocks = (rows + kBlockRows - 1) / kBlockRows;
  for (int64_t i0 = 0; i0 < k; i0 += kPanelChunk) {
    const int64_t i1 = std::min(k, i0 + kPanelChunk);
    for (int64_t p = p0; p < p1; ++p) {
      const float* panel = w + p * kp * kP;
      // Ahead: this chunk of the next panel, or after the last one the next chunk of the first.
      Ahead ahead;
      ahead.stride = blocks;
      if (p + 1 < p1) {
        ahead.next = panel + kp * kP + i0 * kP;
        ahead.rows = i1 - i0;
      } else if (i1 < k) {
        ahead.next = w + p0 * kp * kP + i1 * kP;
        ahead.rows = std::min(k, i1 + kPanelChunk) - i1;
      }
      Lanes lanes;
      const int64_t cols = std::min(kP, n - p * kP);
      for (int c = 0; c < 4; ++c) {
        lanes.mask[c] = avx512::lanes(cols - 16 * c);
      }
      const float* b = bias && i1 == k ? bias + p * kP : nullptr;
      for (int64_t r0 = 0, blk = 0; r0 < rows; r0 += kBlockRows, ++blk) {
        ahead.phase = blk;
        const float* xr = x + r0 * k;
        float* yr = y + r0 * n + p * kP;
        switch (std::min<int64_t>(kBlockRows, rows - r0)) {
          case 6: block<6>(xr, k, i0, i1, panel, yr, n, lanes, b, ahead); break;
          case 5: block<5>(xr, k, i0, i1, panel, yr, n, lanes, b, ahead); break;
          case 4: block<4>(xr, k, i0, i1, panel, yr, n, lanes, b, ahead); break;
          case 3: block<3>(xr, k, i0, i1, panel, yr, n, lanes, b, ahead); break;
          case 2: block<2>(xr, k, i0, i1, panel, yr, n, lanes, b, ahead); break;
          default: block<1>(xr, k, i0, i1, panel, yr, n, lanes, b, ahead); break;
        }
      }
    }
  }
}

void panels_then_activation(const float* x, const float* w, int64_t kp, const float* bias, float* y, int64_t rows,
                            int64_t n, int64_t k, Activation act, int64_t p0, int64_t p1) {
  panel_range(x, w, kp, bias, y, rows, n, k, p0, p1);
  const int64_t j0 = p0 * kP, j1 = std::min(n, p1 * kP);
  if (act != Activation::none && j1 > j0) activate_rows(y + j0, rows, j1 - j0, n, act);
}

}  // namespace

bool panel_gemm_supported() { return avx512_allowed(); }

void linear_panels_f32(const float* x, const float* w, int64_t kp, const float* bias, float* y, int64_t rows, int64_t n,
                       int64_t k, Activation act, int threads) {
  const int64_t count = (n + kP - 1) / kP;
  const int teams = static_cast<int>(std::min<int64_t>({threads, count, std::max<int64_t>(1, rows * n * k / kRowParallelWork)}));
  if (teams <= 1) return panels_then_activation(x, w, kp, bias, y, rows, n, k, act, 0, count);
#pragma omp parallel num_threads(teams)
  {
    const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    panels_then_activation(x, w, kp, bias, y, rows, n, k, act, count * t / team, count * (t + 1) / team);
  }
}

#else

bool panel_gemm_supported() { return false; }

void linear_panels_f32(const float*, const float*, int64_t, const float*, float*, int64_t, int64_t, int64_t, Activation, int) {
  throw std::logic_error("linear_panels_f32 without AVX-512");
}

#endif

}  // namespace loom::onednn
