// bf16 prompts over oneDNN's bf16 panels on AMX tiles (blocked_amx.hpp).
#include "blocked_amx.hpp"

#include "amx.hpp"
#include "avx512.hpp"
#include "blocked_rows.hpp"
#include "rows.hpp"
#include "threads.hpp"

#include <dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <stdexcept>

#if LOOM_AMX_GEMM
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace loom::onednn {

#if LOOM_AMX_GEMM
namespace {

constexpr int64_t kP = kBlockedPanel;
// A block of the output: up to 32 rows x 32 features, 2 x 2 tiles of up to 16 rows x 16 floats
// (tiles 0-3), summed from two tiles of activations (4, 5) times two of weights (6, 7).
constexpr int64_t kBlock = 32;
// Bytes of a tile of weights (16 K pairs x 16 features x 2 x bf16), and of a panel's step of K
// (four tiles, blocked_rows.hpp's bf16 tiles).
constexpr int64_t kTileBytes = 16 * kBlockedTile * 2 * 2, kStepBytes = kP / kBlockedTile * kTileBytes;

using avx512::lanes;
using amx::TileConfig;

// How a call's rows are cut: `blocks` blocks of 2 x `tile_rows` rows, the fewest blocks that hold
// them, their tiles as short as that allows (a tile product's time and its loads of activations
// shrink with its rows: 77 rows are 3 blocks of 26 rather than 3 of 32).
struct RowTiles {
  int64_t blocks, tile_rows;
  int64_t padded() const { return blocks * 2 * tile_rows; }
};

RowTiles row_tiles(int64_t rows) {
  const int64_t blocks = (rows + kBlock - 1) / kBlock;
  return {blocks, (rows + 2 * blocks - 1) / (2 * blocks)};
}

// The rounded activations are laid out tile by tile: the `tile_rows` rows of a row tile for each
// K step of 32, 64-byte rows side by side, so that a tile load reads one contiguous block (a tile
// loaded from L2 with the activations' row stride came slower). The offset, in bf16 elements, of
// row tile t's K step s, `steps` steps to a row.
constexpr int64_t a_tile(RowTiles tiles, int64_t steps, int64_t t, int64_t s) {
  return (t * steps + s) * tiles.tile_rows * kAmxTileK;
}

// Rows [r0, r1) of a in that layout: x's rows (row stride k) rounded to nearest even
// (vcvtne2ps2bf16, as oneDNN's reorder rounds), zero past k and past `rows`.
LOOM_AMX void round_rows(const float* x, int64_t rows, int64_t k, int64_t kp, RowTiles tiles, uint16_t* a, int64_t r0,
                         int64_t r1) {
  const int64_t tr = tiles.tile_rows, steps = kp / kAmxTileK;
  for (int64_t r = r0; r < r1; ++r) {
    uint16_t* row = a + (r % tr) * kAmxTileK;
    const float* in = x + r * k;
    for (int64_t i = 0, s = 0; i < kp; i += kAmxTileK, ++s) {
      const __m512 lo = r < rows ? _mm512_maskz_loadu_ps(lanes(k - i), in + std::min(i, k)) : _mm512_setzero_ps();
      const __m512 hi = r < rows ? _mm512_maskz_loadu_ps(lanes(k - i - 16), in + std::min(i + 16, k)) : _mm512_setzero_ps();
      _mm512_storeu_si512(row + a_tile(tiles, steps, r / tr, s), reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
    }
  }
}

// A finished block (row stride kBlock) into y (row stride n) with the bias, then the activation:
// its first `rows` rows and `cols` features; y and bias point at the block's first element.
LOOM_AMX void store_block(const float* block, int64_t rows, int64_t cols, const float* bias, float* y, int64_t n,
                          Activation act) {
  rows = std::min(rows, kBlock);
  cols = std::min(cols, kBlock);
  const __mmask16 m0 = lanes(cols), m1 = lanes(cols - 16);
  const __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
  const __m512 b1 = bias && cols > 16 ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
  for (int64_t r = 0; r < rows; ++r) {
    _mm512_mask_storeu_ps(y + r * n, m0, _mm512_add_ps(_mm512_load_ps(block + r * kBlock), b0));
    if (cols > 16) _mm512_mask_storeu_ps(y + r * n + 16, m1, _mm512_add_ps(_mm512_load_ps(block + r * kBlock + 16), b1));
  }
  if (act != Activation::none) activate_rows(y, rows, cols, n, act);
}

// The panels `claims` hands team member `member`, every row; `a` holds the rows in bf16,
// `tiles.padded()` of them.
LOOM_AMX void panel_range(const uint16_t* a, RowTiles tiles, const uint16_t* w, int64_t kp, const float* bias, float* y,
                          int64_t rows, int64_t n, Activation act, Claims& claims, int member) {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.bytes_per_row[t] = 64;
    config.rows[t] = static_cast<uint8_t>(t < 6 ? tiles.tile_rows : 16);  // weights: 16 K pairs
  }
  _tile_loadconfig(&config);
  const int64_t tr = tiles.tile_rows, padded = tiles.padded();
  alignas(64) float block[kBlock * kBlock];
  const int64_t steps = kp / kAmxTileK;
  const int64_t panel_bytes = kp * kP * 2;
  for (ClaimCursor cursor(claims, member); cursor.valid(); cursor.advance()) {
    const int64_t p = cursor.item(), upcoming = cursor.upcoming();
    const char* panel = reinterpret_cast<const char*>(w) + p * panel_bytes;
    const int64_t cols = std::min(kP, n - p * kP), halves = cols > kBlock ? 2 : 1;
    // This thread's next panel into L2, a few lines after each tile product, spread over this panel's.
    const char* next = upcoming >= 0 ? reinterpret_cast<const char*>(w) + upcoming * panel_bytes : nullptr;
    const int64_t lines = next ? panel_bytes / 64 : 0, products = tiles.blocks * halves * steps;
    const int64_t per = (lines + products - 1) / products;
    int64_t line = 0;
    for (int64_t r0 = 0; r0 < padded; r0 += 2 * tr) {
      const uint16_t* a0 = a + a_tile(tiles, steps, r0 / tr, 0);  // row tiles r0 / tr and the next
      const uint16_t* a1 = a + a_tile(tiles, steps, r0 / tr + 1, 0);
      for (int64_t h = 0; h < halves; ++h) {
        const char* b = panel + 2 * h * kTileBytes;  // tiles 2h and 2h + 1 of each step: features 32h..
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int64_t s = 0; s < steps; ++s) {
          _tile_loadd(4, a0 + a_tile(tiles, steps, 0, s), 64);
          _tile_loadd(6, b + s * kStepBytes, 64);
          _tile_loadd(5, a1 + a_tile(tiles, steps, 0, s), 64);
          _tile_loadd(7, b + s * kStepBytes + kTileBytes, 64);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(1, 4, 7);
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
          for (int64_t q = 0; q < per && line < lines; ++q, ++line) _mm_prefetch(next + line * 64, _MM_HINT_T2);
        }
        _tile_stored(0, block, kBlock * 4);
        _tile_stored(1, block + 16, kBlock * 4);
        _tile_stored(2, block + tr * kBlock, kBlock * 4);
        _tile_stored(3, block + tr * kBlock + 16, kBlock * 4);
        const int64_t j = p * kP + h * kBlock;
        store_block(block, std::min(rows - r0, 2 * tr), cols - h * kBlock, bias ? bias + j : nullptr, y + r0 * n + j, n, act);
      }
    }
  }
  _tile_release();
}

bool cpu_has_amx_bf16() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool amx = (edx >> 22 & 1u) && (edx >> 24 & 1u);  // AMX-BF16, AMX-TILE
  if (!amx || !__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
  return eax >> 5 & 1u;  // AVX512-BF16
}

}  // namespace

bool amx_gemm_supported() {
  static const bool supported = [] {
    // oneDNN's ISA as limited by ONEDNN_MAX_CPU_ISA: where AMX is ruled out there, so is it here.
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if ((isa & dnnl_cpu_isa_avx512_core_amx) != dnnl_cpu_isa_avx512_core_amx || !cpu_has_amx_bf16()) return false;
    // Linux hands out the tile state only on request (arch_prctl ARCH_REQ_XCOMP_PERM).
    constexpr long kReqXcompPerm = 0x1023, kXtileData = 18;
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXtileData) == 0;
  }();
  return supported;
}

namespace {

// Rows of each pass over the weight: the fewest passes of at most kAmxPassRows, cut evenly.
int64_t pass_rows(int64_t rows) {
  const int64_t passes = (rows + kAmxPassRows - 1) / kAmxPassRows;
  return (rows + passes - 1) / passes;
}

// One pass: at most kAmxPassRows rows.
void pass_panels(const float* x, const uint16_t* w, int64_t kp, const float* bias, float* y, int64_t rows, int64_t n,
                 int64_t k, Activation act, int threads, uint16_t* a) {
  const RowTiles tiles = row_tiles(rows);
  const int64_t padded = tiles.padded(), count = (n + kP - 1) / kP;
  const int teams = static_cast<int>(std::min<int64_t>({threads, count, std::max<int64_t>(1, rows * n * k / kRowParallelWork)}));
  if (teams <= 1) {
    round_rows(x, rows, k, kp, tiles, a, 0, padded);
    Claims all(count, 1);
    return panel_range(a, tiles, w, kp, bias, y, rows, n, act, all, 0);
  }
  Claims claims(count, teams);
#pragma omp parallel num_threads(teams)
  {
    const int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    round_rows(x, rows, k, kp, tiles, a, padded * t / team, padded * (t + 1) / team);
#pragma omp barrier
    panel_range(a, tiles, w, kp, bias, y, rows, n, act, claims, static_cast<int>(t));
  }
}

}  // namespace

// A pass's padded rows grow with its rows, so the largest pass sets the scratch.
size_t amx_gemm_scratch_bytes(int64_t rows, int64_t kp) {
  return static_cast<size_t>(row_tiles(pass_rows(rows)).padded() * kp) * sizeof(uint16_t);
}

void linear_panels_amx(const float* x, const uint16_t* w, int64_t kp, const float* bias, float* y, int64_t rows,
                       int64_t n, int64_t k, Activation act, int threads, std::byte* scratch) {
  const int64_t per = pass_rows(rows);
  for (int64_t r0 = 0; r0 < rows; r0 += per)
    pass_panels(x + r0 * k, w, kp, bias, y + r0 * n, std::min(per, rows - r0), n, k, act, threads,
                reinterpret_cast<uint16_t*>(scratch));
}

#else

bool amx_gemm_supported() { return false; }

size_t amx_gemm_scratch_bytes(int64_t, int64_t) { return 0; }

void linear_panels_amx(const float*, const uint16_t*, int64_t, const float*, float*, int64_t, int64_t, int64_t, Activation,
                       int, std::byte*) {
  throw std::logic_error("linear_panels_amx without AMX");
}

#endif

}  // namespace loom::onednn
